//go:build unix

package replica

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/internal/backendhook"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
)

// The test binary doubles as the worker executable: with fakeWorkerEnv set,
// TestMain runs a fake worker (a deterministic fakeScorer behind the real
// ServeWorker) instead of the tests.
const (
	fakeWorkerEnv = "MINILM_REPLICA_FAKE_WORKER"
	fakeMarkerEnv = "MINILM_REPLICA_FAKE_MARKER"
	fakeModelEnv  = "MINILM_REPLICA_FAKE_MODEL"
)

var fakeModel = ModelID{Path: "/models/fake", Hash: "sha256:fake"}

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeWorkerEnv); mode != "" {
		os.Exit(fakeWorker(mode))
	}
	os.Exit(m.Run())
}

func fakeWorker(mode string) int {
	hello := Hello{Model: fakeModel, Backend: "fake", PID: os.Getpid(), Threads: 1}
	var scorer fakeScorer
	switch mode {
	case "ok":
	case "crash":
		fmt.Fprintln(os.Stderr, "fake worker: loading /models/fake")
		fmt.Fprintln(os.Stderr, "fake worker: load model: cannot allocate 90 MiB: out of memory")
		return 3
	case "mismatch":
		hello.Model.Hash = "sha256:other"
	case "old-protocol":
		frame := AppendHello(nil, hello)
		frame[frameHeader+4] = ProtocolVersion + 1
		os.Stdout.Write(frame)
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "hang-first":
		// The first incarnation says hello, then neither answers nor
		// scores; later ones (the marker file exists) behave.
		if f, err := os.OpenFile(os.Getenv(fakeMarkerEnv), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
			os.Stdout.Write(AppendHello(nil, hello))
			io.Copy(io.Discard, os.Stdin)
			return 0
		}
	case "gated":
		// Batches wait until the test sends SIGUSR1.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		gate := make(chan struct{})
		go func() { <-sig; close(gate) }()
		scorer.gate = gate
	case "engine":
		// The real engine on the tiny test model, as `minilm worker` runs it.
		// The model is the tiny one unless fakeModelEnv names another; when
		// the pool shares packed weights, every weight must come from them.
		dir := cmp.Or(os.Getenv(fakeModelEnv), "../testdata/models/tiny")
		var be *cpu.Backend
		newBE := func(threads int) (kernels.Backend, error) {
			b, err := cpu.New(threads)
			be = b
			return b, err
		}
		m, err := engine.Load(backendhook.With(context.Background(), newBE), dir, engine.Options{Offline: true, Threads: 1})
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake worker:", err)
			return 1
		}
		defer m.Close()
		if shared, local := be.SharedWeights(); os.Getenv(cpu.SharedWeightsEnv) != "" && (local != 0 || shared == 0) {
			fmt.Fprintf(os.Stderr, "fake worker: %s is set but %d weights were packed here, %d shared\n", cpu.SharedWeightsEnv, local, shared)
			return 1
		}
		info := m.Info()
		if hello.Model, err = IdentifyModel(info.Dir); err != nil {
			fmt.Fprintln(os.Stderr, "fake worker:", err)
			return 1
		}
		hello.Backend, hello.Threads = info.Backend, info.Threads
		if err := ServeWorker(context.Background(), os.Stdin, os.Stdout, hello, m); err != nil {
			fmt.Fprintln(os.Stderr, "fake worker:", err)
			return 1
		}
		return 0
	case "stubborn":
		// Ignores SIGTERM and does not exit at EOF: only SIGKILL ends it.
		signal.Ignore(syscall.SIGTERM)
		os.Stdout.Write(AppendHello(nil, hello))
		io.Copy(io.Discard, os.Stdin)
		for {
			time.Sleep(time.Hour)
		}
	default:
		fmt.Fprintf(os.Stderr, "fake worker: unknown mode %q\n", mode)
		return 2
	}
	if err := ServeWorker(context.Background(), os.Stdin, os.Stdout, hello, scorer); err != nil {
		fmt.Fprintln(os.Stderr, "fake worker:", err)
		return 1
	}
	return 0
}

// fakeConfig starts fake workers in mode with timeouts sized for a loaded
// 2-core machine: they bound how long a failing test takes, they do not
// pace a passing one.
func fakeConfig(t *testing.T, mode string) Config {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Path:         exe,
		Env:          []string{fakeWorkerEnv + "=" + mode, fakeMarkerEnv + "=" + t.TempDir() + "/marker"},
		Model:        fakeModel,
		Backend:      "fake",
		Tick:         10 * time.Millisecond,
		StartTimeout: 20 * time.Second,
		PingEvery:    100 * time.Millisecond,
		HangTimeout:  10 * time.Second,
		StallTimeout: 20 * time.Second,
		Backoff:      10 * time.Millisecond,
		MaxBackoff:   100 * time.Millisecond,
		StopGrace:    5 * time.Second,
	}
}

func startFake(t *testing.T, cfg Config) *Supervisor {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

func checkLogits(t *testing.T, what string, seqs []engine.Sequence, got []float32) {
	t.Helper()
	if len(got) != len(seqs) {
		t.Fatalf("%s: %d logits for %d sequences", what, len(got), len(seqs))
	}
	for i, s := range seqs {
		if want := fakeLogit(s); got[i] != want {
			t.Fatalf("%s: logit %d = %v, want %v", what, i, got[i], want)
		}
	}
}

func TestSupervisorScores(t *testing.T) {
	s := startFake(t, fakeConfig(t, "ok"))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			seqs := testSeqs(i, 1+i%7)
			got, err := s.ScoreSequences(t.Context(), seqs)
			if err != nil {
				t.Errorf("batch %d: %v", i, err)
				return
			}
			checkLogits(t, fmt.Sprintf("batch %d", i), seqs, got)
		})
	}
	wg.Wait()
	// A worker's explicit error fails that batch only, without a retry.
	_, err := s.ScoreSequences(t.Context(), []engine.Sequence{{IDs: []int32{}, TypeIDs: []int32{}}})
	if !errors.Is(err, ErrWorker) || !strings.Contains(err.Error(), "sequence is empty") {
		t.Errorf("empty sequence: err = %v, want ErrWorker", err)
	}
	m := s.Metrics()
	if m.Batches != 40 || m.Failed != 1 || m.Retried != 0 || len(m.Recent) != 40 {
		t.Errorf("metrics: batches %d failed %d retried %d recent %d; want 40 1 0 40", m.Batches, m.Failed, m.Retried, len(m.Recent))
	}
	for _, w := range m.Workers {
		if w.PID == 0 || w.Backend != "fake" || w.Up <= 0 || w.Restarts != 0 {
			t.Errorf("worker stats %+v", w)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := s.ScoreSequences(t.Context(), testSeqs(0, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
}

// TestSupervisorChaos scores batches through 2 workers while worker 0 is
// SIGKILLed right after a dispatch, and again after its restart. Every
// call must return once, with every logit of its batch, in order.
func TestSupervisorChaos(t *testing.T) {
	const killAfter = 20 // dispatches to an incarnation before it is killed
	cfg := fakeConfig(t, "ok")
	var (
		kills     atomic.Int32
		afterKill atomic.Int32 // dispatches since the second kill
	)
	dispatched := map[uint64]int{}
	cfg.onStep = func(s *Supervisor, ev Event, actions []Action) {
		for _, a := range actions {
			if a.Kind != ActionDispatch {
				continue
			}
			if kills.Load() == 2 {
				afterKill.Add(1)
			}
			if a.Worker.Slot != 0 || a.Worker.Gen > 2 {
				continue
			}
			if dispatched[a.Worker.Gen]++; dispatched[a.Worker.Gen] == killAfter {
				s.procs[a.Worker].cmd.Process.Signal(syscall.SIGKILL)
				kills.Add(1)
			}
		}
	}
	s := startFake(t, cfg)

	// Callers keep submitting until both kills happened and 40 batches went
	// out after the second, and at least 2,000 sequences were scored.
	const perBatch = 12
	var (
		next, seqsDone atomic.Int64
		wg             sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil && !(afterKill.Load() >= 40 && seqsDone.Load() >= 2000) {
				i := next.Add(1)
				seqs := testSeqs(int(i), perBatch)
				got, err := s.ScoreSequences(ctx, seqs)
				if err != nil {
					t.Errorf("batch %d: %v", i, err)
					return
				}
				checkLogits(t, fmt.Sprintf("batch %d", i), seqs, got)
				seqsDone.Add(perBatch)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("timed out: %d kills, %d dispatches after the second", kills.Load(), afterKill.Load())
	}
	m := s.Metrics()
	t.Logf("%d batches, %d sequences, %d retried, restarts %d", m.Batches, m.Sequences, m.Retried, m.Workers[0].Restarts)
	if m.Batches != next.Load() || m.Sequences != seqsDone.Load() || m.Sequences < 2000 || m.Failed != 0 {
		t.Errorf("metrics: %d batches (%d submitted), %d sequences (%d returned), %d failed",
			m.Batches, next.Load(), m.Sequences, seqsDone.Load(), m.Failed)
	}
	// The second kill hit the restarted incarnation (w0.2); its own
	// restart may come after the last batch.
	if kills.Load() != 2 || m.Workers[0].Restarts < 1 || m.Workers[1].Restarts != 0 {
		t.Errorf("kills %d, restarts %d, %d; want 2, >= 1, 0", kills.Load(), m.Workers[0].Restarts, m.Workers[1].Restarts)
	}
}

func TestSupervisorStartCrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cfg := fakeConfig(t, "crash")
	var stderr bytes.Buffer
	cfg.Stderr = &stderr
	_, err := Start(ctx, cfg)
	// Whichever worker fails first gets the other killed, maybe before it
	// printed anything.
	if !regexp.MustCompile(`(?m)^w[01]\.1: fake worker: loading /models/fake$`).MatchString(stderr.String()) {
		t.Errorf("Config.Stderr got %q", stderr.String())
	}
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, ErrWorkerExited) {
		t.Fatalf("Start = %v, want ErrGaveUp wrapping ErrWorkerExited", err)
	}
	for _, want := range []string{"exit status 3", "fake worker: loading /models/fake", "cannot allocate 90 MiB: out of memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestSupervisorMismatch(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{"mismatch", []string{"sha256:other", "want sha256:fake"}},
		{"old-protocol", []string{"protocol version mismatch"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := Start(ctx, fakeConfig(t, tc.mode))
			if !errors.Is(err, ErrMismatch) || !errors.Is(err, ErrGaveUp) {
				t.Fatalf("Start = %v, want ErrGaveUp wrapping ErrMismatch", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// A worker that stops answering is killed and its batch retried on its
// restarted successor. The test drives the scheduler's ticks itself, so the
// hang is detected at an exact tick, whatever the machine's load.
func TestSupervisorHang(t *testing.T) {
	cfg := fakeConfig(t, "hang-first")
	cfg.Workers = 1
	ticks := make(chan time.Time)
	cfg.Ticks = ticks
	cfg.Tick = time.Second
	cfg.PingEvery, cfg.HangTimeout, cfg.Backoff = time.Second, 3*time.Second, time.Second
	var (
		mu  sync.Mutex
		log []string
	)
	dispatched := make(chan struct{}, 4)
	cfg.onStep = func(_ *Supervisor, ev Event, actions []Action) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range actions {
			if ev.Kind == EventTick {
				log = append(log, a.String())
			}
			if a.Kind == ActionDispatch {
				dispatched <- struct{}{}
			}
		}
	}
	s := startFake(t, cfg)
	seqs := testSeqs(3, 4)
	type result struct {
		logits []float32
		err    error
	}
	done := make(chan result, 1)
	go func() {
		got, err := s.ScoreSequences(t.Context(), seqs)
		done <- result{got, err}
	}()
	<-dispatched
	for range 5 { // ping at 1, kill at 4, respawn at 5
		ticks <- time.Time{}
	}
	r := <-done // no more ticks: the successor answers without any
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkLogits(t, "batch", seqs, r.logits)
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"ping w0.1",
		"kill w0.1: replica: worker hung: w0.1 left a ping unanswered for 3 ticks",
		"spawn w0.2",
	}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Errorf("actions on ticks:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
	if m := s.Metrics(); m.Workers[0].Restarts != 1 || m.Retried != 1 {
		t.Errorf("restarts %d, retried %d; want 1, 1", m.Workers[0].Restarts, m.Retried)
	}
}

// A missing worker executable fails Start at once.
func TestSupervisorNoExecutable(t *testing.T) {
	cfg := fakeConfig(t, "ok")
	cfg.Path = filepath.Join(t.TempDir(), "no-such-minilm")
	_, err := Start(t.Context(), cfg)
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Start = %v, want ErrGaveUp wrapping fs.ErrNotExist", err)
	}
}

// Close lets admitted batches finish before it stops the workers, and the
// workers leave by themselves when their stdin closes.
func TestSupervisorCloseDrains(t *testing.T) {
	cfg := fakeConfig(t, "gated")
	dispatched := make(chan struct{}, 16)
	submitted := make(chan struct{}, 16)
	shutdown := make(chan struct{})
	var exits []string
	var mu sync.Mutex
	cfg.onStep = func(_ *Supervisor, ev Event, actions []Action) {
		switch ev.Kind {
		case EventSubmit:
			submitted <- struct{}{}
		case EventShutdown:
			close(shutdown)
		case EventExit:
			mu.Lock()
			exits = append(exits, ev.Err.Error())
			mu.Unlock()
		}
		for _, a := range actions {
			if a.Kind == ActionDispatch {
				dispatched <- struct{}{}
			}
		}
	}
	s := startFake(t, cfg)
	const batches = 6 // 4 in the windows, 2 queued
	var wg sync.WaitGroup
	for i := range batches {
		wg.Go(func() {
			seqs := testSeqs(100+i, 3)
			got, err := s.ScoreSequences(t.Context(), seqs)
			if err != nil {
				t.Errorf("batch %d: %v", i, err)
				return
			}
			checkLogits(t, fmt.Sprintf("batch %d", i), seqs, got)
		})
	}
	for range batches {
		<-submitted
	}
	for range 4 {
		<-dispatched
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close(t.Context()) }()
	<-shutdown
	if _, err := s.ScoreSequences(t.Context(), testSeqs(0, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("during drain: err = %v, want ErrClosed", err)
	}
	for _, w := range s.Metrics().Workers {
		syscall.Kill(w.PID, syscall.SIGUSR1)
	}
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
	if m := s.Metrics(); m.Batches != batches || m.Failed != 0 {
		t.Errorf("metrics: %d batches, %d failed; want %d, 0", m.Batches, m.Failed, batches)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(exits) != 2 {
		t.Fatalf("exits %q, want 2", exits)
	}
	for _, e := range exits {
		if !strings.Contains(e, "exit status 0") {
			t.Errorf("worker did not leave on its own: %s", e)
		}
	}
}

// A worker that ignores stdin EOF and SIGTERM is SIGKILLed after two grace
// periods.
func TestSupervisorCloseKills(t *testing.T) {
	cfg := fakeConfig(t, "stubborn")
	cfg.Workers = 1
	cfg.StopGrace = 50 * time.Millisecond
	exit := make(chan string, 1)
	cfg.onStep = func(_ *Supervisor, ev Event, _ []Action) {
		if ev.Kind == EventExit {
			exit <- ev.Err.Error()
		}
	}
	s := startFake(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if e := <-exit; !strings.Contains(e, "signal: killed") {
		t.Errorf("exit = %s, want killed", e)
	}
}

// A worker whose supervisor is gone (its stdin closed) exits by itself,
// even in the middle of a batch (this one would wait forever for SIGUSR1):
// no orphans.
func TestWorkerExitsWhenStdinCloses(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fakeWorkerEnv+"=gated")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		if f, err := ReadFrame(stdout, MaxFrameSize, nil); err != nil || f.Kind != KindHello {
			done <- fmt.Errorf("hello: %v %v", f.Kind, err)
			return
		}
		req, _ := AppendScore(nil, 1, testSeqs(5, 2))
		stdin.Write(req)
		stdin.Write(AppendControl(nil, KindPing, 2))
		if f, err := ReadFrame(stdout, MaxFrameSize, nil); err != nil || f.Kind != KindPong {
			done <- fmt.Errorf("pong: %v %v", f.Kind, err)
			return
		}
		stdin.Close()
		if f, err := ReadFrame(stdout, MaxFrameSize, nil); err != io.EOF {
			done <- fmt.Errorf("after EOF: %v %v, want EOF", f.Kind, err)
			return
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("worker did not exit after its stdin closed")
	}
}

// Two workers running the real engine on the tiny model give the scores
// the same model gives in-process. Tolerance 1e-6: both run the same code
// on one thread each, and the engine promises a score independent of the
// batch around it, so only a protocol or ordering bug could move a score.
func TestSupervisorEngine(t *testing.T) {
	ctx := t.Context()
	m, err := engine.Load(ctx, "../testdata/models/tiny", engine.Options{Offline: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	words := strings.Fields("what is the capital of france paris go language garbage collector rust borrow checker " +
		"transformer attention layer norm gelu tokenizer wordpiece vocabulary passage query relevance score")
	var seqs []engine.Sequence
	for i := range 64 {
		q := strings.Join([]string{words[i%len(words)], words[(i*7)%len(words)], "?"}, " ")
		var p []string
		for j := range 5 + i%40 {
			p = append(p, words[(i*13+j*5)%len(words)])
		}
		s, err := m.Tokenize(engine.Pair{Query: q, Passage: strings.Join(p, " ")})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	want, err := m.ScoreSequences(ctx, seqs)
	if err != nil {
		t.Fatal(err)
	}

	cfg := fakeConfig(t, "engine")
	if cfg.Model, err = IdentifyModel(m.Info().Dir); err != nil {
		t.Fatal(err)
	}
	cfg.Backend = m.Info().Backend
	s := startFake(t, cfg)
	var wg sync.WaitGroup
	for start := 0; start < len(seqs); start += 8 {
		wg.Go(func() {
			got, err := s.ScoreSequences(ctx, seqs[start:start+8])
			if err != nil {
				t.Errorf("batch at %d: %v", start, err)
				return
			}
			for i, g := range got {
				if d := math.Abs(float64(g - want[start+i])); d > 1e-6 {
					t.Errorf("pair %d: %v via workers, %v in-process", start+i, g, want[start+i])
				}
			}
		})
	}
	wg.Wait()
}
