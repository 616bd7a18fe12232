package batch

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// Batcher packs the pairs of submitted jobs into batches and scores them.
// It is safe for concurrent use.
//
// A pair's room in the queue (MaxQueued) is taken at admission and given
// back exactly once: when it is scored, fails, or is dropped because its
// job's context ended, wherever it was then (waiting for a tokenizer,
// queued, or never sent on).
type Batcher struct {
	sc    Scorer
	timed TimedScorer // sc, when it reports stages
	cfg   Config

	ctx     context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	tokCh   chan chunk    // chunks waiting for a tokenizer
	fed     chan struct{} // a job joined feedQ
	slots   chan struct{}
	work    chan struct{} // a segment was queued
	drained chan struct{} // closed once closed and nothing is admitted
	feeder  sync.WaitGroup
	tokWG   sync.WaitGroup
	wg      sync.WaitGroup // dispatcher and running batches

	mu      sync.Mutex
	room    *sync.Cond // signalled when admit drops or the Batcher closes
	feedQ   []*Job     // admitted, not yet handed to the tokenizers, in order
	pending []*segment // tokenized, not yet dispatched, in arrival order
	queued  int        // sequences in pending
	admit   int        // pairs admitted and not finished
	closed  bool

	inFlight atomic.Int64
	batches  atomic.Int64
	pairs    atomic.Int64
	dropped  atomic.Int64
}

// chunk is up to MaxSequences consecutive pairs of one job, tokenized as a
// unit.
type chunk struct {
	job        *Job
	start, end int
}

// segment is a tokenized chunk waiting in the queue. idx[i] is the job's
// pair index of seqs[i]; a batch may take a prefix and leave the rest.
type segment struct {
	job    *Job
	idx    []int
	seqs   []engine.Sequence
	tokens int
}

// New starts a Batcher over sc. Close stops it.
func New(sc Scorer, cfg Config) *Batcher {
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.MaxSequences <= 0 {
		cfg.MaxSequences = DefaultMaxSequences
	}
	if cfg.Scorers <= 0 {
		cfg.Scorers = 1
	}
	if cfg.Tokenizers <= 0 {
		cfg.Tokenizers = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = 32 * cfg.MaxSequences
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	b := &Batcher{
		sc:      sc,
		cfg:     cfg,
		tokCh:   make(chan chunk, 4*cfg.Tokenizers),
		fed:     make(chan struct{}, 1),
		slots:   make(chan struct{}, cfg.Scorers),
		work:    make(chan struct{}, 1),
		drained: make(chan struct{}),
	}
	b.timed, _ = sc.(TimedScorer)
	b.room = sync.NewCond(&b.mu)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for range cfg.Tokenizers {
		b.tokWG.Go(b.tokenize)
	}
	b.feeder.Go(b.feed)
	b.wg.Go(b.dispatch)
	return b
}

// Config returns the configuration in force, defaults filled in.
func (b *Batcher) Config() Config { return b.cfg }

// Submit admits pairs as one job, waiting for room in the queue while ctx
// allows. Cancelling ctx later drops the job's unscored pairs.
func (b *Batcher) Submit(ctx context.Context, pairs []engine.Pair) (*Job, error) {
	return b.submit(ctx, pairs, true, nil)
}

// TrySubmit is Submit without waiting: a full queue is ErrOverloaded.
func (b *Batcher) TrySubmit(ctx context.Context, pairs []engine.Pair) (*Job, error) {
	return b.submit(ctx, pairs, false, nil)
}

// SubmitOptions tune one submission.
type SubmitOptions struct {
	// Tokenize, when set, tokenizes this job's pairs instead of the
	// Scorer's Tokenize (a server's per-request truncation settings); it
	// runs on the Batcher's tokenizer goroutines and must be safe for
	// concurrent use.
	Tokenize func(engine.Pair) (engine.Sequence, error)
	// NoWait makes a full queue ErrOverloaded at once, as TrySubmit.
	NoWait bool
}

// SubmitWith is Submit (or TrySubmit, with NoWait) with per-job options.
func (b *Batcher) SubmitWith(ctx context.Context, pairs []engine.Pair, o SubmitOptions) (*Job, error) {
	return b.submit(ctx, pairs, !o.NoWait, o.Tokenize)
}

// Score submits pairs and waits for their result.
func (b *Batcher) Score(ctx context.Context, pairs []engine.Pair) (Result, error) {
	j, err := b.Submit(ctx, pairs)
	if err != nil {
		return Result{}, err
	}
	return j.Wait(ctx)
}

func (b *Batcher) submit(ctx context.Context, pairs []engine.Pair, wait bool, tokenize func(engine.Pair) (engine.Sequence, error)) (*Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := len(pairs)
	b.mu.Lock()
	if wait && n > 0 {
		stop := context.AfterFunc(ctx, func() {
			b.mu.Lock()
			b.room.Broadcast()
			b.mu.Unlock()
		})
		for !b.closed && ctx.Err() == nil && !b.fits(n) {
			b.room.Wait()
		}
		stop()
	}
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, ErrClosed
	case ctx.Err() != nil:
		b.mu.Unlock()
		return nil, ctx.Err()
	case !b.fits(n):
		admitted := b.admit
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %d pairs waiting, room for %d", ErrOverloaded, admitted, b.cfg.MaxQueued)
	}
	if tokenize == nil {
		tokenize = b.sc.Tokenize
	}
	j := newJob(ctx, pairs, tokenize)
	if n == 0 {
		b.mu.Unlock()
		j.finish()
		return j, nil
	}
	b.admit += n
	b.feedQ = append(b.feedQ, j)
	b.mu.Unlock()
	select {
	case b.fed <- struct{}{}:
	default:
	}
	return j, nil
}

// feed hands the admitted jobs to the tokenizers in the order they were
// admitted, so that the first submitted are the first scored. Once the
// Batcher is closed and cancelled, it fails what is left.
func (b *Batcher) feed() {
	for {
		b.mu.Lock()
		var j *Job
		if len(b.feedQ) > 0 {
			j = b.feedQ[0]
			b.feedQ[0] = nil
			b.feedQ = b.feedQ[1:]
		}
		b.mu.Unlock()
		if j != nil {
			b.feedJob(j)
			continue
		}
		select {
		case <-b.fed:
		case <-b.ctx.Done():
			return
		}
	}
}

// feedJob hands a job's chunks to the tokenizers.
func (b *Batcher) feedJob(j *Job) {
	n := len(j.pairs)
	for start := 0; start < n; start += b.cfg.MaxSequences {
		select {
		case b.tokCh <- chunk{job: j, start: start, end: min(n, start+b.cfg.MaxSequences)}:
		case <-j.ctx.Done():
			b.drop(n - start)
			return
		case <-b.ctx.Done():
			b.release(n - start)
			j.fail(ErrClosed)
			return
		}
	}
}

// fits says whether n more pairs may be admitted; mu is held.
func (b *Batcher) fits(n int) bool {
	return n == 0 || b.admit == 0 || b.admit+n <= b.cfg.MaxQueued
}

// release gives n pairs' room back to the queue.
func (b *Batcher) release(n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.releaseLocked(n)
	b.mu.Unlock()
}

func (b *Batcher) releaseLocked(n int) {
	b.admit -= n
	b.room.Broadcast()
	if b.closed && b.admit == 0 {
		select {
		case <-b.drained:
		default:
			close(b.drained)
		}
	}
}

// drop releases n pairs of a cancelled job, unscored.
func (b *Batcher) drop(n int) {
	b.dropped.Add(int64(n))
	b.release(n)
}

// tokenize turns chunks into queued segments.
func (b *Batcher) tokenize() {
	for c := range b.tokCh {
		j := c.job
		if j.ctx.Err() != nil || j.dead() {
			b.drop(c.end - c.start)
			continue
		}
		if b.ctx.Err() != nil {
			b.release(c.end - c.start)
			j.fail(ErrClosed)
			continue
		}
		seg := &segment{job: j, idx: make([]int, 0, c.end-c.start), seqs: make([]engine.Sequence, 0, c.end-c.start)}
		failed := 0
		for i := c.start; i < c.end; i++ {
			s, err := j.tokenize(j.pairs[i])
			if err != nil {
				j.setPairErr(i, err)
				failed++
				continue
			}
			seg.idx = append(seg.idx, i)
			seg.seqs = append(seg.seqs, s)
			seg.tokens += len(s.IDs)
		}
		// Counted before the segment is queued: once queued it may be
		// scored, and its job finish, at any moment.
		j.tokenized(c.end-c.start, seg.tokens)
		if len(seg.seqs) > 0 {
			b.mu.Lock()
			b.pending = append(b.pending, seg)
			b.queued += len(seg.seqs)
			b.mu.Unlock()
			select {
			case b.work <- struct{}{}:
			default:
			}
		}
		if failed > 0 {
			b.release(failed)
			j.untokenizable(failed)
		}
	}
}

// dispatch forms a batch whenever a scorer slot is free and work waits.
func (b *Batcher) dispatch() {
	for {
		select {
		case b.slots <- struct{}{}:
		case <-b.ctx.Done():
			return
		}
		bt := b.form()
		for bt == nil {
			select {
			case <-b.work:
			case <-b.ctx.Done():
				return
			}
			bt = b.form()
		}
		b.inFlight.Add(1)
		b.wg.Go(func() {
			bt.run(b)
			b.inFlight.Add(-1)
			<-b.slots
		})
	}
}

// batchRun is one formed batch: each part takes sequences from one job.
type batchRun struct {
	parts  []part
	seqs   []engine.Sequence
	tokens int
}

type part struct {
	job    *Job
	idx    []int // the job's pair indices of seqs[off:off+len(idx)]
	off    int
	tokens int
}

// form takes whole segments in arrival order while they fit; past one that
// does not, it looks up to Window segments further for ones that do. Only
// an empty batch splits a segment. It returns nil when nothing live waits.
func (b *Batcher) form() *batchRun {
	b.mu.Lock()
	defer b.mu.Unlock()
	bt := &batchRun{}
	maxSeq, maxTok := b.cfg.MaxSequences, b.cfg.MaxTokens
	kept := b.pending[:0]
	skipped := 0
	for i, s := range b.pending {
		if s.job.ctx.Err() != nil || s.job.dead() {
			b.queued -= len(s.seqs)
			b.dropped.Add(int64(len(s.seqs)))
			b.releaseLocked(len(s.seqs))
			continue
		}
		if len(bt.seqs) >= maxSeq || bt.tokens >= maxTok || skipped > b.cfg.Window {
			kept = append(kept, b.pending[i:]...)
			break
		}
		if len(bt.seqs)+len(s.seqs) <= maxSeq && bt.tokens+s.tokens <= maxTok {
			bt.take(s, len(s.seqs))
			b.queued -= len(s.seqs)
			continue
		}
		if len(bt.seqs) == 0 {
			n, tok := 0, 0
			for n < len(s.seqs) && n < maxSeq && (n == 0 || tok+len(s.seqs[n].IDs) <= maxTok) {
				tok += len(s.seqs[n].IDs)
				n++
			}
			bt.take(s, n)
			b.queued -= n
			s.idx, s.seqs, s.tokens = s.idx[n:], s.seqs[n:], s.tokens-tok
		}
		skipped++
		kept = append(kept, s)
	}
	clear(b.pending[len(kept):])
	b.pending = kept
	if len(bt.seqs) == 0 {
		return nil
	}
	return bt
}

// take appends the first n sequences of s to the batch.
func (bt *batchRun) take(s *segment, n int) {
	p := part{job: s.job, idx: s.idx[:n:n], off: len(bt.seqs)}
	for _, q := range s.seqs[:n] {
		p.tokens += len(q.IDs)
	}
	bt.parts = append(bt.parts, p)
	bt.tokens += p.tokens
	bt.seqs = append(bt.seqs, s.seqs[:n]...)
}

func (bt *batchRun) run(b *Batcher) {
	start := time.Now()
	for _, p := range bt.parts {
		p.job.started(start)
	}
	var (
		scores []float32
		st     Stages
		err    error
	)
	if b.timed != nil {
		scores, st, err = b.timed.ScoreTimed(b.ctx, bt.seqs)
	} else {
		scores, err = b.sc.ScoreSequences(b.ctx, bt.seqs)
		st = Stages{Worker: -1, TokensComputed: bt.tokens}
	}
	end := time.Now()
	if b.timed == nil {
		st.Inference = end.Sub(start)
	}
	if err == nil && len(scores) != len(bt.seqs) {
		err = fmt.Errorf("scorer returned %d scores for %d sequences", len(scores), len(bt.seqs))
	}
	if err != nil {
		err = fmt.Errorf("batch: score %d sequences: %w", len(bt.seqs), err)
	} else {
		b.batches.Add(1)
		b.pairs.Add(int64(len(bt.seqs)))
	}
	for _, p := range bt.parts {
		// Room first: a caller woken by its job sees the queue without it.
		b.release(len(p.idx))
		if err != nil {
			p.job.fail(err)
		} else {
			computed := st.TokensComputed
			if bt.tokens > 0 {
				computed = int(int64(p.tokens) * int64(st.TokensComputed) / int64(bt.tokens))
			}
			p.job.scored(p.idx, scores[p.off:p.off+len(p.idx)], end, st, computed)
		}
	}
	if b.cfg.OnBatch != nil {
		b.cfg.OnBatch(BatchStats{Sequences: len(bt.seqs), Tokens: bt.tokens, Jobs: len(bt.parts),
			Start: start, End: end, Stages: st, Err: err})
	}
}

// Stats returns a snapshot of the counters.
func (b *Batcher) Stats() Stats {
	b.mu.Lock()
	queued := b.admit
	b.mu.Unlock()
	return Stats{Queued: queued, InFlight: int(b.inFlight.Load()), Batches: b.batches.Load(),
		Pairs: b.pairs.Load(), Dropped: b.dropped.Load()}
}

// Close stops admitting jobs and waits, while ctx allows, for those
// admitted to finish; then it cancels what is left (their jobs fail with
// ErrClosed) and stops its goroutines. It does not close the Scorer.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.room.Broadcast()
	if b.admit == 0 {
		close(b.drained)
	}
	b.mu.Unlock()
	var err error
	select {
	case <-b.drained:
	case <-ctx.Done():
		err = ctx.Err()
	}
	b.cancel()
	b.feeder.Wait()
	close(b.tokCh)
	b.tokWG.Wait()
	b.mu.Lock()
	for _, s := range b.pending {
		b.releaseLocked(len(s.seqs))
		s.job.fail(ErrClosed)
	}
	b.pending, b.queued = nil, 0
	b.mu.Unlock()
	b.wg.Wait()
	return err
}
