package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gated starts a server whose batches wait for the test; the warm-up is let
// through.
func gated(t *testing.T, cfg Config) (*testServer, *gate) {
	t.Helper()
	be := loadTiny(t)
	g := newGate(be.Scorer)
	be.Scorer = g
	ts := startLoading(t, cfg, func(context.Context) (*Backend, error) { return be, nil })
	<-g.entered
	g.release <- struct{}{}
	waitReady(t, ts)
	return ts, g
}

func rerankBody(n int) map[string]any {
	docs := make([]string, n)
	for i := range docs {
		docs[i] = strings.Repeat("passage ", 1+i%5)
	}
	return map[string]any{"query": "q", "texts": docs}
}

// background sends a request in a goroutine; its status arrives on the
// channel.
func background(t *testing.T, ctx context.Context, url string, body any) <-chan int {
	out := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(mustJSON(t, body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- -1
			return
		}
		resp.Body.Close()
		out <- resp.StatusCode
	}()
	return out
}

func queued(ts *testServer) int { return ts.core.Load().batcher.Stats().Queued }

func TestClientDisconnectDropsItsWork(t *testing.T) {
	ts, g := gated(t, Config{MaxBatchRequests: 8})
	first := background(t, context.Background(), ts.url+"/rerank", rerankBody(1))
	<-g.entered // the first request's batch holds the model
	ctx, cancel := context.WithCancel(context.Background())
	gone := background(t, ctx, ts.url+"/rerank", rerankBody(40))
	eventually(t, "40 pairs queued", func() bool { return queued(ts) == 41 })
	cancel()
	assert.Equal(t, -1, <-gone)
	eventually(t, "the request given up", func() bool {
		return metric(t, ts, `minilm_request_failures_total{reason="client_closed"}`) == 1
	})
	g.open()
	assert.Equal(t, http.StatusOK, <-first)
	eventually(t, "its pairs dropped", func() bool { return queued(ts) == 0 })
	assert.Equal(t, 40.0, metric(t, ts, "minilm_dropped_pairs_total"), "none of the 40 pairs was scored")
	assert.Equal(t, 2.0, metric(t, ts, "minilm_pairs_total"), "the warm-up and the first request only")
}

func TestOverloadedIs429(t *testing.T) {
	t.Run("queue full", func(t *testing.T) {
		ts, g := gated(t, Config{MaxBatchRequests: 4, MaxQueuedPairs: 10, MaxClientBatchSize: 10})
		first := background(t, context.Background(), ts.url+"/rerank", rerankBody(10))
		<-g.entered
		status, body, h := post(t, ts.url+"/rerank", rerankBody(1))
		assert.Equal(t, http.StatusTooManyRequests, status, "%s", body)
		assert.Equal(t, "overloaded", decodeAs[errorBody](t, body).ErrorType)
		assert.Equal(t, "1", h.Get("Retry-After"))
		g.open()
		assert.Equal(t, http.StatusOK, <-first)
		status, _, _ = post(t, ts.url+"/rerank", rerankBody(1))
		assert.Equal(t, http.StatusOK, status, "room again once the queue drained")
		assert.Equal(t, 1.0, metric(t, ts, `minilm_request_failures_total{reason="queue_full"}`))
	})
	t.Run("concurrent requests", func(t *testing.T) {
		ts, g := gated(t, Config{MaxConcurrentRequests: 2})
		a := background(t, context.Background(), ts.url+"/rerank", rerankBody(1))
		<-g.entered
		b := background(t, context.Background(), ts.url+"/rerank", rerankBody(1))
		eventually(t, "two requests in progress", func() bool { return len(ts.sem) == 2 })
		status, body, _ := post(t, ts.url+"/v1/rerank", map[string]any{"query": "q", "documents": []string{"a"}})
		assert.Equal(t, http.StatusTooManyRequests, status, "%s", body)
		assert.Contains(t, decodeAs[errorBody](t, body).Error, "--max-concurrent-requests")
		g.open()
		assert.Equal(t, http.StatusOK, <-a)
		assert.Equal(t, http.StatusOK, <-b)
	})
}

func TestDrain(t *testing.T) {
	ts, g := gated(t, Config{ShutdownTimeout: time.Minute})
	inFlight := background(t, context.Background(), ts.url+"/rerank", rerankBody(3))
	<-g.entered
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	eventually(t, "draining", func() bool { return ts.isDraining() })
	status, _, _ := call(t, http.MethodGet, ts.url+"/ready", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	status, body, _ := post(t, ts.url+"/rerank", rerankBody(1))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, decodeAs[errorBody](t, body).Error, "shutting down")
	status, _, _ = call(t, http.MethodGet, ts.url+"/metrics", nil)
	assert.Equal(t, http.StatusOK, status, "metrics stay up while draining")
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	default:
	}
	g.open()
	assert.Equal(t, http.StatusOK, <-inFlight, "the request in flight finishes")
	require.NoError(t, <-stopped)
}

func TestDrainGivesUpAtTimeout(t *testing.T) {
	ts, g := gated(t, Config{ShutdownTimeout: 200 * time.Millisecond})
	inFlight := background(t, context.Background(), ts.url+"/rerank", rerankBody(1))
	<-g.entered
	err := ts.stop()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still running")
	status := <-inFlight
	assert.NotEqual(t, http.StatusOK, status)
	g.open()
}

func TestDashboardFeed(t *testing.T) {
	ts := start(t, Config{}, loadTiny(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.url+"/dashboard/events", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { post(t, ts.url+"/rerank", rerankBody(4)) })
	}
	wg.Wait()
	p := ts.dash.tick(time.Now())
	assert.Equal(t, 5, p.Requests)
	assert.Equal(t, 20.0, p.PairsPerS)
	require.NotNil(t, p.LatencyP50)
	require.NotNil(t, p.LatencyP99)
	assert.LessOrEqual(t, *p.LatencyP50, *p.LatencyP99)
	assert.NotNil(t, p.InferenceMS)
	assert.NotNil(t, p.MemoryMB)

	// The stream carries points as they are made.
	buf := make([]byte, 4096)
	n, err := resp.Body.Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:n]), "data: {"), "%q", buf[:n])

	status, body, _ := call(t, http.MethodGet, ts.url+"/dashboard/data", nil)
	require.Equal(t, http.StatusOK, status)
	f := decodeAs[feed](t, body)
	assert.True(t, slices.ContainsFunc(f.Points, func(p Point) bool { return p.Requests == 5 }), "%s", body)

	for _, path := range []string{"/", "/dashboard"} {
		status, body, h := call(t, http.MethodGet, ts.url+path, nil)
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, h.Get("Content-Type"), "text/html")
		assert.Contains(t, string(body), "/dashboard/events")
		assert.NotContains(t, string(body), "https://", "no CDN: the page is self-contained")
	}
}
