#include <metal_stdlib>
#include "args.h"
#include "common.h"
using namespace metal;

#define ATT_QB 32    // queries per threadgroup, one thread each
#define ATT_KB 32    // keys (and values) staged per step
#define ATT_MAXHD 64 // largest head dim

// attention_f32: self-attention over packed variable-length sequences, no
// mask and no padding. qkv is (T, 3·NH·HD) with Q, K, V column blocks; out is
// (T, NH·HD). blocks is the host-built block table, 3 ints per query block:
// first query, sequence start, sequence end (from cu_seqlens). Grid:
// (Blocks, NH) threadgroups of 32 threads; thread i owns query q0+i of head
// tg.y, keeps its scaled q and its output row in registers, and runs an
// online softmax (running max and sum, rescaled once per key block) over the
// sequence's keys, which are staged 32 at a time with their values in
// threadgroup memory (2·32·HD floats ≤ 16 KiB). Threads past the sequence end
// still stage keys and meet every barrier.
kernel void attention_f32(
    constant AttentionArgs& a [[buffer(0)]],
    device const float* qkv [[buffer(1)]],
    device const int* blocks [[buffer(2)]],
    device float* out [[buffer(3)]],
    uint2 tg [[threadgroup_position_in_grid]],
    uint tid [[thread_index_in_threadgroup]])
{
    threadgroup float ks[ATT_KB * ATT_MAXHD];
    threadgroup float vs[ATT_KB * ATT_MAXHD];

    const uint HD = a.HD, h = tg.y, stride = a.QKVStride;
    const uint H = a.NH * HD;
    const uint q0 = blocks[3 * tg.x], s0 = blocks[3 * tg.x + 1], s1 = blocks[3 * tg.x + 2];
    const uint qi = q0 + tid;
    const bool active = qi < s1;

    float q[ATT_MAXHD], o[ATT_MAXHD];
    for (uint d = 0; d < HD; d++) {
        q[d] = active ? qkv[qi * stride + h * HD + d] * a.Scale : 0.0f;
        o[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;

    for (uint k0 = s0; k0 < s1; k0 += ATT_KB) {
        const uint nk = min(uint(ATT_KB), s1 - k0);
        for (uint e = tid; e < nk * HD; e += ATT_QB) {
            const uint j = e / HD, d = e % HD;
            const uint src = (k0 + j) * stride + h * HD + d;
            ks[e] = qkv[src + H];
            vs[e] = qkv[src + 2 * H];
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
        if (active) {
            float s[ATT_KB];
            float bm = m;
            for (uint j = 0; j < nk; j++) {
                float acc = 0.0f;
                for (uint d = 0; d < HD; d++) {
                    acc = fma(q[d], ks[j * HD + d], acc);
                }
                s[j] = acc;
                bm = max(bm, acc);
            }
            const float c = exp(m - bm);
            l *= c;
            for (uint d = 0; d < HD; d++) {
                o[d] *= c;
            }
            for (uint j = 0; j < nk; j++) {
                const float p = exp(s[j] - bm);
                l += p;
                for (uint d = 0; d < HD; d++) {
                    o[d] = fma(p, vs[j * HD + d], o[d]);
                }
            }
            m = bm;
        }
        // The next step overwrites ks and vs.
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }

    if (active) {
        const float inv = 1.0f / l;
        for (uint d = 0; d < HD; d++) {
            out[qi * a.OutStride + h * HD + d] = o[d] * inv;
        }
    }
}
