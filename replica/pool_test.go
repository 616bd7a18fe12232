//go:build unix

package replica

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/tokenizer"
)

const tinyModel = "../testdata/models/tiny"

// poolOpts truncate short and never cut the query, so that a long query is
// a tokenization error the pool must report with its pair.
var poolOpts = engine.Options{Offline: true, Threads: 1, MaxLength: 24, Truncation: tokenizer.OnlySecond}

// startPool runs the "engine" fake workers: the real engine on the tiny
// model, as `minilm worker` serves it.
func startPool(t *testing.T, batchSize int) *Pool {
	t.Helper()
	cfg := fakeConfig(t, "engine")
	cfg.Backend = "" // NewPool checks what the engine options name
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p, err := NewPool(ctx, tinyModel, poolOpts, PoolConfig{Config: cfg, BatchSize: batchSize})
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func poolPairs(n int) []engine.Pair {
	words := strings.Fields("berlin population capital france paris go language garbage collector rust " +
		"borrow checker transformer attention layer norm tokenizer passage query relevance")
	pairs := make([]engine.Pair, n)
	for i := range pairs {
		var p []string
		for j := range 3 + i%30 {
			p = append(p, words[(i*7+j*3)%len(words)])
		}
		pairs[i] = engine.Pair{Query: words[i%len(words)] + " " + words[(i*5)%len(words)] + "?", Passage: strings.Join(p, " ")}
	}
	return pairs
}

// The pool runs the same engine, with the same thread count, on the same
// sequences: scores agree within 1e-6 (the bar; they are in fact
// computed by identical code).
func checkScores(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d scores, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-6) {
			t.Errorf("%s: pair %d: %v via the pool, %v in process", what, i, got[i], want[i])
		}
	}
}

func TestPool(t *testing.T) {
	ctx := t.Context()
	m, err := engine.Load(ctx, tinyModel, poolOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p := startPool(t, 8)

	pairs := poolPairs(100)
	want, err := m.Score(ctx, pairs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Score(ctx, pairs)
	if err != nil {
		t.Fatalf("Score: %v", err)
	}
	checkScores(t, "Score", got, want)

	seqs := make([]engine.Sequence, len(pairs))
	for i, pair := range pairs {
		if seqs[i], err = p.Tokenize(pair); err != nil {
			t.Fatal(err)
		}
	}
	got, err = p.ScoreSequences(ctx, seqs)
	if err != nil {
		t.Fatalf("ScoreSequences: %v", err)
	}
	checkScores(t, "ScoreSequences", got, want)

	docs := make([]string, 20)
	for i := range docs {
		docs[i] = pairs[i].Passage
	}
	wantRank, err := m.Rank(ctx, "berlin population?", docs, engine.RankOptions{TopK: 5, ReturnDocuments: true})
	if err != nil {
		t.Fatal(err)
	}
	gotRank, err := p.Rank(ctx, "berlin population?", docs, engine.RankOptions{TopK: 5, ReturnDocuments: true, BatchSize: 3})
	if err != nil {
		t.Fatalf("Rank: %v", err)
	}
	if len(gotRank) != 5 {
		t.Fatalf("Rank kept %d documents, want 5", len(gotRank))
	}
	for i := range gotRank {
		if gotRank[i].Index != wantRank[i].Index || gotRank[i].Document != docs[gotRank[i].Index] || math.Abs(float64(gotRank[i].Score-wantRank[i].Score)) > 1e-6 {
			t.Errorf("Rank[%d] = %+v, in process %+v", i, gotRank[i], wantRank[i])
		}
	}

	if _, err := p.Tokenizer().ScoreSequences(ctx, seqs[:1]); !errors.Is(err, kernels.ErrUnsupported) {
		t.Errorf("scoring on the pool's tokenizer model = %v, want kernels.ErrUnsupported", err)
	}
	if info := p.Tokenizer().Info(); info.Dir != m.Info().Dir || info.MaxLength != poolOpts.MaxLength {
		t.Errorf("Tokenizer().Info() = %+v, want the model in %s with max length %d", info, m.Info().Dir, poolOpts.MaxLength)
	}

	// 100 pairs in batches of 8, twice, then 20 documents in Rank's batches of 3.
	mt := p.Metrics()
	if mt.Batches != 13+13+7 || mt.Sequences != 220 || mt.Failed != 0 {
		t.Errorf("Metrics: %d batches, %d sequences, %d failed; want 33, 220, 0", mt.Batches, mt.Sequences, mt.Failed)
	}
	if mt.Tokenize <= 0 {
		t.Errorf("Metrics.Tokenize = %v: Score tokenizes, and its time is recorded", mt.Tokenize)
	}
}

// A Pool is a batch.TimedScorer: a batch goes whole to one worker, and the
// stages it reports are the supervisor's measurements of that batch.
var _ batch.TimedScorer = (*Pool)(nil)

func TestPoolScoreTimed(t *testing.T) {
	ctx := t.Context()
	m, err := engine.Load(ctx, tinyModel, poolOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p := startPool(t, 4)
	pairs := poolPairs(20)
	want, err := m.Score(ctx, pairs)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]engine.Sequence, len(pairs))
	tokens := 0
	for i, pair := range pairs {
		if seqs[i], err = p.Tokenize(pair); err != nil {
			t.Fatal(err)
		}
		tokens += len(seqs[i].IDs)
	}
	start := time.Now()
	got, st, err := p.ScoreTimed(ctx, seqs)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("ScoreTimed: %v", err)
	}
	checkScores(t, "ScoreTimed", got, want)
	if st.TokensComputed != tokens || st.Worker < 0 || st.Inference <= 0 || st.Wait < 0 || st.Wait+st.Inference > elapsed {
		t.Errorf("stages %+v for %d tokens in %v", st, tokens, elapsed)
	}
	// One request of 20 sequences, though the pool splits Score calls by 4.
	if mt := p.Metrics(); mt.Batches != 1 || mt.Sequences != 20 || mt.Recent[0].Worker.Slot != st.Worker || mt.Recent[0].Inference != st.Inference {
		t.Errorf("Metrics: %d batches, %d sequences, recent %+v; want the one batch of 20 with stages %+v", mt.Batches, mt.Sequences, mt.Recent, st)
	}
}

func TestPoolErrors(t *testing.T) {
	ctx := t.Context()
	p := startPool(t, 4)

	pairs := poolPairs(10)
	pairs[6].Query = strings.Repeat("berlin ", 40) // over MaxLength on its own
	_, err := p.Score(ctx, pairs)
	if !errors.Is(err, tokenizer.ErrMaxLength) || !strings.Contains(err.Error(), "pair 6") {
		t.Errorf("Score with a query too long = %v, want tokenizer.ErrMaxLength naming pair 6", err)
	}

	seqs := []engine.Sequence{{IDs: []int32{101, 102, 102}, TypeIDs: []int32{0, 0, 1}}, {IDs: []int32{101, 1 << 30, 102}, TypeIDs: []int32{0, 0, 1}}}
	_, err = p.ScoreSequences(ctx, seqs)
	if !errors.Is(err, ErrWorker) || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Errorf("ScoreSequences with a bad token id = %v, want ErrWorker quoting the engine", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Score(canceled, poolPairs(3)); !errors.Is(err, context.Canceled) {
		t.Errorf("Score on a canceled context = %v, want context.Canceled", err)
	}

	// The pool still serves after failed calls.
	if got, err := p.Score(ctx, poolPairs(9)); err != nil || len(got) != 9 {
		t.Errorf("Score after failures = %d scores, %v", len(got), err)
	}
}
