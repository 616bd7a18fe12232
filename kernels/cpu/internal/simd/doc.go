// Package simd holds the CPU backend's vector kernels: a packed-panel float32
// GEMM with a fused bias/GELU epilogue (out = act(X·Wᵀ + bias), W a Hugging
// Face Linear weight (N,K)), and the Dot, Axpy, GELU, Max and ExpSum
// (softmax) helpers used by the attention and element-wise kernels.
//
// Each microkernel exists in Go assembly (amd64: AVX-512 and AVX2+FMA, chosen
// at run time from golang.org/x/sys/cpu; arm64: NEON) and as an always
// compiled Go twin (xxxGeneric) that the `purego` build tag and every other
// architecture use. The twins round exactly like the assembly (one fused
// multiply-add per product, K ascending), so every variant of Gemm and GELU
// returns the same bits; tests check that. Max and ExpSum have AVX2 kernels
// (which the AVX-512 variant uses too) and run their Go twins on arm64.
//
// Exactness: each output element of Gemm is one chain of fused multiply-adds
// over k = 0..K-1 held in a register, plus the bias, then GELU. Its value
// does not depend on M, on the row's position, on the tiling or on the number
// of tasks, so a pair scored alone or inside any batch gets identical logits.
//
// GemmBF16 is the same GEMM over bf16 pairs (PackBF16, BF16Words) with
// VDPBF16PS in the AVX-512 microkernel on AVX512_BF16 CPUs; its Go twin
// (kernelBF16Generic, DotBF16Twin) runs everywhere else and is what the
// kernel is tested against.
//
// The arm64 kernels are tested under qemu-user on amd64: with
// qemu-aarch64-static on PATH (apt-get install -y qemu-user-static),
// TestARM64UnderQEMU builds this package's arm64 test binary and runs it in
// short mode, so a plain `go test` covers NEON. By hand:
//
//	GOARCH=arm64 go test -c -o /tmp/simd.arm64 ./kernels/cpu/internal/simd && qemu-aarch64-static /tmp/simd.arm64 -test.short
package simd
