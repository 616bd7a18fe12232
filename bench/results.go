package bench

import (
	"slices"
	"time"
)

// Results is everything one `minilm bench` run measured; results.json is
// its JSON form.
type Results struct {
	Tool     string    `json:"tool"`
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Configs  []Config  `json:"configs"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUModel  string `json:"cpu_model"` // "" when unknown
	Cores     int    `json:"cores"`     // runtime.NumCPU
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
	// LoadAvg is /proc/loadavg when the run started ("" elsewhere): the
	// machine may be shared, and this says how busy it already was.
	LoadAvg string `json:"loadavg"`
}

// Settings are the run's parameters and the definitions of what it measured.
type Settings struct {
	Model          string  `json:"model"` // resolved directory
	Backend        string  `json:"backend"`
	Threads        int     `json:"threads"`  // per process running the model
	Replicas       int     `json:"replicas"` // worker processes; 0 or 1: in process
	MaxLength      int     `json:"max_length"`
	PairsSource    string  `json:"pairs_source"`
	PairsInSet     int     `json:"pairs_in_set"`
	Warmup         string  `json:"warmup"`
	DurationS      float64 `json:"duration_s"`       // per configuration; 0 when PairsPerConfig rules
	PairsPerConfig int     `json:"pairs_per_config"` // 0 when DurationS rules
	IntervalMS     float64 `json:"interval_ms"`
	// How each stage was measured, in words (also printed in the report).
	Definitions map[string]string `json:"definitions"`
}

// Config is one configuration's measurements: the batches after warm-up
// and the process samples taken while they ran. Times are milliseconds
// since the measured phase began.
type Config struct {
	BatchSize     int `json:"batch_size"`
	Concurrency   int `json:"concurrency"`
	WarmupBatches int `json:"warmup_batches"` // run before and excluded
	// Devices is how many model instances ran in parallel (the replicas, 1
	// in process): the denominator of device utilization.
	Devices int         `json:"devices"`
	Batches []Batch     `json:"batches"`
	Procs   []ProcPoint `json:"proc_samples"`
	// HTTP is set by a load test against a server, where each batch is one
	// request: what was sent and how it was answered.
	HTTP *HTTPStats `json:"http,omitempty"`
	// Samples and Summary are derived from Batches and Procs by Analyze.
	Samples []Sample      `json:"time_series"`
	Summary ConfigSummary `json:"summary"`
}

// HTTPStats counts a load test's requests by outcome.
type HTTPStats struct {
	URL  string `json:"url"`
	Sent int    `json:"sent"`
	// ByStatus counts the answers by HTTP status ("200", "429", ...);
	// "transport" counts requests that got no answer.
	ByStatus map[string]int `json:"by_status"`
	// RequestsPerS is the answered-200 requests over the phase's time.
	RequestsPerS float64 `json:"requests_per_s"`
}

// Batch is one batch, measured by the client that submitted it.
type Batch struct {
	Client int `json:"client"`
	Seq    int `json:"seq"` // the client's n-th batch
	Pairs  int `json:"pairs"`
	Tokens int `json:"tokens"` // real tokens (specials included)
	// TokensComputed is how many token positions the model ran for the
	// batch (padding included, if there were any).
	TokensComputed int     `json:"tokens_computed"`
	StartMS        float64 `json:"start_ms"` // submitted (before tokenization)
	EndMS          float64 `json:"end_ms"`   // scores back
	LatencyMS      float64 `json:"latency_ms"`
	TokenizeMS     float64 `json:"tokenize_ms"`
	QueueWaitMS    float64 `json:"queue_wait_ms"`
	InferenceMS    float64 `json:"inference_ms"`
	// InferEndMS is when the model finished the batch; the model was busy
	// with it during [InferEndMS−InferenceMS, InferEndMS].
	InferEndMS float64 `json:"infer_end_ms"`
	Worker     int     `json:"worker"`     // replica slot; -1 in process
	Throughput float64 `json:"throughput"` // Pairs / latency, pairs/s
}

// ProcPoint is one reading of the processes' accounting. Nil fields could
// not be read on this platform.
type ProcPoint struct {
	AtMS float64 `json:"at_ms"`
	// RSSMB is the resident memory of this process and its children.
	RSSMB *float64 `json:"rss_mb"`
	// CPUSeconds is the CPU time (user+system) used so far by this process
	// and its children.
	CPUSeconds *float64 `json:"cpu_s"`
	Processes  int      `json:"processes"`
}

// Sample is one interval of the time series, between two ProcPoints. The
// per-batch fields average the batches that ended in the interval; nil
// when none did (or the platform cannot tell).
type Sample struct {
	StartMS        float64  `json:"start_ms"`
	EndMS          float64  `json:"end_ms"`
	Batches        int      `json:"batches"`
	Pairs          int      `json:"pairs"`
	Throughput     float64  `json:"throughput"` // pairs of the batches ended in it / interval
	MemoryMB       *float64 `json:"memory_mb"`  // RSS at the interval's end
	CPUPercent     *float64 `json:"cpu_percent"`
	UtilPercent    float64  `json:"device_util_percent"`
	TokenizeMS     *float64 `json:"tokenize_ms"`
	InferenceMS    *float64 `json:"inference_ms"`
	QueueWaitMS    *float64 `json:"queue_wait_ms"`
	PaddingPercent *float64 `json:"padding_percent"`
}

// ConfigSummary is what the report shows of a configuration.
type ConfigSummary struct {
	Batches    int     `json:"batches"`
	Pairs      int     `json:"pairs"`
	Seconds    float64 `json:"seconds"`    // first submission to last result
	Throughput float64 `json:"throughput"` // Pairs / Seconds
	LatencyMS  Summary `json:"latency_ms"`
	// BatchThroughput summarizes each batch's pairs / latency.
	BatchThroughput Summary `json:"batch_throughput"`
	Bands           []Band  `json:"latency_bands"`
	// Correlation is Pearson's r of per-batch latency and throughput; nil
	// when undefined.
	Correlation    *float64  `json:"correlation"`
	TokensReal     int       `json:"tokens_real"`
	TokensComputed int       `json:"tokens_computed"`
	PaddingPercent float64   `json:"padding_percent"` // 100·(1 − real/computed) over every batch
	UtilPercent    float64   `json:"device_util_percent"`
	CPUPercent     *float64  `json:"cpu_percent"` // over the whole phase
	PeakMemoryMB   *float64  `json:"peak_memory_mb"`
	Dashboard      Dashboard `json:"dashboard"`
}

// Dashboard is the baseline's dashboard summary: memory, utilization and
// CPU over the time series' samples, the stage times and padding over the
// batches. A nil row could not be measured here.
type Dashboard struct {
	MemoryMB       *Summary `json:"memory_mb"`
	UtilPercent    *Summary `json:"device_util_percent"`
	CPUPercent     *Summary `json:"cpu_percent"`
	TokenizeMS     *Summary `json:"tokenize_ms"`
	InferenceMS    *Summary `json:"inference_ms"`
	QueueWaitMS    *Summary `json:"queue_wait_ms"`
	PaddingPercent *Summary `json:"padding_percent"`
}

// Analyze derives c.Samples and c.Summary from c.Batches and c.Procs.
func (c *Config) Analyze() {
	c.Samples = c.series()
	s := ConfigSummary{Batches: len(c.Batches)}
	var lat, thr, tok, inf, qw, pad []float64
	first, last := 0.0, 0.0
	busy := 0.0
	for i, b := range c.Batches {
		if i == 0 || b.StartMS < first {
			first = b.StartMS
		}
		last = max(last, b.EndMS)
		s.Pairs += b.Pairs
		s.TokensReal += b.Tokens
		s.TokensComputed += b.TokensComputed
		busy += b.InferenceMS
		lat = append(lat, b.LatencyMS)
		thr = append(thr, b.Throughput)
		tok = append(tok, b.TokenizeMS)
		inf = append(inf, b.InferenceMS)
		qw = append(qw, b.QueueWaitMS)
		pad = append(pad, padding(b.Tokens, b.TokensComputed))
	}
	s.Seconds = (last - first) / 1000
	if s.Seconds > 0 {
		s.Throughput = float64(s.Pairs) / s.Seconds
		s.UtilPercent = 100 * busy / (last - first) / float64(max(1, c.Devices))
	}
	s.PaddingPercent = padding(s.TokensReal, s.TokensComputed)
	s.LatencyMS = Summarize(lat)
	s.BatchThroughput = Summarize(thr)
	if len(lat) > 0 {
		s.Bands = LatencyBands(lat, thr)
	}
	if r, ok := Pearson(lat, thr); ok {
		s.Correlation = &r
	}
	d := &s.Dashboard
	d.TokenizeMS, d.InferenceMS, d.QueueWaitMS, d.PaddingPercent = summaryOf(tok), summaryOf(inf), summaryOf(qw), summaryOf(pad)
	var mem, util, cpu []float64
	for _, p := range c.Procs {
		if p.RSSMB != nil {
			mem = append(mem, *p.RSSMB)
		}
	}
	for _, x := range c.Samples {
		util = append(util, x.UtilPercent)
		if x.CPUPercent != nil {
			cpu = append(cpu, *x.CPUPercent)
		}
	}
	d.MemoryMB, d.UtilPercent, d.CPUPercent = summaryOf(mem), summaryOf(util), summaryOf(cpu)
	if d.MemoryMB != nil {
		s.PeakMemoryMB = &d.MemoryMB.Max
	}
	if n := len(c.Procs); n >= 2 && c.Procs[0].CPUSeconds != nil && c.Procs[n-1].CPUSeconds != nil {
		if wall := (c.Procs[n-1].AtMS - c.Procs[0].AtMS) / 1000; wall > 0 {
			v := 100 * (*c.Procs[n-1].CPUSeconds - *c.Procs[0].CPUSeconds) / wall
			s.CPUPercent = &v
		}
	}
	c.Summary = s
}

// padding is the share of computed token positions that were padding, in
// percent: 100·(1 − real/computed); 0 when nothing was computed.
func padding(real, computed int) float64 {
	if computed == 0 {
		return 0
	}
	return 100 * (1 - float64(real)/float64(computed))
}

func summaryOf(xs []float64) *Summary {
	if len(xs) == 0 {
		return nil
	}
	s := Summarize(xs)
	return &s
}

// series cuts the phase into the intervals between consecutive ProcPoints.
func (c *Config) series() []Sample {
	var out []Sample
	for i := 1; i < len(c.Procs); i++ {
		a, b := c.Procs[i-1], c.Procs[i]
		x := Sample{StartMS: a.AtMS, EndMS: b.AtMS, MemoryMB: b.RSSMB}
		span := b.AtMS - a.AtMS
		if span <= 0 {
			continue
		}
		if a.CPUSeconds != nil && b.CPUSeconds != nil {
			v := 100 * (*b.CPUSeconds - *a.CPUSeconds) / (span / 1000)
			x.CPUPercent = &v
		}
		var tok, inf, qw []float64
		real, computed := 0, 0
		busy := 0.0
		for _, bt := range c.Batches {
			busy += overlap(bt.InferEndMS-bt.InferenceMS, bt.InferEndMS, a.AtMS, b.AtMS)
			// A batch belongs to the interval it ended in; the first
			// interval also takes batches ending exactly at its start.
			if bt.EndMS > b.AtMS || bt.EndMS < a.AtMS || (bt.EndMS == a.AtMS && i > 1) {
				continue
			}
			x.Batches++
			x.Pairs += bt.Pairs
			tok = append(tok, bt.TokenizeMS)
			inf = append(inf, bt.InferenceMS)
			qw = append(qw, bt.QueueWaitMS)
			real += bt.Tokens
			computed += bt.TokensComputed
		}
		x.Throughput = float64(x.Pairs) / (span / 1000)
		x.UtilPercent = 100 * busy / span / float64(max(1, c.Devices))
		if x.Batches > 0 {
			x.TokenizeMS, x.InferenceMS, x.QueueWaitMS = mean(tok), mean(inf), mean(qw)
			p := padding(real, computed)
			x.PaddingPercent = &p
		}
		out = append(out, x)
	}
	return out
}

func overlap(a0, a1, b0, b1 float64) float64 {
	return max(0, min(a1, b1)-max(a0, b0))
}

func mean(xs []float64) *float64 {
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	return &m
}

// Best returns the indexes of the configuration with the highest throughput
// and of the one with the lowest average latency (-1, -1 for none).
func (r *Results) Best() (throughput, latency int) {
	throughput, latency = -1, -1
	for i, c := range r.Configs {
		if c.Summary.Batches == 0 {
			continue
		}
		if throughput < 0 || c.Summary.Throughput > r.Configs[throughput].Summary.Throughput {
			throughput = i
		}
		if latency < 0 || c.Summary.LatencyMS.Mean < r.Configs[latency].Summary.LatencyMS.Mean {
			latency = i
		}
	}
	return throughput, latency
}

// sortedBatches returns the batches in order of their end.
func sortedBatches(bs []Batch) []Batch {
	s := slices.Clone(bs)
	slices.SortStableFunc(s, func(a, b Batch) int {
		switch {
		case a.EndMS < b.EndMS:
			return -1
		case a.EndMS > b.EndMS:
			return 1
		}
		return 0
	})
	return s
}
