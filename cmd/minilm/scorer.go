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

// loadScorer loads the model the score pipeline runs on: in this process,
// or with --replicas N > 1 a replica.Pool of N workers (this binary run as
// `minilm worker`) that splits --threads between them. closeFn releases
// everything.
func loadScorer(ctx context.Context, f *scoreFlags, opts engine.Options, stderr io.Writer) (sc batch.Scorer, closeFn func(), err error) {
	if f.replicas <= 1 {
		m, err := engine.Load(ctx, f.model, opts)
		if err != nil {
			return nil, nil, err
		}
		return m, func() { m.Close() }, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find the minilm executable for the workers: %w", err)
	}
	pool, err := replica.NewPool(ctx, f.model, opts, replica.PoolConfig{
		Config:    replica.Config{Path: exe, Workers: f.replicas, Stderr: stderr},
		BatchSize: f.batchSize, // the pipeline's batches go out whole
	})
	if err != nil {
		return nil, nil, err
	}
	closeFn = func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace)
		defer cancel()
		pool.Close(cctx)
	}
	return pool, closeFn, nil
}
