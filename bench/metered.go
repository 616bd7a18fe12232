package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
	"github.com/minilm-dev/minilm/kernels/metal"
)

// InProcess is a batch.TimedScorer over a model loaded with
// MeteredBackend: each call's stages are measured at the backend.
type InProcess struct{ M *engine.Model }

// Tokenize tokenizes as the model does.
func (t InProcess) Tokenize(p engine.Pair) (engine.Sequence, error) { return t.M.Tokenize(p) }

// ScoreSequences scores without measuring.
func (t InProcess) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	return t.M.ScoreSequences(ctx, seqs)
}

// ScoreTimed scores seqs and reports the wait for the first forward pass,
// the passes' busy time and the token positions they computed.
func (t InProcess) ScoreTimed(ctx context.Context, seqs []engine.Sequence) ([]float32, batch.Stages, error) {
	bm := &batchMeter{}
	start := time.Now()
	scores, err := t.M.ScoreSequences(context.WithValue(ctx, meterKey{}, bm), seqs)
	if err != nil {
		return nil, batch.Stages{}, err
	}
	if bm.passes == 0 {
		return nil, batch.Stages{}, fmt.Errorf("bench: the engine ran no forward pass through the metered backend for a batch of %d (load the model with MeteredBackend)", len(seqs))
	}
	return scores, batch.Stages{Wait: bm.first.Sub(start), Inference: bm.busy, Worker: -1, TokensComputed: bm.tokens}, nil
}

// meterKey carries a *batchMeter in the context of one batch's
// ScoreSequences call down to the backend's Run.
type meterKey struct{}

// batchMeter adds up the forward passes of one batch. Only the goroutine
// scoring the batch touches it: the engine runs the passes on the caller's
// goroutine.
type batchMeter struct {
	first  time.Time
	busy   time.Duration
	tokens int
	passes int
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

// MeteredBackend is a backendhook.NewBackend (engine.Load on the context
// backendhook.With returns) that builds the backend
// engine.Load would build for name (auto: Metal where it is available, else
// the CPU at precision prec), wrapped so that InProcess can measure it.
func MeteredBackend(name string, prec cpu.Precision) func(threads int) (kernels.Backend, error) {
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
