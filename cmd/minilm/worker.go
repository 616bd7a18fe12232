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
	spec := newFlagSpec("worker", "minilm worker [flags]", workerAbout)
	m, status := loadModel(ctx, std, spec, args, func(opts *engine.Options) {
		// The supervisor resolved (and if need be downloaded) the model
		// before starting its workers; a worker only reads it.
		opts.Offline = true
	})
	if m == nil {
		return status
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
