package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
	"github.com/minilm-dev/minilm/tokenizer"
)

// Route is one path the server answers.
type Route struct {
	Method, Path string
	// Dialect is the API family whose request and response shapes the route
	// speaks: tei, cohere, vllm, or minilm (operations).
	Dialect string
	// Auth says whether --api-key applies.
	Auth bool
	// Summary says what the route does.
	Summary string
}

// Routes lists every route, for documentation and for deployments whose
// probes must name real paths.
func Routes() []Route {
	return []Route{
		{"POST", "/rerank", "tei", true, "rank texts against a query; bare array of {index, score, text?}"},
		{"POST", "/v1/rerank", "cohere", true, "Cohere/Jina/vLLM/llama.cpp rerank: {id, model, results, usage, meta}"},
		{"POST", "/v2/rerank", "cohere", true, "Cohere v2 rerank, same shape as /v1/rerank"},
		{"POST", "/predict", "tei", true, "score raw pairs in order: inputs [[query, passage], ...]"},
		{"POST", "/score", "vllm", true, "vLLM score: text_1 against text_2"},
		{"POST", "/v1/score", "vllm", true, "alias of /score"},
		{"GET", "/health", "tei", false, "200 when a forward pass works, else 503"},
		{"GET", "/ping", "minilm", false, "alias of /health"},
		{"GET", "/ready", "minilm", false, "200 once loaded and warmed up; 503 before, and while draining"},
		{"GET", "/info", "tei", true, "model and limits, with text-embeddings-inference's field names"},
		{"GET", "/metrics", "minilm", false, "Prometheus metrics"},
		{"GET", "/", "minilm", false, "the live dashboard"},
		{"GET", "/dashboard", "minilm", false, "the live dashboard"},
		{"GET", "/dashboard/data", "minilm", false, "dashboard feed: the last minutes, one point per second (JSON)"},
		{"GET", "/dashboard/events", "minilm", false, "dashboard feed: one point per second (server-sent events)"},
	}
}

func (s *Server) routes() *http.ServeMux {
	handlers := map[string]http.HandlerFunc{
		"/rerank":           s.scoring(kindRerank, s.respondTEIRerank),
		"/v1/rerank":        s.scoring(kindRerank, s.respondCohere("1")),
		"/v2/rerank":        s.scoring(kindRerank, s.respondCohere("2")),
		"/predict":          s.scoring(kindPredict, s.respondPredict),
		"/score":            s.scoring(kindScore, s.respondVLLMScore),
		"/v1/score":         s.scoring(kindScore, s.respondVLLMScore),
		"/health":           s.handleHealth,
		"/ping":             s.handleHealth,
		"/ready":            s.handleReady,
		"/info":             s.handleInfo,
		"/metrics":          s.metrics.handler().ServeHTTP,
		"/":                 s.dash.page,
		"/dashboard":        s.dash.page,
		"/dashboard/data":   s.dash.data,
		"/dashboard/events": s.dash.events,
	}
	mux := http.NewServeMux()
	for _, rt := range Routes() {
		h := handlers[rt.Path]
		pattern := rt.Method + " " + rt.Path
		if rt.Path == "/" {
			pattern += "{$}"
		}
		mux.Handle(pattern, s.wrap(rt, h))
	}
	// Anything else: TEI-shaped 404 and 405 bodies instead of plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range Routes() {
			if rt.Path == r.URL.Path {
				w.Header().Set("Allow", rt.Method)
				writeError(w, newError(http.StatusMethodNotAllowed, typeValidation, "method",
					"%s %s: this route takes %s", r.Method, r.URL.Path, rt.Method))
				return
			}
		}
		writeError(w, newError(http.StatusNotFound, typeNotFound, "not_found", "no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap adds authentication, the drain gate (scoring routes) and the
// request metrics.
func (s *Server) wrap(rt Route, h http.HandlerFunc) http.Handler {
	scoring := rt.Method == http.MethodPost
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.metrics.observeRequest(rt.Path, status, time.Since(start))
		}()
		if rt.Auth && !s.authorized(r) {
			s.fail(sw, newError(http.StatusUnauthorized, typeUnauthorized, "unauthorized",
				"missing or wrong API key: send the header Authorization: Bearer <key>"))
			return
		}
		if scoring {
			if !s.enter() {
				s.fail(sw, newError(http.StatusServiceUnavailable, typeUnhealthy, "draining", "the server is shutting down"))
				return
			}
			defer s.leave()
		}
		h(sw, r)
	})
}

// fail writes an error response and counts it.
func (s *Server) fail(w http.ResponseWriter, e *apiError) {
	s.metrics.failures.WithLabelValues(e.reason).Inc()
	if e.status >= 500 && e.reason != "draining" && e.reason != "loading" {
		s.cfg.Logger.Warn("request failed", "status", e.status, "error", e.msg)
	}
	if e.reason == "client_closed" {
		return // nobody is listening
	}
	writeError(w, e)
}

// outcome is a scored request.
type outcome struct {
	scores []float32 // per pair, activation applied
	tokens int
	timing batch.Timing
}

// scoring is the handler of a scoring route of kind k.
func (s *Server) scoring(k kind, respond func(http.ResponseWriter, *job, *outcome)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := s.core.Load()
		if c == nil || !s.isReady() {
			s.fail(w, newError(http.StatusServiceUnavailable, typeUnhealthy, "loading", "the model is loading"))
			return
		}
		body, aerr := s.readBody(w, r)
		if aerr != nil {
			s.fail(w, aerr)
			return
		}
		j, aerr := decode(body, k)
		if aerr == nil {
			aerr = s.check(j)
		}
		if aerr != nil {
			s.fail(w, aerr)
			return
		}
		select {
		case s.sem <- struct{}{}:
			defer func() { <-s.sem }()
		default:
			s.fail(w, newError(http.StatusTooManyRequests, typeOverloaded, "overloaded",
				"model is overloaded: %d requests in progress, the limit of --max-concurrent-requests", s.cfg.MaxConcurrentRequests))
			return
		}
		out, aerr := s.score(r.Context(), c, j)
		if aerr != nil {
			s.fail(w, aerr)
			return
		}
		s.metrics.observeJob(out.timing)
		s.dash.record(time.Since(start), out, len(j.pairs))
		h := w.Header()
		ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
		t := out.timing
		h.Set("x-compute-type", c.be.Info.Backend)
		h.Set("x-compute-time", ms(t.Tokenize+t.Queue+t.Inference))
		h.Set("x-compute-tokens", strconv.Itoa(out.tokens))
		h.Set("x-tokenization-time", ms(t.Tokenize))
		h.Set("x-queue-time", ms(t.Queue))
		h.Set("x-inference-time", ms(t.Inference))
		h.Set("x-total-time", ms(time.Since(start)))
		respond(w, j, out)
	}
}

// check applies the server's limits to a decoded request.
func (s *Server) check(j *job) *apiError {
	switch n := len(j.pairs); {
	case n == 0:
		return newError(http.StatusBadRequest, typeEmpty, "empty", "no texts to score: the request's texts are empty")
	case n > s.cfg.MaxClientBatchSize:
		return newError(http.StatusRequestEntityTooLarge, typeValidation, "validation",
			"batch size %d > maximum allowed batch size %d (--max-client-batch-size)", n, s.cfg.MaxClientBatchSize)
	}
	if j.model != "" && !sameModel(j.model, s.cfg.ModelID) {
		return validation("model %q is not served here: this server serves %q", j.model, s.cfg.ModelID)
	}
	return nil
}

// sameModel accepts a request's model named as served, without its
// revision, or by its last path element (cross-encoder/x or x).
func sameModel(asked, served string) bool {
	strip := func(s string) string {
		s, _, _ = strings.Cut(s, "@")
		return strings.TrimSuffix(s, "/")
	}
	a, b := strip(asked), strip(served)
	return a == b || path.Base(a) == path.Base(b) || filepath.Base(a) == filepath.Base(b)
}

// score runs a request's pairs through the batcher.
func (s *Server) score(ctx context.Context, c *core, j *job) (*outcome, *apiError) {
	truncate := s.cfg.AutoTruncate
	if j.truncate != nil {
		truncate = *j.truncate
	}
	opts := tokenizer.PairOptions{MaxLength: c.be.Info.MaxLength, Truncation: s.cfg.Truncation,
		FromLeft: j.fromLeft, MaxSecond: j.maxDoc, Strict: !truncate}
	tok := c.be.Tokenizer
	bj, err := c.batcher.SubmitWith(ctx, j.pairs, batch.SubmitOptions{NoWait: true,
		Tokenize: func(p engine.Pair) (engine.Sequence, error) {
			ids, types, err := tok.AppendPairIDsWith(nil, nil, p.Query, p.Passage, opts)
			return engine.Sequence{IDs: ids, TypeIDs: types}, err
		}})
	switch {
	case errors.Is(err, batch.ErrOverloaded):
		return nil, newError(http.StatusTooManyRequests, typeOverloaded, "queue_full", "model is overloaded: the queue is full (%v)", err)
	case errors.Is(err, batch.ErrClosed):
		return nil, newError(http.StatusServiceUnavailable, typeUnhealthy, "draining", "the server is shutting down")
	case err != nil:
		return nil, newError(499, typeValidation, "client_closed", "client closed the request: %v", err)
	}
	res, err := bj.Wait(ctx)
	if ctx.Err() != nil {
		return nil, newError(499, typeValidation, "client_closed", "client closed the request")
	}
	for i, e := range res.Errs {
		if e == nil {
			continue
		}
		var le *tokenizer.TooLongError
		if errors.As(e, &le) {
			return nil, newError(http.StatusRequestEntityTooLarge, typeValidation, "too_long",
				"input %d: `inputs` must have at most %d tokens. Given: %d (send \"truncate\": true to cut it)", i, le.Max, le.Tokens)
		}
		return nil, newError(http.StatusUnprocessableEntity, typeTokenizer, "tokenizer", "input %d: %v", i, e)
	}
	if err != nil {
		if errors.Is(err, batch.ErrClosed) {
			return nil, newError(http.StatusServiceUnavailable, typeUnhealthy, "draining", "the server is shutting down")
		}
		return nil, newError(http.StatusFailedDependency, typeBackend, "backend", "inference failed: %v", err)
	}
	out := &outcome{scores: res.Scores, tokens: res.Tokens, timing: res.Timing}
	if !j.raw {
		for i, x := range out.scores {
			out.scores[i] = sigmoid(x)
		}
	}
	return out, nil
}

// sigmoid is computed as the engine does, so that scores match minilm
// score --activation sigmoid exactly.
func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// ranked orders a request's documents best first and keeps its top_n.
func ranked(j *job, out *outcome) []engine.Ranked {
	return engine.RankScores(out.scores, nil, engine.RankOptions{TopK: j.topN})
}

type teiRank struct {
	Index int     `json:"index"`
	Score float32 `json:"score"`
	Text  *string `json:"text,omitempty"`
}

func (s *Server) respondTEIRerank(w http.ResponseWriter, j *job, out *outcome) {
	withText := j.returnDocs != nil && *j.returnDocs
	res := make([]teiRank, 0, len(j.docs))
	for _, r := range ranked(j, out) {
		e := teiRank{Index: r.Index, Score: r.Score}
		if withText {
			e.Text = &j.docs[r.Index]
		}
		res = append(res, e)
	}
	writeJSON(w, http.StatusOK, res)
}

type cohereDoc struct {
	Text string `json:"text"`
}

type cohereResult struct {
	Index          int        `json:"index"`
	RelevanceScore float32    `json:"relevance_score"`
	Document       *cohereDoc `json:"document,omitempty"`
}

type cohereResponse struct {
	ID      string         `json:"id"`
	Model   string         `json:"model"`
	Results []cohereResult `json:"results"`
	Usage   struct {
		TotalTokens int `json:"total_tokens"`
	} `json:"usage"`
	Meta struct {
		APIVersion struct {
			Version string `json:"version"`
		} `json:"api_version"`
		BilledUnits struct {
			SearchUnits int `json:"search_units"`
		} `json:"billed_units"`
	} `json:"meta"`
}

func (s *Server) respondCohere(version string) func(http.ResponseWriter, *job, *outcome) {
	return func(w http.ResponseWriter, j *job, out *outcome) {
		withDocs := j.returnDocs != nil && *j.returnDocs
		resp := cohereResponse{ID: newID(), Model: s.cfg.ModelID, Results: []cohereResult{}}
		for _, r := range ranked(j, out) {
			e := cohereResult{Index: r.Index, RelevanceScore: r.Score}
			if withDocs {
				e.Document = &cohereDoc{Text: j.docs[r.Index]}
			}
			resp.Results = append(resp.Results, e)
		}
		resp.Usage.TotalTokens = out.tokens
		resp.Meta.APIVersion.Version = version
		resp.Meta.BilledUnits.SearchUnits = 1
		writeJSON(w, http.StatusOK, resp)
	}
}

type prediction struct {
	Score float32 `json:"score"`
	Label string  `json:"label"`
}

func (s *Server) respondPredict(w http.ResponseWriter, j *job, out *outcome) {
	preds := make([][]prediction, len(out.scores))
	for i, x := range out.scores {
		preds[i] = []prediction{{Score: x, Label: "LABEL_0"}}
	}
	if j.single {
		writeJSON(w, http.StatusOK, preds[0])
		return
	}
	writeJSON(w, http.StatusOK, preds)
}

type vllmScore struct {
	Index  int     `json:"index"`
	Object string  `json:"object"`
	Score  float32 `json:"score"`
}

type vllmResponse struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created int64       `json:"created"`
	Model   string      `json:"model"`
	Data    []vllmScore `json:"data"`
	Usage   struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func (s *Server) respondVLLMScore(w http.ResponseWriter, j *job, out *outcome) {
	resp := vllmResponse{ID: "score-" + newID(), Object: "list", Created: time.Now().Unix(), Model: s.cfg.ModelID}
	for i, x := range out.scores {
		resp.Data = append(resp.Data, vllmScore{Index: i, Object: "score", Score: x})
	}
	resp.Usage.PromptTokens, resp.Usage.TotalTokens = out.tokens, out.tokens
	writeJSON(w, http.StatusOK, resp)
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// healthCache runs at most one health forward pass per second.
type healthCache struct {
	mu   chan struct{} // a 1-slot lock that a waiting request can give up on
	at   time.Time
	err  error
	once bool
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.checkHealth(r.Context()); err != nil {
		s.fail(w, newError(http.StatusServiceUnavailable, typeUnhealthy, "unhealthy", "unhealthy: %v", err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) checkHealth(ctx context.Context) error {
	c := s.core.Load()
	if c == nil || !s.isReady() {
		return errors.New("the model is loading")
	}
	select {
	case s.health.mu <- struct{}{}:
		defer func() { <-s.health.mu }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.health.once && time.Since(s.health.at) < time.Second {
		return s.health.err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.batcher.Score(ctx, []engine.Pair{{Query: "health", Passage: "check"}})
	if err != nil {
		err = fmt.Errorf("forward pass: %w", err)
	}
	s.health.at, s.health.err, s.health.once = time.Now(), err, true
	return err
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.isDraining():
		s.fail(w, newError(http.StatusServiceUnavailable, typeUnhealthy, "draining", "draining: the server is shutting down"))
	case !s.isReady():
		s.fail(w, newError(http.StatusServiceUnavailable, typeUnhealthy, "loading", "the model is loading"))
	default:
		w.WriteHeader(http.StatusOK)
	}
}

type infoResponse struct {
	ModelID               string         `json:"model_id"`
	ModelSHA              *string        `json:"model_sha"`
	ModelDType            string         `json:"model_dtype"`
	ModelType             map[string]any `json:"model_type"`
	MaxConcurrentRequests int            `json:"max_concurrent_requests"`
	MaxInputLength        int            `json:"max_input_length"`
	MaxBatchTokens        int            `json:"max_batch_tokens"`
	MaxBatchRequests      int            `json:"max_batch_requests"`
	MaxClientBatchSize    int            `json:"max_client_batch_size"`
	AutoTruncate          bool           `json:"auto_truncate"`
	TokenizationWorkers   int            `json:"tokenization_workers"`
	Version               string         `json:"version"`
	SHA                   *string        `json:"sha"`
	DockerLabel           *string        `json:"docker_label"`
	Backend               string         `json:"backend"`
	Threads               int            `json:"threads"`
	Replicas              int            `json:"replicas"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	c := s.core.Load()
	if c == nil {
		s.fail(w, newError(http.StatusServiceUnavailable, typeUnhealthy, "loading", "the model is loading"))
		return
	}
	info := c.be.Info
	resp := infoResponse{
		ModelID:    s.cfg.ModelID,
		ModelDType: dtypeName(info.DType),
		ModelType: map[string]any{"reranker": map[string]any{
			"id2label": map[string]string{"0": "LABEL_0"}, "label2id": map[string]int{"LABEL_0": 0}}},
		MaxConcurrentRequests: s.cfg.MaxConcurrentRequests,
		MaxInputLength:        info.MaxLength,
		MaxBatchTokens:        s.cfg.MaxBatchTokens,
		MaxBatchRequests:      s.cfg.MaxBatchRequests,
		MaxClientBatchSize:    s.cfg.MaxClientBatchSize,
		AutoTruncate:          s.cfg.AutoTruncate,
		TokenizationWorkers:   c.batcher.Config().Tokenizers,
		Version:               s.cfg.Version,
		Backend:               info.Backend,
		Threads:               info.Threads,
	}
	// A Hugging Face cache snapshot directory is named by its commit.
	if filepath.Base(filepath.Dir(info.Dir)) == "snapshots" {
		sha := filepath.Base(info.Dir)
		resp.ModelSHA = &sha
	}
	if c.be.Workers != nil {
		ws := c.be.Workers().Workers
		resp.Replicas = len(ws)
		if len(ws) > 0 {
			resp.Backend, resp.Threads = ws[0].Backend, ws[0].Threads
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// dtypeName spells safetensors dtypes as text-embeddings-inference does.
func dtypeName(d string) string {
	switch d {
	case "F32":
		return "float32"
	case "F16":
		return "float16"
	case "BF16":
		return "bfloat16"
	}
	return strings.ToLower(d)
}
