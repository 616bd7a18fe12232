package metal_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/internal/backendhook"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/metal"
)

// modelTol is the bar for every golden logit, as in engine's golden test:
// the float32 reference agrees with a float64 run within ~1e-5, so a correct
// float32 forward pass lands well inside 1e-4.
const modelTol = 1e-4

type goldenRecord struct {
	ID           int     `json:"id"`
	InputIDs     []int32 `json:"input_ids"`
	TokenTypeIDs []int32 `json:"token_type_ids"`
	Logit        float32 `json:"logit"`
}

func readGolden(t *testing.T, path string) []goldenRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []goldenRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r goldenRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s: no records", path)
	}
	return recs
}

// scoreGolden loads the tiny model on the backend newBackend makes, scores
// every record of testdata/golden/tiny.public.jsonl in packed batches, and
// compares each logit with the float32 reference within modelTol.
func scoreGolden(t *testing.T, newBackend func(int) (kernels.Backend, error), wantBackend string) {
	t.Helper()
	scoreModel(t, newBackend, wantBackend, "tiny", "tiny", readGolden(t, "../../testdata/golden/tiny.public.jsonl"), modelTol)
}

// scoreModel scores recs, records of the golden set named golden, with
// testdata/models/<model> on the backend newBackend makes, checks each
// logit is within tol of the golden one, and returns the largest |diff|.
func scoreModel(t *testing.T, newBackend func(int) (kernels.Backend, error), wantBackend, model, golden string, recs []goldenRecord, tol float64) float64 {
	t.Helper()
	ctx := context.Background()
	m, err := engine.Load(backendhook.With(ctx, newBackend), "../../testdata/models/"+model, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Info().Backend; got != wantBackend {
		t.Fatalf("engine runs on %q, want %s", got, wantBackend)
	}
	seqs := make([]engine.Sequence, len(recs))
	for i, r := range recs {
		seqs[i] = engine.Sequence{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}
	}
	got, err := m.ScoreSequences(ctx, seqs)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, r := range recs {
		d := math.Abs(float64(got[i]) - float64(r.Logit))
		worst = max(worst, d)
		if !(d <= tol) {
			t.Errorf("%s on %s record %d (%d tokens): logit %v, golden %v, |diff| %.3g > %g", model, golden, r.ID, len(r.InputIDs), got[i], r.Logit, d, tol)
		}
	}
	t.Logf("%s model, %s goldens, %d records: max |logit diff| %.3g (tolerance %g)", model, golden, len(recs), worst, tol)
	return worst
}

// gpuBackends makes Metal backends with opts on a Mac's GPU; it skips t where
// there is no Metal device.
func gpuBackends(t *testing.T, opts metal.Options) func(int) (kernels.Backend, error) {
	t.Helper()
	return probed(t, metal.ErrUnavailable, "skipping the GPU backend: %v (it runs on macOS with cgo)", func(int) (*metal.Backend, error) {
		return metal.NewWithOptions(opts)
	})
}

// simBackends makes Metal backends simulated as cfg says; it skips t where
// the simulator cannot run.
func simBackends(t *testing.T, cfg metal.SimConfig) func(int) (kernels.Backend, error) {
	t.Helper()
	return probed(t, metal.ErrNoCompiler, "skipping the Metal simulator: %v", func(int) (*metal.Backend, error) {
		return metal.NewSimulated(context.Background(), cfg)
	})
}

// probed makes and closes one backend with newBackend, skipping t (skipf
// formats the error) when that fails with skip, and returns newBackend as
// backendhook.With wants it.
func probed(t *testing.T, skip error, skipf string, newBackend func(int) (*metal.Backend, error)) func(int) (kernels.Backend, error) {
	t.Helper()
	probe, err := newBackend(0)
	if errors.Is(err, skip) {
		t.Skipf(skipf, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	return func(threads int) (kernels.Backend, error) {
		be, err := newBackend(threads)
		if err != nil {
			return nil, err // not a typed-nil *metal.Backend in the interface
		}
		return be, nil
	}
}

// TestModelOnGPU is TestModelOnSimulatedGPU on a Mac's GPU; it skips where
// there is no Metal device.
func TestModelOnGPU(t *testing.T) {
	scoreGolden(t, gpuBackends(t, metal.Options{}), "metal")
}

// TestModelOnSimulatedGPU runs the tiny golden model end to end through the
// Metal dispatch plans on the CPU executor (all 151 records).
func TestModelOnSimulatedGPU(t *testing.T) {
	t.Parallel()
	scoreGolden(t, simBackends(t, metal.SimConfig{Order: "shuffle", Seed: 5}), "metal-sim")
}

// TestModelOnSimulatedGPUHalfWeights is testHalfWeightModel on the
// simulated GPU.
func TestModelOnSimulatedGPUHalfWeights(t *testing.T) {
	t.Parallel()
	newBackend := simBackends(t, metal.SimConfig{Options: metal.Options{HalfWeights: true}, Order: "shuffle", Seed: 6})
	// A third of the records, to keep the package fast on the simulator:
	// the half-weight path differs from the f32 one only in the GEMM's
	// weight load, which every record exercises the same way.
	testHalfWeightModel(t, newBackend, "metal-sim", 3)
}

// TestModelOnGPUHalfWeights is testHalfWeightModel on a Mac's GPU, over every
// record; it skips where there is no Metal device.
func TestModelOnGPUHalfWeights(t *testing.T) {
	testHalfWeightModel(t, gpuBackends(t, metal.Options{HalfWeights: true}), "metal", 1)
}

// testHalfWeightModel runs the tiny models end to end with
// Options.HalfWeights, over every every-th golden record, twice:
//
//   - the tiny-f16 model, whose tensors are already half values (widened to
//     f32 by the loader), so rounding its Linear weights to half changes
//     nothing: its logits must match the tiny-f16 goldens (computed in f32
//     from those values) within modelTol, as the f32 path matches its own;
//   - the f32 tiny model, whose Linear weights (only those: embeddings,
//     LayerNorm and biases stay f32) are rounded on upload. The goldens
//     cannot say what that gives exactly, so the bar is the largest gap
//     between the tiny-f16 and tiny goldens over the same records, the
//     effect of rounding every tensor (README: up to 0.009); the test logs
//     the measured gap.
func testHalfWeightModel(t *testing.T, newBackend func(int) (kernels.Backend, error), wantBackend string, every int) {
	t.Helper()
	f32 := readGolden(t, "../../testdata/golden/tiny.public.jsonl")
	f16 := readGolden(t, "../../testdata/golden/tiny-f16.public.jsonl")
	if len(f32) != len(f16) {
		t.Fatalf("%d tiny goldens, %d tiny-f16 goldens", len(f32), len(f16))
	}
	var sub32, sub16 []goldenRecord
	spread := 0.0
	for i := 0; i < len(f32); i += every {
		if f32[i].ID != f16[i].ID {
			t.Fatalf("golden %d: id %d in tiny, %d in tiny-f16", i, f32[i].ID, f16[i].ID)
		}
		sub32, sub16 = append(sub32, f32[i]), append(sub16, f16[i])
		spread = max(spread, math.Abs(float64(f32[i].Logit)-float64(f16[i].Logit)))
	}
	scoreModel(t, newBackend, wantBackend, "tiny-f16", "tiny-f16", sub16, modelTol)
	scoreModel(t, newBackend, wantBackend, "tiny", "tiny", sub32, spread)
}
