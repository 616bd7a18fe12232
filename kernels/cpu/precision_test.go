package cpu

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// TestBF16MatMul runs MatMul (with bias, with GELU, odd K) on a bf16-twin
// backend and on a bf16 one, and compares every output bit for bit with the
// VDPBF16PS twin over the bf16-rounded operands, then the bias, then GELU as
// the f32 kernels apply them; it also checks that Download returns the
// rounded weight and that bf16 is refused where the CPU lacks AVX512_BF16.
// The bf16 backend runs VDPBF16PS where the CPU has it; elsewhere the test
// forces the precision, and simd.GemmBF16 runs its Go twin kernel, so the
// backend's bf16 path is exercised on every machine.
func TestBF16MatMul(t *testing.T) {
	if _, err := NewPrecision(1, BF16); HasBF16() != (err == nil) || (err != nil && !errors.Is(err, ErrNoBF16)) {
		t.Fatalf("NewPrecision(BF16) on a CPU with AVX512_BF16 = %v: %v", HasBF16(), err)
	}
	for _, p := range []Precision{BF16Twin, BF16} {
		t.Run(string(p), func(t *testing.T) { checkBF16MatMul(t, p) })
	}
}

func checkBF16MatMul(t *testing.T, p Precision) {
	be, err := NewPrecision(2, BF16Twin)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	be.prec = p
	if p == BF16 && !HasBF16() {
		t.Log("this CPU lacks AVX512_BF16: the bf16 backend runs simd's Go twin of the VDPBF16PS kernel")
	}
	r := rand.New(rand.NewPCG(61, 62))
	for _, s := range []struct {
		m, n, k int
		gelu    bool
	}{{9, 40, 64, false}, {13, 24, 37, true}, {70, 16, 600, false}} {
		x, w, bias := make([]float32, s.m*s.k), make([]float32, s.n*s.k), make([]float32, s.n)
		for _, v := range [][]float32{x, w, bias} {
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
		}
		wb, err := be.Weight(w, s.n, s.k)
		if err != nil {
			t.Fatal(err)
		}
		back := make([]float32, s.n*s.k)
		be.Download(back, wb)
		for i := range back {
			if back[i] != simd.RoundBF16(w[i]) {
				t.Fatalf("%v: weight element %d downloads as %v, want bf16(%v) = %v", s, i, back[i], w[i], simd.RoundBF16(w[i]))
			}
		}
		xb, _ := be.Alloc(len(x))
		bb, _ := be.Alloc(len(bias))
		ob, _ := be.Alloc(s.m * s.n)
		be.Upload(xb, x)
		be.Upload(bb, bias)
		if err := be.Run(context.Background(), kernels.MatMul{Out: ob, X: xb, W: wb, Bias: bb, M: s.m, N: s.n, K: s.k, GELU: s.gelu}); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, s.m*s.n)
		be.Download(out, ob)
		xr, wr := make([]float32, s.k), make([]float32, s.k)
		for i := range s.m {
			for j := range s.n {
				for c := range s.k {
					xr[c], wr[c] = simd.RoundBF16(x[i*s.k+c]), simd.RoundBF16(w[j*s.k+c])
				}
				want := []float32{simd.DotBF16Twin(0, xr, wr) + bias[j]}
				if s.gelu {
					simd.Variants()[0].GELU(want, want)
				}
				if got := out[i*s.n+j]; math.Float32bits(got) != math.Float32bits(want[0]) {
					t.Fatalf("%v: out[%d,%d] = %v, twin %v", s, i, j, got, want[0])
				}
			}
		}
	}
}
