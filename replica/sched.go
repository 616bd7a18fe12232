package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// This file is the scheduler core: a deterministic state machine with no
// goroutines, no clock and no I/O (the raft pattern). The Supervisor feeds
// it Events and carries out the Actions it returns; testdata/*.txt replays
// transcripts of both.

// BatchID names one submitted batch (one ScoreSequences call). It doubles as
// the request id on the wire. The driver picks ids; they must be unique.
type BatchID uint64

// WorkerID names one incarnation of a worker slot: Gen grows by one at every
// (re)spawn, so events from a dead incarnation are told apart and ignored.
type WorkerID struct {
	Slot int
	Gen  uint64
}

func (w WorkerID) String() string { return fmt.Sprintf("w%d.%d", w.Slot, w.Gen) }

// EventKind says what happened.
type EventKind uint8

// Events. The fields of Event each kind uses are listed with it.
const (
	EventStart    EventKind = iota + 1 // spawn every slot
	EventSubmit                        // Batch: a caller's batch arrives
	EventCancel                        // Batch, Err: its caller gave up
	EventReady                         // Worker: handshake done, model loaded
	EventResult                        // Worker, Batch, Err: an answer (Err: the worker's explicit error)
	EventPong                          // Worker
	EventExit                          // Worker, Err: the process died or was refused
	EventTick                          // one unit of time passed
	EventShutdown                      // drain, then stop the workers
	EventAbort                         // Err: fail everything now, then stop the workers
)

// Event is one input to Sched.Step.
type Event struct {
	Kind   EventKind
	Worker WorkerID
	Batch  BatchID
	Err    error
}

// ActionKind says what the driver must do.
type ActionKind uint8

// Actions. The fields of Action each kind uses are listed with it.
const (
	ActionSpawn    ActionKind = iota + 1 // Worker: start a process for this incarnation
	ActionDispatch                       // Worker, Batch: send the batch to the worker
	ActionPing                           // Worker
	ActionKill                           // Worker, Err: SIGKILL it; the core already counts it dead
	ActionStop                           // Worker: close its stdin, then SIGTERM, then SIGKILL
	ActionReply                          // Batch, Worker: deliver the result that worker just sent
	ActionFail                           // Batch, Err: deliver the error
	ActionReady                          // every slot finished its first handshake
	ActionGiveUp                         // Err: the supervisor is unusable from now on
	ActionDrained                        // shutdown finished: nothing is pending
)

// Action is one output of Sched.Step.
type Action struct {
	Kind   ActionKind
	Worker WorkerID
	Batch  BatchID
	Err    error
}

func (a Action) String() string {
	switch a.Kind {
	case ActionSpawn:
		return "spawn " + a.Worker.String()
	case ActionDispatch:
		return fmt.Sprintf("dispatch b%d -> %v", a.Batch, a.Worker)
	case ActionPing:
		return "ping " + a.Worker.String()
	case ActionKill:
		return fmt.Sprintf("kill %v: %v", a.Worker, a.Err)
	case ActionStop:
		return "stop " + a.Worker.String()
	case ActionReply:
		return fmt.Sprintf("reply b%d from %v", a.Batch, a.Worker)
	case ActionFail:
		return fmt.Sprintf("fail b%d: %v", a.Batch, a.Err)
	case ActionReady:
		return "ready"
	case ActionGiveUp:
		return fmt.Sprintf("give up: %v", a.Err)
	case ActionDrained:
		return "drained"
	}
	return fmt.Sprintf("action(%d)", a.Kind)
}

// Scheduler errors. Callers branch on them with errors.Is.
var (
	// ErrQueueFull refuses a Submit while Capacity batches are pending.
	ErrQueueFull = errors.New("replica: queue full")
	// ErrClosed refuses work after shutdown began.
	ErrClosed = errors.New("replica: supervisor closed")
	// ErrGaveUp means workers failed too often; it wraps the last failure.
	ErrGaveUp = errors.New("replica: gave up on workers")
	// ErrWorkerExited marks a worker that died (crashed, killed, refused).
	ErrWorkerExited = errors.New("replica: worker exited")
	// ErrHung marks a worker killed for making no progress.
	ErrHung = errors.New("replica: worker hung")
	// ErrWorker wraps the explicit error a worker returned for a batch.
	ErrWorker = errors.New("replica: worker error")
)

// SchedConfig sizes the core. Times are in ticks.
type SchedConfig struct {
	Workers int // slots
	Window  int // batches in flight per worker
	// QueueSize is how many batches may wait beyond the workers' windows:
	// Submit is refused with ErrQueueFull once Workers*Window+QueueSize
	// batches are pending (waiting or in flight).
	QueueSize int
	// MaxAttempts bounds how many workers may die holding the same batch
	// before it fails with ErrWorkerExited (a batch that kills every worker
	// must not take the service down with it).
	MaxAttempts int
	// MaxFailures: a slot whose incarnations fail this many times in a row
	// (exit or hang without completing a batch in between) is abandoned;
	// when no slot is left the core gives up.
	MaxFailures int
	// Backoff before the first restart; doubled per consecutive failure up
	// to MaxBackoff.
	Backoff, MaxBackoff int
	// StartTimeout: a worker not ready this long after its spawn is killed.
	StartTimeout int
	// PingEvery: a ready worker is pinged this often; one that leaves a ping
	// unanswered for HangTimeout is killed as hung.
	PingEvery, HangTimeout int
	// StallTimeout: a worker holding batches that returns no result for this
	// long is killed as hung (its reader may answer pings while the model is
	// stuck).
	StallTimeout int
}

func (c SchedConfig) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"Workers", c.Workers}, {"Window", c.Window}, {"MaxAttempts", c.MaxAttempts},
		{"MaxFailures", c.MaxFailures}, {"Backoff", c.Backoff}, {"MaxBackoff", c.MaxBackoff},
		{"StartTimeout", c.StartTimeout}, {"PingEvery", c.PingEvery},
		{"HangTimeout", c.HangTimeout}, {"StallTimeout", c.StallTimeout},
	} {
		if f.v < 1 {
			return fmt.Errorf("replica: scheduler config: %s = %d, want >= 1", f.name, f.v)
		}
	}
	if c.QueueSize < 0 {
		return fmt.Errorf("replica: scheduler config: QueueSize = %d, want >= 0", c.QueueSize)
	}
	return nil
}

// Capacity is the most batches the core holds at once (waiting or in flight).
func (c SchedConfig) Capacity() int { return c.Workers*c.Window + c.QueueSize }

type phase uint8

const (
	phaseNew      phase = iota // before EventStart
	phaseStarting              // until every slot said hello once
	phaseRunning
	phaseDraining // shutdown requested, batches still pending
	phaseStopped  // drained or aborted: only exits are expected
	phaseGaveUp
)

type slotState uint8

const (
	slotStarting slotState = iota // spawned, no hello yet
	slotReady                     // serving
	slotBackoff                   // dead, restart at restartAt
	slotStopping                  // told to stop, exit expected
	slotDown                      // stopped or abandoned for good
)

type slot struct {
	gen      uint64
	state    slotState
	inflight []BatchID // dispatch order
	// failures counts incarnations in a row that died before completing a
	// batch; a result resets it.
	failures  int
	since     int64 // spawn tick
	restartAt int64
	// progress is the tick of the last result, or of the dispatch that
	// took inflight from empty to non-empty.
	progress int64
	pingSent int64 // tick of the unanswered ping, -1 if none
	lastPing int64
	lastUsed uint64 // dispatch sequence number, for round-robin ties
}

type batchState struct {
	worker   WorkerID // valid while in flight
	queued   bool
	attempts int   // workers that died holding it
	canceled error // set by EventCancel while in flight
}

// Sched is the scheduler core. Step is its only entry point; it is not safe
// for concurrent use (the Supervisor's loop goroutine owns it).
type Sched struct {
	cfg     SchedConfig
	phase   phase
	now     int64
	slots   []slot
	batches map[BatchID]*batchState
	queue   []BatchID // FIFO; retried batches go to the front
	seq     uint64
	gaveUp  error
	out     []Action
}

// NewSched returns a core in its initial phase; EventStart spawns the workers.
func NewSched(cfg SchedConfig) (*Sched, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sched{cfg: cfg, slots: make([]slot, cfg.Workers), batches: map[BatchID]*batchState{}}
	for i := range s.slots {
		s.slots[i].state = slotDown
	}
	return s, nil
}

// Step applies one event and returns the actions it calls for, in the order
// the driver must carry them out. The slice is the caller's.
func (s *Sched) Step(ev Event) []Action {
	s.out = nil
	switch ev.Kind {
	case EventStart:
		s.start()
	case EventSubmit:
		s.submit(ev.Batch)
	case EventCancel:
		s.cancel(ev.Batch, ev.Err)
	case EventReady:
		s.ready(ev.Worker)
	case EventResult:
		s.result(ev.Worker, ev.Batch, ev.Err)
	case EventPong:
		if sl := s.live(ev.Worker); sl != nil && sl.state == slotReady {
			sl.pingSent = -1
		}
	case EventExit:
		s.exit(ev.Worker, ev.Err)
	case EventTick:
		s.tick()
	case EventShutdown:
		s.shutdown()
	case EventAbort:
		s.abort(ev.Err)
	}
	return s.out
}

func (s *Sched) emit(a Action) { s.out = append(s.out, a) }

// live returns the slot of w if w is its current incarnation.
func (s *Sched) live(w WorkerID) *slot {
	if w.Slot < 0 || w.Slot >= len(s.slots) || s.slots[w.Slot].gen != w.Gen {
		return nil
	}
	return &s.slots[w.Slot]
}

func (s *Sched) id(i int) WorkerID { return WorkerID{Slot: i, Gen: s.slots[i].gen} }

func (s *Sched) start() {
	if s.phase != phaseNew {
		return
	}
	s.phase = phaseStarting
	for i := range s.slots {
		s.spawn(i)
	}
}

func (s *Sched) spawn(i int) {
	sl := &s.slots[i]
	sl.gen++
	sl.state = slotStarting
	sl.since = s.now
	sl.pingSent = -1
	s.emit(Action{Kind: ActionSpawn, Worker: s.id(i)})
}

func (s *Sched) submit(b BatchID) {
	switch {
	case s.batches[b] != nil:
		return // ids are unique by contract; a repeat must not touch the original
	case s.phase == phaseGaveUp:
		s.emit(Action{Kind: ActionFail, Batch: b, Err: s.gaveUp})
		return
	case s.phase >= phaseDraining:
		s.emit(Action{Kind: ActionFail, Batch: b, Err: ErrClosed})
		return
	case len(s.batches) >= s.cfg.Capacity():
		s.emit(Action{Kind: ActionFail, Batch: b, Err: fmt.Errorf("%w: %d batches pending", ErrQueueFull, len(s.batches))})
		return
	}
	s.batches[b] = &batchState{queued: true}
	s.queue = append(s.queue, b)
	s.dispatch()
}

func (s *Sched) cancel(b BatchID, err error) {
	st := s.batches[b]
	if st == nil {
		return
	}
	if err == nil {
		err = context.Canceled
	}
	if st.queued {
		s.queue = remove(s.queue, b)
		delete(s.batches, b)
		s.emit(Action{Kind: ActionFail, Batch: b, Err: err})
		s.maybeDrained()
		return
	}
	// In flight: the worker's window stays taken until it answers or dies,
	// so the batch is failed then, not now.
	st.canceled = err
}

func (s *Sched) ready(w WorkerID) {
	sl := s.live(w)
	if sl == nil || sl.state != slotStarting {
		return
	}
	sl.state = slotReady
	sl.lastPing = s.now
	if s.phase == phaseStarting && s.allReady() {
		s.phase = phaseRunning
		s.emit(Action{Kind: ActionReady})
	}
	s.dispatch()
	s.maybeDrained()
}

func (s *Sched) allReady() bool {
	for i := range s.slots {
		if s.slots[i].state != slotReady {
			return false
		}
	}
	return true
}

func (s *Sched) result(w WorkerID, b BatchID, werr error) {
	sl := s.live(w)
	if sl == nil || sl.state != slotReady || !slices.Contains(sl.inflight, b) {
		return // a dead incarnation, or a late duplicate of a retried batch
	}
	sl.inflight = remove(sl.inflight, b)
	sl.progress = s.now
	sl.failures = 0
	st := s.batches[b]
	delete(s.batches, b)
	switch {
	case st.canceled != nil:
		s.emit(Action{Kind: ActionFail, Batch: b, Err: st.canceled})
	case werr != nil:
		s.emit(Action{Kind: ActionFail, Batch: b, Err: fmt.Errorf("%w: %v: %w", ErrWorker, w, werr)})
	default:
		s.emit(Action{Kind: ActionReply, Batch: b, Worker: w})
	}
	s.dispatch()
	s.maybeDrained()
}

func (s *Sched) exit(w WorkerID, err error) {
	sl := s.live(w)
	if sl == nil {
		return
	}
	switch sl.state {
	case slotStarting, slotReady:
		if err == nil {
			err = ErrWorkerExited
		}
		s.fail(w.Slot, err)
	case slotStopping:
		sl.state = slotDown
	}
	// slotBackoff, slotDown: the core already counted this one dead (Kill).
}

// fail buries slot i's current incarnation: its batches go back to the
// front of the queue (or fail after MaxAttempts), and the slot waits for a
// restart, or is abandoned after MaxFailures.
func (s *Sched) fail(i int, err error) {
	sl := &s.slots[i]
	w := s.id(i)
	sl.state = slotDown
	retry := make([]BatchID, 0, len(sl.inflight))
	for _, b := range sl.inflight {
		st := s.batches[b]
		st.attempts++
		switch {
		case st.canceled != nil:
			delete(s.batches, b)
			s.emit(Action{Kind: ActionFail, Batch: b, Err: st.canceled})
		case st.attempts >= s.cfg.MaxAttempts:
			delete(s.batches, b)
			s.emit(Action{Kind: ActionFail, Batch: b, Err: fmt.Errorf("replica: batch lost with %d workers, last %v: %w", st.attempts, w, err)})
		default:
			st.queued = true
			retry = append(retry, b)
		}
	}
	sl.inflight = nil
	s.queue = append(retry, s.queue...)

	if s.phase == phaseStarting {
		s.giveUp(fmt.Errorf("%w: %v failed to start: %w", ErrGaveUp, w, err))
		return
	}
	sl.failures++
	if sl.failures >= s.cfg.MaxFailures {
		sl.state = slotDown
		if !s.anyAlive() {
			s.giveUp(fmt.Errorf("%w: %v failed %d times in a row: %w", ErrGaveUp, w, sl.failures, err))
			return
		}
	} else {
		sl.state = slotBackoff
		sl.restartAt = s.now + int64(s.backoff(sl.failures))
	}
	s.dispatch()
	s.maybeDrained()
}

// backoff is Backoff·2^(failures-1), capped at MaxBackoff.
func (s *Sched) backoff(failures int) int {
	d := s.cfg.Backoff
	for range failures - 1 {
		if d >= s.cfg.MaxBackoff {
			break
		}
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

func (s *Sched) anyAlive() bool {
	for i := range s.slots {
		if st := s.slots[i].state; st == slotStarting || st == slotReady || st == slotBackoff {
			return true
		}
	}
	return false
}

func (s *Sched) giveUp(err error) {
	s.phase = phaseGaveUp
	s.gaveUp = err
	for _, b := range s.queue {
		delete(s.batches, b)
		s.emit(Action{Kind: ActionFail, Batch: b, Err: err})
	}
	s.queue = nil
	for i := range s.slots {
		sl := &s.slots[i]
		for _, b := range sl.inflight {
			delete(s.batches, b)
			s.emit(Action{Kind: ActionFail, Batch: b, Err: err})
		}
		sl.inflight = nil
		if sl.state == slotStarting || sl.state == slotReady {
			s.emit(Action{Kind: ActionKill, Worker: s.id(i), Err: ErrGaveUp})
		}
		sl.state = slotDown
	}
	s.emit(Action{Kind: ActionGiveUp, Err: err})
}

func (s *Sched) tick() {
	s.now++
	for i := range s.slots {
		sl := &s.slots[i]
		w := s.id(i)
		switch sl.state {
		case slotBackoff:
			if s.now >= sl.restartAt {
				s.spawn(i)
			}
		case slotStarting:
			if s.now-sl.since >= int64(s.cfg.StartTimeout) {
				err := fmt.Errorf("%w: %v sent no hello within %d ticks", ErrHung, w, s.cfg.StartTimeout)
				s.emit(Action{Kind: ActionKill, Worker: w, Err: err})
				s.fail(i, err)
			}
		case slotReady:
			var err error
			switch {
			case sl.pingSent >= 0 && s.now-sl.pingSent >= int64(s.cfg.HangTimeout):
				err = fmt.Errorf("%w: %v left a ping unanswered for %d ticks", ErrHung, w, s.cfg.HangTimeout)
			case len(sl.inflight) > 0 && s.now-sl.progress >= int64(s.cfg.StallTimeout):
				err = fmt.Errorf("%w: %v returned no result for %d ticks", ErrHung, w, s.cfg.StallTimeout)
			case sl.pingSent < 0 && s.now-sl.lastPing >= int64(s.cfg.PingEvery):
				sl.pingSent, sl.lastPing = s.now, s.now
				s.emit(Action{Kind: ActionPing, Worker: w})
			}
			if err != nil {
				s.emit(Action{Kind: ActionKill, Worker: w, Err: err})
				s.fail(i, err)
			}
		}
		if s.phase == phaseGaveUp {
			return
		}
	}
}

func (s *Sched) shutdown() {
	switch s.phase {
	case phaseNew, phaseStarting:
		s.abort(ErrClosed)
	case phaseRunning:
		s.phase = phaseDraining
		s.maybeDrained()
	}
}

func (s *Sched) abort(err error) {
	if s.phase >= phaseStopped {
		return
	}
	if err == nil {
		err = ErrClosed
	}
	for _, b := range s.queue {
		delete(s.batches, b)
		s.emit(Action{Kind: ActionFail, Batch: b, Err: err})
	}
	s.queue = nil
	for i := range s.slots {
		for _, b := range s.slots[i].inflight {
			delete(s.batches, b)
			s.emit(Action{Kind: ActionFail, Batch: b, Err: err})
		}
		s.slots[i].inflight = nil
	}
	s.phase = phaseDraining
	s.maybeDrained()
}

// maybeDrained stops every worker once a shutdown has nothing left to do.
func (s *Sched) maybeDrained() {
	if s.phase != phaseDraining || len(s.batches) > 0 {
		return
	}
	s.phase = phaseStopped
	for i := range s.slots {
		sl := &s.slots[i]
		switch sl.state {
		case slotStarting, slotReady:
			sl.state = slotStopping
			s.emit(Action{Kind: ActionStop, Worker: s.id(i)})
		case slotBackoff:
			sl.state = slotDown
		}
	}
	s.emit(Action{Kind: ActionDrained})
}

// dispatch hands queued batches to the least-loaded ready workers with room
// in their window; ties go to the worker used least recently.
func (s *Sched) dispatch() {
	for len(s.queue) > 0 {
		best := -1
		for i := range s.slots {
			sl := &s.slots[i]
			if sl.state != slotReady || len(sl.inflight) >= s.cfg.Window {
				continue
			}
			if best < 0 || len(sl.inflight) < len(s.slots[best].inflight) ||
				len(sl.inflight) == len(s.slots[best].inflight) && sl.lastUsed < s.slots[best].lastUsed {
				best = i
			}
		}
		if best < 0 {
			return
		}
		b := s.queue[0]
		s.queue = s.queue[1:]
		sl := &s.slots[best]
		if len(sl.inflight) == 0 {
			sl.progress = s.now
		}
		sl.inflight = append(sl.inflight, b)
		s.seq++
		sl.lastUsed = s.seq
		st := s.batches[b]
		st.queued = false
		st.worker = s.id(best)
		s.emit(Action{Kind: ActionDispatch, Worker: st.worker, Batch: b})
	}
}

// String describes the core's state on one line per part, for transcripts
// and debugging.
func (s *Sched) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "t=%d phase=%s pending=%d queue=%v", s.now, [...]string{"new", "starting", "running", "draining", "stopped", "gave-up"}[s.phase], len(s.batches), s.queue)
	for i := range s.slots {
		sl := &s.slots[i]
		fmt.Fprintf(&sb, "\n%v %s inflight=%v failures=%d", s.id(i), [...]string{"starting", "ready", "backoff", "stopping", "down"}[sl.state], sl.inflight, sl.failures)
		if sl.state == slotBackoff {
			fmt.Fprintf(&sb, " restart@%d", sl.restartAt)
		}
	}
	return sb.String()
}

func remove(s []BatchID, b BatchID) []BatchID {
	if i := slices.Index(s, b); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}
