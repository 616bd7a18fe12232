package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minilm-dev/minilm/bench"
	"github.com/minilm-dev/minilm/server/loadtest"
)

const loadtestAbout = `
Load-test a running minilm serve (or another server with the same rerank
API): --clients concurrent clients each send rerank requests of --docs
documents (a bench pair's query with the next pairs' passages) and wait for
the answer, for --duration or --requests in all. Writes report.md and
results.json as minilm bench does (each request is one "batch": latency
percentiles, pairs/s, the server's stage headers), plus requests/s and the
answers by HTTP status.

Example:
  minilm serve --addr 127.0.0.1:8080 &
  minilm loadtest --server http://127.0.0.1:8080 --clients 64 --docs 20 --duration 30s`

func loadtestCommand() command {
	return command{name: "loadtest", summary: "load-test a running server; write the bench report", run: runLoadtest}
}

func runLoadtest(ctx context.Context, std stdio, args []string) int {
	var o loadtest.Options
	var pairsFile, out string
	spec := newFlagSpec("loadtest", "minilm loadtest --server URL [flags]", loadtestAbout)
	fs := spec.fs
	fs.StringVar(&o.URL, "server", "", "base `URL` of the server (required)")
	fs.StringVar(&o.Route, "route", "/v1/rerank", "rerank `route`: /v1/rerank, /v2/rerank or /rerank (TEI)")
	fs.StringVar(&o.APIKey, "api-key", "", "send `key` as Authorization: Bearer")
	fs.IntVar(&o.Clients, "clients", 64, "concurrent `clients`")
	fs.IntVar(&o.Docs, "docs", 20, "documents per request (`k`)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measure this `long`")
	fs.IntVar(&o.Requests, "requests", 0, "instead of --duration, send exactly `n` requests")
	fs.IntVar(&o.Warmup, "warmup", 1, "unmeasured warm-up requests per client (`n`)")
	fs.StringVar(&pairsFile, "pairs", "", "pairs from `FILE` (default: the bundled 512 bench pairs)")
	fs.StringVar(&out, "output", "", "write the report to `DIR` (default loadtest-results/<UTC time>)")
	fs.StringVar(&out, "o", "", "short for --output")
	rest, status, done := spec.parse(std, args)
	if done {
		return status
	}
	if len(rest) > 0 || o.URL == "" {
		return exitWith(ctx, std, usagef("loadtest takes --server URL and no arguments"))
	}
	switch {
	case o.Clients < 1:
		return exitWith(ctx, std, usagef("--clients %d: must be 1 or more", o.Clients))
	case o.Docs < 1:
		return exitWith(ctx, std, usagef("--docs %d: must be 1 or more", o.Docs))
	case o.Requests < 0:
		return exitWith(ctx, std, usagef("--requests %d: must be 0 (use --duration) or more", o.Requests))
	case o.Requests == 0 && o.Duration <= 0:
		return exitWith(ctx, std, usagef("--duration %v: must be positive (or give --requests)", o.Duration))
	case o.Warmup < 0:
		return exitWith(ctx, std, usagef("--warmup %d: must be 0 or more", o.Warmup))
	}
	if o.Requests > 0 {
		o.Duration = 0
	}
	pairs, source, err := loadBenchPairs(std, pairsFile)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	o.Pairs = pairs
	if out == "" {
		out = filepath.Join("loadtest-results", time.Now().UTC().Format("20060102-150405"))
	}
	res := &bench.Results{Tool: "minilm loadtest", Started: time.Now(), Machine: bench.ThisMachine(), Settings: bench.Settings{
		Model: o.URL, PairsSource: source, PairsInSet: len(pairs), Warmup: fmt.Sprintf("%d requests per client", o.Warmup),
		DurationS: o.Duration.Seconds(), PairsPerConfig: o.Requests * o.Docs, Definitions: loadtest.Definitions()}}
	if info, err := loadtest.Info(ctx, o); err == nil {
		st := &res.Settings
		st.Model = fmt.Sprintf("%s (%s)", info.ModelID, o.URL)
		st.Backend, st.Threads, st.Replicas, st.MaxLength = info.Backend, info.Threads, info.Replicas, info.MaxInputLength
	}
	cfg, err := loadtest.Run(ctx, o)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	res.Configs = []bench.Config{cfg}
	if err := os.MkdirAll(out, 0o755); err == nil {
		err = res.WriteFiles(out)
	}
	if err != nil {
		return exitWith(ctx, std, fmt.Errorf("loadtest: %w", err))
	}
	res.WriteSummary(std.out)
	l := cfg.Summary.LatencyMS
	fmt.Fprintf(std.out, "requests/s %.1f, pairs/s %.1f, latency p50 %.1f p90 %.1f p99 %.1f ms, answers by status %v\n",
		cfg.HTTP.RequestsPerS, cfg.Summary.Throughput, l.P50, l.P90, l.P99, cfg.HTTP.ByStatus)
	fmt.Fprintf(std.err, "loadtest: wrote %s (report.md, results.json, charts)\n", out)
	return exitOK
}
