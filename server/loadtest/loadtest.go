// Package loadtest drives a running minilm serve (or any server speaking
// its rerank dialects) with concurrent clients and measures it in the
// bench package's terms: each request is one batch of the report, so a
// load test writes the same report.md and results.json as minilm bench.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minilm-dev/minilm/bench"
	"github.com/minilm-dev/minilm/engine"
)

// Options describe one load test. Zero fields take the defaults noted.
type Options struct {
	// URL is the server's base URL (http://127.0.0.1:8080).
	URL string
	// Route is the rerank route: /v1/rerank (default), /v2/rerank or
	// /rerank.
	Route  string
	APIKey string
	// Clients send requests concurrently, each waiting for its answer
	// before the next (default 64).
	Clients int
	// Docs is the documents per request (default 20): the query of one
	// bench pair with the passages of the next Docs pairs.
	Docs int
	// The measured phase ends after Requests requests in all, else once
	// Duration has passed (default 10 s); a request started in time is
	// waited for.
	Requests int
	Duration time.Duration
	// Warmup requests per client run first and are not measured (default 1).
	Warmup int
	Pairs  []engine.Pair
	// Client sends the requests (default: one with a connection per client).
	Client *http.Client
}

// ErrNoServer is returned when no request of the warm-up was answered.
var ErrNoServer = errors.New("loadtest: the server answered no request")

func (o *Options) defaults() error {
	if o.URL == "" {
		return errors.New("loadtest: no server URL")
	}
	o.URL = strings.TrimSuffix(o.URL, "/")
	if o.Route == "" {
		o.Route = "/v1/rerank"
	}
	switch o.Route {
	case "/rerank", "/v1/rerank", "/v2/rerank":
	default:
		return fmt.Errorf("loadtest: route %q: want /rerank, /v1/rerank or /v2/rerank", o.Route)
	}
	if o.Clients <= 0 {
		o.Clients = 64
	}
	if o.Docs <= 0 {
		o.Docs = 20
	}
	if o.Requests <= 0 && o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = 1
	}
	if len(o.Pairs) == 0 {
		return errors.New("loadtest: no pairs")
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients, MaxConnsPerHost: o.Clients}}
	}
	return nil
}

// Run runs the warm-up, then the measured phase, and returns it as a
// bench configuration (batch size: Docs, concurrency: Clients) with its
// HTTP counts. Requests that fail are counted by status, not measured.
func Run(ctx context.Context, o Options) (bench.Config, error) {
	if err := o.defaults(); err != nil {
		return bench.Config{}, err
	}
	lt := &test{o: o}
	warm := lt.phase(ctx, time.Now(), func(seq int, _ time.Time) bool { return seq < o.Warmup })
	if o.Warmup > 0 && warm.ok == 0 {
		return bench.Config{}, fmt.Errorf("%w: %s", ErrNoServer, warm.firstErr)
	}
	start := time.Now()
	var claimed atomic.Int64
	more := func(_ int, now time.Time) bool {
		if o.Requests > 0 {
			return claimed.Add(1) <= int64(o.Requests)
		}
		return now.Sub(start) < o.Duration
	}
	res := lt.phase(ctx, start, more)
	cfg := bench.Config{BatchSize: o.Docs, Concurrency: o.Clients, WarmupBatches: warm.sent, Devices: 1, Batches: res.batches,
		HTTP: &bench.HTTPStats{URL: o.URL + o.Route, Sent: res.sent, ByStatus: res.byStatus}}
	cfg.Analyze()
	if s := cfg.Summary.Seconds; s > 0 {
		cfg.HTTP.RequestsPerS = float64(res.ok) / s
	}
	return cfg, ctx.Err()
}

type test struct {
	o      Options
	cursor atomic.Int64
}

type outcome struct {
	batches  []bench.Batch
	sent, ok int
	byStatus map[string]int
	firstErr string
}

// phase runs the clients while more(seq, now) says a client's next request
// should go.
func (lt *test) phase(ctx context.Context, t0 time.Time, more func(seq int, now time.Time) bool) outcome {
	out := outcome{byStatus: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range lt.o.Clients {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil && more(seq, time.Now()); seq++ {
				b, status, err := lt.one(ctx, t0)
				mu.Lock()
				out.sent++
				out.byStatus[status]++
				if err == nil {
					out.ok++
					b.Client, b.Seq = c, seq
					out.batches = append(out.batches, b)
				} else if out.firstErr == "" {
					out.firstErr = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// one sends one request and measures it; status is its HTTP status or
// "transport".
func (lt *test) one(ctx context.Context, t0 time.Time) (bench.Batch, string, error) {
	o := lt.o
	first := int(lt.cursor.Add(int64(o.Docs+1)) - int64(o.Docs+1))
	query := o.Pairs[first%len(o.Pairs)].Query
	docs := make([]string, o.Docs)
	for i := range docs {
		docs[i] = o.Pairs[(first+1+i)%len(o.Pairs)].Passage
	}
	body := map[string]any{"query": query}
	if o.Route == "/rerank" {
		body["texts"] = docs
	} else {
		body["documents"] = docs
	}
	data, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL+o.Route, bytes.NewReader(data))
	if err != nil {
		return bench.Batch{}, "transport", err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	start := time.Now()
	resp, err := o.Client.Do(req)
	if err != nil {
		return bench.Batch{}, "transport", err
	}
	reply, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	end := time.Now()
	status := strconv.Itoa(resp.StatusCode)
	if err != nil {
		return bench.Batch{}, "transport", err
	}
	if resp.StatusCode != http.StatusOK {
		return bench.Batch{}, status, fmt.Errorf("%s %s: %s", status, o.Route, bytes.TrimSpace(reply))
	}
	ms := func(t time.Time) float64 { return float64(t.Sub(t0)) / 1e6 }
	h := func(name string) float64 { v, _ := strconv.ParseFloat(resp.Header.Get(name), 64); return v }
	tokens := int(h("x-compute-tokens"))
	lat := end.Sub(start)
	return bench.Batch{
		Pairs: o.Docs, Tokens: tokens, TokensComputed: tokens,
		StartMS: ms(start), EndMS: ms(end), LatencyMS: float64(lat) / 1e6,
		TokenizeMS: h("x-tokenization-time"), QueueWaitMS: h("x-queue-time"), InferenceMS: h("x-inference-time"),
		InferEndMS: ms(start) + h("x-tokenization-time") + h("x-queue-time") + h("x-inference-time"),
		Worker:     -1, Throughput: float64(o.Docs) / lat.Seconds(),
	}, status, nil
}

// Definitions say how a load test measured each figure.
func Definitions() map[string]string {
	return map[string]string{
		"latency":      "per request, measured by the client: from sending the request to reading the whole answer (HTTP and JSON included)",
		"throughput":   "documents (pairs) of the requests answered 200, over the time from the first request sent to the last answer read",
		"tokenization": "the server's x-tokenization-time header (whole milliseconds, as text-embeddings-inference sends it)",
		"queue wait":   "the server's x-queue-time header: from tokenized to the first batch holding the request's pairs",
		"inference":    "the server's x-inference-time header: the request's first batch start to its last batch end",
	}
}

// ServerInfo is what a load test reports of the server, from GET /info.
type ServerInfo struct {
	ModelID        string `json:"model_id"`
	Backend        string `json:"backend"`
	Threads        int    `json:"threads"`
	Replicas       int    `json:"replicas"`
	MaxInputLength int    `json:"max_input_length"`
}

// Info reads the server's /info (text-embeddings-inference's fields and
// minilm's backend, threads and replicas; a server without them leaves
// them zero).
func Info(ctx context.Context, o Options) (ServerInfo, error) {
	var info ServerInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(o.URL, "/")+"/info", nil)
	if err != nil {
		return info, fmt.Errorf("loadtest: %w", err)
	}
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return info, fmt.Errorf("loadtest: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("loadtest: GET /info: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return info, fmt.Errorf("loadtest: GET /info: %w", err)
	}
	return info, nil
}
