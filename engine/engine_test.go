package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/minilm-dev/minilm/kernels/metal"
	"github.com/minilm-dev/minilm/loader"
	"github.com/minilm-dev/minilm/loader/hub/hubtest"
	"github.com/stretchr/testify/require"
)

// goldenTol is the bar for every golden logit: the float32 reference agrees
// with ONNX Runtime and a float64 run within ~1e-5, so a correct float32
// engine lands well inside 1e-4 (see testdata/golden and shared/golden/README.md).
const goldenTol = 1e-4

// bigModelDir is the full-size MiniLM-L6-shaped model; it is too large (87 MB)
// for testdata, so tests read it from the shared golden folder beside the
// repository and skip when it is absent.
const bigModelDir = "../../shared/golden/models/minilm-l6-random"

type goldenRecord struct {
	ID           int     `json:"id"`
	Kind         string  `json:"kind"`
	Query        string  `json:"query"`
	Passage      string  `json:"passage"`
	InputIDs     []int32 `json:"input_ids"`
	TokenTypeIDs []int32 `json:"token_type_ids"`
	Logit        float32 `json:"logit"`
}

func readGolden(t testing.TB, path string) []goldenRecord {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var recs []goldenRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r goldenRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		recs = append(recs, r)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, recs)
	return recs
}

func loadModel(t testing.TB, dir string, opts Options) *Model {
	t.Helper()
	m, err := Load(context.Background(), dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// checkGolden scores every record from its golden ids and from its text
// (through our tokenizer) and compares both with the golden logit.
func checkGolden(t *testing.T, m *Model, recs []goldenRecord) {
	seqs := make([]Sequence, len(recs))
	pairs := make([]Pair, len(recs))
	for i, r := range recs {
		seqs[i] = Sequence{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}
		pairs[i] = Pair{Query: r.Query, Passage: r.Passage}
	}
	ctx := context.Background()
	fromIDs, err := m.ScoreSequences(ctx, seqs)
	require.NoError(t, err)
	fromText, err := m.Score(ctx, pairs)
	require.NoError(t, err)
	var worstIDs, worstText float64
	for i, r := range recs {
		dIDs := math.Abs(float64(fromIDs[i] - r.Logit))
		dText := math.Abs(float64(fromText[i] - r.Logit))
		worstIDs, worstText = max(worstIDs, dIDs), max(worstText, dText)
		if dIDs > goldenTol || dText > goldenTol || math.IsNaN(dIDs) || math.IsNaN(dText) {
			t.Errorf("record %d (%s): golden %v, from ids %v (|Δ| %.2g), from text %v (|Δ| %.2g)",
				r.ID, r.Kind, r.Logit, fromIDs[i], dIDs, fromText[i], dText)
		}
	}
	t.Logf("%d records: max |Δ| %.3g from ids, %.3g from text (bar %g)", len(recs), worstIDs, worstText, goldenTol)
}

func TestGoldenTiny(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-f16", "tiny-bf16"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, filepath.Join("..", "testdata", "models", name), Options{Threads: 2})
			checkGolden(t, m, readGolden(t, filepath.Join("..", "testdata", "golden", name+".public.jsonl")))
		})
	}
}

func TestGoldenFullSize(t *testing.T) {
	if _, err := os.Stat(bigModelDir); err != nil {
		t.Skipf("full-size model not found at %s (it lives in the shared golden folder beside the repo): %v", bigModelDir, err)
	}
	if testing.Short() {
		t.Skip("full-size golden test skipped in -short mode")
	}
	m := loadModel(t, bigModelDir, Options{})
	checkGolden(t, m, readGolden(t, filepath.Join(filepath.Dir(filepath.Dir(bigModelDir)), "logits", "minilm-l6-random.public.jsonl")))
}

// TestBatchIndependence checks that a pair's score does not depend on the
// pairs packed with it: every record scored alone equals it scored in one big
// batch and in small batches split differently (1e-6: the bar; the
// kernels keep the reduction order per row, so it is bitwise in practice).
func TestBatchIndependence(t *testing.T) {
	recs := readGolden(t, filepath.Join("..", "testdata", "golden", "tiny.public.jsonl"))
	seqs := make([]Sequence, len(recs))
	for i, r := range recs {
		seqs[i] = Sequence{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}
	}
	ctx := context.Background()
	all, err := loadModel(t, "../testdata/models/tiny", Options{Threads: 3}).ScoreSequences(ctx, seqs)
	require.NoError(t, err)
	small := loadModel(t, "../testdata/models/tiny", Options{Threads: 1, MaxTokensPerBatch: 700})
	for i, s := range seqs {
		alone, err := small.ScoreSequences(ctx, []Sequence{s})
		require.NoError(t, err)
		require.InDelta(t, all[i], alone[0], 1e-6, "record %d alone vs in a batch", i)
	}
	split, err := small.ScoreSequences(ctx, seqs)
	require.NoError(t, err)
	require.InDeltaSlice(t, all, split, 1e-6)
}

func TestActivation(t *testing.T) {
	ctx := context.Background()
	pairs := []Pair{{"How many people live in Berlin?", "Berlin is well known for its museums."}}
	raw, err := loadModel(t, "../testdata/models/tiny", Options{Activation: ActivationAuto}).Score(ctx, pairs)
	require.NoError(t, err)
	sig, err := loadModel(t, "../testdata/models/tiny", Options{Activation: ActivationSigmoid}).Score(ctx, pairs)
	require.NoError(t, err)
	require.InDelta(t, 1/(1+math.Exp(-float64(raw[0]))), sig[0], 1e-7)
}

func TestRank(t *testing.T) {
	m := loadModel(t, "../testdata/models/tiny", Options{})
	docs := []string{"Berlin is well known for its museums.", "Paris is in France.", "Berlin has 3.5 million inhabitants.", ""}
	scores, err := m.Score(context.Background(), []Pair{{"berlin", docs[0]}, {"berlin", docs[1]}, {"berlin", docs[2]}, {"berlin", docs[3]}})
	require.NoError(t, err)
	ranked, err := m.Rank(context.Background(), "berlin", docs, RankOptions{TopK: 2})
	require.NoError(t, err)
	require.Len(t, ranked, 2)
	for i, r := range ranked {
		require.Equal(t, scores[r.Index], r.Score)
		require.Empty(t, r.Document, "no ReturnDocuments")
		for j, s := range scores {
			if i == 0 && j != r.Index {
				require.GreaterOrEqual(t, r.Score, s)
			}
		}
	}
	require.GreaterOrEqual(t, ranked[0].Score, ranked[1].Score)
}

func TestInvalidInput(t *testing.T) {
	m := loadModel(t, "../testdata/models/tiny", Options{})
	ctx := context.Background()
	for name, s := range map[string]Sequence{
		"empty":       {},
		"length":      {IDs: []int32{101, 102}, TypeIDs: []int32{0}},
		"id range":    {IDs: []int32{101, 30522, 102}, TypeIDs: []int32{0, 0, 0}},
		"negative id": {IDs: []int32{101, -1, 102}, TypeIDs: []int32{0, 0, 0}},
		"type range":  {IDs: []int32{101, 7, 102}, TypeIDs: []int32{0, 2, 0}},
		"too long":    {IDs: make([]int32, 513), TypeIDs: make([]int32, 513)},
	} {
		_, err := m.ScoreSequences(ctx, []Sequence{{IDs: []int32{101, 102}, TypeIDs: []int32{0, 0}}, s})
		require.ErrorIs(t, err, ErrInput, name)
		require.ErrorContains(t, err, "sequence 1", name)
	}
}

func TestCancel(t *testing.T) {
	m := loadModel(t, "../testdata/models/tiny", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Score(ctx, []Pair{{"a", "b"}})
	require.ErrorIs(t, err, context.Canceled)
}

// TestClosed calls every method after Close: each returns ErrClosed, as
// Close's doc says; Info (a description) stays readable.
func TestClosed(t *testing.T) {
	m, err := Load(context.Background(), "../testdata/models/tiny", Options{Threads: 1})
	require.NoError(t, err)
	info := m.Info()
	seq, err := m.Tokenize(Pair{"a", "b"})
	require.NoError(t, err)
	require.NoError(t, m.Close())
	ctx := context.Background()
	calls := map[string]func() error{
		"Tokenize": func() error { _, err := m.Tokenize(Pair{"a", "b"}); return err },
		"Score":    func() error { _, err := m.Score(ctx, []Pair{{"a", "b"}}); return err },
		"ScoreWith": func() error {
			_, err := m.ScoreWith(ctx, []Pair{{"a", "b"}}, ScoreOptions{BatchSize: 1})
			return err
		},
		"ScoreSequences": func() error { _, err := m.ScoreSequences(ctx, []Sequence{seq}); return err },
		"Rank":           func() error { _, err := m.Rank(ctx, "a", []string{"b"}, RankOptions{}); return err },
		"Close":          m.Close,
	}
	for name, call := range calls {
		require.ErrorIs(t, call(), ErrClosed, name)
	}
	require.Equal(t, info, m.Info())
}

func TestInfo(t *testing.T) {
	m := loadModel(t, "../testdata/models/tiny-f16", Options{Threads: 2})
	info := m.Info()
	require.Equal(t, "F16", info.DType)
	require.Equal(t, "cpu", info.Backend)
	require.NotEmpty(t, info.Kernels, "the CPU backend names its kernel variant")
	require.Equal(t, 2, info.Threads)
	require.Equal(t, 512, info.MaxLength)
	require.Equal(t, ActivationRaw, info.Activation)
	require.Equal(t, 2, info.Config.NumHiddenLayers)
	require.Positive(t, info.Params)
}

// TestConcurrentScore scores from many goroutines at once; each must get the
// scores a lone caller gets.
func TestConcurrentScore(t *testing.T) {
	m := loadModel(t, "../testdata/models/tiny", Options{Threads: 2})
	recs := readGolden(t, filepath.Join("..", "testdata", "golden", "tiny.public.jsonl"))[:24]
	ctx := context.Background()
	want := make([]float32, len(recs))
	for i, r := range recs {
		s, err := m.ScoreSequences(ctx, []Sequence{{IDs: r.InputIDs, TypeIDs: r.TokenTypeIDs}})
		require.NoError(t, err)
		want[i] = s[0]
	}
	errs := make(chan error, len(recs))
	for i, r := range recs {
		go func() {
			got, err := m.Score(ctx, []Pair{{r.Query, r.Passage}})
			if err == nil && math.Abs(float64(got[0]-want[i])) > 1e-6 {
				err = errors.New("concurrent score differs")
			}
			errs <- err
		}()
	}
	for range recs {
		require.NoError(t, <-errs)
	}
}

// TestRealModel checks the model card's values for
// cross-encoder/ms-marco-MiniLM-L-6-v2 when the real model is available:
// MINILM_TEST_MODEL names its directory, or it is in the Hugging Face cache.
// 1e-3: the model card prints its values rounded, from a different runtime.
func TestRealModel(t *testing.T) {
	ref := os.Getenv("MINILM_TEST_MODEL")
	explicit := ref != ""
	if !explicit {
		ref = "cross-encoder/ms-marco-MiniLM-L-6-v2"
	}
	m, err := Load(context.Background(), ref, Options{Offline: true})
	if err != nil && !explicit {
		t.Skipf("real model not available (set MINILM_TEST_MODEL to its directory or run `minilm download`): %v", err)
	}
	require.NoError(t, err, "MINILM_TEST_MODEL=%s", ref)
	defer m.Close()
	q := "How many people live in Berlin?"
	got, err := m.Score(context.Background(), []Pair{
		{q, "Berlin had a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers."},
		{q, "Berlin is well known for its museums."},
	})
	require.NoError(t, err)
	require.InDelta(t, 8.607138, got[0], 1e-3)
	require.InDelta(t, -4.320078, got[1], 1e-3)
}

// TestDownloadOnFirstUse loads a repo id that is not cached: it is fetched
// from the hub (a fake one serving the tiny model) into the cache, then
// found there offline once the hub is gone.
func TestDownloadOnFirstUse(t *testing.T) {
	repo, err := hubtest.RepoFromDir("acme/tiny-reranker", "../testdata/models/tiny")
	require.NoError(t, err)
	srv := hubtest.NewServer(repo)
	t.Setenv("HF_ENDPOINT", srv.URL())
	t.Setenv("HF_HUB_OFFLINE", "")
	cache := t.TempDir()
	ctx := context.Background()

	_, err = Load(ctx, "acme/tiny-reranker", Options{CacheDir: cache, Offline: true})
	require.ErrorIs(t, err, loader.ErrNotCached)
	require.ErrorContains(t, err, "acme/tiny-reranker at revision main")
	require.NotContains(t, err.Error(), "minilm", "a Go caller is not told to run a command")

	m, err := Load(ctx, "acme/tiny-reranker", Options{CacheDir: cache})
	require.NoError(t, err)
	want, err := m.Score(ctx, []Pair{{"berlin", "Berlin is well known for its museums."}})
	require.NoError(t, err)
	require.NoError(t, m.Close())

	srv.Close()
	m = loadModel(t, "acme/tiny-reranker", Options{CacheDir: cache, Offline: true})
	got, err := m.Score(ctx, []Pair{{"berlin", "Berlin is well known for its museums."}})
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestBackendChoice(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"gpu", "tpu", "CPU"} {
		_, err := Load(ctx, "../testdata/models/tiny", Options{Backend: name})
		require.ErrorIs(t, err, ErrOption, name)
		require.EqualError(t, err, `engine: Options.Backend "`+name+`": want "auto", "cpu" or "metal" (or "")`)
	}
	if runtime.GOOS != "darwin" {
		_, err := Load(ctx, "../testdata/models/tiny", Options{Backend: "metal"})
		require.ErrorIs(t, err, metal.ErrUnavailable)
		require.EqualError(t, err, "engine: the metal backend needs macOS on Apple silicon (this is "+runtime.GOOS+"/"+runtime.GOARCH+"); backend cpu (or auto) runs here")
		require.Equal(t, "cpu", loadModel(t, "../testdata/models/tiny", Options{Backend: "auto"}).Info().Backend)
	}
}
