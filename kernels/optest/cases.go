package optest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/minilm-dev/minilm/kernels"
)

// testCase is one op at one shape. build makes the inputs on a backend from a
// generator seeded by the case name, so every backend sees the same numbers.
type testCase struct {
	op    string // "MatMul"; one stem per op across the stack
	vars  string // "M=130,N=1152,K=384,bias,gelu"
	tol   Tol
	flops float64 // multiply-adds ×2 per run; 0 for ops bound by memory or transcendentals
	bytes int64   // bytes read and written per run
	build func(g *gen) (op kernels.Op, out kernels.Buf, n int)
}

func (c testCase) name() string { return c.op + "/" + c.vars }

// guard is how many floats past an op's output are checked to be untouched.
const guard = 8

// guardValue fills the floats past an output; no case produces it.
const guardValue = -12345.5

// gen makes a case's inputs on one backend; the first error sticks.
type gen struct {
	be  kernels.Backend
	rng *rand.Rand
	err error
}

func newGen(be kernels.Backend, name string) *gen {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &gen{be: be, rng: rand.New(rand.NewPCG(h.Sum64(), 0x6d696e696c6d))}
}

// values returns n uniform values in [-scale, scale].
func (g *gen) values(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*g.rng.Float64() - 1) * scale)
	}
	return v
}

// upload allocates len(v)+extra floats and uploads v.
func (g *gen) upload(v []float32, extra int) kernels.Buf {
	if g.err != nil {
		return nil
	}
	b, err := g.be.Alloc(len(v) + extra)
	if err != nil {
		g.err = err
		return nil
	}
	if g.err = g.be.Upload(b, v); g.err != nil {
		return nil
	}
	return b
}

// rand uploads n uniform values in [-scale, scale].
func (g *gen) rand(n int, scale float64) kernels.Buf { return g.upload(g.values(n, scale), 0) }

// out allocates an output of n floats followed by guard floats, all set to
// guardValue, so a backend that skips an element or writes past the end fails.
func (g *gen) out(n int) kernels.Buf {
	v := make([]float32, n+guard)
	for i := range v {
		v[i] = guardValue
	}
	return g.upload(v, 0)
}

func (g *gen) weight(n, k int) kernels.Buf {
	if g.err != nil {
		return nil
	}
	w, err := g.be.Weight(g.values(n*k, 1), n, k)
	g.err = err
	return w
}

// seqs returns cu_seqlens for the given sequence lengths.
func seqs(lens []int) []int32 {
	s := make([]int32, len(lens)+1)
	for i, l := range lens {
		s[i+1] = s[i] + int32(l)
	}
	return s
}

func lensString(lens []int) string {
	parts := make([]string, len(lens))
	for i, l := range lens {
		parts[i] = fmt.Sprint(l)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Model shapes: the real model, then the tiny test model.
const (
	hReal, nhReal, hdReal, iReal = 384, 12, 32, 1536
	hTiny, nhTiny, hdTiny, iTiny = 32, 4, 8, 64
	bertEps                      = 1e-12
)

// cases lists every case of the suite.
func cases() []testCase {
	var cs []testCase
	cs = append(cs, matMulCases()...)
	cs = append(cs, layerNormCases()...)
	cs = append(cs, geluCases()...)
	cs = append(cs, attentionCases()...)
	cs = append(cs, embedCases()...)
	cs = append(cs, gatherRowsCases()...)
	cs = append(cs, tanhCases()...)
	return cs
}

func matMulCases() []testCase {
	type shape struct {
		m, n, k    int
		bias, gelu bool
	}
	var shapes []shape
	// The model's four GEMMs (QKV, attention output, FFN up with GELU, FFN
	// down) at token counts from one short pair to a mixed batch.
	for _, m := range []int{1, 7, 33, 130} {
		shapes = append(shapes,
			shape{m, 3 * hReal, hReal, true, false},
			shape{m, hReal, hReal, true, false},
			shape{m, iReal, hReal, true, true},
			shape{m, hReal, iReal, true, false})
	}
	shapes = append(shapes,
		shape{512, hReal, hReal, true, false}, // one full-length sequence
		shape{3, hReal, hReal, true, false},   // pooler dense over 3 [CLS] rows
		shape{3, 1, hReal, true, false},       // classifier: one logit
	)
	// The tiny model's GEMMs.
	for _, m := range []int{5, 31} {
		shapes = append(shapes,
			shape{m, 3 * hTiny, hTiny, true, false},
			shape{m, hTiny, hTiny, true, false},
			shape{m, iTiny, hTiny, true, true},
			shape{m, hTiny, iTiny, true, false})
	}
	// Sizes straddling register tiles and SIMD widths, with every epilogue.
	awkward := [][3]int{
		{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {5, 9, 17}, {8, 16, 32}, {9, 15, 31},
		{15, 17, 33}, {16, 33, 8}, {17, 31, 16}, {31, 32, 9}, {33, 7, 65}, {65, 129, 3},
	}
	for i, s := range awkward {
		shapes = append(shapes, shape{s[0], s[1], s[2], i%2 == 0, i%3 == 0})
	}
	var cs []testCase
	for _, s := range shapes {
		vars := fmt.Sprintf("M=%d,N=%d,K=%d", s.m, s.n, s.k)
		if s.bias {
			vars += ",bias"
		}
		if s.gelu {
			vars += ",gelu"
		}
		cs = append(cs, testCase{
			op: "MatMul", vars: vars,
			// Inputs in [-1,1] give partial sums of std √k/3; a float32 sum
			// in k order is then off by about 2^-24·K/4 (5e-6 at K=384, 2e-5
			// at K=1536), under 5× that at worst over a case.
			// 1e-4·√(K/384) keeps a 2× margin up to K=1536. GELU's slope is
			// at most 1.13 and does not widen it.
			tol:   Tol{NMSE: 1e-10, Abs: 1e-4 * math.Sqrt(float64(s.k)/hReal)},
			flops: 2 * float64(s.m) * float64(s.n) * float64(s.k),
			bytes: 4 * int64(s.m*s.k+s.n*s.k+s.m*s.n),
			build: func(g *gen) (kernels.Op, kernels.Buf, int) {
				op := kernels.MatMul{X: g.rand(s.m*s.k, 1), W: g.weight(s.n, s.k), M: s.m, N: s.n, K: s.k, GELU: s.gelu}
				if s.bias {
					op.Bias = g.rand(s.n, 1)
				}
				op.Out = g.out(s.m * s.n)
				return op, op.Out, s.m * s.n
			},
		})
	}
	return cs
}

func layerNormCases() []testCase {
	type shape struct {
		rows, cols int
		res        bool
		alias      string // "", "x" or "res"
		scale      float64
		eps        float32 // 0: BERT's 1e-12
		constant   bool    // every row one value (zero variance)
	}
	var shapes []shape
	for _, rows := range []int{1, 7, 130, 512} {
		shapes = append(shapes, shape{rows, hReal, true, "res", 1, 0, false}) // the encoder's Add & Norm
	}
	shapes = append(shapes,
		shape{33, hReal, true, "", 1, 0, false},
		shape{33, hReal, true, "x", 1, 0, false},
		shape{31, hReal, false, "", 1, 0, false},    // embeddings LayerNorm
		shape{130, hReal, true, "res", 8, 0, false}, // larger activations
		shape{31, hTiny, true, "res", 1, 0, false},
		shape{7, hTiny, false, "x", 1, 0, false},
	)
	for _, cols := range []int{1, 3, 4, 5, 8, 15, 16, 17, 31, 33} {
		shapes = append(shapes, shape{3, cols, cols%2 == 1, "", 1, 0, false})
	}
	// A larger eps, where it moves the result: sqrt(var)+eps in place of
	// sqrt(var+eps) is off by 2e-4 relative at var ≈ 1/3 and by far more on
	// the nearly constant rows (scale 0.01: var ≈ 3e-5 < eps). Constant rows
	// have zero variance: 0/sqrt(eps), never 0/0.
	shapes = append(shapes,
		shape{33, hReal, true, "", 1, 1e-3, false},
		shape{7, hTiny, false, "x", 1, 1e-3, false},
		shape{31, hReal, false, "", 0.01, 1e-3, false},
		shape{5, hReal, true, "res", 1, 1e-3, true},
		shape{4, hTiny, false, "", 1, 1e-3, true},
	)
	var cs []testCase
	for _, s := range shapes {
		vars := fmt.Sprintf("rows=%d,cols=%d", s.rows, s.cols)
		if s.res {
			vars += ",res"
		}
		if s.alias != "" {
			vars += ",alias=" + s.alias
		}
		if s.scale != 1 {
			vars += fmt.Sprintf(",scale=%g", s.scale)
		}
		eps := float32(bertEps)
		if s.eps != 0 {
			eps = s.eps
			vars += fmt.Sprintf(",eps=%g", eps)
		}
		if s.constant {
			vars += ",constant"
		}
		n := s.rows * s.cols
		bufs := 3
		if s.res {
			bufs++
		}
		cs = append(cs, testCase{
			op: "LayerNorm", vars: vars,
			// Outputs are about N(0,1)·Gamma + Beta with |Gamma|,|Beta| ≤ 1:
			// under 4 in magnitude, where a float32 ulp is at most 4.8e-7.
			// 1e-5 is 20 such ulps: room for float32 statistics, not for a
			// wrong mean, variance or Eps.
			tol:   Tol{NMSE: 1e-10, Abs: 1e-5},
			bytes: 4 * int64(bufs*n),
			build: func(g *gen) (kernels.Op, kernels.Buf, int) {
				input := func() kernels.Buf {
					if !s.constant {
						return g.rand(n, s.scale)
					}
					// Quarters in [-1,1]: every row sum, and so the mean,
					// is exact in float32.
					v := make([]float32, n)
					for r := range s.rows {
						c := float32(g.rng.IntN(9)-4) / 4
						for j := range s.cols {
							v[r*s.cols+j] = c
						}
					}
					return g.upload(v, 0)
				}
				op := kernels.LayerNorm{X: input(), Rows: s.rows, Cols: s.cols, Eps: eps}
				if s.res {
					op.Res = input()
				}
				op.Gamma, op.Beta = g.rand(s.cols, 1), g.rand(s.cols, 1)
				switch s.alias {
				case "x":
					op.Out = op.X
				case "res":
					op.Out = op.Res
				default:
					op.Out = g.out(n)
				}
				return op, op.Out, n
			},
		})
	}
	return cs
}

// unaryShape is an elementwise op's length, and whether its Out aliases X.
type unaryShape struct {
	n     int
	alias bool
}

func geluCases() []testCase {
	shapes := []unaryShape{
		{130 * iReal, true}, // intermediate_act_fn in place, as the engine runs it unfused
		{7 * iReal, false},
		{31 * iTiny, true},
	}
	for _, n := range []int{1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33} {
		shapes = append(shapes, unaryShape{n, n%2 == 0})
	}
	// Inputs span [-6,6] to reach both tails of erf. Outputs are under 6,
	// where a float32 ulp is 4.8e-7; 1e-5 leaves room for a float32 erf good
	// to a few ulps, and no more.
	return unaryCases("GELU", shapes, Tol{NMSE: 1e-12, Abs: 1e-5}, 6, func(out, x kernels.Buf, n int) kernels.Op {
		return kernels.GELU{Out: out, X: x, N: n}
	})
}

func tanhCases() []testCase {
	shapes := []unaryShape{{3 * hReal, false}, {3 * hReal, true}, {hTiny, false}, {1, false}, {17, true}}
	// |tanh| < 1, where a float32 ulp is at most 6e-8; 1e-6 allows a float32
	// tanh good to a dozen ulps.
	return unaryCases("Tanh", shapes, Tol{NMSE: 1e-12, Abs: 1e-6}, 4, func(out, x kernels.Buf, n int) kernels.Op {
		return kernels.Tanh{Out: out, X: x, N: n}
	})
}

// unaryCases are the cases of the elementwise op named op, one per shape:
// X uniform in [-scale,scale], Out a fresh buffer or X itself.
func unaryCases(op string, shapes []unaryShape, tol Tol, scale float64, build func(out, x kernels.Buf, n int) kernels.Op) []testCase {
	var cs []testCase
	for _, s := range shapes {
		vars := fmt.Sprintf("N=%d", s.n)
		if s.alias {
			vars += ",alias=x"
		}
		cs = append(cs, testCase{
			op: op, vars: vars, tol: tol,
			bytes: 8 * int64(s.n),
			build: func(g *gen) (kernels.Op, kernels.Buf, int) {
				x := g.rand(s.n, scale)
				out := x
				if !s.alias {
					out = g.out(s.n)
				}
				return build(out, x, s.n), out, s.n
			},
		})
	}
	return cs
}

func attentionCases() []testCase {
	type shape struct {
		lens   []int
		nh, hd int
		scores string // "" or "+large"/"-large": every score near ±100; "steep": see below
	}
	var shapes []shape
	for _, lens := range [][]int{{1}, {7}, {31}, {33}, {130}, {512}, {1, 7, 130, 33}, {3, 3, 3}} {
		shapes = append(shapes, shape{lens, nhReal, hdReal, ""})
	}
	shapes = append(shapes,
		shape{[]int{7, 33}, nhReal, hdReal, "+large"},
		shape{[]int{7, 33}, nhReal, hdReal, "-large"},
		shape{[]int{5, 9, 31}, nhTiny, hdTiny, ""},
		shape{[]int{0, 5, 0, 4}, nhTiny, hdTiny, ""}, // empty sequences
		shape{[]int{4, 5}, 1, 1, ""},
		shape{[]int{17, 3}, 3, 3, ""},
		shape{[]int{8, 9}, 2, 17, ""},
		shape{[]int{15, 16, 1}, 1, 33, ""},
		// Scores falling steeply along the keys (106 down by 6.4 a key):
		// each key block's max is ~200 under the last, so a running-max
		// rescale exp(m_old - m_new) applied the wrong way round overflows.
		shape{[]int{70}, nhReal, hdReal, "steep"},
		shape{[]int{33, 97}, nhTiny, hdTiny, "steep"},
	)
	var cs []testCase
	for _, s := range shapes {
		vars := fmt.Sprintf("seqs=%s,NH=%d,HD=%d", lensString(s.lens), s.nh, s.hd)
		if s.scores != "" {
			vars += ",scores=" + s.scores
		}
		t, h := 0, s.nh*s.hd
		var pairs float64
		for _, l := range s.lens {
			t += l
			pairs += float64(l * l)
		}
		// Outputs are convex combinations of V in [-1,1]. A float32 score
		// is off by a few 2^-24·|s|, which moves each p by that relative
		// amount: |s| ≲ 3 here gives ~1e-6 (NMSE ~1e-12), and the large
		// cases' |s| ≈ 106 gives ~2e-5 (NMSE ~4e-10) on an exact oracle.
		tol := Tol{NMSE: 1e-10, Abs: 1e-4}
		if s.scores != "" {
			tol.NMSE = 1e-9
		}
		cs = append(cs, testCase{
			op: "Attention", vars: vars,
			tol:   tol,
			flops: 4 * pairs * float64(h),
			bytes: 4 * int64(t*3*h+t*h),
			build: func(g *gen) (kernels.Op, kernels.Buf, int) {
				qkv := g.values(t*3*h, 1)
				scale := float32(1 / math.Sqrt(float64(s.hd)))
				if s.scores == "steep" {
					// q ≈ 30 in dimension 0, k there set so that the score
					// of key j (j-th of its sequence) is 106 - 6.4j ± 1.
					for b := 0; b < len(s.lens); b++ {
						start := int(seqs(s.lens)[b])
						for j := range s.lens[b] {
							tok := start + j
							for hh := range s.nh {
								qkv[tok*3*h+hh*s.hd] = 30
								qkv[tok*3*h+h+hh*s.hd] = (106 - 6.4*float32(j)) / (30 * scale)
							}
						}
					}
				} else if s.scores != "" {
					// Dimension 0 of every head gets q ≈ ±30, k ≈ 20 (±1):
					// every score is near ±106, so exp overflows (or every
					// exp underflows) in float32 unless the max is
					// subtracted, while score gaps stay moderate.
					sign := float32(1)
					if s.scores == "-large" {
						sign = -1
					}
					for tok := range t {
						for hh := range s.nh {
							qkv[tok*3*h+hh*s.hd] = sign * 30
							qkv[tok*3*h+h+hh*s.hd] += 20
						}
					}
				}
				op := kernels.Attention{QKV: g.upload(qkv, 0), Out: g.out(t * h), Seqs: seqs(s.lens),
					NH: s.nh, HD: s.hd, Scale: scale}
				return op, op.Out, t * h
			},
		})
	}
	return cs
}

func embedCases() []testCase {
	type shape struct {
		lens         []int
		h, v, maxPos int
		typeVocab    int
	}
	var shapes []shape
	for _, lens := range [][]int{{1, 7, 130, 33}, {512}, {3, 3, 3}} {
		// V is cut from 30522 to keep the suite fast; the kernel only
		// gathers rows, so the table's height does not matter.
		shapes = append(shapes, shape{lens, hReal, 1000, 512, 2})
	}
	shapes = append(shapes,
		shape{[]int{5, 9, 31}, hTiny, 100, 64, 2},
		shape{[]int{0, 4, 0, 3}, 17, 50, 8, 3},
		shape{[]int{2, 1}, 1, 5, 2, 1},
		shape{[]int{33}, 3, 7, 40, 2},
	)
	var cs []testCase
	for _, s := range shapes {
		vars := fmt.Sprintf("seqs=%s,H=%d,V=%d", lensString(s.lens), s.h, s.v)
		t := 0
		for _, l := range s.lens {
			t += l
		}
		cs = append(cs, testCase{
			op: "Embed", vars: vars,
			// A sum of three values in [-1,1]: two float32 roundings of a
			// result under 3 are at most 4.8e-7 off.
			tol:   Tol{NMSE: 1e-12, Abs: 1e-6},
			bytes: 4 * int64(4*t*s.h),
			build: func(g *gen) (kernels.Op, kernels.Buf, int) {
				ids, typeIDs := make([]int32, t), make([]int32, t)
				for i := range t {
					ids[i] = int32(g.rng.IntN(s.v))
					typeIDs[i] = int32(g.rng.IntN(s.typeVocab))
				}
				op := kernels.Embed{
					Word: g.rand(s.v*s.h, 1), Pos: g.rand(s.maxPos*s.h, 1), Type: g.rand(s.typeVocab*s.h, 1),
					IDs: ids, TypeIDs: typeIDs, Seqs: seqs(s.lens), H: s.h,
				}
				op.Out = g.out(t * s.h)
				return op, op.Out, t * s.h
			},
		})
	}
	return cs
}

func gatherRowsCases() []testCase {
	type shape struct {
		rows        []int32
		xRows, cols int
	}
	shapes := []shape{
		{[]int32{0, 1, 8, 138}, 171, hReal}, // the [CLS] rows of a {1,7,130,33} batch
		{[]int32{0}, 1, hReal},
		{[]int32{5, 5, 0}, 6, 17},
		{[]int32{2, 0, 1}, 3, 1},
	}
	var cs []testCase
	for _, s := range shapes {
		parts := make([]string, len(s.rows))
		for i, r := range s.rows {
			parts[i] = fmt.Sprint(r)
		}
		vars := fmt.Sprintf("rows={%s},X=%dx%d", strings.Join(parts, ","), s.xRows, s.cols)
		n := len(s.rows) * s.cols
		cs = append(cs, testCase{
			op: "GatherRows", vars: vars,
			tol:   Tol{}, // a copy is exact
			bytes: 8 * int64(n),
			build: func(g *gen) (kernels.Op, kernels.Buf, int) {
				op := kernels.GatherRows{X: g.rand(s.xRows*s.cols, 1), Out: g.out(n), Rows: s.rows, Cols: s.cols}
				return op, op.Out, n
			},
		})
	}
	return cs
}
