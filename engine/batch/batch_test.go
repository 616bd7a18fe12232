package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minilm-dev/minilm/engine"
)

// fakeScorer tokenizes a pair to one id per byte (plus 3 specials) and
// scores a sequence as the sum of its ids, so a score shows which pair it
// belongs to whatever batch it ran in. A query of "bad" fails to tokenize.
// When gate is set, each batch waits for a token from it.
type fakeScorer struct {
	gate chan struct{}
	fail error

	mu      sync.Mutex
	batches [][]engine.Sequence
}

var errBadPair = fmt.Errorf("query too long: %w", engine.ErrInput)

func (f *fakeScorer) Tokenize(p engine.Pair) (engine.Sequence, error) {
	if p.Query == "bad" {
		return engine.Sequence{}, errBadPair
	}
	ids := []int32{101}
	for _, c := range []byte(p.Query) {
		ids = append(ids, int32(c))
	}
	ids = append(ids, 102)
	for _, c := range []byte(p.Passage) {
		ids = append(ids, int32(c))
	}
	ids = append(ids, 102)
	return engine.Sequence{IDs: ids, TypeIDs: make([]int32, len(ids))}, nil
}

func (f *fakeScorer) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	f.batches = append(f.batches, slices.Clone(seqs))
	f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	out := make([]float32, len(seqs))
	for i, s := range seqs {
		out[i] = want(s)
	}
	return out, nil
}

func want(s engine.Sequence) float32 {
	var sum float32
	for _, id := range s.IDs {
		sum += float32(id)
	}
	return sum
}

func wantPair(t *testing.T, p engine.Pair) float32 {
	s, err := (&fakeScorer{}).Tokenize(p)
	require.NoError(t, err)
	return want(s)
}

func pairs(n int, prefix string) []engine.Pair {
	ps := make([]engine.Pair, n)
	for i := range ps {
		ps[i] = engine.Pair{Query: fmt.Sprintf("%s%d", prefix, i), Passage: fmt.Sprintf("passage %d %s", i, prefix)}
	}
	return ps
}

func closeOK(t *testing.T, b *Batcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Close(ctx))
}

func TestScoresBelongToTheirPairs(t *testing.T) {
	sc := &fakeScorer{}
	b := New(sc, Config{MaxSequences: 7, MaxTokens: 200, Tokenizers: 3})
	defer closeOK(t, b)
	ps := pairs(100, "q")
	r, err := b.Score(context.Background(), ps)
	require.NoError(t, err)
	for i, p := range ps {
		assert.Equal(t, wantPair(t, p), r.Scores[i], "pair %d", i)
	}
	assert.Nil(t, r.Errs)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, bt := range sc.batches {
		tok := 0
		for _, s := range bt {
			tok += len(s.IDs)
		}
		assert.LessOrEqual(t, len(bt), 7)
		assert.LessOrEqual(t, tok, 200)
	}
}

// TestBatchesAcrossJobs: jobs that wait while a batch runs go out together.
func TestBatchesAcrossJobs(t *testing.T) {
	sc := &fakeScorer{gate: make(chan struct{})}
	var mu sync.Mutex
	var stats []BatchStats
	b := New(sc, Config{MaxSequences: 64, OnBatch: func(s BatchStats) {
		mu.Lock()
		stats = append(stats, s)
		mu.Unlock()
	}})
	defer closeOK(t, b)
	ctx := context.Background()
	first, err := b.Submit(ctx, pairs(1, "first"))
	require.NoError(t, err)
	// Its batch runs, held at the gate, before the others arrive.
	require.Eventually(t, func() bool { return b.Stats().InFlight == 1 }, 10*time.Second, time.Millisecond)
	var jobs []*Job
	for i := range 32 {
		j, err := b.Submit(ctx, pairs(1, fmt.Sprintf("c%d-", i)))
		require.NoError(t, err)
		jobs = append(jobs, j)
	}
	// Wait until all 32 are tokenized and queued behind the running batch.
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.queued == 32
	}, 10*time.Second, time.Millisecond)
	sc.gate <- struct{}{}
	_, err = first.Wait(ctx)
	require.NoError(t, err)
	sc.gate <- struct{}{}
	for i, j := range jobs {
		r, err := j.Wait(ctx)
		require.NoError(t, err)
		assert.Equal(t, wantPair(t, pairs(1, fmt.Sprintf("c%d-", i))[0]), r.Scores[0])
	}
	closeOK(t, b) // OnBatch runs after a batch's jobs are told
	mu.Lock()
	defer mu.Unlock()
	maxJobs := 0
	for _, s := range stats {
		maxJobs = max(maxJobs, s.Jobs)
	}
	assert.Equal(t, 32, maxJobs, "the 32 waiting one-pair jobs should share one forward pass")
	assert.Len(t, stats, 2)
}

// TestJobsRunInSubmissionOrder: with one tokenizer and one scorer, jobs that
// all fit reach the model in the order they were submitted (only a job too
// big for the batch being filled lets a later one by), so a caller waiting
// for them in that order (a file scored line by line) is served first come,
// first served.
func TestJobsRunInSubmissionOrder(t *testing.T) {
	sc := &fakeScorer{}
	b := New(sc, Config{MaxSequences: 4, Tokenizers: 1, Scorers: 1})
	defer closeOK(t, b)
	ctx := context.Background()
	var jobs []*Job
	for i := range 200 {
		j, err := b.Submit(ctx, pairs(1, fmt.Sprintf("j%d-", i)))
		require.NoError(t, err)
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		_, err := j.Wait(ctx)
		require.NoError(t, err)
	}
	var got []float32
	sc.mu.Lock()
	for _, bt := range sc.batches {
		for _, s := range bt {
			got = append(got, want(s))
		}
	}
	sc.mu.Unlock()
	var wantOrder []float32
	for i := range 200 {
		for _, p := range pairs(1, fmt.Sprintf("j%d-", i)) {
			wantOrder = append(wantOrder, wantPair(t, p))
		}
	}
	assert.Equal(t, wantOrder, got, "sequences reached the scorer out of submission order")
}

func TestWholeJobsAreNotSplit(t *testing.T) {
	sc := &fakeScorer{gate: make(chan struct{})}
	b := New(sc, Config{MaxSequences: 10, Tokenizers: 1})
	defer closeOK(t, b)
	ctx := context.Background()
	blocker, err := b.Submit(ctx, pairs(1, "x"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.Stats().InFlight == 1 }, 10*time.Second, time.Millisecond)
	a, err := b.Submit(ctx, pairs(6, "a"))
	require.NoError(t, err)
	c, err := b.Submit(ctx, pairs(6, "c"))
	require.NoError(t, err)
	d, err := b.Submit(ctx, pairs(4, "d"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.queued == 16
	}, 10*time.Second, time.Millisecond)
	go func() {
		for range 3 {
			sc.gate <- struct{}{}
		}
	}()
	for _, j := range []*Job{blocker, a, c, d} {
		_, err := j.Wait(ctx)
		require.NoError(t, err)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var sizes []int
	for _, bt := range sc.batches {
		sizes = append(sizes, len(bt))
	}
	// a (6) then d (4) fill the second batch whole; c (6) goes third.
	assert.Equal(t, []int{1, 10, 6}, sizes)
}

func TestTokenizeErrorsArePerPair(t *testing.T) {
	b := New(&fakeScorer{}, Config{})
	defer closeOK(t, b)
	ps := pairs(5, "q")
	ps[2].Query = "bad"
	r, err := b.Score(context.Background(), ps)
	require.NoError(t, err)
	require.Len(t, r.Errs, 5)
	assert.ErrorIs(t, r.Errs[2], engine.ErrInput)
	for i, p := range ps {
		if i == 2 {
			continue
		}
		assert.NoError(t, r.Errs[i])
		assert.Equal(t, wantPair(t, p), r.Scores[i])
	}
	all, err := b.Score(context.Background(), []engine.Pair{{Query: "bad"}})
	require.NoError(t, err)
	assert.ErrorIs(t, all.Errs[0], engine.ErrInput)
}

func TestScorerFailureFailsTheJob(t *testing.T) {
	boom := errors.New("worker died")
	b := New(&fakeScorer{fail: boom}, Config{})
	defer closeOK(t, b)
	_, err := b.Score(context.Background(), pairs(3, "q"))
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 0, b.Stats().Queued)
}

func TestTrySubmitOverloaded(t *testing.T) {
	sc := &fakeScorer{gate: make(chan struct{})}
	b := New(sc, Config{MaxSequences: 4, MaxQueued: 8})
	defer closeOK(t, b)
	ctx := context.Background()
	j1, err := b.TrySubmit(ctx, pairs(8, "a"))
	require.NoError(t, err)
	_, err = b.TrySubmit(ctx, pairs(1, "b"))
	assert.ErrorIs(t, err, ErrOverloaded)
	go func() {
		for range 2 {
			sc.gate <- struct{}{}
		}
	}()
	_, err = j1.Wait(ctx)
	require.NoError(t, err)
	j2, err := b.TrySubmit(ctx, pairs(1, "b"))
	require.NoError(t, err)
	sc.gate <- struct{}{}
	_, err = j2.Wait(ctx)
	require.NoError(t, err)
	// A job larger than the whole queue is admitted when it is empty.
	big, err := b.TrySubmit(ctx, pairs(9, "big"))
	require.NoError(t, err)
	go func() {
		for range 3 {
			sc.gate <- struct{}{}
		}
	}()
	_, err = big.Wait(ctx)
	require.NoError(t, err)
}

func TestCancelledJobIsDropped(t *testing.T) {
	sc := &fakeScorer{gate: make(chan struct{})}
	b := New(sc, Config{MaxSequences: 2, MaxQueued: 100})
	defer closeOK(t, b)
	blocker, err := b.Submit(context.Background(), pairs(2, "x"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.Stats().InFlight == 1 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	j, err := b.Submit(ctx, pairs(10, "gone"))
	require.NoError(t, err)
	cancel()
	_, err = j.Wait(context.Background())
	assert.ErrorIs(t, err, context.Canceled)
	sc.gate <- struct{}{}
	_, err = blocker.Wait(context.Background())
	require.NoError(t, err)
	// Nothing of the cancelled job is scored; its room comes back.
	require.Eventually(t, func() bool { return b.Stats().Queued == 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, int64(10), b.Stats().Dropped)
	sc.mu.Lock()
	assert.Len(t, sc.batches, 1)
	sc.mu.Unlock()
}

func TestCloseDrainsThenRefuses(t *testing.T) {
	b := New(&fakeScorer{}, Config{MaxSequences: 3})
	j, err := b.Submit(context.Background(), pairs(10, "q"))
	require.NoError(t, err)
	closeOK(t, b)
	r, err := j.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, wantPair(t, pairs(10, "q")[9]), r.Scores[9])
	_, err = b.Submit(context.Background(), pairs(1, "late"))
	assert.ErrorIs(t, err, ErrClosed)
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	sc := &fakeScorer{gate: make(chan struct{})}
	b := New(sc, Config{MaxSequences: 1})
	j, err := b.Submit(context.Background(), pairs(3, "q"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, b.Close(ctx), context.Canceled)
	_, err = j.Wait(context.Background())
	assert.Error(t, err)
}

func TestStreamKeepsOrder(t *testing.T) {
	b := New(&fakeScorer{}, Config{MaxSequences: 5, MaxQueued: 16})
	defer closeOK(t, b)
	ps := pairs(200, "s")
	ps[17].Query = "bad"
	i := 0
	for score, err := range b.Stream(context.Background(), slices.Values(ps)) {
		if i == 17 {
			assert.ErrorIs(t, err, engine.ErrInput)
		} else {
			require.NoError(t, err, "pair %d", i)
			assert.Equal(t, wantPair(t, ps[i]), score, "pair %d", i)
		}
		i++
	}
	assert.Equal(t, 200, i)
}

func TestStreamStopsEarly(t *testing.T) {
	b := New(&fakeScorer{}, Config{MaxSequences: 5, MaxQueued: 16})
	defer closeOK(t, b)
	n := 0
	for _, err := range b.Stream(context.Background(), slices.Values(pairs(1000, "s"))) {
		require.NoError(t, err)
		n++
		if n == 10 {
			break
		}
	}
	assert.Equal(t, 10, n)
}

// timedFake is a TimedScorer that reports fixed stages and twice the real
// tokens computed, as a padding scorer would.
type timedFake struct{ fakeScorer }

func (f *timedFake) ScoreTimed(ctx context.Context, seqs []engine.Sequence) ([]float32, Stages, error) {
	scores, err := f.ScoreSequences(ctx, seqs)
	tokens := 0
	for _, s := range seqs {
		tokens += len(s.IDs)
	}
	return scores, Stages{Wait: 2 * time.Millisecond, Inference: 5 * time.Millisecond, Worker: 3, TokensComputed: 2 * tokens}, err
}

func TestResultStages(t *testing.T) {
	ctx := context.Background()
	t.Run("timed", func(t *testing.T) {
		b := New(&timedFake{}, Config{MaxSequences: 4})
		defer closeOK(t, b)
		r, err := b.Score(ctx, pairs(10, "q")) // batches of 4, 4 and 2
		require.NoError(t, err)
		assert.Equal(t, Stages{Wait: 6 * time.Millisecond, Inference: 15 * time.Millisecond, Worker: 3, TokensComputed: 2 * r.Tokens}, r.Stages)
		assert.GreaterOrEqual(t, r.Timing.Queue, 2*time.Millisecond, "the scorer's wait is queueing")
	})
	t.Run("shared batch", func(t *testing.T) {
		sc := &timedFake{fakeScorer{gate: make(chan struct{})}}
		b := New(sc, Config{MaxSequences: 64})
		defer closeOK(t, b)
		first, err := b.Submit(ctx, pairs(1, "first"))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return b.Stats().InFlight == 1 }, 10*time.Second, time.Millisecond)
		short, err := b.Submit(ctx, []engine.Pair{{Query: "a", Passage: "b"}})
		require.NoError(t, err)
		long, err := b.Submit(ctx, []engine.Pair{{Query: "a long query", Passage: "and a longer passage"}})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.queued == 2
		}, 10*time.Second, time.Millisecond)
		close(sc.gate)
		for _, j := range []*Job{first, short, long} {
			r, err := j.Wait(ctx)
			require.NoError(t, err)
			// Each job gets its own share of the batch's computed tokens.
			assert.Equal(t, 2*r.Tokens, r.Stages.TokensComputed)
			assert.Equal(t, 5*time.Millisecond, r.Stages.Inference, "a shared batch counts whole")
		}
	})
	t.Run("untimed", func(t *testing.T) {
		b := New(&fakeScorer{}, Config{})
		defer closeOK(t, b)
		r, err := b.Score(ctx, pairs(3, "q"))
		require.NoError(t, err)
		assert.Equal(t, -1, r.Stages.Worker)
		assert.Equal(t, r.Tokens, r.Stages.TokensComputed)
		assert.Positive(t, r.Stages.Inference)
		r, err = b.Score(ctx, nil)
		require.NoError(t, err)
		assert.Equal(t, Stages{Worker: -1}, r.Stages)
	})
}

func TestSubmitWithOwnTokenizer(t *testing.T) {
	sc := &fakeScorer{}
	b := New(sc, Config{MaxSequences: 4, MaxQueued: 4})
	defer closeOK(t, b)
	ps := pairs(3, "q")
	// The job's tokenizer drops the passage: its scores are the query's alone.
	own := func(p engine.Pair) (engine.Sequence, error) {
		if p.Query == "q1" {
			return engine.Sequence{}, errBadPair
		}
		return sc.Tokenize(engine.Pair{Query: p.Query})
	}
	j, err := b.SubmitWith(context.Background(), ps, SubmitOptions{Tokenize: own})
	require.NoError(t, err)
	r, err := j.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, wantPair(t, engine.Pair{Query: "q0"}), r.Scores[0])
	assert.ErrorIs(t, r.Errs[1], errBadPair)
	assert.Equal(t, wantPair(t, engine.Pair{Query: "q2"}), r.Scores[2])

	// NoWait refuses at once what does not fit.
	sc.gate = make(chan struct{})
	first, err := b.Submit(context.Background(), pairs(4, "a"))
	require.NoError(t, err)
	_, err = b.SubmitWith(context.Background(), pairs(1, "b"), SubmitOptions{NoWait: true})
	assert.ErrorIs(t, err, ErrOverloaded)
	close(sc.gate)
	_, err = first.Wait(context.Background())
	require.NoError(t, err)
}

// TestTimingsFitTheWait: a job's stages follow one another, so they add up
// to no more than the caller waited (a job scored before its tokenization
// was counted once showed its whole life as tokenization).
func TestTimingsFitTheWait(t *testing.T) {
	b := New(&fakeScorer{}, Config{MaxSequences: 4, Tokenizers: 2})
	defer closeOK(t, b)
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for i := range 50 {
				start := time.Now()
				r, err := b.Score(context.Background(), pairs(1+i%4, fmt.Sprintf("c%d-%d-", c, i)))
				waited := time.Since(start)
				if !assert.NoError(t, err) {
					return
				}
				tm := r.Timing
				assert.LessOrEqual(t, tm.Tokenize+tm.Queue+tm.Inference, waited, "%+v", tm)
				assert.GreaterOrEqual(t, min(tm.Tokenize, tm.Queue, tm.Inference), time.Duration(0), "%+v", tm)
			}
		})
	}
	wg.Wait()
}
