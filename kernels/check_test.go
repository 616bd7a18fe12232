package kernels

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// fakeBuf is a buffer of the fake backend below; wn, wk are set for one made
// by Weight.
type fakeBuf struct {
	n, wn, wk int
	readOnly  bool
}

func (b *fakeBuf) Len() int { return b.n }

// foreignBuf stands for a buffer of another backend.
type foreignBuf struct{}

func (*foreignBuf) Len() int { return 1 << 20 }

// fakeBuffers answers Check like a backend whose buffers are *fakeBuf.
type fakeBuffers struct{}

func (fakeBuffers) Size(b Buf, write bool) (int, error) {
	fb, ok := b.(*fakeBuf)
	switch {
	case !ok:
		return 0, errors.New("foreign buffer")
	case fb.wn != 0:
		return 0, errors.New("weight used as an operand")
	case write && fb.readOnly:
		return 0, errors.New("read-only buffer written")
	}
	return fb.n, nil
}

func (fakeBuffers) WeightDims(b Buf) (n, k int, err error) {
	if fb, ok := b.(*fakeBuf); ok && fb.wn != 0 {
		return fb.wn, fb.wk, nil
	}
	return 0, 0, errors.New("not a weight")
}

func bufOf(n int) *fakeBuf { return &fakeBuf{n: n} }

// checkFixture is a set of buffers the test ops are built from.
type checkFixture struct {
	x16, y16, z16, out8, short7 *fakeBuf
	word5, pos2, type2          *fakeBuf // tables of 5, 2 and 2 rows of H = 4
	w, wBadLen, readOnly        *fakeBuf
}

func newCheckFixture() checkFixture {
	return checkFixture{
		x16: bufOf(16), y16: bufOf(16), z16: bufOf(16), out8: bufOf(8), short7: bufOf(7),
		word5: bufOf(5 * 4), pos2: bufOf(2 * 4), type2: bufOf(2 * 4),
		w:        &fakeBuf{n: 2 * 4, wn: 2, wk: 4},
		wBadLen:  &fakeBuf{n: 7, wn: 2, wk: 4},
		readOnly: &fakeBuf{n: 20, readOnly: true},
	}
}

// embed is a valid Embed of two sequences (1 and 2 tokens) with H = 4, which
// the cases below break one field at a time.
func (f checkFixture) embed() Embed {
	return Embed{Out: f.y16, Word: f.word5, Pos: f.pos2, Type: f.type2,
		IDs: []int32{4, 0, 1}, TypeIDs: []int32{0, 1, 1}, Seqs: []int32{0, 1, 3}, H: 4}
}

func (f checkFixture) layerNorm() LayerNorm {
	return LayerNorm{Out: f.y16, X: f.x16, Res: f.z16, Gamma: f.out8, Beta: f.short7, Rows: 2, Cols: 7, Eps: 1e-12}
}

func (f checkFixture) matMul() MatMul {
	return MatMul{Out: f.out8, X: f.x16, W: f.w, Bias: f.short7, M: 4, N: 2, K: 4, GELU: true}
}

func (f checkFixture) attention() Attention {
	// T = 2, H = NH·HD = 2: QKV needs 12 floats, Out 4.
	return Attention{Out: f.out8, QKV: f.x16, Seqs: []int32{0, 2}, NH: 2, HD: 1, Scale: 0.5}
}

func (f checkFixture) gatherRows() GatherRows {
	return GatherRows{Out: f.out8, X: f.x16, Rows: []int32{3, 0}, Cols: 4}
}

// validOps keep their contract, edge cases included: empty batches, aliases
// the docs allow, absent optional inputs.
func (f checkFixture) validOps() []Op {
	noBias := f.matMul()
	noBias.Bias = nil
	noRes := f.layerNorm()
	noRes.Res = nil
	inPlace := f.layerNorm()
	inPlace.Out, inPlace.Res = inPlace.X, inPlace.X
	emptyEmbed := Embed{Out: f.short7, Word: f.word5, Pos: f.pos2, Type: f.type2, Seqs: []int32{0}, H: 4}
	readOnlyTables := f.embed()
	readOnlyTables.Word = f.readOnly
	ops := []Op{
		f.embed(), emptyEmbed, readOnlyTables,
		f.layerNorm(), noRes, inPlace,
		LayerNorm{Out: f.x16, X: f.x16, Gamma: f.out8, Beta: f.out8, Rows: 0, Cols: 8},
		f.matMul(), noBias,
		MatMul{Out: f.short7, X: f.out8, W: f.w, M: 0, N: 2, K: 4},
		GELU{Out: f.x16, X: f.x16, N: 16}, GELU{Out: f.short7, X: f.x16, N: 0},
		Tanh{Out: f.out8, X: f.x16, N: 8},
		f.attention(),
		Attention{Out: f.out8, QKV: f.x16, Seqs: []int32{0, 0, 2, 2}, NH: 2, HD: 1, Scale: -1},
		Attention{Out: f.short7, QKV: f.x16, Seqs: []int32{0}, NH: 12, HD: 32},
		f.gatherRows(),
		GatherRows{Out: f.short7, X: f.x16, Cols: 16},
	}
	return ops
}

func TestCheckValid(t *testing.T) {
	for _, op := range newCheckFixture().validOps() {
		if err := Check(op, fakeBuffers{}); err != nil {
			t.Errorf("Check(%T %+v): %v", op, op, err)
		}
	}
}

// TestCheckAllocs checks that a valid op costs no allocation: backends call
// Check on every op of every forward pass.
func TestCheckAllocs(t *testing.T) {
	for _, op := range newCheckFixture().validOps() {
		if n := testing.AllocsPerRun(10, func() { _ = Check(op, fakeBuffers{}) }); n != 0 {
			t.Errorf("Check(%T): %v allocations, want 0", op, n)
		}
	}
}

// TestCheckInvalid breaks each clause of the op contracts once and checks
// that Check names it.
func TestCheckInvalid(t *testing.T) {
	f := newCheckFixture()
	type c = struct {
		name string
		op   Op
		want string // in the error, after "kernels: invalid op: "
	}
	var cases []c
	embed := func(name, want string, edit func(*Embed)) {
		op := f.embed()
		edit(&op)
		cases = append(cases, c{"Embed/" + name, op, want})
	}
	embed("H", "Embed.H = 0, want > 0", func(o *Embed) { o.H = 0 })
	embed("TypeIDs-len", "Embed: len(TypeIDs) = 2, want len(IDs) = 3", func(o *Embed) { o.TypeIDs = o.TypeIDs[:2] })
	embed("Seqs-empty", "Embed.Seqs = [], want cu_seqlens starting at 0", func(o *Embed) { o.Seqs = nil })
	embed("Seqs-start", "Embed.Seqs = [1 3], want cu_seqlens starting at 0", func(o *Embed) { o.Seqs = []int32{1, 3} })
	embed("Seqs-decrease", "Embed.Seqs decreases at 2: 1 < 2", func(o *Embed) { o.Seqs = []int32{0, 2, 1, 3} })
	embed("Seqs-end", "Embed.Seqs ends at 2, want T = 3", func(o *Embed) { o.Seqs = []int32{0, 2} })
	embed("Out-nil", "Embed.Out is nil", func(o *Embed) { o.Out = nil })
	embed("Type-nil", "Embed.Type is nil", func(o *Embed) { o.Type = nil })
	embed("Out-short", "Embed.Out has 8 floats, want at least 12", func(o *Embed) { o.Out = f.out8 })
	embed("Pos-short", "Embed.Pos has 3 floats, want at least 4", func(o *Embed) { o.Pos = bufOf(3) })
	embed("Word-foreign", "Embed.Word: foreign buffer", func(o *Embed) { o.Word = &foreignBuf{} })
	embed("Word-weight", "Embed.Word: weight used as an operand", func(o *Embed) { o.Word = f.w })
	embed("Out-read-only", "Embed.Out: read-only buffer written", func(o *Embed) { o.Out = f.readOnly })
	embed("Out-alias", "Embed.Out aliases Type", func(o *Embed) { o.Type = o.Out })
	embed("IDs-high", "Embed.IDs[0] = 5, out of range [0,5) (rows of Word)", func(o *Embed) { o.IDs = []int32{5, 0, 1} })
	embed("IDs-negative", "Embed.IDs[2] = -1, out of range [0,5) (rows of Word)", func(o *Embed) { o.IDs = []int32{0, 0, -1} })
	embed("TypeIDs-high", "Embed.TypeIDs[1] = 2, out of range [0,2) (rows of Type)", func(o *Embed) { o.TypeIDs = []int32{0, 2, 0} })
	embed("positions", "Embed: a sequence has 3 tokens, Pos only 2 rows", func(o *Embed) { o.Seqs = []int32{0, 3} })

	layerNorm := func(name, want string, edit func(*LayerNorm)) {
		op := f.layerNorm()
		edit(&op)
		cases = append(cases, c{"LayerNorm/" + name, op, want})
	}
	layerNorm("Cols", "LayerNorm: Rows = 2, Cols = 0, want Rows ≥ 0, Cols > 0", func(o *LayerNorm) { o.Cols = 0 })
	layerNorm("Rows", "LayerNorm: Rows = -1, Cols = 7, want Rows ≥ 0, Cols > 0", func(o *LayerNorm) { o.Rows = -1 })
	layerNorm("Eps-NaN", "LayerNorm.Eps = NaN, want finite and ≥ 0", func(o *LayerNorm) { o.Eps = float32(math.NaN()) })
	layerNorm("Eps-negative", "LayerNorm.Eps = -1, want finite and ≥ 0", func(o *LayerNorm) { o.Eps = -1 })
	layerNorm("Eps-Inf", "LayerNorm.Eps = +Inf, want finite and ≥ 0", func(o *LayerNorm) { o.Eps = float32(math.Inf(1)) })
	layerNorm("Res-short", "LayerNorm.Res has 8 floats, want at least 14", func(o *LayerNorm) { o.Res = f.out8 })
	layerNorm("Gamma-short", "LayerNorm.Gamma has 3 floats, want at least 7", func(o *LayerNorm) { o.Gamma = bufOf(3) })
	layerNorm("Beta-nil", "LayerNorm.Beta is nil", func(o *LayerNorm) { o.Beta = nil })
	layerNorm("Out-alias-Gamma", "LayerNorm.Out aliases Gamma", func(o *LayerNorm) { o.Out, o.Beta, o.Rows, o.Cols = o.Gamma, bufOf(8), 1, 8 })

	matMul := func(name, want string, edit func(*MatMul)) {
		op := f.matMul()
		edit(&op)
		cases = append(cases, c{"MatMul/" + name, op, want})
	}
	matMul("M", "MatMul: M = -1, N = 2, K = 4, want M ≥ 0, N > 0, K > 0", func(o *MatMul) { o.M = -1 })
	matMul("N", "MatMul: M = 4, N = 0, K = 4, want M ≥ 0, N > 0, K > 0", func(o *MatMul) { o.N = 0 })
	matMul("K", "MatMul: M = 4, N = 2, K = 0, want M ≥ 0, N > 0, K > 0", func(o *MatMul) { o.K = 0 })
	matMul("W-nil", "MatMul.W is nil", func(o *MatMul) { o.W = nil })
	matMul("W-not-weight", "MatMul.W: not a weight", func(o *MatMul) { o.W = f.out8 })
	matMul("W-shape", "MatMul.W is [2,4], want [N,K] = [4,2]", func(o *MatMul) { o.N, o.K = 4, 2 })
	matMul("W-Len", "MatMul.W has Len 7, want N·K = 8", func(o *MatMul) { o.W = f.wBadLen })
	matMul("X-short", "MatMul.X has 16 floats, want at least 20", func(o *MatMul) { o.M, o.Out = 5, bufOf(10) })
	matMul("Out-short", "MatMul.Out has 7 floats, want at least 8", func(o *MatMul) { o.Out = f.short7 })
	matMul("Bias-short", "MatMul.Bias has 1 floats, want at least 2", func(o *MatMul) { o.Bias = bufOf(1) })
	matMul("Out-alias-X", "MatMul.Out aliases X", func(o *MatMul) { o.Out = o.X })
	matMul("Out-alias-Bias", "MatMul.Out aliases Bias", func(o *MatMul) { o.Bias = o.Out })
	matMul("overflow", "MatMul.Out has 8 floats, want at least 9223372036854775807", func(o *MatMul) { o.M = math.MaxInt/2 + 1 })

	cases = append(cases,
		c{"GELU/N", GELU{Out: f.x16, X: f.x16, N: -1}, "GELU.N = -1, want ≥ 0"},
		c{"GELU/X-short", GELU{Out: f.x16, X: f.out8, N: 9}, "GELU.X has 8 floats, want at least 9"},
		c{"GELU/Out-nil", GELU{X: f.x16, N: 1}, "GELU.Out is nil"},
		c{"Tanh/Out-short", Tanh{Out: f.out8, X: f.x16, N: 9}, "Tanh.Out has 8 floats, want at least 9"},
		c{"Tanh/Out-read-only", Tanh{Out: f.readOnly, X: f.x16, N: 9}, "Tanh.Out: read-only buffer written"},
	)

	attention := func(name, want string, edit func(*Attention)) {
		op := f.attention()
		edit(&op)
		cases = append(cases, c{"Attention/" + name, op, want})
	}
	attention("NH", "Attention: NH = 0, HD = 1, want > 0", func(o *Attention) { o.NH = 0 })
	attention("HD", "Attention: NH = 2, HD = -1, want > 0", func(o *Attention) { o.HD = -1 })
	attention("Scale-NaN", "Attention.Scale = NaN, want finite", func(o *Attention) { o.Scale = float32(math.NaN()) })
	attention("Scale-Inf", "Attention.Scale = -Inf, want finite", func(o *Attention) { o.Scale = float32(math.Inf(-1)) })
	attention("Seqs-start", "Attention.Seqs = [2], want cu_seqlens starting at 0", func(o *Attention) { o.Seqs = []int32{2} })
	attention("Seqs-decrease", "Attention.Seqs decreases at 2: 0 < 2", func(o *Attention) { o.Seqs = []int32{0, 2, 0} })
	attention("QKV-short", "Attention.QKV has 16 floats, want at least 18", func(o *Attention) { o.Seqs = []int32{0, 1, 3} })
	attention("Out-short", "Attention.Out has 7 floats, want at least 8", func(o *Attention) { o.Out, o.NH, o.HD = f.short7, 1, 4 })
	attention("Out-alias", "Attention.Out aliases QKV", func(o *Attention) { o.Out = o.QKV })
	attention("QKV-foreign", "Attention.QKV: foreign buffer", func(o *Attention) { o.QKV = &foreignBuf{} })

	gather := func(name, want string, edit func(*GatherRows)) {
		op := f.gatherRows()
		edit(&op)
		cases = append(cases, c{"GatherRows/" + name, op, want})
	}
	gather("Cols", "GatherRows.Cols = 0, want > 0", func(o *GatherRows) { o.Cols = 0 })
	gather("Rows-high", "GatherRows.Rows[1] = 4, out of range [0,4) (rows of X)", func(o *GatherRows) { o.Rows = []int32{0, 4} })
	gather("Rows-negative", "GatherRows.Rows[0] = -1, out of range [0,4) (rows of X)", func(o *GatherRows) { o.Rows = []int32{-1} })
	gather("Out-short", "GatherRows.Out has 8 floats, want at least 12", func(o *GatherRows) { o.Rows = []int32{0, 1, 2} })
	gather("Out-alias", "GatherRows.Out aliases X", func(o *GatherRows) { o.Out = o.X })
	gather("X-nil", "GatherRows.X is nil", func(o *GatherRows) { o.X = nil })

	cases = append(cases, c{"nil", nil, "nil op"})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.op, fakeBuffers{})
			if !errors.Is(err, ErrInvalidOp) {
				t.Fatalf("Check: err = %v, want ErrInvalidOp", err)
			}
			if want := "kernels: invalid op: " + tc.want; !strings.Contains(err.Error(), want) {
				t.Errorf("Check: err = %q, want it to say %q", err, want)
			}
		})
	}
}

// TestCheckUnsupported checks that an Op type this package does not define
// (one embedding a kernels op gets its isOp method) is unsupported, not
// invalid.
func TestCheckUnsupported(t *testing.T) {
	type wrapped struct{ GELU }
	f := newCheckFixture()
	err := Check(wrapped{GELU{Out: f.x16, X: f.x16, N: 1}}, fakeBuffers{})
	if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrInvalidOp) {
		t.Errorf("Check(wrapped op): err = %v, want ErrUnsupported only", err)
	}
}
