package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// Stop ends a phase: after Pairs pairs in all, after BatchesPerClient
// batches per client (UntilBatches), or once Duration has passed.
type Stop struct {
	Pairs            int
	BatchesPerClient int
	UntilBatches     bool
	Duration         time.Duration
}

// Runner measures configurations on one scorer: for each, C client
// goroutines submit batches of B pairs (cycling through Pairs) to a
// batch.Batcher sized to B and wait for their scores. A batch.TimedScorer
// (InProcess, replica.Pool) reports each batch's queue wait, inference
// time, worker and computed tokens.
type Runner struct {
	Scorer batch.Scorer
	// Scorers is how many batches run at once (batch.Config.Scorers): 1 in
	// process, the replicas for a replica.Pool.
	Scorers int
	Pairs   []engine.Pair
	// Procs is sampled every Interval while a configuration is measured.
	Procs    *ProcReader
	Interval time.Duration
	// Devices is how many model instances run in parallel (Config.Devices).
	Devices int

	cursor atomic.Int64 // next pair, cycling through Pairs across configurations
}

// Run runs one configuration: the warm-up (excluded), then the measured
// phase. It returns the configuration analyzed.
func (r *Runner) Run(ctx context.Context, batchSize, concurrency int, warmup, measure Stop) (Config, error) {
	// One job is one batch: the Batcher takes B sequences whatever their
	// tokens (the engine splits its forward passes itself), each client's
	// batch is tokenized as one chunk, and C clients keep C jobs queued.
	b := batch.New(r.Scorer, batch.Config{MaxSequences: batchSize, MaxTokens: math.MaxInt, Scorers: max(1, r.Scorers),
		Tokenizers: concurrency, MaxQueued: batchSize * concurrency})
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		b.Close(cctx)
	}()
	cfg := Config{BatchSize: batchSize, Concurrency: concurrency, Devices: max(1, r.Devices)}
	p := phase{r: r, b: b, batch: batchSize, clients: concurrency}
	warm, err := p.run(ctx, warmup, time.Now())
	if err != nil {
		return cfg, err
	}
	cfg.WarmupBatches = len(warm)
	if cfg.Batches, cfg.Procs, err = p.measure(ctx, measure); err != nil {
		return cfg, err
	}
	cfg.Analyze()
	return cfg, nil
}

// phase is one configuration's clients.
type phase struct {
	r       *Runner
	b       *batch.Batcher
	batch   int
	clients int
}

// measure runs a phase while sampling the processes every interval, at its
// start and at its end. Times are relative to the phase's start.
func (p *phase) measure(ctx context.Context, rule Stop) ([]Batch, []ProcPoint, error) {
	t0 := time.Now()
	ms := func(t time.Time) float64 { return float64(t.Sub(t0)) / float64(time.Millisecond) }
	procs := p.r.Procs
	if procs == nil {
		procs = NewProcReader()
	}
	points := []ProcPoint{procs.Read(0)}
	stop := make(chan struct{})
	sampled := make(chan []ProcPoint)
	go func() {
		tick := time.NewTicker(p.r.Interval)
		defer tick.Stop()
		var pts []ProcPoint
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
	batches, err := p.run(ctx, rule, t0)
	close(stop)
	points = append(points, <-sampled...)
	points = append(points, procs.Read(ms(time.Now())))
	return batches, points, err
}

// run runs the clients until rule says stop and returns the batches they
// completed, timed from start.
func (p *phase) run(ctx context.Context, rule Stop, start time.Time) ([]Batch, error) {
	ms := func(t time.Time) float64 { return float64(t.Sub(start)) / float64(time.Millisecond) }
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var remaining atomic.Int64 // pairs left to submit, for rule.Pairs
	remaining.Store(int64(rule.Pairs))
	// claim returns the size of the client's next batch, 0 to stop.
	claim := func(done int) int {
		switch {
		case ctx.Err() != nil:
			return 0
		case rule.UntilBatches:
			if done < rule.BatchesPerClient {
				return p.batch
			}
			return 0
		case rule.Pairs > 0:
			left := remaining.Add(-int64(p.batch))
			return int(min(int64(p.batch), max(0, left+int64(p.batch))))
		case time.Since(start) < rule.Duration:
			return p.batch
		}
		return 0
	}
	out := make([][]Batch, p.clients)
	var wg sync.WaitGroup
	for c := range p.clients {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				n := claim(seq)
				if n == 0 {
					return
				}
				b, err := p.one(ctx, n, ms)
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
	var all []Batch
	for _, bs := range out {
		all = append(all, bs...)
	}
	return all, nil
}

// one submits one batch of n pairs and measures it.
func (p *phase) one(ctx context.Context, n int, ms func(time.Time) float64) (Batch, error) {
	pairs := p.r.Pairs
	first := p.r.cursor.Add(int64(n)) - int64(n)
	ps := make([]engine.Pair, n)
	for i := range ps {
		ps[i] = pairs[int((first+int64(i))%int64(len(pairs)))]
	}
	start := time.Now()
	res, err := p.b.Score(ctx, ps)
	end := time.Now()
	if err != nil {
		return Batch{}, fmt.Errorf("bench: score a batch of %d: %w", n, err)
	}
	for _, err := range res.Errs {
		if err != nil {
			return Batch{}, fmt.Errorf("bench: tokenize: %w", err)
		}
	}
	lat, t, st := end.Sub(start), res.Timing, res.Stages
	return Batch{
		Pairs: n, Tokens: res.Tokens, TokensComputed: st.TokensComputed,
		StartMS: ms(start), EndMS: ms(end), LatencyMS: durMS(lat),
		TokenizeMS: durMS(t.Tokenize), QueueWaitMS: durMS(t.Queue), InferenceMS: durMS(st.Inference),
		// The batch's last forward pass ended when its job finished.
		InferEndMS: ms(start.Add(t.Tokenize + t.Queue + t.Inference)), Worker: st.Worker,
		Throughput: float64(n) / lat.Seconds(),
	}, nil
}

func durMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Definitions says how a Runner measured each figure, for
// Settings.Definitions: the common ones and those of the in-process model
// (replicas false) or of a replica.Pool.
func Definitions(replicas bool) map[string]string {
	d := map[string]string{
		"latency":            "per batch, from submission to the batcher (before tokenization) to the scores being back with the client goroutine.",
		"throughput":         "overall: pairs / total time, the total time running from the first submission to the last result after warm-up; per batch: pairs / latency.",
		"tokenization":       "per batch, from submission until the batcher's tokenizer goroutines (one per client) had tokenized its pairs in this process.",
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
	specific := inProcessDefs
	if replicas {
		specific = replicaDefs
	}
	for k, v := range specific {
		d[k] = v
	}
	return d
}

var inProcessDefs = map[string]string{
	"queue wait":         "from tokenized to the start of the batch's first forward pass: waiting in the batcher for the model (one batch runs at a time) and for the model's lock.",
	"inference":          "sum over the batch's forward passes of the backend's device time when it reports one (Metal: the command buffer's GPU timestamps), else of the wall time of its Run (CPU). The backend is wrapped to measure this.",
	"padding waste":      "1 − real tokens / token positions the forward passes computed, counted from each pass's embedding op; 0 when batches are packed.",
	"device utilization": "sum of the forward passes' time / wall time, one model in this process (CPU backend: the share of time the model's threads were computing).",
}

var replicaDefs = map[string]string{
	"queue wait":         "from tokenized to the batch's (last) dispatch to a worker: waiting in the batcher for a free worker, then the pool call's duration minus the supervisor's dispatch-to-answer round trip (admission, queue, retries).",
	"inference":          "the worker's own ScoreSequences time, as it reports it with each answer.",
	"padding waste":      "1 − real tokens / tokens in the frame each worker ran (the supervisor's count of the tokens shipped; the worker's engine packs them without padding).",
	"device utilization": "sum of the workers' reported inference time / (wall time × replicas); the time series places each batch's inference just before its answer arrived.",
}
