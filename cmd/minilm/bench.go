package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minilm-dev/minilm/bench"
	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/internal/backendhook"
	"github.com/minilm-dev/minilm/kernels/cpu"
)

const benchAbout = `
Measure throughput and latency for every combination of --batch-sizes and
--concurrency: C client goroutines each submit batches of B pairs (cycling
through the pairs) and wait for their scores; per batch minilm measures the
latency from submission to result, the tokenization time, the queue wait, the
inference time and the padding waste, and every --interval it samples the
memory (RSS) and CPU time of this process and its worker processes.

Each configuration first runs --warmup (excluded), then runs until
--duration has passed or, with --pairs-per-config, until exactly that many
pairs have been scored.

Writes to -o DIR: report.md (the Python baseline's sections and columns:
Results Summary, Detailed Metrics with latency bands, Overall Summary,
Dashboard Metrics Summary, Dashboard Time-Series Data), results.json (every
batch and sample, settings, machine) and SVG charts; prints the summary table
on stdout.

Example:
  minilm bench --batch-sizes 64 --concurrency 1,2 --replicas 2 --duration 10s`

type benchFlags struct {
	modelFlags
	pairs          string
	batchSizes     string
	concurrency    string
	replicas       int
	duration       time.Duration
	pairsPerConfig int
	warmup         string
	interval       time.Duration
	out            string
	quiet          bool
}

func benchCommand() command {
	return command{
		name:    "bench",
		summary: "measure throughput and latency; write a report, raw results and charts",
		run:     runBench,
	}
}

func newBenchFlags() (*flagSpec, *benchFlags) {
	f := &benchFlags{}
	spec := newFlagSpec("bench", "minilm bench [flags]", benchAbout)
	fs := spec.fs
	f.modelFlags.register(fs)
	fs.StringVar(&f.pairs, "pairs", "", "benchmark pairs from `FILE` (jsonl, tsv or csv with query and passage)\n(default: the bundled 512 pairs of real English text, 87 tokens on average)")
	fs.StringVar(&f.batchSizes, "batch-sizes", "16,32,64", "comma-separated `list` of pairs per batch")
	fs.StringVar(&f.concurrency, "concurrency", "1,2,4", "comma-separated `list` of client goroutines submitting batches at once")
	registerReplicas(fs, &f.replicas)
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measure each configuration this `long` (a batch started in time is finished and counted)")
	fs.IntVar(&f.pairsPerConfig, "pairs-per-config", 0, "instead of --duration, score exactly `n` pairs per configuration")
	fs.StringVar(&f.warmup, "warmup", "2", "excluded warm-up before each configuration: a `duration` (2s) or a number of batches per client")
	fs.DurationVar(&f.interval, "interval", time.Second, "time series sampling `interval`")
	fs.StringVar(&f.out, "output", "", "write the report, results and charts to `DIR` (default bench-results/<UTC time>)")
	fs.StringVar(&f.out, "o", "", "short for --output")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines on stderr")
	return spec, f
}

// check validates the flags; wu is --warmup: a duration, or batches per
// client.
func (f *benchFlags) check() (opts engine.Options, sizes, conc []int, wu bench.Stop, err error) {
	if opts, err = f.modelFlags.options(nil); err != nil {
		return
	}
	if sizes, err = positiveList("--batch-sizes", f.batchSizes); err != nil {
		return
	}
	if conc, err = positiveList("--concurrency", f.concurrency); err != nil {
		return
	}
	switch {
	case f.replicas < 0:
		err = usagef("--replicas %d: must be 0 or more (0 and 1: in this process)", f.replicas)
	case f.pairsPerConfig < 0:
		err = usagef("--pairs-per-config %d: must be 0 (use --duration) or more", f.pairsPerConfig)
	case f.pairsPerConfig == 0 && f.duration <= 0:
		err = usagef("--duration %v: must be positive", f.duration)
	case f.interval <= 0:
		err = usagef("--interval %v: must be positive", f.interval)
	}
	if err != nil {
		return
	}
	if n, aerr := strconv.Atoi(f.warmup); aerr == nil && n >= 0 {
		wu.BatchesPerClient, wu.UntilBatches = n, true
	} else if d, derr := time.ParseDuration(f.warmup); derr == nil && d >= 0 {
		wu.Duration = d
	} else {
		err = usagef("--warmup %q: want a duration (2s) or a number of batches per client", f.warmup)
	}
	return
}

func positiveList(flag, s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, usagef("%s %q: want a comma-separated list of positive integers", flag, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func runBench(ctx context.Context, std stdio, args []string) int {
	spec, f := newBenchFlags()
	rest, status, done := spec.parse(std, args)
	if done {
		return status
	}
	opts, sizes, conc, wu, err := f.check()
	if err == nil && len(rest) > 0 {
		err = usagef("bench takes no arguments, got %q (the pairs file is --pairs FILE)", rest)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	if f.out == "" {
		f.out = filepath.Join("bench-results", time.Now().UTC().Format("20060102-150405"))
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return exitWith(ctx, std, fmt.Errorf("bench: %w", err))
	}

	res := &bench.Results{Tool: "minilm bench", Started: time.Now(), Machine: bench.ThisMachine()}
	r := &bench.Runner{Scorers: 1, Procs: bench.NewProcReader(), Interval: f.interval, Devices: max(1, f.replicas)}
	if f.replicas <= 1 {
		// The backend is wrapped to time each forward pass and count the
		// token positions it computes.
		m, err := engine.Load(backendhook.With(ctx, bench.MeteredBackend(f.backend, cpu.Precision(opts.Precision))), f.model, opts)
		if err != nil {
			return exitWith(ctx, std, modelError(err, f.model))
		}
		defer m.Close()
		info := m.Info()
		res.Settings = bench.SettingsOf(info, info.Backend, info.Threads, f.replicas)
		r.Scorer = bench.InProcess{M: m}
	} else {
		// Workers as `minilm score --replicas` starts them; each batch goes
		// whole to one worker.
		pool, closePool, err := startPool(ctx, f.model, f.replicas, 0, opts, std.err)
		if err != nil {
			return exitWith(ctx, std, err)
		}
		defer closePool()
		w := pool.Metrics().Workers[0]
		res.Settings = bench.SettingsOf(pool.Tokenizer().Info(), w.Backend, w.Threads, f.replicas)
		r.Scorer, r.Scorers = pool, f.replicas
	}
	// The pairs are input: read once the flags have been checked against
	// the model.
	pairs, source, err := loadBenchPairs(std, f.pairs)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	res.Settings.Definitions = bench.Definitions(f.replicas > 1)
	res.Settings.PairsSource, res.Settings.PairsInSet = source, len(pairs)
	measure := bench.Stop{Pairs: f.pairsPerConfig, Duration: f.duration}
	res.Settings.Describe(wu, measure, f.interval)
	var progress io.Writer
	if !f.quiet {
		progress = std.err
	}
	r.Pairs = pairs
	if res.Configs, err = r.Sweep(ctx, sizes, conc, wu, measure, progress); err != nil {
		return exitWith(ctx, std, err)
	}
	if err := res.WriteFiles(f.out); err != nil {
		return exitWith(ctx, std, err)
	}
	if err := res.WriteSummary(std.out); err != nil {
		return exitWith(ctx, std, err)
	}
	if !f.quiet {
		fmt.Fprintf(std.err, "bench: wrote %s (report.md, results.json, charts)\n", f.out)
	}
	return exitWith(ctx, std, nil)
}

// loadBenchPairs reads --pairs (bench.LoadPairs), its mistakes said as
// usage errors.
func loadBenchPairs(std stdio, name string) ([]engine.Pair, string, error) {
	pairs, source, err := bench.LoadPairs(name, std.in)
	if errors.Is(err, bench.ErrNoPairs) {
		err = usagef("--pairs %s: no pairs", name)
	}
	return pairs, source, usageOf(err)
}
