// Helpers shared by the kernels. The host concatenates this file after args.h
// and before the kernel files into one library source (see library.go).
#ifndef MINILM_COMMON_H
#define MINILM_COMMON_H
#include <metal_stdlib>
using namespace metal;

// erfc_p holds the coefficients, constant term first, of a degree-9
// polynomial P(t) with erfc(z) ≈ t·exp(-z² + P(t)), t = 2/(2+z), for z ≥ 0
// (the form Numerical Recipes uses). They are our own least-squares fit to
// ln(erfc(z)/t) + z² on z ∈ [0, 9]; erf_test.go checks the float32 relative
// error stays under 5e-7.
constant float erfc_p[10] = {
    -1.265415065e+00f, 9.979783024e-01f, 3.921549499e-01f, 8.687084114e-03f, 7.634552044e-02f,
    -2.197604448e-01f, -5.295532656e-01f, 1.032769924e+00f, -6.286316831e-01f, 1.354247189e-01f,
};

// erfc_pos is erfc(z) for z ≥ 0 with a small relative error everywhere,
// including the far tail. z² is split exactly (hi + lo, via fma) so the
// rounding of z² does not enter the exponent.
inline float erfc_pos(float z) {
    const float t = 2.0f / (2.0f + z);
    float p = erfc_p[9];
    for (int i = 8; i >= 0; i--) {
        p = fma(p, t, erfc_p[i]);
    }
    const float hi = z * z;
    const float lo = fma(z, z, -hi);
    return t * exp(-hi) * exp(p - lo);
}

// gelu_erf is the exact GELU, x/2 · (1 + erf(x/√2)), written with erfc
// (Metal has no erf): 1 + erf(z) = 2 - erfc(z) for z ≥ 0 and erfc(-z) for
// z < 0, which keeps the negative tail accurate to a few ulps.
inline float gelu_erf(float x) {
    const float z = x * 0.70710678118654752f;
    const float e = erfc_pos(fabs(z));
    return 0.5f * x * (x >= 0.0f ? 2.0f - e : e);
}

// tg_sum returns the sum of v over the whole threadgroup, the same value in
// every thread. partial holds one float per simdgroup (nsg of them); the
// threadgroup size must be a multiple of 32. Every thread adds the partials in
// the same order, so the result is identical across threads.
inline float tg_sum(float v, threadgroup float* partial, uint lane, uint sg, uint nsg) {
    v = simd_sum(v);
    if (lane == 0) {
        partial[sg] = v;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float t = 0.0f;
    for (uint i = 0; i < nsg; i++) {
        t += partial[i];
    }
    // partial is reused by the next call.
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return t;
}

#endif
