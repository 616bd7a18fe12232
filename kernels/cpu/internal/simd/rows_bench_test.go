package simd

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// kernelPeak measures the variant's microkernel on an L1-resident tile for
// about 20 ms (BenchmarkKernelPeak's loop): the single-core FP32 ceiling the
// fused-kernel benchmarks quote their fraction of.
func kernelPeak(im impl) float64 { return timeTile(im.nr, im.kernel, 2*mr*im.nr*peakK) }

// timeTile runs kernel on the peak tile of nr columns for about 20 ms and
// returns its GFLOP/s, counting flops per call.
func timeTile(nr int, kernel func(*tileArgs), flops int) float64 {
	t := peakTile(nr)
	n, start := 0, time.Now()
	for time.Since(start) < 20*time.Millisecond {
		for range 1000 {
			kernel(t)
		}
		n += 1000
	}
	return float64(flops) * float64(n) / time.Since(start).Seconds() / 1e9
}

// BenchmarkLayerNorm runs LayerNorm with the residual over 512 rows of the
// model's width (H = 384) and reports GB/s (x, res and out: 12 bytes per
// element; gamma and beta stay in L1).
func BenchmarkLayerNorm(b *testing.B) {
	const rows, n = 512, 384
	r := rand.New(rand.NewPCG(4, 4))
	x, res := randSlice(r, rows*n), randSlice(r, rows*n)
	gamma, beta := randSlice(r, n), randSlice(r, n)
	out := make([]float32, rows*n)
	for _, im := range helperImpls() {
		b.Run(im.name, func(b *testing.B) {
			b.SetBytes(12 * rows * n)
			for b.Loop() {
				for i := 0; i < rows; i++ {
					im.layerNorm(out[i*n:(i+1)*n], x[i*n:(i+1)*n], res[i*n:(i+1)*n], gamma, beta, 1e-12)
				}
			}
		})
	}
}

// BenchmarkSoftmaxRows runs one block of attention probabilities (64 queries
// × L keys) and reports GB/s (each score read and written once) and
// exponentials per ns.
func BenchmarkSoftmaxRows(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, l := range []int{87, 512} {
		const rows = 64
		src := make([]float32, rows*l)
		for i := range src {
			src[i] = float32(r.NormFloat64() * 8)
		}
		s := make([]float32, len(src))
		sums := make([]float32, rows)
		for _, im := range helperImpls() {
			b.Run(fmt.Sprintf("%s/L=%d", im.name, l), func(b *testing.B) {
				b.SetBytes(8 * int64(rows*l))
				for b.Loop() {
					copy(s, src) // the kernel works in place
					im.softmaxRows(s, rows, l, 0.17677669, sums)
				}
				b.ReportMetric(float64(rows*l)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gexp/s")
			})
		}
	}
}

// BenchmarkGemmFusedGELU is the intermediate GEMM (M=5568, K=384, N=1536)
// with GELU fused into the store (in both forms of the AVX-512 variant's
// GELU tile), on one thread, against the same GEMM without it: GFLOP/s (2·M·N·K) and the fraction of kernelPeak.
func BenchmarkGemmFusedGELU(b *testing.B) {
	const m, k, n = 5568, 384, 1536
	r := rand.New(rand.NewPCG(6, 6))
	x := randSlice(r, m*k)
	w := PackW(randSlice(r, n*k), n, k)
	bias := randSlice(r, n)
	out := make([]float32, m*n)
	for _, im := range helperImpls() {
		if im.kind == kindGeneric {
			continue
		}
		peak := kernelPeak(im)
		for _, gelu := range []bool{true, false} {
			if im.zmm && !gelu {
				continue // the same GEMM as the ymm form's
			}
			b.Run(fmt.Sprintf("%s/gelu=%v", im.name, gelu), func(b *testing.B) {
				for b.Loop() {
					im.gemm(out, n, x, k, m, w, bias, gelu, nil)
				}
				g := 2 * float64(m*n*k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(g, "GFLOP/s")
				b.ReportMetric(g/peak, "frac-of-peak")
			})
		}
	}
}
