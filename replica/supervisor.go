package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// Config starts a Supervisor. The zero value of every field but Path is a
// usable default.
type Config struct {
	// Path and Args start one worker process: os.Executable() and
	// {"worker", "--model", dir, ...} in production. Env is appended to the
	// supervisor's environment.
	Path string
	Args []string
	Env  []string
	// Files are inherited by every worker as descriptors 3, 4, ... (the
	// Pool passes the shared packed weights this way). The supervisor does
	// not close them.
	Files []*os.File

	Workers   int // worker processes; default 2
	Window    int // batches in flight per worker; default 2
	QueueSize int // batches waiting beyond the windows; default Workers*Window

	// Model and Backend are what every worker's hello must say; empty
	// fields are not checked. A mismatch refuses the worker (ErrMismatch).
	Model   ModelID
	Backend string

	// Tick is the scheduler's time unit; every timeout below is rounded up
	// to whole ticks. Default 100ms.
	Tick         time.Duration
	StartTimeout time.Duration // spawn to hello (model load); default 5m
	PingEvery    time.Duration // default 1s
	HangTimeout  time.Duration // unanswered ping; default 10s
	StallTimeout time.Duration // no result while holding batches; default 5m
	Backoff      time.Duration // first restart delay; default 200ms
	MaxBackoff   time.Duration // default 10s
	MaxFailures  int           // failures in a row before a slot is abandoned; default 5
	MaxAttempts  int           // workers that may die holding one batch; default 3
	// StopGrace is how long a stopping worker gets after its stdin closes
	// before SIGTERM, and again before SIGKILL. Default 5s.
	StopGrace    time.Duration
	MaxFrameSize int // default MaxFrameSize

	// Stderr, when set, receives every line the workers write to stderr,
	// prefixed with the worker ("w0.1: "), one Write per line.
	Stderr io.Writer

	// Now and Ticks replace the wall clock (metrics) and the ticker that
	// drives the scheduler, for tests.
	Now   func() time.Time
	Ticks <-chan time.Time

	// onStep, when set, sees every event the core stepped and the actions
	// the driver then carried out (tests use it to act at exact points, e.g.
	// kill a worker right after a dispatch). It runs on the loop goroutine.
	onStep func(s *Supervisor, ev Event, actions []Action)
}

func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		return c, errors.New("replica: config: no worker executable (Path)")
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&c.Workers, 2)
	setInt(&c.Window, 2)
	setInt(&c.QueueSize, c.Workers*c.Window)
	setInt(&c.MaxFailures, 5)
	setInt(&c.MaxAttempts, 3)
	setInt(&c.MaxFrameSize, MaxFrameSize)
	setDur(&c.Tick, 100*time.Millisecond)
	setDur(&c.StartTimeout, 5*time.Minute)
	setDur(&c.PingEvery, time.Second)
	setDur(&c.HangTimeout, 10*time.Second)
	setDur(&c.StallTimeout, 5*time.Minute)
	setDur(&c.Backoff, 200*time.Millisecond)
	setDur(&c.MaxBackoff, 10*time.Second)
	setDur(&c.StopGrace, 5*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Stderr != nil {
		c.Stderr = &lockedWriter{w: c.Stderr}
	}
	if c.Tick < 0 || c.StopGrace < 0 {
		return c, fmt.Errorf("replica: config: negative Tick %v or StopGrace %v", c.Tick, c.StopGrace)
	}
	return c, nil
}

func (c Config) sched() SchedConfig {
	ticks := func(d time.Duration) int { return int((d + c.Tick - 1) / c.Tick) }
	return SchedConfig{
		Workers: c.Workers, Window: c.Window, QueueSize: c.QueueSize,
		MaxAttempts: c.MaxAttempts, MaxFailures: c.MaxFailures,
		Backoff: ticks(c.Backoff), MaxBackoff: ticks(c.MaxBackoff),
		StartTimeout: ticks(c.StartTimeout), PingEvery: ticks(c.PingEvery),
		HangTimeout: ticks(c.HangTimeout), StallTimeout: ticks(c.StallTimeout),
	}
}

// Supervisor runs a pool of worker processes and scores batches on them.
// It is safe for concurrent use and implements Scorer.
type Supervisor struct {
	cfg     Config
	inbox   chan msg
	admit   chan struct{} // one token per batch the core holds: backpressure
	nextID  atomic.Uint64
	ready   chan struct{} // closed at ActionReady or ActionGiveUp
	done    chan struct{} // closed when the loop has reaped every child
	closing chan struct{} // closed when Close begins
	once    sync.Once
	// startErr is set by the loop before it closes ready, gaveUp before it
	// closes done: readers wait for the channel first.
	startErr error
	gaveUp   error

	// Owned by the loop goroutine.
	sched   *Sched
	procs   map[WorkerID]*proc
	pending map[BatchID]*call
	result  *Logits // the answer being stepped, for its ActionReply
	later   []Event // events the actions themselves produce (failed spawns)
	nonce   uint64
	isReady bool
	drained bool

	mu      sync.Mutex
	metrics Metrics
	upSince []time.Time // per slot: when its current incarnation said hello
}

type call struct {
	id         BatchID
	frame      []byte
	seqs       int
	tokens     int
	tokenize   time.Duration
	reply      chan outcome
	submitted  time.Time
	dispatched time.Time
	dispatches int
}

type outcome struct {
	logits []float32
	stats  BatchStats
	err    error
}

// msg is what the loop receives: an event for the core, plus what the
// driver itself needs to act on it.
type msg struct {
	ev      Event
	call    *call   // EventSubmit
	hello   *Hello  // EventReady: checked before the core hears of it
	logits  *Logits // EventResult without Err
	proc    *proc   // EventExit: the process is reaped
	killAll bool    // Close ran out of time
}

// Start launches cfg.Workers workers and returns once every one of them has
// loaded its model and passed the handshake. If a worker fails before that,
// Start stops the others and returns an error wrapping ErrGaveUp with the
// failing worker's exit status and last stderr lines. ctx bounds the start
// only; Close ends the Supervisor.
func Start(ctx context.Context, cfg Config) (*Supervisor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sched, err := NewSched(cfg.sched())
	if err != nil {
		return nil, err
	}
	s := &Supervisor{
		cfg:     cfg,
		inbox:   make(chan msg, 16),
		admit:   make(chan struct{}, cfg.sched().Capacity()),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		sched:   sched,
		procs:   map[WorkerID]*proc{},
		pending: map[BatchID]*call{},
		upSince: make([]time.Time, cfg.Workers),
	}
	s.metrics.Workers = make([]WorkerStats, cfg.Workers)
	for i := range s.metrics.Workers {
		s.metrics.Workers[i].Slot = i
	}
	ticks := cfg.Ticks
	var ticker *time.Ticker
	if ticks == nil {
		ticker = time.NewTicker(cfg.Tick)
		ticks = ticker.C
	}
	go s.loop(ticks, ticker)
	s.inbox <- msg{ev: Event{Kind: EventStart}}
	select {
	case <-s.ready:
		if s.startErr != nil {
			<-s.done
			return nil, s.startErr
		}
		return s, nil
	case <-ctx.Done():
		select {
		case s.inbox <- msg{ev: Event{Kind: EventAbort, Err: ErrClosed}, killAll: true}:
		case <-s.done:
		}
		<-s.done
		return nil, fmt.Errorf("replica: start: %w", ctx.Err())
	}
}

// ScoreSequences scores one batch on one worker (it splits nothing) and
// returns its results in order. It blocks while the supervisor already
// holds Workers*Window+QueueSize batches. A batch whose worker dies is
// retried on another worker; its result is returned once. If ctx ends
// first, the call returns ctx.Err() and the batch's result, if it is
// already on a worker, is dropped.
func (s *Supervisor) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	return s.ScoreTimed(ctx, seqs, 0)
}

// ScoreTimed is ScoreSequences for callers that tokenized the batch
// themselves: tokenize is recorded with the batch in Metrics.
func (s *Supervisor) ScoreTimed(ctx context.Context, seqs []engine.Sequence, tokenize time.Duration) ([]float32, error) {
	scores, _, err := s.ScoreStats(ctx, seqs, tokenize)
	return scores, err
}

// ScoreStats is ScoreTimed that also returns the batch's BatchStats, as
// Metrics records them.
func (s *Supervisor) ScoreStats(ctx context.Context, seqs []engine.Sequence, tokenize time.Duration) ([]float32, BatchStats, error) {
	var none BatchStats
	if len(seqs) == 0 {
		return []float32{}, none, nil
	}
	id := BatchID(s.nextID.Add(1))
	frame, err := AppendScore(nil, uint64(id), seqs)
	if err != nil {
		return nil, none, err
	}
	if len(frame) > s.cfg.MaxFrameSize {
		return nil, none, fmt.Errorf("%w: batch of %d sequences is %d bytes, limit %d", ErrFrameTooLarge, len(seqs), len(frame), s.cfg.MaxFrameSize)
	}
	select {
	case <-s.closing:
		return nil, none, ErrClosed
	case <-s.done:
		return nil, none, s.deadErr()
	default:
	}
	select {
	case s.admit <- struct{}{}:
	case <-ctx.Done():
		return nil, none, ctx.Err()
	case <-s.closing:
		return nil, none, ErrClosed
	case <-s.done:
		return nil, none, s.deadErr()
	}
	c := &call{id: id, frame: frame, seqs: len(seqs), tokens: (len(frame) - frameHeader - 4 - 4*len(seqs)) / 8,
		tokenize: tokenize, reply: make(chan outcome, 1), submitted: s.cfg.Now()}
	select {
	case s.inbox <- msg{ev: Event{Kind: EventSubmit, Batch: id}, call: c}:
	case <-s.done:
		return nil, none, s.deadErr()
	}
	select {
	case o := <-c.reply:
		return o.logits, o.stats, o.err
	case <-ctx.Done():
		select {
		case s.inbox <- msg{ev: Event{Kind: EventCancel, Batch: id, Err: ctx.Err()}}:
		case <-s.done:
		}
		return nil, none, ctx.Err()
	}
}

func (s *Supervisor) deadErr() error {
	if s.gaveUp != nil {
		return s.gaveUp
	}
	return ErrClosed
}

// Close stops accepting batches, lets every admitted batch finish, then
// stops the workers: stdin closed, SIGTERM after StopGrace, SIGKILL after
// another. If ctx ends first, pending batches fail with ErrClosed and the
// workers are killed at once. Close signals only its own children.
func (s *Supervisor) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.closing) })
	select {
	case s.inbox <- msg{ev: Event{Kind: EventShutdown}}:
	case <-s.done:
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	err := fmt.Errorf("%w: %w", ErrClosed, ctx.Err())
	select {
	case s.inbox <- msg{ev: Event{Kind: EventAbort, Err: err}, killAll: true}:
		<-s.done
	case <-s.done:
	}
	return fmt.Errorf("replica: close: %w", ctx.Err())
}

// loop owns the core, the processes and the pending calls. It ends when
// the core is drained or gave up and every child has been reaped.
func (s *Supervisor) loop(ticks <-chan time.Time, ticker *time.Ticker) {
	defer close(s.done)
	if ticker != nil {
		defer ticker.Stop()
	}
	for {
		select {
		case m := <-s.inbox:
			s.handle(m)
		case <-ticks:
			s.step(Event{Kind: EventTick})
		}
		if (s.drained || s.gaveUp != nil) && len(s.procs) == 0 {
			return
		}
	}
}

func (s *Supervisor) handle(m msg) {
	switch m.ev.Kind {
	case EventSubmit:
		s.pending[m.call.id] = m.call
	case EventReady:
		if err := s.check(m.ev.Worker, m.hello); err != nil {
			if p := s.procs[m.ev.Worker]; p != nil {
				p.kill()
			}
			m.ev = Event{Kind: EventExit, Worker: m.ev.Worker, Err: err}
		} else {
			s.up(m.ev.Worker, m.hello)
		}
	case EventResult:
		if c := s.pending[m.ev.Batch]; c != nil && m.ev.Err == nil && len(m.logits.Values) != c.seqs {
			m.ev.Err = fmt.Errorf("%w: %d logits for %d sequences", ErrProtocol, len(m.logits.Values), c.seqs)
		}
		s.result = m.logits
		defer func() { s.result = nil }()
	case EventExit:
		if m.proc != nil {
			delete(s.procs, m.ev.Worker)
			m.proc.closeInput()
			s.down(m.ev.Worker)
		}
	}
	if m.killAll {
		for _, p := range s.procs {
			p.kill()
		}
	}
	s.step(m.ev)
}

// check compares a hello with what the supervisor expects.
func (s *Supervisor) check(w WorkerID, h *Hello) error {
	var what string
	switch {
	case s.cfg.Model.Hash != "" && h.Model.Hash != s.cfg.Model.Hash:
		what = fmt.Sprintf("model hash %s, want %s", h.Model.Hash, s.cfg.Model.Hash)
	case s.cfg.Model.Path != "" && filepath.Clean(h.Model.Path) != filepath.Clean(s.cfg.Model.Path):
		what = fmt.Sprintf("model %s, want %s", h.Model.Path, s.cfg.Model.Path)
	case s.cfg.Backend != "" && h.Backend != s.cfg.Backend:
		what = fmt.Sprintf("backend %q, want %q", h.Backend, s.cfg.Backend)
	default:
		return nil
	}
	return fmt.Errorf("%w: %v (pid %d) serves %s", ErrMismatch, w, h.PID, what)
}

// step feeds one event to the core and carries out its actions, then any
// events those actions produced.
func (s *Supervisor) step(ev Event) {
	for {
		actions := s.sched.Step(ev)
		for _, a := range actions {
			s.do(a)
		}
		if s.cfg.onStep != nil {
			s.cfg.onStep(s, ev, actions)
		}
		if len(s.later) == 0 {
			return
		}
		ev, s.later = s.later[0], s.later[1:]
	}
}

func (s *Supervisor) do(a Action) {
	switch a.Kind {
	case ActionSpawn:
		p, err := s.spawn(a.Worker)
		if err != nil {
			s.later = append(s.later, Event{Kind: EventExit, Worker: a.Worker, Err: err})
			return
		}
		s.procs[a.Worker] = p
		if a.Worker.Gen > 1 {
			s.mu.Lock()
			s.metrics.Workers[a.Worker.Slot].Restarts++
			s.mu.Unlock()
		}
	case ActionDispatch:
		c := s.pending[a.Batch]
		c.dispatched = s.cfg.Now()
		c.dispatches++
		s.procs[a.Worker].send(c.frame)
	case ActionPing:
		s.nonce++
		s.procs[a.Worker].send(AppendControl(nil, KindPing, s.nonce))
	case ActionKill:
		if p := s.procs[a.Worker]; p != nil {
			p.kill()
		}
	case ActionStop:
		if p := s.procs[a.Worker]; p != nil {
			p.stop(s.cfg.StopGrace)
		}
	case ActionReply:
		c := s.pending[a.Batch]
		delete(s.pending, a.Batch)
		c.reply <- outcome{logits: s.result.Values, stats: s.record(c, a.Worker)}
		<-s.admit
	case ActionFail:
		c := s.pending[a.Batch]
		delete(s.pending, a.Batch)
		s.mu.Lock()
		s.metrics.Failed++
		s.mu.Unlock()
		c.reply <- outcome{err: a.Err}
		<-s.admit
	case ActionReady:
		s.isReady = true
		close(s.ready)
	case ActionGiveUp:
		s.gaveUp = a.Err
		if !s.isReady {
			s.startErr = a.Err
			close(s.ready)
		}
	case ActionDrained:
		s.drained = true
	}
}

// Metrics is a snapshot of what the supervisor measured. Durations are
// sums over answered batches; divide by Batches for means.
type Metrics struct {
	Batches   int64 // answered batches
	Sequences int64 // sequences in them
	Failed    int64 // batches that failed (worker error, lost, canceled, refused)
	Retried   int64 // dispatches beyond each answered batch's first
	Tokenize  time.Duration
	QueueWait time.Duration // submit to (last) dispatch
	Inference time.Duration // as the workers reported it
	RoundTrip time.Duration // (last) dispatch to answer, pipes included
	// Recent holds the last RecentBatches answered batches, oldest first.
	Recent  []BatchStats
	Workers []WorkerStats
}

// RecentBatches bounds Metrics.Recent.
const RecentBatches = 1024

// BatchStats describes one answered batch.
type BatchStats struct {
	Batch      BatchID
	Worker     WorkerID
	Sequences  int
	Tokens     int
	Dispatches int // 1 unless a worker died holding it
	Tokenize   time.Duration
	QueueWait  time.Duration
	Inference  time.Duration
	RoundTrip  time.Duration
}

// WorkerStats describes one worker slot across its incarnations.
type WorkerStats struct {
	Slot     int
	Gen      uint64 // incarnation that said hello last
	PID      int
	Threads  int
	Backend  string
	Restarts int
	Batches  int64
	Busy     time.Duration // inference time reported by the worker
	Up       time.Duration // time its incarnations were ready
	// Utilization is Busy/Up: the share of its ready time the worker spent
	// in the model.
	Utilization float64
}

// Metrics returns a snapshot.
func (s *Supervisor) Metrics() Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.metrics
	m.Recent = append([]BatchStats(nil), s.metrics.Recent...)
	m.Workers = append([]WorkerStats(nil), s.metrics.Workers...)
	now := s.cfg.Now()
	for i := range m.Workers {
		w := &m.Workers[i]
		if !s.upSince[i].IsZero() {
			w.Up += now.Sub(s.upSince[i])
		}
		if w.Up > 0 {
			w.Utilization = float64(w.Busy) / float64(w.Up)
		}
	}
	return m
}

func (s *Supervisor) record(c *call, w WorkerID) BatchStats {
	now := s.cfg.Now()
	b := BatchStats{Batch: c.id, Worker: w, Sequences: c.seqs, Tokens: c.tokens, Dispatches: c.dispatches,
		Tokenize: c.tokenize, QueueWait: c.dispatched.Sub(c.submitted), Inference: s.result.Inference,
		RoundTrip: now.Sub(c.dispatched)}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &s.metrics
	m.Batches++
	m.Sequences += int64(b.Sequences)
	m.Retried += int64(b.Dispatches - 1)
	m.Tokenize += b.Tokenize
	m.QueueWait += b.QueueWait
	m.Inference += b.Inference
	m.RoundTrip += b.RoundTrip
	if len(m.Recent) == RecentBatches {
		m.Recent = append(m.Recent[:0], m.Recent[1:]...)
	}
	m.Recent = append(m.Recent, b)
	ws := &m.Workers[w.Slot]
	ws.Batches++
	ws.Busy += b.Inference
	return b
}

func (s *Supervisor) up(w WorkerID, h *Hello) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := &s.metrics.Workers[w.Slot]
	ws.Gen, ws.PID, ws.Threads, ws.Backend = w.Gen, h.PID, h.Threads, h.Backend
	s.upSince[w.Slot] = s.cfg.Now()
}

func (s *Supervisor) down(w WorkerID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics.Workers[w.Slot].Gen == w.Gen && !s.upSince[w.Slot].IsZero() {
		s.metrics.Workers[w.Slot].Up += s.cfg.Now().Sub(s.upSince[w.Slot])
		s.upSince[w.Slot] = time.Time{}
	}
}

// spawn starts one worker process and the goroutines that serve its pipes.
func (s *Supervisor) spawn(w WorkerID) (*proc, error) {
	cmd := execCommand(s.cfg.Path, s.cfg.Args, s.cfg.Env)
	cmd.ExtraFiles = s.cfg.Files
	p := &proc{id: w, cmd: cmd, frames: make(chan []byte, s.cfg.Window+2), tail: newTail(stderrLines)}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrWorkerExited, w, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrWorkerExited, w, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrWorkerExited, w, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v: start %s: %w", ErrWorkerExited, w, s.cfg.Path, err)
	}
	go p.write(stdin)
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		p.tail.collect(stderr, s.cfg.Stderr, w.String()+": ")
	}()
	go func() {
		protoErr := p.read(stdout, s.cfg.MaxFrameSize, s.inbox)
		if protoErr != nil {
			p.kill()
		}
		<-stderrDone
		waitErr := cmd.Wait()
		s.inbox <- msg{ev: Event{Kind: EventExit, Worker: w, Err: p.exitError(waitErr, protoErr)}, proc: p}
	}()
	return p, nil
}

// lockedWriter serializes the workers' stderr lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func execCommand(path string, args, env []string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	isolate(cmd)
	return cmd
}
