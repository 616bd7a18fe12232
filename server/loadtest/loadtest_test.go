package loadtest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minilm-dev/minilm/bench"
	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/server"
)

func testPairs(n int) []engine.Pair {
	ps := make([]engine.Pair, n)
	for i := range ps {
		ps[i] = engine.Pair{Query: "what is the capital of germany?", Passage: strings.Repeat("Berlin is the capital. ", 1+i%4)}
	}
	return ps
}

func TestAgainstServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New(server.Config{ModelID: "tiny"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, ln, func(ctx context.Context) (*server.Backend, error) {
			return server.Load(ctx, "../../testdata/models/tiny", server.LoadOptions{Engine: engine.Options{Threads: 2}})
		})
	}()
	select {
	case <-s.Ready():
	case <-ctx.Done():
		t.Fatal("server not ready")
	}
	info, err := Info(ctx, Options{URL: "http://" + ln.Addr().String()})
	require.NoError(t, err)
	assert.Equal(t, ServerInfo{ModelID: "tiny", Backend: "cpu", Threads: 2, MaxInputLength: 512}, info)
	for _, route := range []string{"/rerank", "/v1/rerank"} {
		cfg, err := Run(ctx, Options{URL: "http://" + ln.Addr().String() + "/", Route: route, Clients: 4, Docs: 5, Requests: 20, Pairs: testPairs(7)})
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"200": 20}, cfg.HTTP.ByStatus)
		assert.Equal(t, 20, cfg.HTTP.Sent)
		assert.Equal(t, 4, cfg.WarmupBatches, "one warm-up request per client")
		assert.Equal(t, 100, cfg.Summary.Pairs)
		assert.Len(t, cfg.Batches, 20)
		assert.Positive(t, cfg.Summary.TokensReal)
		assert.Positive(t, cfg.HTTP.RequestsPerS)
		assert.InDelta(t, cfg.Summary.Throughput, 5*cfg.HTTP.RequestsPerS, 1e-6*cfg.Summary.Throughput)

		// The bench package writes its usual report from it.
		dir := t.TempDir()
		res := bench.Results{Tool: "minilm loadtest", Machine: bench.ThisMachine(), Configs: []bench.Config{cfg}}
		require.NoError(t, res.WriteFiles(dir))
		md, err := os.ReadFile(filepath.Join(dir, "report.md"))
		require.NoError(t, err)
		assert.Contains(t, string(md), "| Requests by status | 200: 20 |")
		_, err = os.Stat(filepath.Join(dir, "results.json"))
		assert.NoError(t, err)
	}
	cancel()
	require.NoError(t, <-done)
}

func TestCountsFailures(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 { // the warm-up gets through
			w.Header().Set("x-compute-tokens", "9")
			w.Write([]byte(`[]`))
			return
		}
		http.Error(w, `{"error":"overloaded","error_type":"overloaded"}`, http.StatusTooManyRequests)
	}))
	defer srv.Close()
	cfg, err := Run(context.Background(), Options{URL: srv.URL, Clients: 1, Docs: 2, Requests: 5, Pairs: testPairs(3)})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"429": 5}, cfg.HTTP.ByStatus)
	assert.Empty(t, cfg.Batches)

	_, err = Run(context.Background(), Options{URL: srv.URL, Clients: 1, Requests: 1, Pairs: testPairs(3)})
	assert.ErrorIs(t, err, ErrNoServer)
	_, err = Run(context.Background(), Options{URL: srv.URL, Route: "/predict", Pairs: testPairs(3)})
	assert.ErrorContains(t, err, "/predict")
}
