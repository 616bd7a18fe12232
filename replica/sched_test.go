package replica

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual scheduler output")

// TestSchedTranscripts replays testdata/*.txt. A file is a list of stanzas:
// command lines, a "----" line, the expected actions, a blank line. Lines
// starting with # are comments. Commands:
//
//	config key=value...   new core (keys: workers window queue attempts failures
//	                      backoff maxbackoff start ping hang stall)
//	start | shutdown | abort | state
//	submit 1 2 3          batches by id
//	cancel 3
//	ready w0              w0 is slot 0's current incarnation; w0.1 names one
//	result w0 3 [err=message...]
//	pong w0
//	exit w0 [err=message...]
//	tick [n]              actions are prefixed with the tick they happened at
//
// Besides comparing output, every step is checked against the core's
// invariants (see checkInvariants), so a transcript cannot pass while a
// result is delivered twice or a window overflows.
func TestSchedTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runTranscript(t, file)
		})
	}
}

type transcript struct {
	t        *testing.T
	s        *Sched
	terminal map[BatchID]string // the one Reply/Fail each batch got
	holder   map[BatchID]WorkerID
}

func runTranscript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	tr := &transcript{t: t}
	var rewritten []string
	for i := 0; i < len(lines); {
		// Commands (and comments) up to "----".
		var cmds []string
		for ; i < len(lines) && lines[i] != "----"; i++ {
			rewritten = append(rewritten, lines[i])
			if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "#") {
				cmds = append(cmds, l)
			}
		}
		if i == len(lines) {
			if len(cmds) > 0 {
				t.Fatalf("%s: commands %q without ----", file, cmds)
			}
			break
		}
		sep := i + 1
		i++
		var want []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		for i < len(lines) && lines[i] == "" {
			i++
		}
		var got []string
		for _, c := range cmds {
			got = append(got, tr.run(c)...)
		}
		rewritten = append(rewritten, "----")
		rewritten = append(rewritten, got...)
		rewritten = append(rewritten, "")
		if !*update && !slices.Equal(got, want) {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, sep, strings.Join(cmds, "; "),
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(strings.Join(rewritten, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (tr *transcript) run(cmd string) []string {
	t := tr.t
	fields := strings.Fields(cmd)
	var errArg error
	for j, f := range fields {
		if msg, ok := strings.CutPrefix(f, "err="); ok {
			errArg = errors.New(strings.Join(append([]string{msg}, fields[j+1:]...), " "))
			fields = fields[:j]
			break
		}
	}
	name, args := fields[0], fields[1:]
	if name == "config" {
		cfg := SchedConfig{Workers: 2, Window: 2, QueueSize: 2, MaxAttempts: 3, MaxFailures: 3,
			Backoff: 1, MaxBackoff: 8, StartTimeout: 10, PingEvery: 5, HangTimeout: 3, StallTimeout: 20}
		fieldsOf := map[string]*int{"workers": &cfg.Workers, "window": &cfg.Window, "queue": &cfg.QueueSize,
			"attempts": &cfg.MaxAttempts, "failures": &cfg.MaxFailures, "backoff": &cfg.Backoff,
			"maxbackoff": &cfg.MaxBackoff, "start": &cfg.StartTimeout, "ping": &cfg.PingEvery,
			"hang": &cfg.HangTimeout, "stall": &cfg.StallTimeout}
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			p, ok := fieldsOf[k]
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				t.Fatalf("config: bad %q", a)
			}
			*p = n
		}
		s, err := NewSched(cfg)
		if err != nil {
			return []string{err.Error()}
		}
		tr.s, tr.terminal, tr.holder = s, map[BatchID]string{}, map[BatchID]WorkerID{}
		return nil
	}
	if tr.s == nil {
		t.Fatalf("%q before config", cmd)
	}
	var out []string
	step := func(ev Event, prefix string) {
		for _, a := range tr.s.Step(ev) {
			tr.observe(a)
			out = append(out, prefix+a.String())
		}
		tr.checkInvariants()
	}
	switch name {
	case "start":
		step(Event{Kind: EventStart}, "")
	case "shutdown":
		step(Event{Kind: EventShutdown}, "")
	case "abort":
		step(Event{Kind: EventAbort, Err: errArg}, "")
	case "state":
		out = strings.Split(tr.s.String(), "\n")
	case "submit":
		for _, a := range args {
			step(Event{Kind: EventSubmit, Batch: tr.batch(a)}, "")
		}
	case "cancel":
		step(Event{Kind: EventCancel, Batch: tr.batch(args[0]), Err: errArg}, "")
	case "ready":
		step(Event{Kind: EventReady, Worker: tr.worker(args[0])}, "")
	case "result":
		step(Event{Kind: EventResult, Worker: tr.worker(args[0]), Batch: tr.batch(args[1]), Err: errArg}, "")
	case "pong":
		step(Event{Kind: EventPong, Worker: tr.worker(args[0])}, "")
	case "exit":
		step(Event{Kind: EventExit, Worker: tr.worker(args[0]), Err: errArg}, "")
	case "tick":
		n := 1
		if len(args) > 0 {
			n, _ = strconv.Atoi(args[0])
		}
		for range n {
			step(Event{Kind: EventTick}, fmt.Sprintf("t%d: ", tr.s.now+1))
		}
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	return out
}

func (tr *transcript) batch(a string) BatchID {
	n, err := strconv.ParseUint(strings.TrimPrefix(a, "b"), 10, 64)
	if err != nil {
		tr.t.Fatalf("bad batch %q", a)
	}
	return BatchID(n)
}

func (tr *transcript) worker(a string) WorkerID {
	slotStr, genStr, hasGen := strings.Cut(strings.TrimPrefix(a, "w"), ".")
	i, err := strconv.Atoi(slotStr)
	if err != nil || i < 0 || i >= len(tr.s.slots) {
		tr.t.Fatalf("bad worker %q", a)
	}
	w := WorkerID{Slot: i, Gen: tr.s.slots[i].gen}
	if hasGen {
		if w.Gen, err = strconv.ParseUint(genStr, 10, 64); err != nil {
			tr.t.Fatalf("bad worker %q", a)
		}
	}
	return w
}

// observe checks each action against what came before it: a batch is
// answered once, and a Reply names the worker that holds the batch.
func (tr *transcript) observe(a Action) {
	switch a.Kind {
	case ActionDispatch:
		tr.holder[a.Batch] = a.Worker
	case ActionReply, ActionFail:
		if prev, ok := tr.terminal[a.Batch]; ok {
			tr.t.Errorf("b%d answered twice: %q then %q", a.Batch, prev, a)
		}
		tr.terminal[a.Batch] = a.String()
		if a.Kind == ActionReply && tr.holder[a.Batch] != a.Worker {
			tr.t.Errorf("%v, but b%d was dispatched to %v", a, a.Batch, tr.holder[a.Batch])
		}
	}
}

// checkInvariants verifies the core's bookkeeping after every step: each
// pending batch sits in exactly one place, windows and capacity hold.
func (tr *transcript) checkInvariants() {
	s := tr.s
	where := map[BatchID]int{}
	for _, b := range s.queue {
		where[b]++
		if !s.batches[b].queued {
			tr.t.Errorf("b%d in queue but not marked queued", b)
		}
	}
	for i := range s.slots {
		sl := &s.slots[i]
		if len(sl.inflight) > s.cfg.Window {
			tr.t.Errorf("w%d holds %d batches, window %d", i, len(sl.inflight), s.cfg.Window)
		}
		if len(sl.inflight) > 0 && sl.state != slotReady {
			tr.t.Errorf("w%d holds batches in state %d", i, sl.state)
		}
		for _, b := range sl.inflight {
			where[b]++
			if st := s.batches[b]; st == nil || st.queued || st.worker != s.id(i) {
				tr.t.Errorf("b%d in flight on w%d but recorded as %+v", b, i, st)
			}
		}
	}
	for b := range s.batches {
		if where[b] != 1 {
			tr.t.Errorf("b%d pending in %d places", b, where[b])
		}
		if _, done := tr.terminal[b]; done {
			tr.t.Errorf("b%d pending after it was answered", b)
		}
	}
	if len(where) != len(s.batches) {
		tr.t.Errorf("%d batches placed, %d pending", len(where), len(s.batches))
	}
	if len(s.batches) > s.cfg.Capacity() {
		tr.t.Errorf("%d batches pending, capacity %d", len(s.batches), s.cfg.Capacity())
	}
}
