package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/minilm-dev/minilm/replica"
	"github.com/minilm-dev/minilm/server"
)

const serveAbout = `
Serve the reranker over HTTP, batching the pairs of all concurrent requests
into shared forward passes. Dialects: TEI (POST /rerank, /predict), Cohere,
Jina, vLLM and llama.cpp clients (POST /v1/rerank, /v2/rerank), vLLM
(POST /score). Operations: /health, /ready, /info, /metrics, and a live
dashboard at /. SIGTERM or SIGINT drains: /ready and new requests turn 503,
requests in flight finish (--shutdown-timeout), workers stop, exit 0.

Every flag can also be set from the environment as MINILM_<FLAG> (MINILM_ADDR,
MINILM_MAX_BATCH_TOKENS, ...); TEI's MODEL_ID, PORT (listen on 0.0.0.0:PORT),
MAX_BATCH_TOKENS, MAX_CLIENT_BATCH_SIZE, MAX_CONCURRENT_REQUESTS, API_KEY,
PAYLOAD_LIMIT and AUTO_TRUNCATE work too; HF_TOKEN is used for downloads.
Flags on the command line win.

Example:
  minilm serve --addr 127.0.0.1:8080 --replicas 2
  curl -s localhost:8080/rerank -H 'Content-Type: application/json' \
    -d '{"query": "what is go?", "texts": ["Go is a language.", "A board game."]}'`

func serveCommand() command {
	return command{name: "serve", summary: "serve the reranker over HTTP (TEI, Cohere, Jina, vLLM APIs)", run: runServe}
}

func runServe(ctx context.Context, std stdio, args []string) int {
	var (
		f        modelFlags
		cfg      server.Config
		addr     string
		replicas int
		payload  = server.ByteSize(server.DefaultPayloadLimit)
		logFmt   string
	)
	spec := newFlagSpec("serve", "minilm serve [flags]", serveAbout)
	fs := spec.fs
	f.register(fs)
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen on `host:port` (port 0: any free port, logged)")
	fs.IntVar(&replicas, "replicas", 0, "run inference in `n` worker processes that split --threads (0: in this process)")
	fs.IntVar(&cfg.MaxBatchTokens, "max-batch-tokens", server.DefaultMaxBatchTokens, "most real `tokens` in one forward pass")
	fs.IntVar(&cfg.MaxBatchRequests, "max-batch-requests", server.DefaultMaxBatchRequests, "most `sequences` (pairs) in one forward pass")
	fs.IntVar(&cfg.MaxClientBatchSize, "max-client-batch-size", server.DefaultMaxClientBatchSize, "most `pairs` in one request (413 past it)")
	fs.IntVar(&cfg.MaxConcurrentRequests, "max-concurrent-requests", server.DefaultMaxConcurrentRequests, "most scoring `requests` in progress (429 past it)")
	fs.IntVar(&cfg.MaxQueuedPairs, "max-queued-pairs", 0, "most `pairs` waiting across requests (429 past it; 0: 32 × --max-batch-requests)")
	fs.BoolVar(&cfg.AutoTruncate, "auto-truncate", true, "cut inputs over --max-length unless a request says \"truncate\": false (then 413)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "require `key` as Authorization: Bearer on the scoring routes and /info")
	fs.Var(&payload, "payload-limit", "largest request body, in `bytes` (2MB, 512KiB, ...)")
	fs.StringVar(&logFmt, "log-format", "text", "log `format`: text or json (log/slog, on stderr)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "how `long` requests in flight may take to finish after SIGTERM")
	if _, err := server.ApplyEnv(fs, os.Getenv); err != nil {
		return exitWith(ctx, std, usagef("%v", err))
	}
	rest, status, done := spec.parse(std, args)
	if done {
		return status
	}
	opts, err := f.options(nil)
	switch {
	case err != nil:
	case len(rest) > 0:
		err = usagef("serve takes no arguments, got %q", rest)
	case f.activation != "auto":
		err = usagef("--activation: each request chooses its scores (TEI's raw_scores); serve takes none")
	case replicas < 0:
		err = usagef("--replicas %d: must be 0 (in this process) or more", replicas)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	log, err := server.NewLogger(std.err, logFmt)
	if err != nil {
		return exitWith(ctx, std, usagef("--log-format: %v", err))
	}
	info, _ := debug.ReadBuildInfo()
	cfg.ModelID, cfg.PayloadLimit, cfg.Logger, cfg.Version = f.model, int64(payload), log, versionString(info, info != nil)
	cfg.Truncation = opts.Truncation
	// Only workers need the executable's path; finding it reads /proc, which
	// a bare root (chroot, scratch image without /proc) lacks.
	var exe string
	if replicas > 0 {
		if exe, err = os.Executable(); err != nil {
			return exitWith(ctx, std, fmt.Errorf("find the minilm executable for the workers: %w", err))
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return exitWith(ctx, std, fmt.Errorf("serve: %w", err))
	}
	load := func(ctx context.Context) (*server.Backend, error) {
		return server.Load(ctx, f.model, server.LoadOptions{Engine: opts, Replicas: replicas, BatchSize: cfg.MaxBatchRequests,
			Pool: replica.Config{Path: exe, Stderr: std.err, StopGrace: min(5*time.Second, cfg.ShutdownTimeout)}})
	}
	if err := server.New(cfg).Run(ctx, ln, load); err != nil {
		if ferr := modelError(err, f.model); ferr != err {
			// A flag the model cannot take: said as the other commands say it.
			return exitWith(ctx, std, ferr)
		}
		log.Error("serve failed", "error", err)
		return exitFailure
	}
	return exitOK
}
