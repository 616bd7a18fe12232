package replica

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// fakeLogit is the fake model: a hash of the ids and type ids, so a result
// computed for the wrong sequence, or returned out of order, shows.
func fakeLogit(s engine.Sequence) float32 {
	h := uint32(2166136261)
	for i := range s.IDs {
		h = (h ^ uint32(s.IDs[i])) * 16777619
		h = (h ^ uint32(s.TypeIDs[i])) * 16777619
	}
	return float32(h%100000)/1000 - 50
}

// fakeScorer scores with fakeLogit once gate (if any) is closed; an empty
// sequence is an error, as in the engine.
type fakeScorer struct{ gate <-chan struct{} }

func (f fakeScorer) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]float32, len(seqs))
	for i, s := range seqs {
		if len(s.IDs) == 0 {
			return nil, errors.New("fake: sequence is empty")
		}
		out[i] = fakeLogit(s)
	}
	return out, nil
}

// testSeqs returns n deterministic sequences of 3 to 40 tokens.
func testSeqs(seed, n int) []engine.Sequence {
	seqs := make([]engine.Sequence, n)
	x := uint32(seed*7919 + 1)
	for i := range seqs {
		x = x*1664525 + 1013904223
		l := 3 + int(x>>8)%38
		s := engine.Sequence{IDs: make([]int32, l), TypeIDs: make([]int32, l)}
		for j := range l {
			x = x*1664525 + 1013904223
			s.IDs[j] = int32(x>>9) % 30522
			if j > l/2 {
				s.TypeIDs[j] = 1
			}
		}
		seqs[i] = s
	}
	return seqs
}

// workerPipes runs ServeWorker on in-memory pipes.
type workerPipes struct {
	t    *testing.T
	in   *io.PipeWriter // to the worker
	out  *io.PipeReader // from the worker
	done chan error
}

func serveTest(t *testing.T, ctx context.Context, s Scorer) *workerPipes {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &workerPipes{t: t, in: inW, out: outR, done: make(chan error, 1)}
	go func() {
		err := ServeWorker(ctx, inR, outW, Hello{Model: ModelID{Path: "/m", Hash: "sha256:1"}, Backend: "fake", PID: 7}, s)
		outW.Close()
		p.done <- err
	}()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	return p
}

func (p *workerPipes) send(frame []byte) {
	p.t.Helper()
	if _, err := p.in.Write(frame); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

func (p *workerPipes) recv(kind Kind, id uint64) []byte {
	p.t.Helper()
	f, err := ReadFrame(p.out, MaxFrameSize, nil)
	if err != nil || f.Kind != kind || f.ID != id {
		p.t.Fatalf("got %v %d (%v), want %v %d", f.Kind, f.ID, err, kind, id)
	}
	return f.Body
}

func (p *workerPipes) wait() error {
	p.t.Helper()
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		p.t.Fatal("ServeWorker did not return")
		return nil
	}
}

func TestServeWorker(t *testing.T) {
	p := serveTest(t, t.Context(), fakeScorer{})
	h, err := DecodeHello(p.recv(KindHello, 0))
	if err != nil || h.Version != ProtocolVersion || h.PID != 7 || h.Backend != "fake" {
		t.Fatalf("hello = %+v, %v", h, err)
	}
	seqs := testSeqs(1, 5)
	req, _ := AppendScore(nil, 11, seqs)
	p.send(req)
	l, err := DecodeLogits(p.recv(KindLogits, 11))
	if err != nil || len(l.Values) != len(seqs) {
		t.Fatalf("logits = %+v, %v", l, err)
	}
	for i, s := range seqs {
		if l.Values[i] != fakeLogit(s) {
			t.Errorf("logit %d = %v, want %v", i, l.Values[i], fakeLogit(s))
		}
	}
	p.send(AppendControl(nil, KindPing, 5))
	p.recv(KindPong, 5)

	// A scorer error and a malformed body are answered with an error frame;
	// the worker keeps serving.
	req, _ = AppendScore(nil, 12, []engine.Sequence{{IDs: []int32{}, TypeIDs: []int32{}}})
	p.send(req)
	if msg := string(p.recv(KindError, 12)); !strings.Contains(msg, "sequence is empty") {
		t.Errorf("error frame = %q", msg)
	}
	bad, start := appendHeader(nil, KindScore, 13)
	p.send(finish(append(bad, 9, 0, 0, 0), start))
	if msg := string(p.recv(KindError, 13)); !strings.Contains(msg, "protocol error") {
		t.Errorf("error frame = %q", msg)
	}

	p.in.Close()
	if err := p.wait(); err != nil {
		t.Errorf("ServeWorker after EOF = %v, want nil", err)
	}
}

// EOF on stdin cancels the batch being scored: the supervisor is gone or
// wants nothing more, so the worker must not finish work nobody reads.
func TestServeWorkerEOFCancels(t *testing.T) {
	p := serveTest(t, t.Context(), fakeScorer{gate: make(chan struct{})}) // never opens
	p.recv(KindHello, 0)
	req, _ := AppendScore(nil, 1, testSeqs(2, 3))
	p.send(req)
	p.send(AppendControl(nil, KindPing, 2))
	p.recv(KindPong, 2) // the request was read before the ping
	p.in.Close()
	if err := p.wait(); err != nil {
		t.Errorf("ServeWorker after EOF = %v, want nil", err)
	}
	if f, err := ReadFrame(p.out, MaxFrameSize, nil); err != io.EOF {
		t.Errorf("after EOF the worker wrote %v %d (%v), want nothing", f.Kind, f.ID, err)
	}
}

// A worker answers pings while its model is busy, so a long batch is not
// mistaken for a hang.
func TestServeWorkerPongWhileScoring(t *testing.T) {
	gate := make(chan struct{})
	p := serveTest(t, t.Context(), fakeScorer{gate: gate})
	p.recv(KindHello, 0)
	req, _ := AppendScore(nil, 1, testSeqs(2, 3))
	p.send(req)
	p.send(AppendControl(nil, KindPing, 2))
	p.recv(KindPong, 2)
	close(gate)
	p.recv(KindLogits, 1)
	p.in.Close()
	if err := p.wait(); err != nil {
		t.Errorf("ServeWorker = %v", err)
	}
}

func TestServeWorkerProtocolError(t *testing.T) {
	p := serveTest(t, t.Context(), fakeScorer{})
	p.recv(KindHello, 0)
	p.send(AppendLogits(nil, 1, Logits{}))
	if err := p.wait(); !errors.Is(err, ErrProtocol) {
		t.Errorf("ServeWorker = %v, want ErrProtocol", err)
	}
}

func TestServeWorkerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p := serveTest(t, ctx, fakeScorer{})
	p.recv(KindHello, 0)
	cancel()
	if err := p.wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("ServeWorker = %v, want context.Canceled", err)
	}
}
