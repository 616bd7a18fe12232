package metal

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/optest"
	"github.com/minilm-dev/minilm/kernels/ref"
	"github.com/x448/float16"
)

// shadersEnv names a directory of shader sources the simulator tests use in
// place of shaders/ (the mutation test's mutated copies; files missing there
// are left out of the library).
const shadersEnv = "MINILM_METAL_SHADERS"

// simulated is NewSimulated, on the shaders in $MINILM_METAL_SHADERS when
// that is set.
func simulated(cfg SimConfig) (*Backend, error) {
	dir := os.Getenv(shadersEnv)
	if dir == "" {
		return NewSimulated(context.Background(), cfg)
	}
	src, err := librarySourceFS(os.DirFS(dir), true)
	if err != nil {
		return nil, err
	}
	return newSimulated(context.Background(), cfg, src)
}

// newSim returns a simulated backend, skipping the test only when no
// suitable clang++ is installed.
func newSim(t testing.TB, order string) *Backend {
	t.Helper()
	be, err := simulated(SimConfig{Order: order, Seed: 1})
	if errors.Is(err, ErrNoCompiler) {
		t.Skipf("skipping the Metal simulator: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

// TestSimulatedOps runs the whole conformance suite on the shaders under
// the shuffled thread order.
func TestSimulatedOps(t *testing.T) {
	t.Parallel()
	optest.Run(t, newSim(t, "shuffle"))
}

// TestSimulatedOrders runs one small case of every kernel under five thread
// orders. Every reduction in the shaders has a fixed order, so the results
// must be bit-identical whatever order the threads run in; a race (a missing
// barrier) shows up as a difference or as NaN from the poisoned threadgroup
// memory. Correctness against the reference is TestSimulatedOps' job.
func TestSimulatedOrders(t *testing.T) {
	t.Parallel()
	type config struct {
		order string
		seed  uint64
	}
	configs := []config{{"rr", 0}, {"forward", 0}, {"reverse", 0}, {"shuffle", 1}, {"shuffle", 2}}
	var first []float32
	for _, c := range configs {
		be, err := simulated(SimConfig{Order: c.order, Seed: c.seed})
		if errors.Is(err, ErrNoCompiler) {
			t.Skipf("skipping the Metal simulator: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		got := runAllKernels(t, be)
		be.Close()
		for i, v := range got {
			if math.IsNaN(float64(v)) {
				t.Fatalf("%s/%d: NaN at [%d]", c.order, c.seed, i)
			}
		}
		if first == nil {
			first = got
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
				t.Fatalf("%s/%d: [%d] = %v, rr gave %v", c.order, c.seed, i, got[i], first[i])
			}
		}
	}
}

// runAllKernels runs a chain of ops touching every kernel at awkward shapes
// and returns every output concatenated.
func runAllKernels(t *testing.T, be *Backend) []float32 {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(2*rng.Float64() - 1)
		}
		return v
	}
	buf := func(v []float32) kernels.Buf {
		b, err := be.Alloc(len(v))
		if err != nil {
			t.Fatal(err)
		}
		if err := be.Upload(b, v); err != nil {
			t.Fatal(err)
		}
		return b
	}
	weight := func(n, k int) kernels.Buf {
		w, err := be.Weight(vals(n*k), n, k)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	const nh, hd, h = 2, 24, 48
	seqs := []int32{0, 1, 34, 70}
	tt := int(seqs[3])
	ids, types := make([]int32, tt), make([]int32, tt)
	for i := range ids {
		ids[i], types[i] = int32(rng.IntN(50)), int32(rng.IntN(2))
	}
	emb, x, qkv, att, proj, ffn, cls, pooled := buf(make([]float32, tt*h)), buf(make([]float32, tt*h)),
		buf(make([]float32, tt*3*h)), buf(make([]float32, tt*h)), buf(make([]float32, tt*h)),
		buf(make([]float32, tt*40)), buf(make([]float32, 3*h)), buf(make([]float32, 3*h))
	gamma, beta := buf(vals(h)), buf(vals(h))
	ops := []kernels.Op{
		kernels.Embed{Out: emb, Word: buf(vals(50 * h)), Pos: buf(vals(64 * h)), Type: buf(vals(2 * h)), IDs: ids, TypeIDs: types, Seqs: seqs, H: h},
		kernels.LayerNorm{Out: x, X: emb, Gamma: gamma, Beta: beta, Rows: tt, Cols: h, Eps: 1e-12},
		kernels.MatMul{Out: qkv, X: x, W: weight(3*h, h), Bias: buf(vals(3 * h)), M: tt, N: 3 * h, K: h},
		kernels.Attention{Out: att, QKV: qkv, Seqs: seqs, NH: nh, HD: hd, Scale: 0.2},
		kernels.MatMul{Out: proj, X: att, W: weight(h, h), M: tt, N: h, K: h},
		kernels.LayerNorm{Out: x, X: proj, Res: x, Gamma: gamma, Beta: beta, Rows: tt, Cols: h, Eps: 1e-12},
		kernels.MatMul{Out: ffn, X: x, W: weight(40, h), Bias: buf(vals(40)), M: tt, N: 40, K: h, GELU: true},
		kernels.GELU{Out: ffn, X: ffn, N: tt * 40},
		kernels.GatherRows{Out: cls, X: x, Rows: seqs[:3], Cols: h},
		kernels.Tanh{Out: pooled, X: cls, N: 3 * h},
	}
	if err := be.Run(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	var all []float32
	for _, b := range []kernels.Buf{emb, qkv, att, proj, x, ffn, pooled} {
		v := make([]float32, b.Len())
		if err := be.Download(v, b); err != nil {
			t.Fatal(err)
		}
		all = append(all, v...)
	}
	return all
}

// halfRef is the reference backend with Weight rounding to half first: the
// oracle for a backend under Options.HalfWeights. The GEMM then differs from
// the oracle's only by f32 arithmetic, so the suite's tolerances hold as
// they are.
type halfRef struct{ kernels.Backend }

func (r halfRef) Weight(src []float32, n, k int) (kernels.Buf, error) {
	h := make([]float32, len(src))
	for i, v := range src {
		h[i] = float16.Fromfloat32(v).Float32()
	}
	return r.Backend.Weight(h, n, k)
}

// TestSimulatedOpsHalfWeights runs the conformance suite on the shaders with
// f16 weight storage (matmul_f16w_f32), against the reference evaluated on
// the same half-rounded weights.
func TestSimulatedOpsHalfWeights(t *testing.T) {
	t.Parallel()
	be, err := simulated(SimConfig{Options: Options{HalfWeights: true}, Order: "shuffle", Seed: 3})
	if errors.Is(err, ErrNoCompiler) {
		t.Skipf("skipping the Metal simulator: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	runHalfWeights(t, be)
}

// runHalfWeights runs the conformance suite on a half-weight backend against
// the reference evaluated on the same half-rounded weights, then closes be.
func runHalfWeights(t *testing.T, be *Backend) {
	defer be.Close()
	oracle := halfRef{ref.New()}
	defer oracle.Close()
	optest.RunAgainst(t, be, oracle)
}
