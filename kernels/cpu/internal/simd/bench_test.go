package simd

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkGemm runs the model's four GEMM shapes, for a 64-pair batch
// (M = 64 × 87 tokens) and for one pair (M = 87), on every variant with 1 and
// 2 workers and reports GFLOP/s (2·M·N·K per op).
//
//	go test -run '^$' -bench 'Gemm/(avx2|avx512)' ./kernels/cpu/internal/simd
func BenchmarkGemm(b *testing.B) {
	shapes := []struct {
		k, n int
		gelu bool
	}{{384, 1152, false}, {384, 384, false}, {384, 1536, true}, {1536, 384, false}}
	r := rand.New(rand.NewPCG(1, 1))
	for _, im := range impls() {
		for _, workers := range []int{1, 2} {
			for _, m := range []int{5568, 87} {
				for _, s := range shapes {
					name := fmt.Sprintf("%s/threads=%d/M=%d,K=%d,N=%d", im.name, workers, m, s.k, s.n)
					b.Run(name, func(b *testing.B) {
						if im.kind == kindGeneric && testing.Short() {
							b.Skip("the Go twin is slow")
						}
						x := randSlice(r, m*s.k)
						w := PackW(randSlice(r, s.n*s.k), s.n, s.k)
						bias := randSlice(r, s.n)
						out := make([]float32, m*s.n)
						par := pool(workers)
						for b.Loop() {
							im.gemm(out, s.n, x, s.k, m, w, bias, s.gelu, par)
						}
						b.ReportMetric(2*float64(m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}

// peakK is the K of the peak tile: operands that stay in L1.
const peakK = 128

// peakTile is one microkernel call on an L1-resident tile (K = peakK).
func peakTile(im impl) *tileArgs {
	r := rand.New(rand.NewPCG(2, 2))
	x := randSlice(r, mr*peakK)
	w := PackW(randSlice(r, 32*peakK), 32, peakK)
	out := make([]float32, mr*im.nr)
	t := &tileArgs{k: peakK, w: &w.data[0], out: &out[0], ldo: im.nr}
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
			t := peakTile(im)
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
