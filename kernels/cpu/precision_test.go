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

// TestBF16Handoff: in bf16, ops that run back to back hand their Out on as
// bf16 pairs (handoff.go); a layer's ops in one Run must give the same bits
// as the same ops one Run apiece, which rounds every MatMul input itself.
// Head dims 16 (pairs handed to and from the attention) and 5 (not). The
// intermediate MatMul is Scratch, as the engine's: in one Run its Out is
// left unwritten, so only what follows it is compared.
func TestBF16Handoff(t *testing.T) {
	for _, hd := range []int{16, 5} {
		be, err := NewPrecision(2, BF16Twin)
		if err != nil {
			t.Fatal(err)
		}
		be.prec = BF16 // the Go twin kernel where the CPU lacks AVX512_BF16
		r := rand.New(rand.NewPCG(67, uint64(hd)))
		const nh, inter = 3, 40
		h := nh * hd
		seqs := []int32{0, 7, 20, 21}
		tok := int(seqs[len(seqs)-1])
		buf := func(n int, scale float64) kernels.Buf {
			b, _ := be.Alloc(n)
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(r.NormFloat64() * scale)
			}
			be.Upload(b, v)
			return b
		}
		weight := func(n, k int) kernels.Buf {
			v := make([]float32, n*k)
			for i := range v {
				v[i] = float32(r.NormFloat64() / math.Sqrt(float64(k)))
			}
			w, err := be.Weight(v, n, k)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		x, gamma, beta := buf(tok*h, 1), buf(h, 1), buf(h, 0.1)
		ln, qkv, ctx, proj, up, down := buf(tok*h, 0), buf(tok*3*h, 0), buf(tok*h, 0), buf(tok*h, 0), buf(tok*inter, 0), buf(tok*h, 0)
		wqkv, wo, wu, wd := weight(3*h, h), weight(h, h), weight(inter, h), weight(h, inter)
		ops := []kernels.Op{
			kernels.LayerNorm{Out: ln, X: x, Gamma: gamma, Beta: beta, Rows: tok, Cols: h, Eps: 1e-12},
			kernels.MatMul{Out: qkv, X: ln, W: wqkv, M: tok, N: 3 * h, K: h},
			kernels.Attention{Out: ctx, QKV: qkv, Seqs: seqs, NH: nh, HD: hd, Scale: 0.25},
			kernels.MatMul{Out: proj, X: ctx, W: wo, M: tok, N: h, K: h},
			kernels.LayerNorm{Out: ln, X: proj, Res: x, Gamma: gamma, Beta: beta, Rows: tok, Cols: h, Eps: 1e-12},
			kernels.MatMul{Out: up, X: ln, W: wu, M: tok, N: inter, K: h, GELU: true, Scratch: true},
			kernels.MatMul{Out: down, X: up, W: wd, M: tok, N: h, K: inter},
		}
		results := func() [][]float32 {
			var got [][]float32
			for _, b := range []kernels.Buf{ln, qkv, ctx, proj, down} {
				v := make([]float32, b.Len())
				be.Download(v, b)
				got = append(got, v)
			}
			return got
		}
		if err := be.Run(context.Background(), ops...); err != nil {
			t.Fatal(err)
		}
		together := results()
		for _, op := range ops {
			if err := be.Run(context.Background(), op); err != nil {
				t.Fatal(err)
			}
		}
		apart := results()
		for i := range together {
			for j := range together[i] {
				if math.Float32bits(together[i][j]) != math.Float32bits(apart[i][j]) {
					t.Fatalf("HD=%d: buffer %d element %d = %v in one Run, %v op by op", hd, i, j, together[i][j], apart[i][j])
				}
			}
		}
		be.Close()
	}
}
