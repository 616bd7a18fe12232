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
	pool, closeFn, err := startPool(ctx, f.model, f.replicas, f.batchSize, opts, stderr)
	if err != nil {
		return nil, nil, err
	}
	return pool, closeFn, nil
}

// startPool starts a replica.Pool of n workers (this binary run as `minilm
// worker`); batchSize splits its Score calls. closeFn stops the workers.
func startPool(ctx context.Context, model string, n, batchSize int, opts engine.Options, stderr io.Writer) (pool *replica.Pool, closeFn func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find the minilm executable for the workers: %w", err)
	}
	pool, err = replica.NewPool(ctx, model, opts, replica.PoolConfig{
		Config:    replica.Config{Path: exe, Workers: n, Stderr: stderr},
		BatchSize: batchSize,
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

// rankDocuments scores docs against query on the batcher and ranks them
// best first, as engine.Model.Rank does.
func rankDocuments(ctx context.Context, sc batch.Scorer, query string, docs []string, topK int) ([]engine.Ranked, error) {
	pairs := make([]engine.Pair, len(docs))
	for i, d := range docs {
		pairs[i] = engine.Pair{Query: query, Passage: d}
	}
	b := batch.New(sc, batch.Config{})
	defer b.Close(ctx)
	res, err := b.Score(ctx, pairs)
	if err != nil {
		return nil, err
	}
	for i, err := range res.Errs {
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
	}
	return engine.RankScores(res.Scores, topK), nil
}
