package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// tol is for hand-computed values: they are exact in decimal, so only the
// floating-point rounding of a few operations separates them.
const tol = 1e-9

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > tol*max(1, math.Abs(want)) {
		t.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

func TestPercentile(t *testing.T) {
	s := []float64{1, 2, 3, 4}
	for _, c := range []struct{ p, want float64 }{
		{0, 1}, {50, 2.5}, {90, 3.7}, {99, 3.97}, {100, 4}, {25, 1.75},
	} {
		near(t, fmt.Sprintf("Percentile(1..4, %v)", c.p), Percentile(s, c.p), c.want)
	}
	near(t, "Percentile of one value", Percentile([]float64{7}, 95), 7)
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile of no values is not NaN")
	}
}

func TestSummarize(t *testing.T) {
	xs := []float64{9, 2, 4, 4, 5, 4, 5, 7} // unsorted on purpose
	s := Summarize(xs)
	if s.N != 8 || s.Min != 2 || s.Max != 9 {
		t.Errorf("N/Min/Max = %d/%v/%v, want 8/2/9", s.N, s.Min, s.Max)
	}
	near(t, "Mean", s.Mean, 5)
	// Squared deviations sum to 9+1+1+1+0+0+4+16 = 32; sample std √(32/7).
	near(t, "Std", s.Std, math.Sqrt(32.0/7))
	// Sorted: 2 4 4 4 5 5 7 9; P50 at index 3.5, P90 at 6.3, P95 at 6.65, P99 at 6.93.
	near(t, "P50", s.P50, 4.5)
	near(t, "P75", s.P75, 5.5) // index 5.25: 5 + .25·(7−5)
	near(t, "P90", s.P90, 7.6)
	near(t, "P95", s.P95, 8.3)
	near(t, "P99", s.P99, 8.86)
	if xs[0] != 9 {
		t.Error("Summarize sorted its argument")
	}
	if one := Summarize([]float64{3}); one.Std != 0 || one.P99 != 3 || one.Mean != 3 {
		t.Errorf("one value: %+v", one)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("no values: want the zero Summary")
	}
}

func TestPearson(t *testing.T) {
	for _, c := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3}, []float64{2, 4, 6}, 1},
		{[]float64{1, 2, 3}, []float64{6, 4, 2}, -1},
		// dx = dy up to a swap: Σdxdy = 4, Σdx² = Σdy² = 5.
		{[]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, 0.8},
	} {
		r, ok := Pearson(c.x, c.y)
		if !ok {
			t.Errorf("Pearson(%v, %v) undefined", c.x, c.y)
		}
		near(t, "Pearson", r, c.want)
	}
	for _, c := range [][2][]float64{
		{{1, 2, 3}, {5, 5, 5}}, // constant
		{{1}, {2}},             // one point
		{{1, 2}, {1}},          // lengths differ
	} {
		if _, ok := Pearson(c[0], c[1]); ok {
			t.Errorf("Pearson(%v, %v) defined", c[0], c[1])
		}
	}
}

func TestLatencyBands(t *testing.T) {
	// Latencies 1..10 ms: P50 = 5.5, P75 = 7.75, P90 = 9.1, so the bands
	// hold 1–5, 6–7, 8–9 and 10. Throughput 100/latency.
	var lat, thr []float64
	for i := 10; i >= 1; i-- {
		lat = append(lat, float64(i))
		thr = append(thr, 100/float64(i))
	}
	b := LatencyBands(lat, thr)
	want := []Band{
		{"<P50", 5, 100 * (1 + 1.0/2 + 1.0/3 + 1.0/4 + 1.0/5) / 5, 20, 100},
		{"P50–P75", 2, (100.0/6 + 100.0/7) / 2, 100.0 / 7, 100.0 / 6},
		{"P75–P90", 2, (100.0/8 + 100.0/9) / 2, 100.0 / 9, 100.0 / 8},
		{"≥P90", 1, 10, 10, 10},
	}
	for i := range want {
		if b[i].Name != want[i].Name || b[i].Count != want[i].Count {
			t.Errorf("band %d: %s ×%d, want %s ×%d", i, b[i].Name, b[i].Count, want[i].Name, want[i].Count)
		}
		near(t, want[i].Name+" avg", b[i].Avg, want[i].Avg)
		near(t, want[i].Name+" min", b[i].Min, want[i].Min)
		near(t, want[i].Name+" max", b[i].Max, want[i].Max)
	}
	// Equal latencies all reach the top band (lower bounds inclusive).
	b = LatencyBands([]float64{4, 4, 4}, []float64{1, 2, 3})
	if b[3].Count != 3 || b[0].Count+b[1].Count+b[2].Count != 0 {
		t.Errorf("equal latencies: %+v", b)
	}
}

func fp(x float64) *float64 { return &x }

func TestAnalyze(t *testing.T) {
	c := Config{
		BatchSize: 4, Concurrency: 1, Devices: 1,
		Batches: []Batch{
			{Pairs: 4, Tokens: 40, TokensComputed: 40, StartMS: 0, EndMS: 500, LatencyMS: 500,
				TokenizeMS: 10, QueueWaitMS: 5, InferenceMS: 300, InferEndMS: 500, Throughput: 8},
			{Pairs: 4, Tokens: 40, TokensComputed: 50, StartMS: 500, EndMS: 1500, LatencyMS: 1000,
				TokenizeMS: 20, QueueWaitMS: 15, InferenceMS: 800, InferEndMS: 1500, Throughput: 4},
		},
		Procs: []ProcPoint{
			{AtMS: 0, RSSMB: fp(100), CPUSeconds: fp(0)},
			{AtMS: 1000, RSSMB: fp(110), CPUSeconds: fp(1)},
			{AtMS: 2000, RSSMB: fp(120), CPUSeconds: fp(1.5)},
		},
	}
	c.Analyze()
	s := c.Summary
	if s.Pairs != 8 || s.Batches != 2 || s.TokensReal != 80 || s.TokensComputed != 90 {
		t.Errorf("pairs %d batches %d tokens %d/%d", s.Pairs, s.Batches, s.TokensReal, s.TokensComputed)
	}
	near(t, "Seconds", s.Seconds, 1.5)
	near(t, "Throughput", s.Throughput, 8/1.5)
	near(t, "Padding", s.PaddingPercent, 100*(1-80.0/90))
	near(t, "Util", s.UtilPercent, 100*1100.0/1500)
	near(t, "CPU", *s.CPUPercent, 75)
	near(t, "peak memory", *s.PeakMemoryMB, 120)
	near(t, "dashboard padding max", s.Dashboard.PaddingPercent.Max, 20)
	near(t, "dashboard queue wait mean", s.Dashboard.QueueWaitMS.Mean, 10)
	near(t, "dashboard memory mean", s.Dashboard.MemoryMB.Mean, 110)
	if len(c.Samples) != 2 {
		t.Fatalf("%d samples, want 2", len(c.Samples))
	}
	// Busy spans [200,500] and [700,1500]: 600 ms of the first second,
	// 500 ms of the second.
	for i, w := range []struct{ util, cpu, mem, tok float64 }{{60, 100, 110, 10}, {50, 50, 120, 20}} {
		x := c.Samples[i]
		near(t, "sample util", x.UtilPercent, w.util)
		near(t, "sample cpu", *x.CPUPercent, w.cpu)
		near(t, "sample memory", *x.MemoryMB, w.mem)
		near(t, "sample tokenize", *x.TokenizeMS, w.tok)
		near(t, "sample throughput", x.Throughput, 4)
		if x.Batches != 1 {
			t.Errorf("sample %d: %d batches, want 1", i, x.Batches)
		}
	}
	near(t, "second sample padding", *c.Samples[1].PaddingPercent, 20)

	// Without /proc: memory and CPU are n/a, and the report says so.
	for i := range c.Procs {
		c.Procs[i].RSSMB, c.Procs[i].CPUSeconds = nil, nil
	}
	c.Analyze()
	if c.Summary.CPUPercent != nil || c.Summary.Dashboard.MemoryMB != nil || c.Samples[0].CPUPercent != nil {
		t.Error("CPU or memory reported without readings")
	}
	r := &Results{Configs: []Config{c}, Settings: Settings{IntervalMS: 1000}}
	var md strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| Device memory (MB, RSS of all processes) | n/a |") {
		t.Errorf("report lacks the n/a memory row:\n%s", md.String())
	}
	var sum strings.Builder
	r.WriteSummary(&sum)
	if lines := strings.Split(strings.TrimSpace(sum.String()), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[1], "n/a       11.1") {
		t.Errorf("summary table:\n%s", sum.String())
	}
}

func TestBundledPairs(t *testing.T) {
	r, err := BundledPairs()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := io.Copy(&b, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 512 {
		t.Errorf("%d bundled pairs, want 512", n)
	}
}
