package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minilm-dev/minilm/cmd/minilm/internal/benchreport"
	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
	"github.com/minilm-dev/minilm/kernels/metal"
	"github.com/minilm-dev/minilm/replica"
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
latency and throughput statistics, latency bands, dashboard summary, time
series), results.json (every batch and sample, settings, machine) and SVG
charts; prints the summary table on stdout.

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

// warmupRule is --warmup: a duration, or batches per client.
type warmupRule struct {
	d       time.Duration
	batches int
}

func (f *benchFlags) check() (opts engine.Options, sizes, conc []int, wu warmupRule, err error) {
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
		wu.batches = n
	} else if d, derr := time.ParseDuration(f.warmup); derr == nil && d >= 0 {
		wu.d = d
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
	var pairs []engine.Pair
	var source string
	if err == nil {
		pairs, source, err = loadBenchPairs(std, f.pairs)
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

	res := &benchreport.Results{Tool: "minilm bench", Started: time.Now(), Machine: benchreport.ThisMachine()}
	var tgt benchTarget
	if f.replicas <= 1 {
		// The backend is wrapped to time each forward pass and count the
		// token positions it computes.
		opts.NewBackend = meteredBackendFor(f.backend, cpu.Precision(opts.Precision))
		m, err := engine.Load(ctx, f.model, opts)
		if err != nil {
			return exitWith(ctx, std, err)
		}
		defer m.Close()
		info := m.Info()
		res.Settings = benchSettings(f, info, info.Backend, info.Threads)
		res.Settings.Definitions = definitions(inProcessDefs)
		tgt = &inProcess{m: m}
	} else {
		t, err := startReplicas(ctx, f, opts, std.err)
		if err != nil {
			return exitWith(ctx, std, err)
		}
		defer t.close(ctx)
		w := t.sup.Metrics().Workers[0]
		res.Settings = benchSettings(f, t.pool.Tokenizer().Info(), w.Backend, w.Threads)
		res.Settings.Definitions = definitions(replicaDefs)
		tgt = t
	}
	res.Settings.PairsSource, res.Settings.PairsInSet = source, len(pairs)
	res.Settings.Warmup = f.warmup
	if wu.d == 0 {
		res.Settings.Warmup = fmt.Sprintf("%d batches per client", wu.batches)
	}
	if f.pairsPerConfig == 0 {
		res.Settings.DurationS = f.duration.Seconds()
	}
	res.Settings.PairsPerConfig = f.pairsPerConfig
	res.Settings.IntervalMS = float64(f.interval) / float64(time.Millisecond)
	devices := max(1, f.replicas)

	procs := benchreport.NewProcReader()
	var cursor atomic.Int64 // next pair, cycling through the set
	for _, b := range sizes {
		for _, c := range conc {
			if !f.quiet {
				fmt.Fprintf(std.err, "bench: batch %d, concurrency %d ...", b, c)
			}
			r := runner{tgt: tgt, pairs: pairs, cursor: &cursor, batch: b, clients: c}
			cfg := benchreport.Config{BatchSize: b, Concurrency: c, Devices: devices}
			warm, err := r.run(ctx, stopRule{batchesPerClient: wu.batches, d: wu.d, untilBatches: wu.d == 0}, nil)
			if err == nil {
				cfg.WarmupBatches = len(warm)
				cfg.Batches, cfg.Procs, err = r.measure(ctx, stopRule{pairs: f.pairsPerConfig, d: f.duration}, procs, f.interval)
			}
			if err != nil {
				if !f.quiet {
					fmt.Fprintln(std.err)
				}
				return exitWith(ctx, std, err)
			}
			cfg.Analyze()
			res.Configs = append(res.Configs, cfg)
			if !f.quiet {
				s := cfg.Summary
				fmt.Fprintf(std.err, " %d pairs in %.2f s, %.1f pairs/s, latency avg %.1f ms\n", s.Pairs, s.Seconds, s.Throughput, s.LatencyMS.Mean)
			}
		}
	}
	if err := writeBenchOutputs(f.out, res); err != nil {
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

func benchSettings(f *benchFlags, info engine.Info, backend string, threads int) benchreport.Settings {
	dir, err := filepath.Abs(info.Dir)
	if err != nil {
		dir = info.Dir
	}
	return benchreport.Settings{Model: dir, Backend: backend, Threads: threads, Replicas: f.replicas, MaxLength: info.MaxLength}
}

// loadBenchPairs reads --pairs with the score command's readers, or the
// bundled set. Every record must be valid: a benchmark on a silently
// shortened set would mislead.
func loadBenchPairs(std stdio, name string) ([]engine.Pair, string, error) {
	var inputs []input
	source := name
	if name == "" {
		r, err := benchreport.BundledPairs()
		if err != nil {
			return nil, "", err
		}
		source = "bundled set (testdata/bench_pairs.jsonl)"
		inputs = []input{{name: "bundled pairs", format: formatJSONL, r: r}}
	} else {
		var err error
		if inputs, _, err = openInputs(std, []string{name}, ""); err != nil {
			return nil, "", err
		}
		defer closeInputs(inputs)
	}
	src := newMultiSource(inputs)
	var pairs []engine.Pair
	for {
		rec, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", err
		}
		if rec.err != nil {
			return nil, "", rec.err
		}
		pairs = append(pairs, rec.pairs...)
	}
	if len(pairs) == 0 {
		return nil, "", usagef("--pairs %s: no pairs", name)
	}
	return pairs, source, nil
}

func writeBenchOutputs(dir string, res *benchreport.Results) error {
	data, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		return fmt.Errorf("bench: results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var md strings.Builder
	res.WriteMarkdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, err = res.WriteCharts(dir)
	return err
}

// stages is what a target measured of one batch.
type stages struct {
	queueWait, inference time.Duration
	inferEnd             time.Time
	tokensComputed       int
	worker               int
}

// benchTarget scores batches and says how long each stage took.
type benchTarget interface {
	Tokenize(p engine.Pair) (engine.Sequence, error)
	score(ctx context.Context, seqs []engine.Sequence, tokenize time.Duration) (stages, error)
}

// inProcess scores on a model in this process.
type inProcess struct{ m *engine.Model }

func (t *inProcess) Tokenize(p engine.Pair) (engine.Sequence, error) { return t.m.Tokenize(p) }

func (t *inProcess) score(ctx context.Context, seqs []engine.Sequence, _ time.Duration) (stages, error) {
	bm := &batchMeter{}
	start := time.Now()
	if _, err := t.m.ScoreSequences(context.WithValue(ctx, meterKey{}, bm), seqs); err != nil {
		return stages{}, err
	}
	if bm.passes == 0 {
		return stages{}, fmt.Errorf("bench: the engine ran no forward pass through the metered backend for a batch of %d", len(seqs))
	}
	return stages{queueWait: bm.first.Sub(start), inference: bm.busy, inferEnd: bm.last,
		tokensComputed: bm.tokens, worker: -1}, nil
}

// onReplicas tokenizes here and scores on the supervisor's workers.
type onReplicas struct {
	pool *replica.Pool
	sup  *replica.Supervisor

	mu   sync.Mutex
	keys map[time.Duration]bool
}

// startReplicas starts --replicas workers as `minilm score --replicas` does
// (a replica.Pool). The bench drives the pool's Supervisor itself: it submits
// each batch with ScoreTimed and finds the batch's BatchStats by its
// tokenization time.
func startReplicas(ctx context.Context, f *benchFlags, opts engine.Options, stderr io.Writer) (*onReplicas, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find the minilm executable for the workers: %w", err)
	}
	pool, err := replica.NewPool(ctx, f.model, opts, replica.PoolConfig{
		Config: replica.Config{Path: exe, Workers: f.replicas, Stderr: stderr},
	})
	if err != nil {
		return nil, err
	}
	return &onReplicas{pool: pool, sup: pool.Supervisor(), keys: map[time.Duration]bool{}}, nil
}

func (t *onReplicas) close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace)
	defer cancel()
	t.pool.Close(cctx)
}

func (t *onReplicas) Tokenize(p engine.Pair) (engine.Sequence, error) { return t.pool.Tokenize(p) }

// score submits the batch with its tokenization time as the key that finds
// its BatchStats in the supervisor's metrics: each key is made unique by
// adding nanoseconds, which changes no reported figure.
func (t *onReplicas) score(ctx context.Context, seqs []engine.Sequence, tokenize time.Duration) (stages, error) {
	t.mu.Lock()
	for t.keys[tokenize] {
		tokenize++
	}
	t.keys[tokenize] = true
	t.mu.Unlock()
	start := time.Now()
	if _, err := t.sup.ScoreTimed(ctx, seqs, tokenize); err != nil {
		return stages{}, err
	}
	end := time.Now()
	// The supervisor records a batch before it replies, and keeps the last
	// RecentBatches: this one is among the newest.
	recent := t.sup.Metrics().Recent
	for i := len(recent) - 1; i >= 0; i-- {
		b := recent[i]
		if b.Tokenize != tokenize {
			continue
		}
		// Everything from the call to the (last) dispatch is queueing:
		// admission, the supervisor's queue, a retry after a dead worker.
		return stages{queueWait: end.Sub(start) - b.RoundTrip, inference: b.Inference, inferEnd: end,
			tokensComputed: b.Tokens, worker: b.Worker.Slot}, nil
	}
	return stages{}, errors.New("bench: the supervisor's metrics lack a batch just answered")
}

// meterKey carries a *batchMeter in the context of one batch's
// ScoreSequences call down to the backend's Run.
type meterKey struct{}

// batchMeter adds up the forward passes of one batch. Only the goroutine
// scoring the batch touches it: the engine runs the passes on the caller's
// goroutine.
type batchMeter struct {
	first, last time.Time
	busy        time.Duration
	tokens      int
	passes      int
}

// meteredBackend times Run and counts the token positions of each pass from
// its Embed op (one row per token position computed, padding included). A
// backend that reports its own device time per run (Metal: the command
// buffer's GPU timestamps) is timed by that instead of the wall clock.
type meteredBackend struct{ kernels.Backend }

// deviceTimer is met by backends that time their runs on the device.
type deviceTimer interface{ LastRunTime() time.Duration }

func (b meteredBackend) Run(ctx context.Context, ops ...kernels.Op) error {
	start := time.Now()
	err := b.Backend.Run(ctx, ops...)
	end := time.Now()
	if bm, ok := ctx.Value(meterKey{}).(*batchMeter); ok {
		busy := end.Sub(start)
		if dt, ok := b.Backend.(deviceTimer); ok {
			busy = dt.LastRunTime()
		}
		if bm.passes == 0 {
			bm.first = start
		}
		bm.passes++
		bm.last = end
		bm.busy += busy
		for _, op := range ops {
			if e, ok := op.(kernels.Embed); ok {
				bm.tokens += len(e.IDs)
			}
		}
	}
	return err
}

// meteredHost keeps a backend's zero-copy wrapping of host memory.
type meteredHost struct {
	meteredBackend
	kernels.HostWrapper
}

// meteredBackendFor builds the backend engine.Load would build for name
// (auto: Metal where it is available, else the CPU), wrapped.
func meteredBackendFor(name string, prec cpu.Precision) func(threads int) (kernels.Backend, error) {
	return func(threads int) (kernels.Backend, error) {
		var be kernels.Backend
		if (name == "auto" && (prec == "" || prec == cpu.F32)) || name == "metal" {
			gpu, err := metal.New()
			switch {
			case err == nil:
				be = gpu
			case name == "metal":
				return nil, fmt.Errorf("bench: metal backend: %w", err)
			}
		}
		if be == nil {
			c, err := cpu.NewPrecision(threads, prec)
			if err != nil {
				return nil, fmt.Errorf("bench: cpu backend: %w", err)
			}
			be = c
		}
		if hw, ok := be.(kernels.HostWrapper); ok {
			return meteredHost{meteredBackend{be}, hw}, nil
		}
		return meteredBackend{be}, nil
	}
}

// stopRule ends a phase: after pairs pairs in all, after batchesPerClient
// batches per client (untilBatches), or once d has passed.
type stopRule struct {
	pairs            int
	batchesPerClient int
	untilBatches     bool
	d                time.Duration
}

// runner runs one configuration's clients.
type runner struct {
	tgt     benchTarget
	pairs   []engine.Pair
	cursor  *atomic.Int64
	batch   int
	clients int
}

// measure runs a phase while sampling the processes every interval, at its
// start and at its end. Times are relative to the phase's start.
func (r *runner) measure(ctx context.Context, rule stopRule, procs *benchreport.ProcReader, interval time.Duration) ([]benchreport.Batch, []benchreport.ProcPoint, error) {
	t0 := time.Now()
	ms := func(t time.Time) float64 { return float64(t.Sub(t0)) / float64(time.Millisecond) }
	points := []benchreport.ProcPoint{procs.Read(0)}
	stop := make(chan struct{})
	sampled := make(chan []benchreport.ProcPoint)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var pts []benchreport.ProcPoint
		for {
			select {
			case now := <-tick.C:
				pts = append(pts, procs.Read(ms(now)))
			case <-stop:
				sampled <- pts
				return
			}
		}
	}()
	batches, err := r.run(ctx, rule, &t0)
	close(stop)
	points = append(points, <-sampled...)
	points = append(points, procs.Read(ms(time.Now())))
	return batches, points, err
}

// run runs the clients until rule says stop and returns the batches they
// completed, timed from t0 (nil: the phase's start).
func (r *runner) run(ctx context.Context, rule stopRule, t0 *time.Time) ([]benchreport.Batch, error) {
	start := time.Now()
	if t0 != nil {
		start = *t0
	}
	ms := func(t time.Time) float64 { return float64(t.Sub(start)) / float64(time.Millisecond) }
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var remaining atomic.Int64 // pairs left to submit, for rule.pairs
	remaining.Store(int64(rule.pairs))
	// claim returns the size of the client's next batch, 0 to stop.
	claim := func(done int) int {
		switch {
		case ctx.Err() != nil:
			return 0
		case rule.untilBatches:
			if done < rule.batchesPerClient {
				return r.batch
			}
			return 0
		case rule.pairs > 0:
			left := remaining.Add(-int64(r.batch))
			return int(min(int64(r.batch), max(0, left+int64(r.batch))))
		case time.Since(start) < rule.d:
			return r.batch
		}
		return 0
	}
	out := make([][]benchreport.Batch, r.clients)
	var wg sync.WaitGroup
	for c := range r.clients {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				n := claim(seq)
				if n == 0 {
					return
				}
				b, err := r.one(ctx, n, ms)
				if err != nil {
					cancel(err)
					return
				}
				b.Client, b.Seq = c, seq
				out[c] = append(out[c], b)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	var all []benchreport.Batch
	for _, bs := range out {
		all = append(all, bs...)
	}
	return all, nil
}

// one submits one batch of n pairs and measures it.
func (r *runner) one(ctx context.Context, n int, ms func(time.Time) float64) (benchreport.Batch, error) {
	first := r.cursor.Add(int64(n)) - int64(n)
	start := time.Now()
	seqs := make([]engine.Sequence, n)
	tokens := 0
	for i := range seqs {
		p := r.pairs[int((first+int64(i))%int64(len(r.pairs)))]
		s, err := r.tgt.Tokenize(p)
		if err != nil {
			return benchreport.Batch{}, fmt.Errorf("bench: tokenize: %w", err)
		}
		seqs[i] = s
		tokens += len(s.IDs)
	}
	tokenize := time.Since(start)
	st, err := r.tgt.score(ctx, seqs, tokenize)
	end := time.Now()
	if err != nil {
		return benchreport.Batch{}, fmt.Errorf("bench: score a batch of %d: %w", n, err)
	}
	lat := end.Sub(start)
	return benchreport.Batch{
		Pairs: n, Tokens: tokens, TokensComputed: st.tokensComputed,
		StartMS: ms(start), EndMS: ms(end), LatencyMS: durMS(lat),
		TokenizeMS: durMS(tokenize), QueueWaitMS: durMS(st.queueWait), InferenceMS: durMS(st.inference),
		InferEndMS: ms(st.inferEnd), Worker: st.worker, Throughput: float64(n) / lat.Seconds(),
	}, nil
}

func durMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// common definitions, completed by the in-process or replica ones.
func definitions(specific map[string]string) map[string]string {
	d := map[string]string{
		"latency":            "per batch, from submission (before tokenization) to the scores being back with the client goroutine.",
		"throughput":         "overall: pairs / total time, the total time running from the first submission to the last result after warm-up; per batch: pairs / latency.",
		"tokenization":       "per batch, the client goroutine tokenizing its pairs in this process.",
		"padding waste":      "1 − real tokens / token positions computed, over the batches. Packed batches compute exactly the real tokens, so 0 is expected.",
		"memory":             "RSS (VmRSS) of this process plus every child process (the replica workers), from /proc; n/a where /proc is missing (e.g. macOS). No GPU allocation is reported.",
		"CPU":                "user+system CPU time of this process and its children (/proc/<pid>/stat) per wall time; 100% = one core busy.",
		"std":                "sample standard deviation (n−1).",
		"percentiles":        "linear interpolation between the nearest ranks (numpy's default).",
		"latency bands":      "batches split at the latency P50, P75 and P90 (lower bounds inclusive); throughput stats per band.",
		"correlation":        "Pearson's r between per-batch latency and per-batch throughput.",
		"time series":        "one row per sampling interval: memory at its end, CPU over it, throughput and stage times of the batches that ended in it, device utilization from the inference spans overlapping it.",
		"device utilization": "model busy time / (wall time × model instances).",
	}
	for k, v := range specific {
		d[k] = v
	}
	return d
}

var inProcessDefs = map[string]string{
	"queue wait":         "from the ScoreSequences call to the start of the batch's first forward pass (waiting for other clients' passes on the one model).",
	"inference":          "sum over the batch's forward passes of the backend's device time when it reports one (Metal: the command buffer's GPU timestamps), else of the wall time of its Run (CPU). The backend is wrapped to measure this.",
	"padding waste":      "1 − real tokens / token positions the forward passes computed, counted from each pass's embedding op; 0 when batches are packed.",
	"device utilization": "sum of the forward passes' time / wall time, one model in this process (CPU backend: the share of time the model's threads were computing).",
}

var replicaDefs = map[string]string{
	"queue wait":         "from the ScoreTimed call to the batch's (last) dispatch to a worker: the call's duration minus the supervisor's dispatch-to-answer round trip (admission, queue, retries).",
	"inference":          "the worker's own ScoreSequences time, as it reports it with each answer.",
	"padding waste":      "1 − real tokens / tokens in the frame each worker ran (the supervisor's count of the tokens shipped; the worker's engine packs them without padding).",
	"device utilization": "sum of the workers' reported inference time / (wall time × replicas); the time series places each batch's inference just before its answer arrived.",
}
