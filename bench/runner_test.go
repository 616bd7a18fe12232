package bench

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// stagedScorer is a batch.TimedScorer whose stages are known: every batch
// takes 3 ms, of which it reports 1 ms waiting and 2 ms inference on worker
// 7, and computes exactly its tokens.
// A query "bad" fails to tokenize.
type stagedScorer struct {
	mu    sync.Mutex
	sizes []int
}

func (s *stagedScorer) Tokenize(p engine.Pair) (engine.Sequence, error) {
	if p.Query == "bad" {
		return engine.Sequence{}, errors.New("query too long")
	}
	n := 2 + len(p.Query) + len(p.Passage)
	return engine.Sequence{IDs: make([]int32, n), TypeIDs: make([]int32, n)}, nil
}

func (s *stagedScorer) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	scores, _, err := s.ScoreTimed(ctx, seqs)
	return scores, err
}

func (s *stagedScorer) ScoreTimed(_ context.Context, seqs []engine.Sequence) ([]float32, batch.Stages, error) {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(seqs))
	s.mu.Unlock()
	time.Sleep(3 * time.Millisecond) // the work it reports
	tokens := 0
	for _, q := range seqs {
		tokens += len(q.IDs)
	}
	return make([]float32, len(seqs)), batch.Stages{Wait: time.Millisecond, Inference: 2 * time.Millisecond, Worker: 7, TokensComputed: tokens}, nil
}

func benchPairs(n int) []engine.Pair {
	ps := make([]engine.Pair, n)
	for i := range ps {
		ps[i] = engine.Pair{Query: strings.Repeat("q", 1+i%3), Passage: strings.Repeat("p", 1+i%5)}
	}
	return ps
}

// TestRunnerPairsPerConfig: a client's batch is one batch on the scorer,
// exactly the pairs asked for are scored, and each batch carries the
// scorer's stages.
func TestRunnerPairsPerConfig(t *testing.T) {
	sc := &stagedScorer{}
	r := &Runner{Scorer: sc, Pairs: benchPairs(5), Interval: time.Hour, Devices: 1}
	cfg, err := r.Run(context.Background(), 4, 3, Stop{UntilBatches: true, BatchesPerClient: 1}, Stop{Pairs: 22})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WarmupBatches != 3 || len(cfg.Batches) != 6 || cfg.Summary.Pairs != 22 {
		t.Fatalf("%d warm-up batches, %d batches, %d pairs; want 3, 6 (4+4+4+4+4+2), 22", cfg.WarmupBatches, len(cfg.Batches), cfg.Summary.Pairs)
	}
	sc.mu.Lock()
	for i, n := range sc.sizes {
		if n != 4 && !(n == 2 && i == len(sc.sizes)-1) {
			t.Errorf("scorer call %d had %d sequences: client batches must not be split or merged", i, n)
		}
	}
	sc.mu.Unlock()
	seq := map[int]int{}
	for _, b := range cfg.Batches {
		if b.Worker != 7 || b.InferenceMS != 2 || b.TokensComputed != b.Tokens || b.Tokens <= 2*b.Pairs {
			t.Errorf("batch %+v: want worker 7, 2 ms inference, tokens computed = real tokens", b)
		}
		if b.QueueWaitMS < 1 || b.TokenizeMS < 0 || b.TokenizeMS+b.QueueWaitMS+b.InferenceMS > b.LatencyMS+1e-9 {
			t.Errorf("batch %+v: stages do not fit in the latency, or the scorer's 1 ms wait is not queueing", b)
		}
		if b.InferEndMS-b.InferenceMS < b.StartMS-1e-9 || b.InferEndMS > b.EndMS+1e-9 {
			t.Errorf("batch %+v: inference span outside the batch", b)
		}
		if b.Seq != seq[b.Client] {
			t.Errorf("client %d: batch %d after %d", b.Client, b.Seq, seq[b.Client])
		}
		seq[b.Client]++
	}
	if len(cfg.Procs) < 2 || len(cfg.Samples) == 0 {
		t.Errorf("%d process samples, %d intervals: want the phase's start and end at least", len(cfg.Procs), len(cfg.Samples))
	}
}

func TestRunnerTokenizeError(t *testing.T) {
	r := &Runner{Scorer: &stagedScorer{}, Pairs: []engine.Pair{{Query: "a"}, {Query: "bad"}}, Interval: time.Hour}
	_, err := r.Run(context.Background(), 2, 1, Stop{}, Stop{Pairs: 4})
	if err == nil || !strings.Contains(err.Error(), "bench: tokenize: query too long") {
		t.Fatalf("error %v, want the tokenization failure", err)
	}
}
