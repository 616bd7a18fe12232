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
// compares each logit with the float32 reference.
func scoreGolden(t *testing.T, newBackend func(int) (kernels.Backend, error), wantBackend string) {
	t.Helper()
	ctx := context.Background()
	m, err := engine.Load(ctx, "../../testdata/models/tiny", engine.Options{NewBackend: newBackend})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Info().Backend; got != wantBackend {
		t.Fatalf("engine runs on %q, want %s", got, wantBackend)
	}
	recs := readGolden(t, "../../testdata/golden/tiny.public.jsonl")
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
		if !(d <= modelTol) {
			t.Errorf("record %d (%d tokens): logit %v, golden %v, |diff| %.3g > %g", r.ID, len(r.InputIDs), got[i], r.Logit, d, modelTol)
		}
	}
	t.Logf("%d records: max |logit diff| %.3g (tolerance %g)", len(recs), worst, modelTol)
}

// TestModelOnGPU is TestModelOnSimulatedGPU on a Mac's GPU; it skips where
// there is no Metal device.
func TestModelOnGPU(t *testing.T) {
	probe, err := metal.New()
	if errors.Is(err, metal.ErrUnavailable) {
		t.Skipf("skipping the GPU backend: %v (it runs on macOS with cgo)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	scoreGolden(t, func(int) (kernels.Backend, error) {
		be, err := metal.New()
		if err != nil {
			return nil, err
		}
		return be, nil
	}, "metal")
}

// TestModelOnSimulatedGPU runs the tiny golden model end to end through the
// Metal dispatch plans on the CPU executor (all 151 records).
func TestModelOnSimulatedGPU(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	newBackend := func(int) (kernels.Backend, error) {
		be, err := metal.NewSimulated(ctx, metal.SimConfig{Order: "shuffle", Seed: 5})
		if err != nil {
			return nil, err
		}
		return be, nil
	}
	probe, err := newBackend(0)
	if errors.Is(err, metal.ErrNoCompiler) {
		t.Skipf("skipping the Metal simulator: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	scoreGolden(t, newBackend, "metal-sim")
}
