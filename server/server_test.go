package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/tokenizer"
)

// reference scores pairs with the engine directly, as minilm score does.
func reference(t testing.TB, be *Backend, pairs []engine.Pair) []float32 {
	t.Helper()
	sc := be.Scorer
	if g, ok := sc.(*gate); ok {
		sc = g.Scorer
	}
	m, ok := sc.(*engine.Model)
	require.True(t, ok, "backend is not in process")
	scores, err := m.Score(context.Background(), pairs)
	require.NoError(t, err)
	return scores
}

func sig(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestPredictMatchesGolden(t *testing.T) {
	ts := start(t, Config{AutoTruncate: true}, loadTiny(t))
	var inputs [][2]string
	var want []float64
	for _, g := range readGolden(t) {
		inputs = append(inputs, [2]string{g.Query, g.Passage})
		want = append(want, g.Logit)
	}
	for _, raw := range []bool{true, false} {
		status, body, _ := post(t, ts.url+"/predict", map[string]any{"inputs": inputs, "raw_scores": raw})
		require.Equal(t, http.StatusOK, status, "%s", body)
		preds := decodeAs[[][]prediction](t, body)
		require.Len(t, preds, len(want))
		for i, p := range preds {
			require.Len(t, p, 1)
			assert.Equal(t, "LABEL_0", p[0].Label)
			w := want[i]
			if !raw {
				w = sig(w)
			}
			assert.InDelta(t, w, p[0].Score, goldenTol, "record %d raw=%v", i, raw)
		}
	}
	// One pair: the answer is one prediction list, not a list of lists.
	status, body, _ := post(t, ts.url+"/predict", map[string]any{"inputs": inputs[0], "raw_scores": true})
	require.Equal(t, http.StatusOK, status, "%s", body)
	one := decodeAs[[]prediction](t, body)
	require.Len(t, one, 1)
	assert.InDelta(t, want[0], one[0].Score, goldenTol)
}

// rerankCase is one query with documents from the golden pairs.
func rerankCase(t testing.TB) (string, []string) {
	var docs []string
	gs := readGolden(t)
	for _, g := range gs[2:14] {
		docs = append(docs, g.Passage)
	}
	return gs[0].Query, docs
}

func TestRerankDialects(t *testing.T) {
	be := loadTiny(t)
	ts := start(t, Config{AutoTruncate: true}, be)
	query, docs := rerankCase(t)
	pairs := make([]engine.Pair, len(docs))
	for i, d := range docs {
		pairs[i] = engine.Pair{Query: query, Passage: d}
	}
	raw := reference(t, be, pairs)
	order := engine.RankScores(raw, docs, engine.RankOptions{}) // sigmoid is monotonic: the same order
	require.NotEqual(t, 0, order[0].Index, "the case must need reordering")

	t.Run("tei", func(t *testing.T) {
		for _, rawScores := range []bool{false, true} {
			status, body, h := post(t, ts.url+"/rerank", map[string]any{"query": query, "texts": docs, "raw_scores": rawScores, "return_text": true})
			require.Equal(t, http.StatusOK, status, "%s", body)
			got := decodeAs[[]struct {
				Index int
				Score float64
				Text  *string
			}](t, body)
			require.Len(t, got, len(docs))
			for k, r := range got {
				assert.Equal(t, order[k].Index, r.Index, "rank %d", k)
				w := float64(raw[r.Index])
				if !rawScores {
					w = sig(w)
				}
				assert.InDelta(t, w, r.Score, 1e-6, "document %d", r.Index)
				require.NotNil(t, r.Text)
				assert.Equal(t, docs[r.Index], *r.Text)
			}
			for _, name := range []string{"x-compute-time", "x-compute-tokens", "x-tokenization-time", "x-queue-time", "x-inference-time", "x-total-time"} {
				_, err := strconv.Atoi(h.Get(name))
				assert.NoError(t, err, "header %s = %q", name, h.Get(name))
			}
			tokens, _ := strconv.Atoi(h.Get("x-compute-tokens"))
			assert.Greater(t, tokens, len(docs)*3)
		}
		// Without return_text there is no text; top_n keeps the best.
		status, body, _ := post(t, ts.url+"/rerank", map[string]any{"query": query, "texts": docs, "top_n": 3})
		require.Equal(t, http.StatusOK, status)
		assert.NotContains(t, string(body), `"text"`)
		got := decodeAs[[]teiRank](t, body)
		require.Len(t, got, 3)
		assert.Equal(t, order[0].Index, got[0].Index)
	})

	for _, path := range []string{"/v1/rerank", "/v2/rerank"} {
		t.Run("cohere "+path, func(t *testing.T) {
			// documents as strings and as {"text"} objects; top_k for top_n.
			mixed := make([]any, len(docs))
			for i, d := range docs {
				mixed[i] = d
				if i%2 == 1 {
					mixed[i] = map[string]string{"text": d}
				}
			}
			status, body, _ := post(t, ts.url+path, map[string]any{"model": "minilm-golden-tiny", "query": query, "documents": mixed, "top_k": 4, "return_documents": true})
			require.Equal(t, http.StatusOK, status, "%s", body)
			got := decodeAs[cohereResponse](t, body)
			assert.Len(t, got.ID, 32)
			assert.Equal(t, "minilm-golden-tiny", got.Model)
			require.Len(t, got.Results, 4)
			for k, r := range got.Results {
				assert.Equal(t, order[k].Index, r.Index)
				assert.InDelta(t, sig(float64(raw[r.Index])), r.RelevanceScore, 1e-6)
				require.NotNil(t, r.Document)
				assert.Equal(t, docs[r.Index], r.Document.Text)
			}
			assert.Greater(t, got.Usage.TotalTokens, len(docs)*3)
			assert.Equal(t, 1, got.Meta.BilledUnits.SearchUnits)
			assert.Equal(t, path[2:3], got.Meta.APIVersion.Version)

			// Defaults: every document, no document bodies; texts for documents.
			status, body, _ = post(t, ts.url+path, map[string]any{"query": query, "texts": docs})
			require.Equal(t, http.StatusOK, status, "%s", body)
			got = decodeAs[cohereResponse](t, body)
			require.Len(t, got.Results, len(docs))
			assert.Nil(t, got.Results[0].Document)
			assert.NotContains(t, string(body), `"document"`)
		})
	}

	t.Run("vllm score", func(t *testing.T) {
		for _, path := range []string{"/score", "/v1/score"} {
			status, body, _ := post(t, ts.url+path, map[string]any{"model": "minilm-golden-tiny", "text_1": query, "text_2": docs})
			require.Equal(t, http.StatusOK, status, "%s", body)
			got := decodeAs[vllmResponse](t, body)
			require.Len(t, got.Data, len(docs))
			assert.Equal(t, "list", got.Object)
			for i, d := range got.Data {
				assert.Equal(t, i, d.Index, "input order kept")
				assert.Equal(t, "score", d.Object)
				assert.InDelta(t, sig(float64(raw[i])), d.Score, 1e-6)
			}
		}
		// Lists zipped pairwise.
		qs := slices.Repeat([]string{query}, 2)
		status, body, _ := post(t, ts.url+"/score", map[string]any{"text_1": qs, "text_2": docs[:2]})
		require.Equal(t, http.StatusOK, status, "%s", body)
		got := decodeAs[vllmResponse](t, body)
		require.Len(t, got.Data, 2)
		assert.InDelta(t, sig(float64(raw[1])), got.Data[1].Score, 1e-6)
	})
}

func TestTruncation(t *testing.T) {
	be := loadTiny(t)
	ts := start(t, Config{AutoTruncate: true}, be)
	var long golden
	for _, g := range readGolden(t) {
		if g.Kind == "long" && len(g.IDs) == 512 {
			long = g
			break
		}
	}
	require.NotEmpty(t, long.Query, "no golden pair cut to 512 tokens")
	full, _, err := be.Tokenizer.AppendPairIDsWith(nil, nil, long.Query, long.Passage, tokenizer.PairOptions{})
	require.NoError(t, err)
	require.Greater(t, len(full), 512)

	// Auto-truncate: cut like Hugging Face, scored like the golden logit.
	status, body, _ := post(t, ts.url+"/rerank", map[string]any{"query": long.Query, "texts": []string{long.Passage}, "raw_scores": true})
	require.Equal(t, http.StatusOK, status, "%s", body)
	right := decodeAs[[]teiRank](t, body)[0].Score
	assert.InDelta(t, long.Logit, right, goldenTol)

	// truncate=false: 413 naming the token count.
	status, body, _ = post(t, ts.url+"/rerank", map[string]any{"query": long.Query, "texts": []string{"short", long.Passage}, "truncate": false})
	require.Equal(t, http.StatusRequestEntityTooLarge, status, "%s", body)
	e := decodeAs[errorBody](t, body)
	assert.Equal(t, "validation", e.ErrorType)
	assert.Contains(t, e.Error, fmt.Sprintf("Given: %d", len(full)))
	assert.Contains(t, e.Error, "input 1")

	// A server without auto-truncate refuses unless the request asks.
	strict := start(t, Config{}, loadTiny(t))
	status, _, _ = post(t, strict.url+"/rerank", map[string]any{"query": long.Query, "texts": []string{long.Passage}})
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	status, body, _ = post(t, strict.url+"/rerank", map[string]any{"query": long.Query, "texts": []string{long.Passage}, "truncate": true, "raw_scores": true})
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.InDelta(t, right, decodeAs[[]teiRank](t, body)[0].Score, 1e-6)

	// Left truncation keeps the ends: a different input, the same as the
	// engine scoring those ids.
	status, body, _ = post(t, ts.url+"/rerank", map[string]any{"query": long.Query, "texts": []string{long.Passage}, "raw_scores": true, "truncation_direction": "LEFT"})
	require.Equal(t, http.StatusOK, status, "%s", body)
	left := decodeAs[[]teiRank](t, body)[0].Score
	ids, types, err := be.Tokenizer.AppendPairIDsWith(nil, nil, long.Query, long.Passage, tokenizer.PairOptions{MaxLength: 512, FromLeft: true})
	require.NoError(t, err)
	want, err := be.Scorer.ScoreSequences(context.Background(), []engine.Sequence{{IDs: ids, TypeIDs: types}})
	require.NoError(t, err)
	assert.InDelta(t, want[0], left, 1e-6)
	assert.NotEqual(t, right, left)

	// max_tokens_per_doc caps the document before the length check.
	status, body, _ = post(t, ts.url+"/v1/rerank", map[string]any{"query": long.Query, "documents": []string{long.Passage}, "max_tokens_per_doc": 20, "truncate": false})
	require.Equal(t, http.StatusOK, status, "%s", body)
	capped := decodeAs[cohereResponse](t, body)
	qTokens, _, _ := be.Tokenizer.AppendPairIDsWith(nil, nil, long.Query, "", tokenizer.PairOptions{})
	assert.Equal(t, len(qTokens)+20, capped.Usage.TotalTokens)
}

func TestErrors(t *testing.T) {
	be := loadTiny(t)
	ts := start(t, Config{AutoTruncate: true, MaxClientBatchSize: 5, PayloadLimit: 4096}, be)
	docs := func(n int) []string { return slices.Repeat([]string{"a passage"}, n) }
	cases := []struct {
		name, path string
		body       any
		status     int
		kind, msg  string
	}{
		{"malformed JSON", "/rerank", `{"query": `, 400, "validation", "invalid JSON"},
		{"two JSON values", "/rerank", `{"query": "q", "texts": ["a"]} {}`, 400, "validation", "more than one"},
		{"wrong type", "/rerank", `{"query": 3, "texts": ["a"]}`, 400, "validation", `"query"`},
		{"missing query", "/rerank", map[string]any{"texts": docs(1)}, 400, "validation", `"query"`},
		{"missing texts", "/v1/rerank", map[string]any{"query": "q"}, 400, "validation", `"texts"`},
		{"texts and documents", "/v1/rerank", map[string]any{"query": "q", "texts": docs(1), "documents": docs(1)}, 400, "validation", "not both"},
		{"bad document", "/v1/rerank", `{"query": "q", "documents": [{"title": "x"}]}`, 400, "validation", `"text"`},
		{"empty texts", "/rerank", map[string]any{"query": "q", "texts": []string{}}, 400, "empty", "empty"},
		{"too many texts", "/rerank", map[string]any{"query": "q", "texts": docs(6)}, 413, "validation", "batch size 6 > maximum allowed batch size 5"},
		{"payload too large", "/rerank", map[string]any{"query": strings.Repeat("q", 5000), "texts": docs(1)}, 413, "validation", "4096 bytes"},
		{"other model", "/v1/rerank", map[string]any{"model": "BAAI/bge-reranker-base", "query": "q", "documents": docs(1)}, 400, "validation", `"BAAI/bge-reranker-base" is not served here: this server serves "minilm-golden-tiny"`},
		{"bad direction", "/rerank", map[string]any{"query": "q", "texts": docs(1), "truncation_direction": "up"}, 400, "validation", "Left or Right"},
		{"negative top_n", "/v1/rerank", map[string]any{"query": "q", "documents": docs(1), "top_n": -1}, 400, "validation", "top_n"},
		{"bad max_tokens_per_doc", "/v1/rerank", map[string]any{"query": "q", "documents": docs(1), "max_tokens_per_doc": 0}, 400, "validation", "max_tokens_per_doc"},
		{"predict triple", "/predict", map[string]any{"inputs": [][]string{{"a", "b", "c"}}}, 400, "validation", "3 texts"},
		{"score shapes", "/score", map[string]any{"text_1": []string{"a", "b"}, "text_2": []string{"c", "d", "e"}}, 400, "validation", "text_1 has 2"},
		{"unknown route", "/nope", map[string]any{}, 404, "not_found", "/nope"},
	}
	for _, c := range cases {
		status, body, _ := post(t, ts.url+c.path, c.body)
		assert.Equal(t, c.status, status, "%s: %s", c.name, body)
		e := decodeAs[errorBody](t, body)
		assert.Equal(t, c.kind, e.ErrorType, c.name)
		assert.Contains(t, e.Error, c.msg, c.name)
	}
	status, body, h := call(t, http.MethodGet, ts.url+"/rerank", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, status, "%s", body)
	assert.Equal(t, "POST", h.Get("Allow"))
	assert.Equal(t, "validation", decodeAs[errorBody](t, body).ErrorType)
	assert.Equal(t, 1.0, metric(t, ts, `minilm_request_failures_total{reason="payload_too_large"}`))
	assert.Equal(t, 1.0, metric(t, ts, `minilm_request_failures_total{reason="empty"}`))
}

func TestTokenizerAndBackendErrors(t *testing.T) {
	be := loadTiny(t)
	g := newGate(be.Scorer)
	be.Scorer = g
	g.open()
	// only-second may not cut the query: a query over the limit is a
	// tokenizer error (422).
	ts := start(t, Config{AutoTruncate: true, Truncation: tokenizer.OnlySecond}, be)
	status, body, _ := post(t, ts.url+"/rerank", map[string]any{"query": strings.Repeat("berlin ", 600), "texts": []string{"a"}})
	assert.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
	assert.Equal(t, "tokenizer", decodeAs[errorBody](t, body).ErrorType)

	g.fail.Store(true)
	status, body, _ = post(t, ts.url+"/rerank", map[string]any{"query": "q", "texts": []string{"a"}})
	assert.Equal(t, http.StatusFailedDependency, status, "%s", body)
	e := decodeAs[errorBody](t, body)
	assert.Equal(t, "backend", e.ErrorType)
	assert.Contains(t, e.Error, "simulated backend failure")
	status, _, _ = call(t, http.MethodGet, ts.url+"/health", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, "health runs a forward pass")
	assert.Equal(t, 1.0, metric(t, ts, `minilm_request_failures_total{reason="backend"}`))
}

func TestAPIKey(t *testing.T) {
	ts := start(t, Config{APIKey: "s3cret"}, loadTiny(t))
	req := map[string]any{"query": "q", "texts": []string{"a"}}
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret"}, {"Authorization", "Basic s3cret"}} {
		status, body, hdr := post(t, ts.url+"/rerank", req, h...)
		assert.Equal(t, http.StatusUnauthorized, status, "header %q", h)
		assert.Equal(t, "unauthorized", decodeAs[errorBody](t, body).ErrorType)
		assert.Contains(t, hdr.Get("WWW-Authenticate"), "Bearer")
	}
	status, _, _ := post(t, ts.url+"/rerank", req, "Authorization", "Bearer s3cret")
	assert.Equal(t, http.StatusOK, status)
	status, _, _ = post(t, ts.url+"/v1/rerank", map[string]any{"query": "q", "documents": []string{"a"}}, "Authorization", "bearer s3cret")
	assert.Equal(t, http.StatusOK, status)
	status, _, _ = call(t, http.MethodGet, ts.url+"/info", nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	// Probes and metrics stay open: Kubernetes and Prometheus send no key.
	for _, path := range []string{"/health", "/ping", "/ready", "/metrics"} {
		status, _, _ := call(t, http.MethodGet, ts.url+path, nil)
		assert.Equal(t, http.StatusOK, status, path)
	}
}

func TestInfoHealthReady(t *testing.T) {
	loaded := make(chan *Backend)
	ts := startLoading(t, Config{AutoTruncate: true, MaxBatchTokens: 4096, ModelID: "cross-encoder/tiny"},
		func(ctx context.Context) (*Backend, error) { return <-loaded, nil })
	// Listening, not loaded: every probe says 503, scoring too.
	for _, path := range []string{"/ready", "/health", "/ping", "/info"} {
		status, body, _ := call(t, http.MethodGet, ts.url+path, nil)
		assert.Equal(t, http.StatusServiceUnavailable, status, "%s: %s", path, body)
	}
	status, body, _ := post(t, ts.url+"/rerank", map[string]any{"query": "q", "texts": []string{"a"}})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "unhealthy", decodeAs[errorBody](t, body).ErrorType)
	loaded <- loadTiny(t)
	waitReady(t, ts)
	for _, path := range []string{"/ready", "/health", "/ping"} {
		status, _, _ := call(t, http.MethodGet, ts.url+path, nil)
		assert.Equal(t, http.StatusOK, status, path)
	}
	status, body, _ = call(t, http.MethodGet, ts.url+"/info", nil)
	require.Equal(t, http.StatusOK, status)
	info := decodeAs[map[string]any](t, body)
	assert.Equal(t, "cross-encoder/tiny", info["model_id"])
	assert.Equal(t, "float32", info["model_dtype"])
	assert.EqualValues(t, 512, info["max_input_length"])
	assert.EqualValues(t, 4096, info["max_batch_tokens"])
	for _, k := range []string{"model_sha", "max_batch_requests", "max_client_batch_size", "max_concurrent_requests", "version", "model_type", "tokenization_workers", "auto_truncate"} {
		assert.Contains(t, info, k)
	}
	// The warm-up ran one batch: ready means a forward pass worked.
	assert.GreaterOrEqual(t, metric(t, ts, "minilm_batches_total"), 1.0)
}

func TestMetricsNames(t *testing.T) {
	ts := start(t, Config{}, loadTiny(t))
	post(t, ts.url+"/rerank", map[string]any{"query": "q", "texts": []string{"a"}})
	post(t, ts.url+"/rerank", map[string]any{"query": "q", "texts": []string{}})
	_, body, _ := call(t, http.MethodGet, ts.url+"/metrics", nil)
	for _, name := range []string{
		`minilm_request_duration_seconds_bucket{route="/rerank",status="200"`,
		`minilm_request_duration_seconds_count{route="/rerank",status="400"}`,
		"minilm_queue_duration_seconds_bucket", "minilm_tokenization_duration_seconds_bucket",
		"minilm_inference_duration_seconds_bucket", "minilm_batch_size_bucket", "minilm_batch_tokens_bucket",
		"minilm_batch_requests_bucket", "minilm_queue_size ", `minilm_request_failures_total{reason="empty"}`,
		"minilm_worker_restarts_total 0", "minilm_padding_waste_ratio 0", "minilm_dropped_pairs_total",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		assert.Contains(t, string(body), name)
	}
}

// TestConcurrentRequestsShareBatches holds the first batch until all 200
// requests are queued, so that the batcher has every request to pack: each
// answer must still be its own, in its own order.
func TestConcurrentRequestsShareBatches(t *testing.T) {
	be := loadTiny(t)
	g := newGate(be.Scorer)
	be.Scorer = g
	ts := startLoading(t, Config{AutoTruncate: true, MaxBatchRequests: 64, MaxQueuedPairs: 10000},
		func(context.Context) (*Backend, error) { return be, nil })
	<-g.entered // the warm-up
	g.release <- struct{}{}
	waitReady(t, ts)
	gs := readGolden(t)
	const n = 200
	type req struct {
		query string
		docs  []string
	}
	reqs := make([]req, n)
	total := 0
	for i := range reqs {
		k := 1 + (i*37)%50 // 1 to 50 documents
		reqs[i].query = gs[i%len(gs)].Query
		for d := range k {
			reqs[i].docs = append(reqs[i].docs, fmt.Sprintf("%s (%d/%d)", gs[(i+d)%len(gs)].Passage[:min(200, len(gs[(i+d)%len(gs)].Passage))], i, d))
		}
		total += k
	}
	var wg sync.WaitGroup
	results := make([][]teiRank, n)
	statuses := make([]int, n)
	for i := range reqs {
		wg.Go(func() {
			status, body, _ := post(t, ts.url+"/rerank", map[string]any{"query": reqs[i].query, "texts": reqs[i].docs, "raw_scores": true})
			statuses[i] = status
			if status == http.StatusOK {
				results[i] = decodeAs[[]teiRank](t, body)
			}
		})
	}
	// All pairs queued (less the first batch, already taken): release.
	<-g.entered
	eventually(t, "all requests queued", func() bool {
		c := ts.core.Load()
		return c.batcher.Stats().Queued == total
	})
	g.open()
	wg.Wait()
	for i, r := range reqs {
		require.Equal(t, http.StatusOK, statuses[i], "request %d", i)
		pairs := make([]engine.Pair, len(r.docs))
		for d, doc := range r.docs {
			pairs[d] = engine.Pair{Query: r.query, Passage: doc}
		}
		want := engine.RankScores(reference(t, be, pairs), r.docs, engine.RankOptions{})
		require.Len(t, results[i], len(want), "request %d", i)
		for k, w := range want {
			assert.Equal(t, w.Index, results[i][k].Index, "request %d rank %d", i, k)
			assert.InDelta(t, w.Score, results[i][k].Score, 1e-6, "request %d rank %d", i, k)
		}
	}
	batches := metric(t, ts, "minilm_batch_requests_count")
	requests := metric(t, ts, "minilm_batch_requests_sum")
	t.Logf("%d requests, %d pairs: %v batches holding %v request parts", n, total, batches, requests)
	// 200 requests of 1 to 50 documents, at most 64 sequences a batch.
	assert.Less(t, batches, float64(n), "fewer batches than requests")
	assert.Greater(t, requests/batches, 1.5, "batches hold several requests on average")
	assert.Equal(t, float64(total+1), metric(t, ts, "minilm_pairs_total"), "every pair scored once (and the warm-up)")
}
