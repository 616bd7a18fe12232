package main

import (
	"context"
	"fmt"
	"os"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/replica"
)

const workerAbout = `
Internal: serve one model to a replica supervisor (minilm score --replicas N
starts its workers this way). The worker loads the model, sends a hello on
stdout, then answers length-prefixed binary frames read from stdin (token ids
in, logits out) until stdin closes. Nothing else is written to stdout; errors
go to stderr, whose last lines the supervisor quotes when a worker fails.`

func workerCommand() command {
	return command{
		name:    "worker",
		summary: "internal: serve a model to a replica supervisor over stdin/stdout",
		hidden:  true,
		run:     runWorker,
	}
}

func runWorker(ctx context.Context, std stdio, args []string) int {
	var f modelFlags
	spec := newFlagSpec("worker", "minilm worker [flags]", workerAbout)
	f.register(spec.fs)
	rest, status, done := spec.parse(std, args)
	if done {
		return status
	}
	opts, err := f.options(nil)
	if err == nil && len(rest) > 0 {
		err = usagef("worker takes no arguments, got %q", rest)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	// The supervisor resolved (and if need be downloaded) the model before
	// starting its workers; a worker only reads it.
	opts.Offline = true
	m, err := engine.Load(ctx, f.model, opts)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	defer m.Close()
	info := m.Info()
	id, err := replica.IdentifyModel(info.Dir)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	hello := replica.Hello{Model: id, Backend: info.Backend, PID: os.Getpid(), Threads: info.Threads}
	if err := replica.ServeWorker(ctx, std.in, std.out, hello, m); err != nil {
		return exitWith(ctx, std, fmt.Errorf("worker: %w", err))
	}
	return exitWith(ctx, std, nil)
}
