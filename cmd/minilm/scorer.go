package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
	"github.com/minilm-dev/minilm/replica"
)

// registerReplicas adds --replicas to a flag set.
func registerReplicas(fs *flag.FlagSet, n *int) {
	fs.IntVar(n, "replicas", 1, "run inference in `n` worker processes (minilm worker), each with --threads/n\nthreads; 0 or 1: in this process")
}

// closeGrace bounds how long stopping the workers may take after the run.
const closeGrace = 10 * time.Second

// rankScorer is what score and rerank run on: *engine.Model, or a
// replica.Pool.
type rankScorer interface {
	batch.Scorer
	Rank(ctx context.Context, query string, docs []string, opts engine.RankOptions) ([]engine.Ranked, error)
}

// loadScorer loads the model given by the model flags: in this process, or
// with replicas > 1 a replica.Pool of that many workers (this binary run as
// `minilm worker`) that splits --threads between them and sends batchSize
// pairs per request. Its tokenization errors are said in the flags' terms
// (flagScorer); load errors too (modelError). closeFn releases everything.
func loadScorer(ctx context.Context, mf *modelFlags, replicas, batchSize int, opts engine.Options, stderr io.Writer) (sc rankScorer, closeFn func(), err error) {
	if replicas <= 1 {
		m, err := engine.Load(ctx, mf.model, opts)
		if err != nil {
			return nil, nil, modelError(err, mf.model)
		}
		return flagScorer{m}, func() { m.Close() }, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find the minilm executable for the workers: %w", err)
	}
	pool, err := replica.NewPool(ctx, mf.model, opts, replica.PoolConfig{
		Config:    replica.Config{Path: exe, Workers: replicas, Stderr: stderr},
		BatchSize: batchSize, // the pipeline's batches go out whole
	})
	if err != nil {
		return nil, nil, modelError(err, mf.model)
	}
	closeFn = func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace)
		defer cancel()
		pool.Close(cctx)
	}
	return flagScorer{pool}, closeFn, nil
}
