package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// Scorer is what a worker serves; *engine.Model satisfies it.
type Scorer interface {
	ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error)
}

// flusher is met by buffered writers; a frame must reach the supervisor as
// soon as it is written.
type flusher interface{ Flush() error }

// ServeWorker runs the worker side of the protocol: it sends hello (with
// Version set to ProtocolVersion), then answers score requests in arrival
// order and pings at once, even while a batch is being scored.
//
// It returns nil when in reaches EOF. The supervisor closes the pipe only
// when it expects nothing more (drained, or dead), so at EOF the batch being
// scored is canceled and requests not yet answered are dropped: an orphaned
// worker exits within one engine step instead of finishing work nobody will
// read. It returns ctx.Err() when ctx ends, and an error wrapping
// ErrProtocol on a malformed frame.
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer, hello Hello, s Scorer) error {
	scoreCtx, eof := context.WithCancel(ctx)
	defer eof()
	w := &frameWriter{w: out}
	hello.Version = ProtocolVersion
	if err := w.write(AppendHello(nil, hello)); err != nil {
		return fmt.Errorf("replica: worker: send hello: %w", err)
	}

	// The reader answers pings itself and queues score requests for the
	// scoring loop below, so a long batch never looks like a hang.
	requests := make(chan Frame, 4)
	readErr := make(chan error, 1)
	go func() {
		defer close(requests)
		err := readRequests(scoreCtx, in, w, requests)
		if err == nil {
			eof()
		}
		readErr <- err
	}()

	for {
		select {
		case req, ok := <-requests:
			if !ok {
				return <-readErr
			}
			frame := answer(scoreCtx, s, req)
			if scoreCtx.Err() != nil {
				continue // past EOF (or ctx's end): nobody reads the answer
			}
			if err := w.write(frame); err != nil {
				return fmt.Errorf("replica: worker: send answer to request %d: %w", req.ID, err)
			}
		case <-ctx.Done():
			// The reader may stay blocked in Read until in is closed; a
			// worker process exits right after this anyway.
			return ctx.Err()
		}
	}
}

func readRequests(ctx context.Context, in io.Reader, w *frameWriter, requests chan<- Frame) error {
	for {
		f, err := ReadFrame(in, MaxFrameSize, nil)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("replica: worker: read request: %w", err)
		}
		switch f.Kind {
		case KindPing:
			if err := w.write(AppendControl(nil, KindPong, f.ID)); err != nil {
				return fmt.Errorf("replica: worker: send pong: %w", err)
			}
		case KindScore:
			select {
			case requests <- f:
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			return fmt.Errorf("%w: worker got a %v frame", ErrProtocol, f.Kind)
		}
	}
}

// answer scores one request and returns the logits or error frame.
func answer(ctx context.Context, s Scorer, req Frame) []byte {
	seqs, err := DecodeScore(req.Body)
	if err != nil {
		return AppendError(nil, req.ID, err.Error())
	}
	start := time.Now()
	logits, err := s.ScoreSequences(ctx, seqs)
	took := time.Since(start)
	if err == nil && len(logits) != len(seqs) {
		err = fmt.Errorf("replica: scorer returned %d logits for %d sequences", len(logits), len(seqs))
	}
	if err != nil {
		return AppendError(nil, req.ID, err.Error())
	}
	return AppendLogits(nil, req.ID, Logits{Values: logits, Inference: took})
}

// frameWriter serializes whole frames from the reader (pongs) and the
// scoring loop (answers).
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (fw *frameWriter) write(frame []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if _, err := fw.w.Write(frame); err != nil {
		return err
	}
	if f, ok := fw.w.(flusher); ok {
		return f.Flush()
	}
	return nil
}
