package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/replica"
)

// registerReplicas adds --replicas to a flag set.
func registerReplicas(fs *flag.FlagSet, n *int) {
	fs.IntVar(n, "replicas", 1, "run inference in `n` worker processes (minilm worker), each with --threads/n\nthreads; 0 or 1: in this process")
}

// replicated tokenizes in this process and scores on replica workers.
type replicated struct {
	*engine.Model // for Tokenize only; its forward pass is never used
	sup           *replica.Supervisor
}

func (r replicated) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	return r.sup.ScoreSequences(ctx, seqs)
}

// closeGrace bounds how long stopping the workers may take after the run.
const closeGrace = 10 * time.Second

// loadScorer loads the model the score pipeline runs on: in this process,
// or with --replicas N > 1 on N workers (the model is loaded here too, to
// resolve it once and to tokenize with exactly its settings, but with the
// smallest activation arena). closeFn releases everything.
func loadScorer(ctx context.Context, f *scoreFlags, opts engine.Options, stderr io.Writer) (sc scorer, closeFn func(), err error) {
	if f.replicas <= 1 {
		m, err := engine.Load(ctx, f.model, opts)
		if err != nil {
			return nil, nil, err
		}
		return m, func() { m.Close() }, nil
	}
	local := opts
	local.Threads = 1
	local.MaxTokensPerBatch = 1 // the engine raises it to the longest sequence
	m, err := engine.Load(ctx, f.model, local)
	if err != nil {
		return nil, nil, err
	}
	info := m.Info()
	id, err := replica.IdentifyModel(info.Dir)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("find the minilm executable for the workers: %w", err)
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	threads = max(1, threads/f.replicas)
	sup, err := replica.Start(ctx, replica.Config{
		Path: exe,
		Args: []string{"worker", "--model", info.Dir, "--backend", f.backend,
			"--activation", f.activation, "--threads", strconv.Itoa(threads)},
		Workers: f.replicas,
		Model:   id,
		Backend: info.Backend,
		Stderr:  stderr,
	})
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	closeFn = func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace)
		defer cancel()
		sup.Close(cctx)
		m.Close()
	}
	return replicated{Model: m, sup: sup}, closeFn, nil
}
