#include <metal_stdlib>
#include "args.h"
#include "common.h"
using namespace metal;

// layernorm_f32: y = x[row,:] (+ res[row,:] when a.HasRes), then
// out[row,:] = (y - mean(y)) / sqrt(var(y) + eps) · gamma + beta, with the
// biased variance. x, res, out are (Rows, Cols); gamma and beta (Cols).
// Grid: Rows threadgroups, one per row, of a multiple of 32 threads (≤ 256)
// striding over the columns. Two reductions (mean, then the squared
// deviations) keep the variance exact for rows with a large mean. Each
// element is read and written by the same thread, so out may alias x or res.
kernel void layernorm_f32(
    constant LayerNormArgs& a [[buffer(0)]],
    device const float* x [[buffer(1)]],
    device const float* res [[buffer(2)]],
    device const float* gamma [[buffer(3)]],
    device const float* beta [[buffer(4)]],
    device float* out [[buffer(5)]],
    uint row [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]],
    uint ntg [[threads_per_threadgroup]],
    uint lane [[thread_index_in_simdgroup]],
    uint sg [[simdgroup_index_in_threadgroup]])
{
    threadgroup float partial[32];
    const uint C = a.Cols;
    const uint base = row * C;
    const bool hasRes = a.HasRes != 0;

    float s = 0.0f;
    for (uint c = tid; c < C; c += ntg) {
        s += hasRes ? x[base + c] + res[base + c] : x[base + c];
    }
    const float mean = tg_sum(s, partial, lane, sg, ntg / 32) / float(C);

    float q = 0.0f;
    for (uint c = tid; c < C; c += ntg) {
        const float d = (hasRes ? x[base + c] + res[base + c] : x[base + c]) - mean;
        q = fma(d, d, q);
    }
    const float var = tg_sum(q, partial, lane, sg, ntg / 32) / float(C);
    const float inv = 1.0f / sqrt(var + a.Eps);

    for (uint c = tid; c < C; c += ntg) {
        const float y = hasRes ? x[base + c] + res[base + c] : x[base + c];
        out[base + c] = fma((y - mean) * inv, gamma[c], beta[c]);
    }
}
