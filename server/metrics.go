package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/minilm-dev/minilm/engine/batch"
)

// metrics is the server's Prometheus registry (its own, not the global
// one, so that servers in one process do not share counters).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	queue        prometheus.Histogram
	tokenization prometheus.Histogram
	inference    prometheus.Histogram
	batchSize    prometheus.Histogram
	batchTokens  prometheus.Histogram
	batchReqs    prometheus.Histogram
	failures     *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	seconds := prometheus.ExponentialBuckets(0.0005, 2, 18) // 0.5 ms to 65 s
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "minilm_request_duration_seconds", Help: "Time from request to response, by route and status.", Buckets: seconds,
		}, []string{"route", "status"}),
		queue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minilm_queue_duration_seconds", Help: "Per request: time its pairs waited, tokenized, for a batch.", Buckets: seconds,
		}),
		tokenization: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minilm_tokenization_duration_seconds", Help: "Per request: time until all its pairs were tokenized.", Buckets: seconds,
		}),
		inference: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minilm_inference_duration_seconds", Help: "Per batch: time the model computed.", Buckets: seconds,
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minilm_batch_size", Help: "Sequences per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		batchTokens: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minilm_batch_tokens", Help: "Real tokens per batch (batches are packed: no padding).", Buckets: prometheus.ExponentialBuckets(16, 2, 13),
		}),
		batchReqs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minilm_batch_requests", Help: "Requests with pairs in each batch.", Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128},
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minilm_request_failures_total", Help: "Failed requests, by reason.",
		}, []string{"reason"}),
	}
	stats := func() batch.Stats {
		if c := s.core.Load(); c != nil {
			return c.batcher.Stats()
		}
		return batch.Stats{}
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.queue, m.tokenization, m.inference, m.batchSize, m.batchTokens, m.batchReqs, m.failures,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minilm_queue_size", Help: "Pairs admitted and not yet scored.",
		}, func() float64 { return float64(stats().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minilm_batches_in_flight", Help: "Batches being computed.",
		}, func() float64 { return float64(stats().InFlight) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "minilm_batches_total", Help: "Batches computed.",
		}, func() float64 { return float64(stats().Batches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "minilm_pairs_total", Help: "Pairs scored.",
		}, func() float64 { return float64(stats().Pairs) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "minilm_dropped_pairs_total", Help: "Pairs dropped unscored because their client went away.",
		}, func() float64 { return float64(stats().Dropped) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minilm_requests_in_flight", Help: "Scoring requests being served.",
		}, func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return float64(s.active)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minilm_padding_waste_ratio", Help: "Share of computed token positions that were padding: 0, batches are packed.",
		}, func() float64 { return 0 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "minilm_worker_restarts_total", Help: "Worker processes restarted after a crash or hang (0 in process).",
		}, func() float64 {
			c := s.core.Load()
			if c == nil || c.be.Workers == nil {
				return 0
			}
			n := 0
			for _, w := range c.be.Workers().Workers {
				n += w.Restarts
			}
			return float64(n)
		}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

func (m *metrics) observeJob(t batch.Timing) {
	m.queue.Observe(t.Queue.Seconds())
	m.tokenization.Observe(t.Tokenize.Seconds())
}

// observeBatch is the batcher's OnBatch.
func (m *metrics) observeBatch(b batch.BatchStats) {
	if b.Err != nil {
		return
	}
	m.inference.Observe(b.Stages.Inference.Seconds())
	m.batchSize.Observe(float64(b.Sequences))
	m.batchTokens.Observe(float64(b.Tokens))
	m.batchReqs.Observe(float64(b.Jobs))
}
