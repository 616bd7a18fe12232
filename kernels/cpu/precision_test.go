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

// TestBF16Attention: the attention op gives the same bits in bf16 (VDPBF16PS
// where the CPU has it, else simd's Go twin kernel) as in bf16-twin (float32
// FMAs over the swapped pairs), at odd and even lengths and head dims, with
// sequences split by head (one pair) and by sequence (a batch).
func TestBF16Attention(t *testing.T) {
	r := rand.New(rand.NewPCG(65, 66))
	for _, c := range []struct {
		hd   int
		lens []int
	}{{32, []int{87}}, {32, []int{1, 2, 7, 16, 33, 97, 130, 5, 64}}, {33, []int{3, 40}}, {3, []int{9}}} {
		const nh = 3
		h := nh * c.hd
		cu := []int32{0}
		for _, l := range c.lens {
			cu = append(cu, cu[len(cu)-1]+int32(l))
		}
		tot := int(cu[len(cu)-1])
		qkv := make([]float32, tot*3*h)
		for i := range qkv {
			qkv[i] = float32(r.NormFloat64())
		}
		var outs [2][]float32
		for i, p := range []Precision{BF16Twin, BF16} {
			be, err := NewPrecision(2, BF16Twin)
			if err != nil {
				t.Fatal(err)
			}
			be.prec = p
			qb, _ := be.Alloc(len(qkv))
			ob, _ := be.Alloc(tot * h)
			be.Upload(qb, qkv)
			if err := be.Run(context.Background(), kernels.Attention{Out: ob, QKV: qb, Seqs: cu, NH: nh, HD: c.hd, Scale: 0.17677669}); err != nil {
				t.Fatal(err)
			}
			outs[i] = make([]float32, tot*h)
			be.Download(outs[i], ob)
			be.Close()
		}
		for e := range outs[0] {
			if math.Float32bits(outs[0][e]) != math.Float32bits(outs[1][e]) {
				t.Fatalf("HD=%d lengths %v: output %d (token %d) = %v in bf16, %v in bf16-twin", c.hd, c.lens, e, e/h, outs[1][e], outs[0][e])
			}
		}
	}
}
