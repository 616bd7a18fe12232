package batch

import (
	"context"
	"sync"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// Job is one submission. Its pairs are scored as the batches they land in
// complete; Done closes when all are, or at the first failure.
type Job struct {
	ctx      context.Context
	pairs    []engine.Pair
	tokenize func(engine.Pair) (engine.Sequence, error)
	done     chan struct{}
	stop     func() bool // unregisters the cancellation hook

	mu        sync.Mutex
	res       Result
	left      int // pairs neither scored nor failed to tokenize
	untok     int // pairs not yet tokenized
	admitted  time.Time
	tokDone   time.Time
	first     time.Time
	last      time.Time
	wait      time.Duration
	finished  bool
	cancelled bool
}

func newJob(ctx context.Context, pairs []engine.Pair, tokenize func(engine.Pair) (engine.Sequence, error)) *Job {
	j := &Job{ctx: ctx, pairs: pairs, tokenize: tokenize, done: make(chan struct{}), left: len(pairs), untok: len(pairs),
		admitted: time.Now()}
	j.res.Scores = make([]float32, len(pairs))
	j.res.Stages.Worker = -1
	stop := context.AfterFunc(ctx, func() { j.fail(context.Cause(ctx)) })
	j.mu.Lock()
	j.stop = stop
	j.mu.Unlock()
	return j
}

// Done is closed when the job has finished.
func (j *Job) Done() <-chan struct{} { return j.done }

// Result returns the job's result; call it after Done is closed.
func (j *Job) Result() Result {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.res
}

// Wait waits for the job to finish (or ctx to end) and returns its result,
// with Result.Err as the error.
func (j *Job) Wait(ctx context.Context) (Result, error) {
	select {
	case <-j.done:
		r := j.Result()
		return r, r.Err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// dead says whether the job's remaining pairs need not be scored.
func (j *Job) dead() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.finished && j.res.Err != nil
}

func (j *Job) setPairErr(i int, err error) {
	j.mu.Lock()
	if j.res.Errs == nil {
		j.res.Errs = make([]error, len(j.pairs))
	}
	j.res.Errs[i] = err
	j.mu.Unlock()
}

// tokenized records a tokenized chunk of n pairs holding tokens tokens.
func (j *Job) tokenized(n, tokens int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.untok -= n
	j.res.Tokens += tokens
	if j.untok == 0 {
		j.tokDone = time.Now()
	}
}

// untokenizable resolves n pairs that could not be tokenized (their Errs
// are set).
func (j *Job) untokenizable(n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.left -= n
	if j.left == 0 {
		j.finishLocked()
	}
}

func (j *Job) started(t time.Time) {
	j.mu.Lock()
	if j.first.IsZero() {
		j.first = t
	}
	j.mu.Unlock()
}

// scored stores the scores of pairs idx, from a batch that ended at end,
// with the scorer's stages st of which computed tokens were the job's.
func (j *Job) scored(idx []int, scores []float32, end time.Time, st Stages, computed int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for k, i := range idx {
		j.res.Scores[i] = scores[k]
	}
	j.last = end
	j.wait = max(j.wait, st.Wait)
	s := &j.res.Stages
	s.Wait += st.Wait
	s.Inference += st.Inference
	s.TokensComputed += computed
	s.Worker = st.Worker
	j.left -= len(idx)
	if j.left == 0 {
		j.finishLocked()
	}
}

// fail finishes the job with err unless it has finished already.
func (j *Job) fail(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished {
		return
	}
	j.res.Err = err
	j.finishLocked()
}

func (j *Job) finish() {
	j.mu.Lock()
	j.finishLocked()
	j.mu.Unlock()
}

func (j *Job) finishLocked() {
	if j.finished {
		return
	}
	j.finished = true
	if j.tokDone.IsZero() {
		j.tokDone = time.Now()
	}
	t := &j.res.Timing
	t.Tokenize = j.tokDone.Sub(j.admitted)
	if !j.first.IsZero() {
		t.Queue = max(0, j.first.Sub(j.tokDone)) + j.wait
		t.Inference = max(0, j.last.Sub(j.first)-j.wait)
	}
	if j.stop != nil {
		j.stop()
	}
	close(j.done)
}
