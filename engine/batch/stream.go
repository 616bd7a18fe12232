package batch

import (
	"context"
	"iter"

	"github.com/minilm-dev/minilm/engine"
)

// Stream scores the pairs of seq and yields their scores in seq's order.
// Memory stays bounded by the Batcher's MaxQueued whatever seq's length:
// reading seq waits while the queue is full.
//
// A pair that cannot be tokenized yields (0, err) and the stream goes on;
// any other failure (a batch failed, ctx ended, the Batcher closed) yields
// (0, err) once and ends the stream. Stopping early cancels the pairs in
// flight; seq is then abandoned at its next element.
func (b *Batcher) Stream(ctx context.Context, seq iter.Seq[engine.Pair]) iter.Seq2[float32, error] {
	return func(yield func(float32, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		jobs := make(chan *Job, b.cfg.MaxQueued)
		submitErr := make(chan error, 1)
		go func() {
			defer close(jobs)
			for p := range seq {
				j, err := b.Submit(ctx, []engine.Pair{p})
				if err != nil {
					submitErr <- err
					return
				}
				select {
				case jobs <- j:
				case <-ctx.Done():
					return
				}
			}
		}()
		for j := range jobs {
			r, err := j.Wait(ctx)
			switch {
			case err != nil:
				yield(0, err)
				return
			case r.Errs != nil:
				if !yield(0, r.Errs[0]) {
					return
				}
			default:
				if !yield(r.Scores[0], nil) {
					return
				}
			}
		}
		select {
		case err := <-submitErr:
			if ctx.Err() == nil || err != ctx.Err() {
				yield(0, err)
			}
		default:
			if err := ctx.Err(); err != nil {
				yield(0, err)
			}
		}
	}
}
