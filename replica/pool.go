package replica

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
	"github.com/minilm-dev/minilm/internal/backendhook"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
)

// DefaultPoolBatchSize is how many sequences a Pool sends a worker at once
// when PoolConfig.BatchSize is 0.
const DefaultPoolBatchSize = 32

// PoolConfig starts a Pool. Config.Path must name an executable that serves
// the `minilm worker` command line (the minilm binary; see the package
// comment). NewPool sets Config.Args and Config.Model, and Config.Backend
// when the engine options name a backend.
type PoolConfig struct {
	Config
	// BatchSize splits Score and ScoreSequences calls into requests of at
	// most this many sequences, spread over the workers. Default
	// DefaultPoolBatchSize.
	BatchSize int
	// PrivateWeights turns off the shared packed weights: each CPU worker
	// then packs its own copy (about 40 MiB for MiniLM-L6) instead of
	// mapping the one NewPool packs into a memory file (Linux only).
	PrivateWeights bool
}

// Pool scores pairs like an engine.Model, on worker processes: it tokenizes
// in the caller's process and sends token ids to a Supervisor. It is safe
// for concurrent use.
type Pool struct {
	tok       *engine.Model // tokenizes only; its forward pass is never run
	sup       *Supervisor
	batchSize int
	shared    *os.File // the packed weights every worker maps, or nil
}

// NewPool resolves ref (a model directory or Hugging Face repo id, as
// engine.Load does, downloading it unless opts.Offline), then starts
// cfg.Workers workers on it and returns once they are ready.
//
// opts.MaxLength and opts.Truncation apply where pairs are tokenized, in
// this process; opts.Backend, opts.Activation and opts.Precision are passed
// to the workers,
// and opts.Threads (default: one per CPU) is split evenly between them.
// Workers use the engine's default MaxTokensPerBatch.
func NewPool(ctx context.Context, ref string, opts engine.Options, cfg PoolConfig) (*Pool, error) {
	defaults, err := cfg.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultPoolBatchSize
	}
	// The local model resolves ref once and tokenizes with exactly the
	// engine's settings; its backend holds no weights and computes nothing.
	local := opts
	local.Threads = 1
	local.MaxTokensPerBatch = 1 // the engine raises it to the longest sequence
	tokenizeOnlyCtx := backendhook.With(ctx, func(int) (kernels.Backend, error) { return tokenizeOnly{}, nil })
	tok, err := engine.Load(tokenizeOnlyCtx, ref, local)
	if err != nil {
		return nil, err
	}
	info := tok.Info()
	id, err := IdentifyModel(info.Dir)
	if err != nil {
		tok.Close()
		return nil, err
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	backend := opts.Backend
	switch backend {
	case "", "auto":
		backend = "auto"
	default:
		cfg.Backend = backend
	}
	// The local model resolved ActivationAuto from the config; the workers
	// get the result, so both sides agree on it.
	activation := "raw"
	if info.Activation == engine.ActivationSigmoid {
		activation = "sigmoid"
	}
	cfg.Args = []string{"worker", "--model", info.Dir, "--backend", backend,
		"--activation", activation, "--threads", strconv.Itoa(max(1, threads/defaults.Workers))}
	if opts.Precision != "" {
		cfg.Args = append(cfg.Args, "--precision", opts.Precision)
	}
	cfg.Model = id
	var shared *os.File
	if !cfg.PrivateWeights {
		shared, err = shareWeights(ctx, info.Dir, opts, backend)
	}
	if err != nil {
		tok.Close()
		return nil, err
	}
	if shared != nil {
		cfg.Files = append(slices.Clip(cfg.Files), shared)
		cfg.Env = append(slices.Clip(cfg.Env), fmt.Sprintf("%s=/proc/self/fd/%d", cpu.SharedWeightsEnv, 2+len(cfg.Files)))
	}
	sup, err := Start(ctx, cfg.Config)
	if err != nil {
		tok.Close()
		if shared != nil {
			shared.Close()
		}
		return nil, err
	}
	return &Pool{tok: tok, sup: sup, batchSize: cfg.BatchSize, shared: shared}, nil
}

// Tokenize turns a pair into model input, as engine.Model.Tokenize.
func (p *Pool) Tokenize(pair engine.Pair) (engine.Sequence, error) {
	return p.tok.Tokenize(pair)
}

// Score returns one score per pair, in order, as engine.Model.Score.
func (p *Pool) Score(ctx context.Context, pairs []engine.Pair) ([]float32, error) {
	return p.scorePairs(ctx, pairs, p.batchSize)
}

func (p *Pool) scorePairs(ctx context.Context, pairs []engine.Pair, batchSize int) ([]float32, error) {
	return p.score(ctx, len(pairs), batchSize, func(start, end int) ([]engine.Sequence, error) {
		seqs := make([]engine.Sequence, 0, end-start)
		for i := start; i < end; i++ {
			s, err := p.tok.Tokenize(pairs[i])
			if err != nil {
				return nil, fmt.Errorf("replica: pool: pair %d: %w", i, err)
			}
			seqs = append(seqs, s)
		}
		return seqs, nil
	})
}

// ScoreSequences scores already-tokenized pairs, in order. Calls longer
// than the batch size are split into requests that run on several workers
// at once.
func (p *Pool) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	return p.score(ctx, len(seqs), p.batchSize, func(start, end int) ([]engine.Sequence, error) {
		return seqs[start:end], nil
	})
}

// ScoreTimed scores seqs as one request to one worker and says how its time
// was spent, which makes a Pool a batch.TimedScorer: a batch.Batcher in
// front of the pool sizes the requests itself. Wait is the call's time
// outside the worker's round trip (admission, the supervisor's queue,
// retries after a dead worker); Inference is the worker's own report.
func (p *Pool) ScoreTimed(ctx context.Context, seqs []engine.Sequence) ([]float32, batch.Stages, error) {
	start := time.Now()
	scores, bs, err := p.sup.ScoreStats(ctx, seqs, 0)
	if err != nil {
		return nil, batch.Stages{}, err
	}
	return scores, batch.Stages{Wait: max(0, time.Since(start)-bs.RoundTrip), Inference: bs.Inference,
		Worker: bs.Worker.Slot, TokensComputed: bs.Tokens}, nil
}

// Rank scores every document against the query and returns them best first
// (ties keep input order), as engine.Model.Rank; opts.BatchSize > 0 sizes
// the requests instead of PoolConfig.BatchSize.
func (p *Pool) Rank(ctx context.Context, query string, docs []string, opts engine.RankOptions) ([]engine.Ranked, error) {
	if opts.TopK < 0 || opts.BatchSize < 0 {
		return nil, fmt.Errorf("replica: pool: RankOptions TopK %d, BatchSize %d: want 0 or more", opts.TopK, opts.BatchSize)
	}
	size := p.batchSize
	if opts.BatchSize > 0 {
		size = opts.BatchSize
	}
	scores, err := p.scorePairs(ctx, engine.RankPairs(query, docs), size)
	if err != nil {
		return nil, err
	}
	return engine.RankScores(scores, docs, opts), nil
}

// score splits n sequences into batches, gets each from batch (tokenizing
// it, timed), and scores them concurrently; the supervisor's admission
// bounds how many are in flight. The first failure cancels the rest.
func (p *Pool) score(ctx context.Context, n, batchSize int, batch func(start, end int) ([]engine.Sequence, error)) ([]float32, error) {
	out := make([]float32, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for start := 0; start < n && ctx.Err() == nil; start += batchSize {
		end := min(n, start+batchSize)
		began := time.Now()
		seqs, err := batch(start, end)
		if err != nil {
			cancel(err)
			break
		}
		tokenize := time.Since(began)
		wg.Go(func() {
			scores, err := p.sup.ScoreTimed(ctx, seqs, tokenize)
			if err != nil {
				cancel(fmt.Errorf("replica: pool: sequences %d to %d: %w", start, end-1, err))
				return
			}
			copy(out[start:end], scores)
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// Tokenizer returns the model the pool tokenizes with, loaded in this
// process without weights: its Info describes the model the workers serve
// (their backend and threads are in Metrics().Workers; Info.Backend is
// "none"), and scoring on it fails with kernels.ErrUnsupported. The pool
// closes it.
func (p *Pool) Tokenizer() *engine.Model { return p.tok }

// Supervisor returns the supervisor behind the pool, for callers that send
// batches whole (ScoreTimed) and read per-batch metrics. The pool closes it.
func (p *Pool) Supervisor() *Supervisor { return p.sup }

// Metrics returns the supervisor's measurements.
func (p *Pool) Metrics() Metrics { return p.sup.Metrics() }

// Close drains the requests in flight, stops the workers (see
// Supervisor.Close) and releases the local tokenizer model.
func (p *Pool) Close(ctx context.Context) error {
	err := p.sup.Close(ctx)
	if cerr := p.tok.Close(); err == nil {
		err = cerr
	}
	if p.shared != nil {
		p.shared.Close()
	}
	return err
}
