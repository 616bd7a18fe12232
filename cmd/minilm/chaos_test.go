package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chaosTimeout bounds each wait of the chaos tests: long enough for a loaded
// 2-core machine, short enough that a hang fails the test instead of CI.
const chaosTimeout = 60 * time.Second

// chaosInput is n JSONL records with ids 0..n-1, cycling through the golden
// pairs; each cycle appends its number to the passages, so records differ.
func chaosInput(t *testing.T, n int) []string {
	t.Helper()
	data, err := os.ReadFile("../../testdata/golden/tiny.public.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var pairs [][2]string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var g struct{ Query, Passage string }
		if err := json.Unmarshal([]byte(line), &g); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, [2]string{g.Query, g.Passage})
	}
	lines := make([]string, n)
	for i := range lines {
		p := pairs[i%len(pairs)]
		rec, err := json.Marshal(map[string]any{"id": i, "query": p[0], "passage": fmt.Sprintf("%s (variant %d)", p[1], i/len(pairs))})
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = string(rec)
	}
	return lines
}

// chaosScores parses scored records and checks that they are exactly the
// input's, in order: record i has id i.
func chaosScores(t *testing.T, what string, out []string, n int) []float64 {
	t.Helper()
	if len(out) != n {
		t.Errorf("%s: %d output lines for %d input lines", what, len(out), n)
	}
	scores := make([]float64, 0, len(out))
	for i, line := range out {
		var r struct {
			ID    *int
			Score *float64
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.ID == nil || r.Score == nil {
			t.Fatalf("%s: output line %d is not a scored record (%v): %q", what, i+1, err, line)
		}
		if *r.ID != i {
			t.Fatalf("%s: output line %d holds record %d: output out of order, duplicated or incomplete", what, i+1, *r.ID)
		}
		scores = append(scores, *r.Score)
	}
	return scores
}

// lockedBuffer is a bytes.Buffer that a process may write while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// child is a process whose parent is the minilm under test.
type child struct {
	pid    int
	zombie bool // exited, not yet reaped by the supervisor
}

// children lists the processes whose parent is pid, from /proc/*/stat.
func children(t *testing.T, pid int) []child {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var kids []child
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process is gone
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		end := bytes.LastIndexByte(data, ')')
		if end < 0 {
			continue
		}
		fields := strings.Fields(string(data[end+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err != nil || ppid != pid {
			continue
		}
		p, err := strconv.Atoi(strings.Fields(string(data))[0])
		if err != nil {
			continue
		}
		kids = append(kids, child{pid: p, zombie: fields[0] == "Z"})
	}
	return kids
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(chaosTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", chaosTimeout, what)
		}
		<-tick.C
	}
}

// liveWorkers are the minilm process's running children other than those
// in dead.
func liveWorkers(t *testing.T, pid int, dead []int) []int {
	var live []int
	for _, c := range children(t, pid) {
		if !c.zombie && !slices.Contains(dead, c.pid) {
			live = append(live, c.pid)
		}
	}
	return live
}

// TestScoreReplicasChaos scores 2,400 pairs on 2 workers while killing one
// worker with SIGKILL, then its replacement, in the middle of the run: the
// output must be the single-process output, record for record.
func TestScoreReplicasChaos(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the workers through /proc")
	}
	const n = 2400
	lines := chaosInput(t, n)
	input := strings.Join(lines, "\n") + "\n"

	// Pairs are cut to 32 tokens: the run stays short, and the kills still
	// land while batches are in flight. The reference runs in process on
	// one thread, as each worker does below.
	args := []string{"--max-length", "32", "--batch-size", "16"}
	ref := minilm(t, strings.NewReader(input), score(append(args, "--replicas", "1", "--threads", "1")...)...)
	if ref.code != 0 {
		t.Fatalf("--replicas 1: exit %d, stderr %q", ref.code, ref.stderr)
	}
	want := chaosScores(t, "--replicas 1", strings.Split(strings.TrimSuffix(ref.stdout, "\n"), "\n"), n)

	ctx, cancel := context.WithTimeout(t.Context(), 3*chaosTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, score(append(args, "--replicas", "2", "--threads", "2")...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer // read while minilm runs, if the test fails
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // only if the test fails before Wait

	var (
		mu  sync.Mutex
		out []string
		eof bool // minilm closed its output
	)
	readDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			mu.Lock()
			out = append(out, sc.Text())
			mu.Unlock()
		}
		mu.Lock()
		eof = true
		mu.Unlock()
		readDone <- sc.Err()
	}()
	// The writer feeds the parts it is given; the test waits on the output
	// in between. A write blocks while minilm is busy, so it runs apart.
	parts := make(chan []string)
	writeDone := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(stdin)
		for part := range parts {
			for _, l := range part {
				if _, err := io.WriteString(w, l+"\n"); err != nil {
					writeDone <- err
					return
				}
			}
			if err := w.Flush(); err != nil {
				writeDone <- err
				return
			}
		}
		writeDone <- stdin.Close()
	}()

	pid := cmd.Process.Pid
	var killed []int
	var live []int
	workers := func() bool {
		live = liveWorkers(t, pid, killed)
		return len(live) == 2
	}
	// killAndReplace SIGKILLs victim and waits until the supervisor has
	// started a worker in its place, whose pid it returns.
	killAndReplace := func(victim int) int {
		t.Helper()
		others := slices.DeleteFunc(slices.Clone(live), func(p int) bool { return p == victim })
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatalf("kill worker %d: %v", victim, err)
		}
		killed = append(killed, victim)
		mu.Lock()
		t.Logf("killed worker %d after %d output lines", victim, len(out))
		mu.Unlock()
		waitFor(t, fmt.Sprintf("a worker replacing %d", victim), workers)
		for _, p := range live {
			if !slices.Contains(others, p) {
				return p
			}
		}
		t.Fatalf("workers %v after killing %d: no replacement", live, victim)
		return 0
	}
	waitOutput := func(lines int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d output lines", lines), func() bool {
			mu.Lock()
			defer mu.Unlock()
			if eof && len(out) < lines {
				t.Fatalf("minilm ended its output after %d lines; stderr:\n%s", len(out), stderr.String())
			}
			return len(out) >= lines
		})
	}

	parts <- lines[:800]
	waitOutput(100)
	waitFor(t, "two workers", workers)
	replacement := killAndReplace(live[0])
	parts <- lines[800:1600]
	waitOutput(900)
	killAndReplace(replacement)
	parts <- lines[1600:]
	close(parts)

	if err := <-writeDone; err != nil {
		t.Fatalf("writing the input: %v", err)
	}
	if err := <-readDone; err != nil {
		t.Fatalf("reading the output: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("minilm score --replicas 2: %v; stderr:\n%s", err, stderr.String())
	}
	got := chaosScores(t, "--replicas 2", out, n)
	for i := range min(len(got), len(want)) {
		// Same engine, same thread count per forward pass: the bar is the
		// issue's 1e-6, though the scores are computed identically.
		if d := math.Abs(got[i] - want[i]); !(d <= 1e-6) {
			t.Errorf("record %d: %v with workers killed, %v in process", i, got[i], want[i])
		}
	}
}

// TestScoreReplicasWorkerStartFails runs workers that cannot start: the
// supervisor itself tokenizes on the CPU, but its workers are asked for the
// Metal backend, which this machine lacks. The run must end at once with an
// error that quotes the worker's stderr.
func TestScoreReplicasWorkerStartFails(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs a machine without Metal")
	}
	ctx, cancel := context.WithTimeout(t.Context(), chaosTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, score("--replicas", "2", "--backend", "metal")...)
	cmd.Stdin = strings.NewReader(`{"query": "q", "passage": "p"}` + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("minilm did not give up within %v; stderr:\n%s", chaosTimeout, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFailure || err == nil {
		t.Errorf("exit %d (%v), want %d", code, err, exitFailure)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
	for _, want := range []string{"gave up on workers", "failed to start", "last stderr", "metal"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
