package ref

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/internal/host"
)

// These known-answer tests pin the oracle itself to hand-computed values, so
// that kernels/optest does not compare backends against a wrong reference.
// Tolerance 1e-6 absolute: every want value is rounded to float32 once, and
// the hand values are given to ≥ 8 significant digits.
const kaTol = 1e-6

func upload(t *testing.T, be kernels.Backend, v ...float32) kernels.Buf {
	t.Helper()
	b, err := be.Alloc(len(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func download(t *testing.T, be kernels.Backend, b kernels.Buf) []float32 {
	t.Helper()
	out := make([]float32, b.Len())
	if err := be.Download(out, b); err != nil {
		t.Fatal(err)
	}
	return out
}

func run(t *testing.T, be kernels.Backend, ops ...kernels.Op) {
	t.Helper()
	if err := be.Run(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, got []float32, want ...float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > kaTol {
			t.Errorf("[%d] = %.9g, want %.9g", i, got[i], want[i])
		}
	}
}

func TestMatMulKnown(t *testing.T) {
	be := New()
	// X = [[1,2,3],[4,5,6]], W = [[1,0,-1],[0.5,0.5,0.5]], Bias = [10,-1].
	x := upload(t, be, 1, 2, 3, 4, 5, 6)
	w, err := be.Weight([]float32{1, 0, -1, 0.5, 0.5, 0.5}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, download(t, be, w), 1, 0, -1, 0.5, 0.5, 0.5)
	bias := upload(t, be, 10, -1)
	out := upload(t, be, 0, 0, 0, 0)
	run(t, be, kernels.MatMul{Out: out, X: x, W: w, Bias: bias, M: 2, N: 2, K: 3})
	expect(t, download(t, be, out), 1-3+10, 3-1, 4-6+10, 7.5-1)

	// With GELU: gelu(-1) = -0.158655254, gelu(1) = 0.841344746.
	w1, _ := be.Weight([]float32{1}, 1, 1)
	x1 := upload(t, be, -1, 1, 0)
	out1 := upload(t, be, 9, 9, 9)
	run(t, be, kernels.MatMul{Out: out1, X: x1, W: w1, M: 3, N: 1, K: 1, GELU: true})
	expect(t, download(t, be, out1), -0.15865525393145707, 0.8413447460685429, 0)
}

func TestGELUTanhKnown(t *testing.T) {
	be := New()
	x := upload(t, be, -3, -1, 0, 0.5, 2)
	run(t, be, kernels.GELU{Out: x, X: x, N: 4}) // aliased; the last element is untouched
	expect(t, download(t, be, x), -0.0040496977, -0.15865525393, 0, 0.34573123063, 2)
	y := upload(t, be, -1, 0, 0.5)
	out := upload(t, be, 0, 0, 0)
	run(t, be, kernels.Tanh{Out: out, X: y, N: 3})
	expect(t, download(t, be, out), -0.76159415596, 0, 0.46211715726)
}

func TestLayerNormKnown(t *testing.T) {
	be := New()
	// y = [1,2,3,4]: mean 2.5, biased var 1.25, so (y-2.5)/√1.25.
	x := upload(t, be, 0, 2, 1, 4, 5, 5, 5, 5)
	res := upload(t, be, 1, 0, 2, 0, 0, 0, 0, 0)
	gamma := upload(t, be, 1, 1, 2, 1)
	beta := upload(t, be, 0, 0, 0, 1)
	// Out aliases Res. The second row is constant: var 0, so Eps decides.
	run(t, be, kernels.LayerNorm{Out: res, X: x, Res: res, Gamma: gamma, Beta: beta, Rows: 2, Cols: 4, Eps: 0.25})
	s := 1 / math.Sqrt(1.25+0.25)
	expect(t, download(t, be, res), -1.5*s, -0.5*s, 2*0.5*s, 1.5*s+1, 0, 0, 0, 1)
	out := upload(t, be, 0, 0, 0, 0)
	run(t, be, kernels.LayerNorm{Out: out, X: upload(t, be, 1, 2, 3, 4), Gamma: gamma, Beta: beta, Rows: 1, Cols: 4})
	s = 1 / math.Sqrt(1.25)
	expect(t, download(t, be, out), -1.5*s, -0.5*s, 2*0.5*s, 1.5*s+1)
}

func TestAttentionKnown(t *testing.T) {
	be := New()
	// NH=1, HD=1, two sequences: token 0 alone, tokens 1-2 together.
	// Rows of QKV are (q, k, v). Sequence 1: q1 = 1, k = (0, ln 3), so for
	// query 1 p = (1/4, 3/4) and Out = 4/4 + 3·8/4 = 7. Query 2 has q = 0:
	// p = (1/2, 1/2), Out = 6. A lone token attends to itself: Out = its v.
	qkv := upload(t, be,
		5, 7, -2,
		1, 0, 4,
		0, float32(math.Log(3)), 8)
	out := upload(t, be, 0, 0, 0)
	run(t, be, kernels.Attention{Out: out, QKV: qkv, Seqs: []int32{0, 1, 3}, NH: 1, HD: 1, Scale: 1})
	got := download(t, be, out)
	want := []float64{-2, 7, 6}
	for i := range want {
		// ln 3 is rounded to float32 (relative 3e-8), so p is off by ~1e-8.
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			t.Errorf("Out[%d] = %v, want %v", i, got[i], want[i])
		}
	}

	// Two heads, HD=2, Scale 0.5; one sequence of 2 tokens. Head 1 has equal
	// scores (k rows equal), so its output is the mean of its v rows.
	// Row layout: q(h0,h1) | k(h0,h1) | v(h0,h1).
	qkv2 := upload(t, be,
		2, 0, 1, 1 /*q*/, 0, 0, 3, 3 /*k*/, 1, 2, 10, 20, /*v*/
		0, 0, 0, 0 /*q*/, 2, 0, 3, 3 /*k*/, 3, 4, 30, 40 /*v*/)
	out2 := upload(t, be, 0, 0, 0, 0, 0, 0, 0, 0)
	run(t, be, kernels.Attention{Out: out2, QKV: qkv2, Seqs: []int32{0, 2}, NH: 2, HD: 2, Scale: 0.5})
	// Head 0, query 0: s = (0, 0.5·4) = (0, 2): p1 = e²/(1+e²).
	p1 := math.Exp(2) / (1 + math.Exp(2))
	expect(t, download(t, be, out2),
		(1-p1)*1+p1*3, (1-p1)*2+p1*4, 20, 30,
		2, 3, 20, 30)
}

func TestEmbedGatherKnown(t *testing.T) {
	be := New()
	word := upload(t, be, 1, 2, 10, 20, 100, 200) // V=3, H=2
	pos := upload(t, be, 0.5, 0.25, 1, 1)         // maxPos=2
	typ := upload(t, be, 0, 0, -1, -2)            // typeVocab=2
	out := upload(t, be, make([]float32, 6)...)
	run(t, be, kernels.Embed{Out: out, Word: word, Pos: pos, Type: typ,
		IDs: []int32{2, 0, 1}, TypeIDs: []int32{0, 1, 1}, Seqs: []int32{0, 1, 3}, H: 2})
	expect(t, download(t, be, out), 100.5, 200.25, 1+0.5-1, 2+0.25-2, 10+1-1, 20+1-2)

	g := upload(t, be, 0, 0, 0, 0)
	run(t, be, kernels.GatherRows{Out: g, X: out, Rows: []int32{2, 0}, Cols: 2})
	expect(t, download(t, be, g), 10, 19, 100.5, 200.25)
}

func TestErrors(t *testing.T) {
	be := New()
	other := New()
	x := upload(t, be, 1, 2, 3, 4)
	foreign := upload(t, other, 1, 2, 3, 4)
	w, _ := be.Weight([]float32{1, 2}, 1, 2)
	table := upload(t, be, 1, 2, 3, 4)
	short := upload(t, be, 1, 2)
	bad := []struct {
		name string
		op   kernels.Op
	}{
		{"foreign buffer", kernels.GELU{Out: x, X: foreign, N: 4}},
		{"weight as input", kernels.GELU{Out: x, X: w, N: 2}},
		{"typed nil buffer", kernels.GELU{Out: x, X: (*host.Buf)(nil), N: 2}},
		{"typed nil weight", kernels.MatMul{Out: x, X: table, W: (*weight)(nil), M: 1, N: 1, K: 2}},
		{"short buffer", kernels.GELU{Out: x, X: x, N: 5}},
		{"negative N", kernels.Tanh{Out: x, X: x, N: -1}},
		{"W not a weight", kernels.MatMul{Out: x, X: table, W: table, M: 1, N: 1, K: 2}},
		{"W wrong shape", kernels.MatMul{Out: x, X: table, W: w, M: 1, N: 2, K: 1}},
		{"MatMul alias", kernels.MatMul{Out: x, X: x, W: w, M: 1, N: 1, K: 2}},
		{"seqs not at 0", kernels.Attention{Out: x, QKV: table, Seqs: []int32{1, 1}, NH: 1, HD: 1, Scale: 1}},
		{"seqs decrease", kernels.Attention{Out: x, QKV: table, Seqs: []int32{0, 1, 0}, NH: 1, HD: 1, Scale: 1}},
		{"seqs end", kernels.Embed{Out: x, Word: table, Pos: table, Type: table, IDs: []int32{0}, TypeIDs: []int32{0}, Seqs: []int32{0, 2}, H: 2}},
		{"id range", kernels.Embed{Out: x, Word: table, Pos: table, Type: table, IDs: []int32{2}, TypeIDs: []int32{0}, Seqs: []int32{0, 1}, H: 2}},
		{"position range", kernels.Embed{Out: x, Word: table, Pos: short, Type: table, IDs: []int32{0, 0, 0}, TypeIDs: []int32{0, 0, 0}, Seqs: []int32{0, 3}, H: 1}},
		{"gather range", kernels.GatherRows{Out: table, X: x, Rows: []int32{2}, Cols: 2}},
		{"LayerNorm NaN eps", kernels.LayerNorm{Out: x, X: x, Gamma: table, Beta: table, Rows: 1, Cols: 4, Eps: float32(math.NaN())}},
	}
	for _, c := range bad {
		if err := be.Run(context.Background(), c.op); !errors.Is(err, kernels.ErrInvalidOp) {
			t.Errorf("%s: Run: err = %v, want kernels.ErrInvalidOp", c.name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := be.Run(ctx, kernels.GELU{Out: x, X: x, N: 4}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Run: err = %v, want context.Canceled", err)
	}
	be.Close()
	if _, err := be.Alloc(1); err == nil {
		t.Error("Alloc after Close succeeded")
	}
	if err := be.Run(context.Background(), kernels.GELU{Out: x, X: x, N: 4}); err == nil {
		t.Error("Run after Close succeeded")
	}
}
