// Package cpu is the production CPU backend: every op of package kernels,
// spread over a fixed pool of worker goroutines made by New, with the vector
// kernels of internal/simd (AVX2+FMA or AVX-512 on amd64, chosen at run time;
// NEON on arm64; their Go twins elsewhere and under the `purego` build tag).
//
// MatMul keeps each weight packed in simd's panels (see Backend.Weight) and
// runs simd.Gemm with the bias and GELU fused; every output element is one
// fused multiply-add chain over k in increasing order, whatever M, the row's
// position in the batch, or the number of threads, so a pair scores the same
// in any batch. Attention runs per sequence, longest first: per head, GEMMs
// against the packed K and Vᵀ for blocks of 64 queries, with an exact-order
// vector softmax in between, never more than one block of scores per worker.
// GELU is simd's (its erf is within 7e-8 of math.Erf). Tests compare each op
// with the same op on simd's Go twins bit for bit, or with a float64 twin,
// and run the conformance suite (kernels/optest) on every variant.
package cpu
