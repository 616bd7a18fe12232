package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minilm-dev/minilm/engine"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// minilmBinary builds cmd/minilm once for the tests that run it as a
// process (signals, worker processes).
func minilmBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "minilm-server-test")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "minilm")
		out, err := exec.Command("go", "build", "-o", binary, "../cmd/minilm").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

// served is a `minilm serve` process.
type served struct {
	cmd  *exec.Cmd
	url  string
	log  *strings.Builder
	mu   *sync.Mutex
	done chan error
}

func (p *served) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

var listenLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// serve starts `minilm serve` on 127.0.0.1:0 and waits for /ready.
func serve(t *testing.T, args ...string) *served {
	t.Helper()
	bin := minilmBinary(t)
	cmd := exec.Command(bin, append([]string{"serve", "--model", tinyModel, "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &served{cmd: cmd, log: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-time.After(testTimeout):
		t.Fatalf("serve did not log its address:\n%s", p.logText())
	}
	eventually(t, "serve ready", func() bool {
		resp, err := http.Get(p.url + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// gauge reads one metric of a served process.
func (p *served) gauge(t *testing.T, name string) float64 {
	return metric(t, &testServer{url: p.url}, name)
}

// longDocs are n documents of about 400 tokens each.
func longDocs(n int) []string {
	docs := make([]string, n)
	for i := range docs {
		docs[i] = fmt.Sprintf("%d %s", i, strings.Repeat("Berlin has a population of registered inhabitants. ", 40))
	}
	return docs
}

func TestServeBinaryDrainsOnSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on windows")
	}
	p := serve(t, "--threads", "1", "--payload-limit", "16MB", "--max-batch-requests", "16", "--max-queued-pairs", "20000", "--shutdown-timeout", "2m")
	const n = 12
	statuses := make(chan int, n)
	for range n {
		go func() {
			status, _, _ := post(t, p.url+"/rerank", map[string]any{"query": "How many people live in Berlin?", "texts": longDocs(200)})
			statuses <- status
		}()
	}
	eventually(t, "requests in flight", func() bool { return p.gauge(t, "minilm_requests_in_flight") == n })
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	eventually(t, "/ready 503", func() bool {
		status, _, _ := call(t, http.MethodGet, p.url+"/ready", nil)
		return status == http.StatusServiceUnavailable
	})
	status, body, _ := post(t, p.url+"/rerank", map[string]any{"query": "q", "texts": []string{"a"}})
	assert.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	for range n {
		assert.Equal(t, http.StatusOK, <-statuses, "a request in flight at SIGTERM finishes")
	}
	select {
	case err := <-p.done:
		require.NoError(t, err, "exit status; log:\n%s", p.logText())
	case <-time.After(testTimeout):
		t.Fatalf("serve did not exit after draining:\n%s", p.logText())
	}
	assert.Contains(t, p.logText(), "msg=draining")
	assert.Contains(t, p.logText(), "in_flight=12")
}

// children lists the processes the server started (its workers).
func children(t *testing.T, pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(s); err == nil {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

func TestServeBinaryWorkerKilledMidRequest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("finds the worker processes in /proc (Linux only)")
	}
	p := serve(t, "--replicas", "2", "--threads", "2", "--max-batch-requests", "16")
	workers := children(t, p.cmd.Process.Pid)
	require.Len(t, workers, 2, "two worker processes")

	be := loadTiny(t)
	defer be.Close(context.Background())
	query := "How many people live in Berlin?"
	docs := longDocs(48)
	pairs := make([]engine.Pair, len(docs))
	for i, d := range docs {
		pairs[i] = engine.Pair{Query: query, Passage: d}
	}
	want := reference(t, be, pairs)

	// Clients keep sending until the killed worker has been replaced.
	var stop atomic.Bool
	var sent, bad atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range 6 {
		wg.Go(func() {
			for !stop.Load() {
				status, body, _ := post(t, p.url+"/predict", map[string]any{"inputs": pairsJSON(pairs), "raw_scores": true})
				sent.Add(1)
				if status != http.StatusOK {
					bad.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %s", status, body))
					mu.Unlock()
					continue
				}
				got := decodeAs[[][]prediction](t, body)
				for i := range want {
					if d := got[i][0].Score - want[i]; d > 1e-6 || d < -1e-6 {
						bad.Add(1)
						mu.Lock()
						failures = append(failures, fmt.Sprintf("pair %d: %v, want %v", i, got[i][0].Score, want[i]))
						mu.Unlock()
						break
					}
				}
			}
		})
	}
	eventually(t, "batches in flight", func() bool { return p.gauge(t, "minilm_batches_in_flight") > 0 })
	require.NoError(t, syscall.Kill(workers[0], syscall.SIGKILL))
	eventually(t, "the worker restarted", func() bool { return p.gauge(t, "minilm_worker_restarts_total") >= 1 })
	after := sent.Load()
	eventually(t, "requests after the restart", func() bool { return sent.Load() >= after+6 })
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, bad.Load(), "of %d requests: %v", sent.Load(), failures)
	t.Logf("%d requests, all 200 with the in-process scores, across a worker kill", sent.Load())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-p.done, "log:\n%s", p.logText())
}

func pairsJSON(pairs []engine.Pair) [][2]string {
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		out[i] = [2]string{p.Query, p.Passage}
	}
	return out
}
