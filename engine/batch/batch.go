// Package batch is the one batcher between callers and a model: it
// tokenizes pairs on a pool of goroutines, packs whatever is waiting into
// token-budget batches (packed, so no padding), runs them on a Scorer
// (*engine.Model in this process, or *replica.Pool over worker processes)
// and hands each job its scores and stage timings.
//
// The same Batcher serves a file being scored in order (Stream), a server
// gathering the pairs of many concurrent requests into one forward pass
// (TrySubmit), and the benchmark (Submit, OnBatch).
package batch

import (
	"context"
	"errors"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

var (
	// ErrOverloaded is returned by TrySubmit when the queue is full.
	ErrOverloaded = errors.New("batch: queue is full")
	// ErrClosed is returned by calls on a closed Batcher.
	ErrClosed = errors.New("batch: batcher is closed")
)

// Scorer is what a Batcher runs on: *engine.Model and *replica.Pool.
type Scorer interface {
	Tokenize(p engine.Pair) (engine.Sequence, error)
	ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error)
}

// TimedScorer is a Scorer that also says how one call's time was spent
// (queueing in front of a worker, inference on it). The Batcher uses
// ScoreTimed when the Scorer has it.
type TimedScorer interface {
	Scorer
	ScoreTimed(ctx context.Context, seqs []engine.Sequence) ([]float32, Stages, error)
}

// Stages is what a TimedScorer measured of one call.
type Stages struct {
	// Wait is the time before inference began (admission, a worker's queue,
	// a retry after a dead worker).
	Wait time.Duration
	// Inference is the time the model computed.
	Inference time.Duration
	// Worker is the slot of the worker process that answered; -1 in process.
	Worker int
	// TokensComputed counts the token positions the model computed
	// (equal to the batch's tokens: batches are packed).
	TokensComputed int
}

// Defaults of Config's zero fields.
const (
	DefaultMaxTokens    = 16384
	DefaultMaxSequences = 64
	DefaultWindow       = 8
)

// Config tunes a Batcher. The zero value is the default everywhere.
type Config struct {
	// MaxTokens bounds the real tokens of one batch (DefaultMaxTokens); a
	// single sequence longer than that still goes, alone.
	MaxTokens int
	// MaxSequences bounds the sequences of one batch (DefaultMaxSequences).
	MaxSequences int
	// Scorers is how many batches run at once (1; a replica.Pool wants one
	// per worker). The next batch is formed when a slot frees, from
	// everything waiting by then.
	Scorers int
	// Tokenizers is the number of tokenizing goroutines (GOMAXPROCS).
	Tokenizers int
	// MaxQueued bounds the pairs admitted and not yet scored
	// (32×MaxSequences): Submit waits for room, TrySubmit fails with
	// ErrOverloaded. A job larger than MaxQueued is admitted alone.
	MaxQueued int
	// Window is how many waiting jobs past the first the batcher looks at
	// to fill a batch with jobs that fit whole (DefaultWindow). Scores go
	// back to their jobs, so filling out of order never reorders results.
	Window int
	// OnBatch, when set, is called after each batch (from the goroutine
	// that ran it).
	OnBatch func(BatchStats)
}

// BatchStats describes one batch the Batcher ran.
type BatchStats struct {
	Sequences, Tokens int
	Jobs              int // jobs with sequences in this batch
	Start, End        time.Time
	Stages            Stages // from a TimedScorer; else Inference = End-Start
	Err               error
}

// Stats is a snapshot of the Batcher's counters.
type Stats struct {
	Queued   int   // pairs admitted and not yet dispatched
	InFlight int   // batches running
	Batches  int64 // batches run
	Pairs    int64 // pairs scored
	Dropped  int64 // pairs dropped unscored because their job was cancelled
}

// Timing is how a job's time was spent.
type Timing struct {
	// Tokenize: from admission until every pair was tokenized.
	Tokenize time.Duration
	// Queue: from tokenized until its first batch began, plus the Wait the
	// scorer reported.
	Queue time.Duration
	// Inference: from its first batch's start until its last batch's end,
	// less the scorer's Wait.
	Inference time.Duration
}

// Result is what a finished job holds.
type Result struct {
	// Scores has one score per pair, in the job's order (0 where Errs has
	// an error).
	Scores []float32
	// Errs is nil when every pair was tokenized; else one entry per pair,
	// non-nil for a pair that could not be (too long for only-second, …).
	Errs []error
	// Err is a failure of the whole job (a batch failed, the job's context
	// was cancelled, the Batcher was closed).
	Err error
	// Tokens counts the real tokens of the job's sequences.
	Tokens int
	Timing Timing
	// Stages adds up what the scorer reported of the batches that held the
	// job's pairs: Wait and Inference summed (a batch shared with other
	// jobs counts whole), TokensComputed the job's share (pro rata to its
	// real tokens), Worker that of its last batch (-1 before any ran).
	// Without a TimedScorer, Inference is each batch's wall time.
	Stages Stages
}
