package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// testTimeout bounds every wait: generous for a loaded 2-core machine, short
// enough that a hang fails the test rather than CI.
const testTimeout = 60 * time.Second

const tinyModel = "../testdata/models/tiny"

// goldenTol: the golden logits come from PyTorch in float32; a correct
// float32 engine lands within 1e-4 of them (engine's golden tests).
const goldenTol = 1e-4

type golden struct {
	ID      int     `json:"id"`
	Kind    string  `json:"kind"`
	Query   string  `json:"query"`
	Passage string  `json:"passage"`
	IDs     []int32 `json:"input_ids"`
	Logit   float64 `json:"logit"`
}

func readGolden(t testing.TB) []golden {
	t.Helper()
	data, err := os.ReadFile("../testdata/golden/tiny.public.jsonl")
	require.NoError(t, err)
	var out []golden
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var g golden
		require.NoError(t, json.Unmarshal([]byte(line), &g))
		out = append(out, g)
	}
	return out
}

// gate wraps a scorer so a test decides when batches run: each batch
// announces itself on entered, then waits for a token from release (or its
// closing). fail, when set, makes batches fail.
type gate struct {
	batch.Scorer
	entered chan struct{}
	release chan struct{}
	fail    atomic.Bool
	batches atomic.Int64
}

func newGate(sc batch.Scorer) *gate {
	return &gate{Scorer: sc, entered: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (g *gate) ScoreSequences(ctx context.Context, seqs []engine.Sequence) ([]float32, error) {
	g.batches.Add(1)
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.fail.Load() {
		return nil, errors.New("simulated backend failure")
	}
	return g.Scorer.ScoreSequences(ctx, seqs)
}

// open releases every batch from now on.
func (g *gate) open() { close(g.release) }

func loadTiny(t testing.TB) *Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	be, err := Load(ctx, tinyModel, LoadOptions{Engine: engine.Options{Threads: 2}})
	require.NoError(t, err)
	return be
}

// testServer is a Server running on 127.0.0.1:0.
type testServer struct {
	*Server
	url  string
	stop func() error // drains and waits for Run to return
}

// start runs a server on be and waits until it is ready.
func start(t testing.TB, cfg Config, be *Backend) *testServer {
	t.Helper()
	ts := startLoading(t, cfg, func(context.Context) (*Backend, error) { return be, nil })
	waitReady(t, ts)
	return ts
}

func waitReady(t testing.TB, ts *testServer) {
	t.Helper()
	select {
	case <-ts.Ready():
	case <-time.After(testTimeout):
		t.Fatal("server not ready in time")
	}
}

// startLoading runs a server whose model comes from load.
func startLoading(t testing.TB, cfg Config, load Loader) *testServer {
	t.Helper()
	if cfg.ModelID == "" {
		cfg.ModelID = "minilm-golden-tiny"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln, load) }()
	ts := &testServer{Server: s, url: "http://" + ln.Addr().String()}
	var stopped atomic.Bool
	var result error
	ts.stop = func() error {
		if stopped.Swap(true) {
			return result
		}
		cancel()
		select {
		case result = <-done:
		case <-time.After(testTimeout):
			result = errors.New("Run did not return in time")
		}
		return result
	}
	t.Cleanup(func() { ts.stop() })
	return ts
}

// call sends a request and returns the status, body and headers.
func call(t testing.TB, method, url string, body any, header ...string) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data, resp.Header
}

func post(t testing.TB, url string, body any, header ...string) (int, []byte, http.Header) {
	t.Helper()
	return call(t, http.MethodPost, url, body, header...)
}

// decodeAs unmarshals a response body into T.
func decodeAs[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(body, &v), "body: %s", body)
	return v
}

// metric reads one sample of the server's metrics (name with labels as
// Prometheus prints them, e.g. `minilm_request_failures_total{reason="x"}`);
// absent is 0.
func metric(t testing.TB, ts *testServer, name string) float64 {
	t.Helper()
	status, body, _ := call(t, http.MethodGet, ts.url+"/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			require.NoError(t, json.Unmarshal([]byte(v), &f), line)
			return f
		}
	}
	return 0
}

// eventually polls cond until it holds; the condition is state the test
// cannot be told about (a queue filling in another goroutine).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
