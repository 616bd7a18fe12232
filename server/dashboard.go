package server

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

//go:embed dashboard.html
var dashboardHTML []byte

// Point is one second of the dashboard's feed.
type Point struct {
	Time       int64   `json:"t"` // Unix milliseconds at the end of the second
	Requests   int     `json:"requests"`
	Throughput float64 `json:"throughput"` // requests/s
	PairsPerS  float64 `json:"pairs_per_s"`
	// Latency percentiles and stage means are over the requests that
	// ended in the last window (10 s), in milliseconds; nil when none did.
	LatencyP50   *float64 `json:"latency_p50_ms"`
	LatencyP99   *float64 `json:"latency_p99_ms"`
	TokenizeMS   *float64 `json:"tokenization_ms"`
	QueueMS      *float64 `json:"queue_wait_ms"`
	InferenceMS  *float64 `json:"inference_ms"`
	PaddingWaste float64  `json:"padding_waste"` // packed batches: 0
	MemoryMB     *float64 `json:"memory_mb"`     // RSS, this process and its workers
	CPUPercent   *float64 `json:"cpu_percent"`   // of one core, this process and its workers
	QueueSize    int      `json:"queue_size"`
	Batches      int64    `json:"batches"`
	Failures     int      `json:"failures"`
}

// sample is one answered request, as the dashboard keeps it.
type sample struct {
	end                                 time.Time
	latency, tokenize, queue, inference float64 // ms
	pairs                               int
}

const (
	dashHistory = 300 // points kept: five minutes
	dashWindow  = 10 * time.Second
)

// dashboard aggregates answered requests into one Point per second and
// serves them as JSON and server-sent events.
type dashboard struct {
	s    *Server
	proc *procReader

	mu      sync.Mutex
	recent  []sample // answered in the last window
	points  []Point
	subs    map[chan Point]struct{}
	lastCPU float64
	lastAt  time.Time
	fails   float64
}

func newDashboard(s *Server) *dashboard {
	return &dashboard{s: s, proc: newProcReader(), subs: map[chan Point]struct{}{}}
}

// start samples every second until the returned stop is called.
func (d *dashboard) start() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				d.tick(now)
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (d *dashboard) record(latency time.Duration, out *outcome, pairs int) {
	ms := func(x time.Duration) float64 { return float64(x) / 1e6 }
	d.mu.Lock()
	d.recent = append(d.recent, sample{end: time.Now(), latency: ms(latency), tokenize: ms(out.timing.Tokenize),
		queue: ms(out.timing.Queue), inference: ms(out.timing.Inference), pairs: pairs})
	d.mu.Unlock()
}

// tick closes the second ending at now into a Point and sends it out.
func (d *dashboard) tick(now time.Time) Point {
	rss, cpu, procOK := d.proc.read(d.workerPIDs())
	fails := d.failures()
	var st struct {
		queued  int
		batches int64
	}
	if c := d.s.core.Load(); c != nil {
		bs := c.batcher.Stats()
		st.queued, st.batches = bs.Queued, bs.Batches
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cut := slices.IndexFunc(d.recent, func(x sample) bool { return now.Sub(x.end) <= dashWindow })
	if cut < 0 {
		cut = len(d.recent)
	}
	d.recent = slices.Delete(d.recent, 0, cut)
	p := Point{Time: now.UnixMilli(), QueueSize: st.queued, Batches: st.batches, Failures: int(fails - d.fails)}
	d.fails = fails
	var lat, tok, que, inf []float64
	for _, x := range d.recent {
		if now.Sub(x.end) <= time.Second {
			p.Requests++
			p.PairsPerS += float64(x.pairs)
		}
		lat, tok, que, inf = append(lat, x.latency), append(tok, x.tokenize), append(que, x.queue), append(inf, x.inference)
	}
	p.Throughput = float64(p.Requests)
	if len(lat) > 0 {
		slices.Sort(lat)
		p.LatencyP50, p.LatencyP99 = ptr(percentile(lat, 50)), ptr(percentile(lat, 99))
		p.TokenizeMS, p.QueueMS, p.InferenceMS = ptr(mean(tok)), ptr(mean(que)), ptr(mean(inf))
	}
	if procOK {
		p.MemoryMB = ptr(rss)
		if !d.lastAt.IsZero() {
			p.CPUPercent = ptr(max(0, 100*(cpu-d.lastCPU)/now.Sub(d.lastAt).Seconds()))
		}
		d.lastCPU, d.lastAt = cpu, now
	}
	d.points = append(d.points, p)
	if len(d.points) > dashHistory {
		d.points = slices.Delete(d.points, 0, len(d.points)-dashHistory)
	}
	for ch := range d.subs {
		select {
		case ch <- p:
		default: // a slow client misses a point rather than stalling the rest
		}
	}
	return p
}

func (d *dashboard) workerPIDs() []int {
	c := d.s.core.Load()
	if c == nil || c.be.Workers == nil {
		return nil
	}
	var pids []int
	for _, w := range c.be.Workers().Workers {
		if w.PID > 0 {
			pids = append(pids, w.PID)
		}
	}
	return pids
}

// failures is the total of minilm_request_failures_total.
func (d *dashboard) failures() float64 {
	mfs, err := d.s.metrics.reg.Gather()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "minilm_request_failures_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func ptr(x float64) *float64 { return &x }

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// percentile of sorted xs, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (d *dashboard) page(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Everything the page needs is in it: no CDN, no other origin.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
	w.Write(dashboardHTML)
}

type feed struct {
	Model    string  `json:"model"`
	Interval int     `json:"interval_ms"`
	Points   []Point `json:"points"`
}

func (d *dashboard) data(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	f := feed{Model: d.s.cfg.ModelID, Interval: 1000, Points: slices.Clone(d.points)}
	d.mu.Unlock()
	if f.Points == nil {
		f.Points = []Point{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, f)
}

func (d *dashboard) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	ch := make(chan Point, 4)
	d.mu.Lock()
	d.subs[ch] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.subs, ch)
		d.mu.Unlock()
	}()
	for {
		select {
		case p := <-ch:
			b, _ := json.Marshal(p)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-d.s.drained():
			return
		}
	}
}
