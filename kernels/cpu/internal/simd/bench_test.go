package simd

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkGemm runs the model's four GEMM shapes, for a 64-pair batch
// (M = 64 × 87 tokens) and for one pair (M = 87), on every variant with 1 and
// 2 workers and reports GFLOP/s (2·M·N·K per op) and its fraction of the
// variant's kernel peak (kernelPeak) times the workers.
//
//	go test -run '^$' -bench 'Gemm/(avx2|avx512)' ./kernels/cpu/internal/simd
func BenchmarkGemm(b *testing.B) {
	shapes := []struct {
		k, n int
		gelu bool
	}{{384, 1152, false}, {384, 384, false}, {384, 1536, true}, {1536, 384, false}}
	r := rand.New(rand.NewPCG(1, 1))
	for _, im := range impls() {
		peak := 0.0
		for _, workers := range []int{1, 2} {
			for _, m := range []int{5568, 87} {
				for _, s := range shapes {
					name := fmt.Sprintf("%s/threads=%d/M=%d,K=%d,N=%d", im.name, workers, m, s.k, s.n)
					b.Run(name, func(b *testing.B) {
						if im.kind == kindGeneric && testing.Short() {
							b.Skip("the Go twin is slow")
						}
						if peak == 0 {
							peak = kernelPeak(im)
						}
						x := randSlice(r, m*s.k)
						w := PackW(randSlice(r, s.n*s.k), s.n, s.k)
						bias := randSlice(r, s.n)
						out := make([]float32, m*s.n)
						par := pool(workers)
						for b.Loop() {
							im.gemm(out, s.n, x, s.k, m, w, bias, s.gelu, par)
						}
						g := 2 * float64(m*s.n*s.k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
						b.ReportMetric(g, "GFLOP/s")
						b.ReportMetric(g/(peak*float64(workers)), "frac-of-peak")
					})
				}
			}
		}
	}
}

// peakK is the K of the peak tile: operands that stay in L1.
const peakK = 128

// peakTile is one microkernel call on an L1-resident tile (K = peakK) of
// nr columns.
func peakTile(nr int) *tileArgs {
	r := rand.New(rand.NewPCG(2, 2))
	x := randSlice(r, mr*peakK)
	w := PackW(randSlice(r, max(32, nr)*peakK), max(32, nr), peakK)
	out := make([]float32, mr*nr)
	t := &tileArgs{k: peakK, w: &w.data[0], pstep: panelW * peakK, out: &out[0], ldo: nr}
	for i := range t.x {
		t.x[i] = &x[i*peakK]
	}
	return t
}

// BenchmarkKernelPeak runs one microkernel on a tile whose operands stay in
// L1 (K = 128): the single-core ceiling the GEMM can approach.
func BenchmarkKernelPeak(b *testing.B) {
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			t := peakTile(im.nr)
			for b.Loop() {
				im.kernel(t)
			}
			b.ReportMetric(2*float64(mr*im.nr*peakK)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkGELU(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	src := randSlice(r, 1536)
	dst := make([]float32, len(src))
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(src)))
			for b.Loop() {
				im.gelu(dst, src)
			}
		})
	}
}

// BenchmarkGemmBF16 is BenchmarkGemm for the VDPBF16PS kernel (where the
// CPU has AVX512_BF16; the Go twin is far too slow to time), with the input
// conversion (BF16Words) inside the timed loop as the backend runs it;
// GFLOP/s counts 2·M·N·K, the f32 work it replaces. KernelPeak/bf16 is its
// L1-resident ceiling (K = 2·peakK).
//
//	go test -run '^$' -bench 'GemmBF16|KernelPeakBF16' ./kernels/cpu/internal/simd
func BenchmarkGemmBF16(b *testing.B) {
	if !HasBF16() {
		b.Skip("this CPU lacks AVX512_BF16")
	}
	shapes := []struct {
		k, n int
		gelu bool
	}{{384, 1152, false}, {384, 384, false}, {384, 1536, true}, {1536, 384, false}}
	r := rand.New(rand.NewPCG(4, 4))
	v := Best()
	peak := kernelPeakBF16(v.im)
	for _, workers := range []int{1, 2} {
		for _, m := range []int{5568, 87} {
			for _, s := range shapes {
				b.Run(fmt.Sprintf("threads=%d/M=%d,K=%d,N=%d", workers, m, s.k, s.n), func(b *testing.B) {
					x := randSlice(r, m*s.k)
					w := PackBF16(randSlice(r, s.n*s.k), s.n, s.k)
					kw := (s.k + 1) / 2
					xw := make([]uint32, m*kw)
					bias := randSlice(r, s.n)
					out := make([]float32, m*s.n)
					par := pool(workers)
					for b.Loop() {
						v.BF16Words(xw, kw, x, s.k, m, s.k)
						v.GemmBF16(out, s.n, xw, kw, m, w, bias, s.gelu, par)
					}
					g := 2 * float64(m*s.n*s.k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
					b.ReportMetric(g, "GFLOP/s")
					b.ReportMetric(g/(peak*float64(workers)), "frac-of-peak")
				})
			}
		}
	}
}

// BenchmarkKernelPeakBF16 runs the VDPBF16PS microkernels, 6×32 and 6×64,
// on an L1-resident tile of peakK pairs (2·peakK bf16 products per output).
func BenchmarkKernelPeakBF16(b *testing.B) {
	if !HasBF16() {
		b.Skip("this CPU lacks AVX512_BF16")
	}
	im := best()
	for _, nr := range []int{im.nr, 2 * im.nr} {
		b.Run(fmt.Sprintf("6x%d", nr), func(b *testing.B) {
			kernel := bf16Kernel(im, nr)
			if kernel == nil {
				b.Skipf("%s has no 6×%d bf16 kernel", im.name, nr)
			}
			t := peakTile(nr)
			for b.Loop() {
				kernel(t)
			}
			b.ReportMetric(2*float64(mr*nr*2*peakK)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// bf16Kernel is the VDPBF16PS microkernel nr columns wide, or nil.
func bf16Kernel(im impl, nr int) func(*tileArgs) {
	switch {
	case nr == im.nr:
		return im.kernelBF16
	case nr == 2*im.nr && im.bf16:
		return im.kernelBF16Wide
	}
	return nil
}

// kernelPeakBF16 is kernelPeak for the VDPBF16PS kernels, the widest the
// GEMM runs: the ceiling BenchmarkGemmBF16 quotes its fraction of.
func kernelPeakBF16(im impl) float64 {
	nr := im.nr
	if im.bf16 {
		nr *= 2
	}
	return timeTile(nr, bf16Kernel(im, nr), 2*mr*nr*2*peakK)
}

// BenchmarkBF16Words is the bf16 rounding of one batch's GEMM input rows
// (5568 × 384), on every variant (VCVTNE2PS2BF16 where the CPU has
// AVX512_BF16, else the Go twin); bytes are the float32s read.
func BenchmarkBF16Words(b *testing.B) {
	const m, k = 5568, 384
	r := rand.New(rand.NewPCG(5, 5))
	x := randSlice(r, m*k)
	xw := make([]uint32, m*k/2)
	for _, im := range impls() {
		v := Variant{im}
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(4 * m * k)
			for b.Loop() {
				v.BF16Words(xw, k/2, x, k, m, k)
			}
		})
	}
}

// BenchmarkPack is the attention kernel's per-head repack of K (one pair's
// 87 tokens and a 512-token sequence, 32 columns, row stride 3·384) and, as
// T, of Vᵀ, on every variant; bytes are the float32s moved.
func BenchmarkPack(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{87, 512} {
		const k, ld = 32, 1152
		w := randSlice(r, (n-1)*ld+k)
		for _, v := range Variants() {
			b.Run(fmt.Sprintf("%s/L=%d", v.Name(), n), func(b *testing.B) {
				var p PackedW
				b.SetBytes(int64(4 * n * k))
				for b.Loop() {
					v.Pack(&p, w, ld, n, k)
				}
			})
			b.Run(fmt.Sprintf("%s/T/L=%d", v.Name(), n), func(b *testing.B) {
				var p PackedW
				b.SetBytes(int64(4 * n * k))
				for b.Loop() {
					v.PackT(&p, w, ld, k, n)
				}
			})
		}
	}
}
