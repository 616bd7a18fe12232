package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// sampleResults has two configurations of a few hand-made batches.
func sampleResults() *Results {
	r := &Results{Tool: "test", Started: time.Unix(0, 0), Settings: Settings{IntervalMS: 10, Definitions: Definitions(false)}}
	for ci, bs := range []int{4, 8} {
		c := Config{BatchSize: bs, Concurrency: ci + 1, Devices: 1}
		for i := range 5 {
			start := float64(10 * i)
			lat := float64(5 + i)
			c.Batches = append(c.Batches, Batch{Seq: i, Pairs: bs, Tokens: 10 * bs, TokensComputed: 10 * bs, StartMS: start, EndMS: start + lat,
				LatencyMS: lat, TokenizeMS: 1, QueueWaitMS: 1, InferenceMS: 2, InferEndMS: start + lat, Worker: -1, Throughput: float64(bs) / lat * 1000})
		}
		c.Procs = []ProcPoint{{AtMS: 0}, {AtMS: 25}, {AtMS: 50}}
		c.Analyze()
		r.Configs = append(r.Configs, c)
	}
	return r
}

// TestReportLayout: report.md has the baseline report's sections in its
// order, and its Results Summary opens with the baseline's columns, so the
// two reports read side by side.
func TestReportLayout(t *testing.T) {
	r := sampleResults()
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	var sections []string
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "## ") {
			sections = append(sections, line)
		}
	}
	if strings.Join(sections, "\n") != strings.Join(ReportSections, "\n") {
		t.Errorf("sections\n%s\nwant\n%s", strings.Join(sections, "\n"), strings.Join(ReportSections, "\n"))
	}
	baseline := "| Batch | Conc | Pairs | Time(s) | Lat Avg | Lat P95 | Lat P99 | TP Avg | TP P95 |"
	summary := section(md, "## Results Summary")
	lines := strings.Split(strings.TrimSpace(summary), "\n")
	if len(lines) != 2+len(r.Configs) || !strings.HasPrefix(lines[0], baseline+" ") {
		t.Fatalf("Results Summary:\n%s\nwant a table opening with %s, one row per configuration", summary, baseline)
	}
	for i, c := range r.Configs {
		s := c.Summary
		want := fmt.Sprintf("| %d | %d | %d | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |", c.BatchSize, c.Concurrency, s.Pairs, s.Seconds,
			s.LatencyMS.Mean, s.LatencyMS.P95, s.LatencyMS.P99, s.BatchThroughput.Mean, s.BatchThroughput.P95, s.Throughput)
		if !strings.HasPrefix(lines[2+i], want) {
			t.Errorf("row %d: %s\nwant %s ...", i, lines[2+i], want)
		}
	}
	for _, name := range []string{"## Detailed Metrics", "## Dashboard Metrics Summary", "## Dashboard Time-Series Data"} {
		sec := section(md, name)
		for _, c := range r.Configs {
			if !strings.Contains(sec, "\n"+ConfigHeading(c)+"\n") {
				t.Errorf("%s lacks %q", name, ConfigHeading(c))
			}
		}
	}
	if !strings.Contains(section(md, "## Dashboard Metrics Summary"), "| Queue wait (ms) | 1.0 |") ||
		!strings.Contains(section(md, "## Dashboard Time-Series Data"), "| 0.000–0.025 | 2 | 320.0 |") {
		t.Errorf("dashboard sections lack their tables:\n%s", md)
	}
}

// section returns the text under a "## " heading, up to the next one.
func section(md, heading string) string {
	_, rest, ok := strings.Cut(md, "\n"+heading+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
