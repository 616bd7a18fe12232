#include <metal_stdlib>
#include "args.h"
#include "common.h"
using namespace metal;

// Output tile MM_BM×MM_BN per threadgroup, K staged MM_BK at a time.
#define MM_BM 32
#define MM_BN 32
#define MM_BK 16
#define MM_THREADS 128

// matmul_tile computes one threadgroup's 32×32 tile of out(M,N) =
// act(x(M,K)·w(N,K)ᵀ + bias(N)), act = identity or exact GELU (a.GELU), for
// the kernels below, which differ only in how w is stored (WT). Grid:
// (⌈N/32⌉, ⌈M/32⌉) threadgroups of 128 threads = 4 simdgroups in a 2×2
// layout, each owning a 16×16 block of the tile as 2×2 simdgroup_float8x8
// accumulators (f32). x and w tiles are staged through threadgroup memory as
// f32 (w widened there), zero-padded past M, N and K, so any shape works; the
// epilogue goes through threadgroup memory too, so stores are guarded per
// element. bias is read only when a.HasBias is set. xs and ws hold
// MM_BM·MM_BK and MM_BN·MM_BK floats, cs MM_BM·MM_BN: Metal allows
// threadgroup arrays only in kernel scope, so the kernels declare them.
template <typename WT>
inline void matmul_tile(
    constant MatMulArgs& a, device const float* x, device const WT* w,
    device const float* bias, device float* out,
    threadgroup float* xs, threadgroup float* ws, threadgroup float* cs,
    uint2 tg, uint tid, uint sg)
{
    const uint M = a.M, N = a.N, K = a.K;
    const uint m0 = tg.y * MM_BM, n0 = tg.x * MM_BN;
    const uint sm = (sg / 2) * 16, sn = (sg % 2) * 16;

    simdgroup_float8x8 acc[2][2];
    for (uint i = 0; i < 2; i++) {
        for (uint j = 0; j < 2; j++) {
            acc[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
        }
    }

    for (uint k0 = 0; k0 < K; k0 += MM_BK) {
        for (uint e = tid; e < MM_BM * MM_BK; e += MM_THREADS) {
            const uint r = e / MM_BK, c = e % MM_BK;
            const uint gm = m0 + r, gk = k0 + c;
            xs[e] = (gm < M && gk < K) ? x[gm * K + gk] : 0.0f;
        }
        for (uint e = tid; e < MM_BN * MM_BK; e += MM_THREADS) {
            const uint r = e / MM_BK, c = e % MM_BK;
            const uint gn = n0 + r, gk = k0 + c;
            ws[e] = (gn < N && gk < K) ? float(w[gn * K + gk]) : 0.0f;
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (uint kk = 0; kk < MM_BK; kk += 8) {
            simdgroup_float8x8 xa[2], wb[2];
            for (uint i = 0; i < 2; i++) {
                simdgroup_load(xa[i], xs + (sm + 8 * i) * MM_BK + kk, MM_BK);
            }
            // ws holds w rows (n-major); the transposed load gives the k×n block.
            for (uint j = 0; j < 2; j++) {
                simdgroup_load(wb[j], ws + (sn + 8 * j) * MM_BK + kk, MM_BK, ulong2(0, 0), true);
            }
            for (uint i = 0; i < 2; i++) {
                for (uint j = 0; j < 2; j++) {
                    simdgroup_multiply_accumulate(acc[i][j], xa[i], wb[j], acc[i][j]);
                }
            }
        }
        // The next iteration overwrites xs and ws.
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }

    for (uint i = 0; i < 2; i++) {
        for (uint j = 0; j < 2; j++) {
            simdgroup_store(acc[i][j], cs + (sm + 8 * i) * MM_BN + sn + 8 * j, MM_BN);
        }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint e = tid; e < MM_BM * MM_BN; e += MM_THREADS) {
        const uint r = e / MM_BN, c = e % MM_BN;
        const uint gm = m0 + r, gn = n0 + c;
        if (gm < M && gn < N) {
            float v = cs[e];
            if (a.HasBias != 0) {
                v += bias[gn];
            }
            if (a.GELU != 0) {
                v = gelu_erf(v);
            }
            out[gm * N + gn] = v;
        }
    }
}

// matmul_f32: matmul_tile with w stored as f32, exact to an f32 GEMM.
kernel void matmul_f32(
    constant MatMulArgs& a [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device const float* w [[buffer(2)]],
    device const float* bias [[buffer(3)]],
    device float* out [[buffer(4)]],
    uint2 tg [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]],
    uint sg [[simdgroup_index_in_threadgroup]])
{
    threadgroup float xs[MM_BM * MM_BK];
    threadgroup float ws[MM_BN * MM_BK];
    threadgroup float cs[MM_BM * MM_BN];
    matmul_tile(a, x, w, bias, out, xs, ws, cs, tg, tid, sg);
}

// matmul_f16w_f32: matmul_tile with w stored as IEEE half (half the weight
// memory and bandwidth); x, bias, out and accumulation stay f32, so the
// result is the f32 GEMM of the half-rounded weights.
kernel void matmul_f16w_f32(
    constant MatMulArgs& a [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device const half* w [[buffer(2)]],
    device const float* bias [[buffer(3)]],
    device float* out [[buffer(4)]],
    uint2 tg [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]],
    uint sg [[simdgroup_index_in_threadgroup]])
{
    threadgroup float xs[MM_BM * MM_BK];
    threadgroup float ws[MM_BN * MM_BK];
    threadgroup float cs[MM_BM * MM_BN];
    matmul_tile(a, x, w, bias, out, xs, ws, cs, tg, tid, sg);
}
