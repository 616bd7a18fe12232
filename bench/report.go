package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Baseline is the headline of the Python baseline's published report
// (PyTorch on an Apple GPU, two replica processes): batch 64, concurrency 1.
var Baseline = struct {
	Pairs                      int
	Seconds, Throughput        float64
	LatencyAvgMS, LatencyP99MS float64
	GPUMemoryMB, TokenizeMS    float64
	PaddingPercent             float64
	BatchSize, Concurrency     int
}{
	Pairs: 6400, Seconds: 10.02, Throughput: 638.9, LatencyAvgMS: 100.2, LatencyP99MS: 129.6,
	GPUMemoryMB: 1371, TokenizeMS: 22.2, PaddingPercent: 44.9, BatchSize: 64, Concurrency: 1,
}

// Chart file names, as WriteCharts writes them and the report links them.
const (
	ChartLatency    = "latency_over_time.svg"
	ChartThroughput = "throughput_over_time.svg"
	ChartScatter    = "latency_vs_throughput.svg"
	ChartStages     = "stage_breakdown.svg"
)

// SummaryHeader is the header of the summary table's columns.
var SummaryHeader = []string{"batch", "concurrency", "pairs", "pairs/s", "lat avg ms", "p50 ms", "p99 ms", "CPU %", "RSS MB", "padding %"}

// SummaryRows returns one row per configuration, in SummaryHeader's order.
func (r *Results) SummaryRows() [][]string {
	var rows [][]string
	for _, c := range r.Configs {
		s := c.Summary
		rows = append(rows, []string{
			fmt.Sprint(c.BatchSize), fmt.Sprint(c.Concurrency), fmt.Sprint(s.Pairs),
			f1(s.Throughput), f1(s.LatencyMS.Mean), f1(s.LatencyMS.P50), f1(s.LatencyMS.P99),
			opt(s.CPUPercent, f0), opt(s.PeakMemoryMB, f0), f1(s.PaddingPercent),
		})
	}
	return rows
}

// WriteSummary prints the summary table as aligned text.
func (r *Results) WriteSummary(w io.Writer) error {
	rows := append([][]string{SummaryHeader}, r.SummaryRows()...)
	width := make([]int, len(SummaryHeader))
	for _, row := range rows {
		for i, v := range row {
			width[i] = max(width[i], len(v))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, v := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			fmt.Fprintf(&b, "%*s", width[i], v)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ResultsHeader is the header of report.md's Results Summary: the
// baseline report's columns (latency in ms, TP the per-batch throughput in
// pairs/s), then ours.
var ResultsHeader = []string{"Batch", "Conc", "Pairs", "Time(s)", "Lat Avg", "Lat P95", "Lat P99", "TP Avg", "TP P95",
	"Pairs/s (overall)", "Lat P50", "CPU %", "RSS MB", "Padding %"}

// ResultsRows returns one row per configuration, in ResultsHeader's order.
func (r *Results) ResultsRows() [][]string {
	var rows [][]string
	for _, c := range r.Configs {
		s := c.Summary
		rows = append(rows, []string{
			fmt.Sprint(c.BatchSize), fmt.Sprint(c.Concurrency), fmt.Sprint(s.Pairs), f2(s.Seconds),
			f1(s.LatencyMS.Mean), f1(s.LatencyMS.P95), f1(s.LatencyMS.P99), f1(s.BatchThroughput.Mean), f1(s.BatchThroughput.P95),
			f1(s.Throughput), f1(s.LatencyMS.P50), opt(s.CPUPercent, f0), opt(s.PeakMemoryMB, f0), f1(s.PaddingPercent),
		})
	}
	return rows
}

// ReportSections are report.md's top-level sections, in order: the
// baseline report's (Results Summary to Dashboard Time-Series Data), with
// ours around them.
var ReportSections = []string{
	"## Baseline headline (published figures, different machine)",
	"## Results Summary",
	"## Detailed Metrics",
	"## Overall Summary",
	"## Dashboard Metrics Summary",
	"## Dashboard Time-Series Data",
	"## Charts",
	"## Definitions",
}

// WriteMarkdown writes report.md: the sections and columns of the
// baseline's report (ReportSections, ResultsHeader), each configuration
// under its own heading in the per-configuration sections.
func (r *Results) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	st, m := r.Settings, r.Machine
	p("# minilm bench report\n\n")
	p("Run started %s.\n\n", r.Started.UTC().Format(time.RFC3339))
	p("| Setting | Value |\n|---|---|\n")
	cpuName := m.CPUModel
	if cpuName == "" {
		cpuName = "unknown"
	}
	p("| Machine | %s, %d cores, %s/%s, %s |\n", cpuName, m.Cores, m.GOOS, m.GOARCH, m.GoVersion)
	if m.LoadAvg != "" {
		p("| Load average at start | %s |\n", m.LoadAvg)
	}
	p("| Model | %s |\n", st.Model)
	p("| Backend | %s |\n", st.Backend)
	replicas := "in process"
	if st.Replicas > 1 {
		replicas = fmt.Sprintf("%d worker processes", st.Replicas)
	}
	p("| Replicas | %s |\n| Threads per model instance | %d |\n", replicas, st.Threads)
	p("| Max length | %d tokens |\n", st.MaxLength)
	p("| Pairs | %s (%d pairs, cycled) |\n", st.PairsSource, st.PairsInSet)
	if st.PairsPerConfig > 0 {
		p("| Stop rule | %d pairs per configuration |\n", st.PairsPerConfig)
	} else {
		p("| Stop rule | %.3g s per configuration |\n", st.DurationS)
	}
	p("| Warm-up (excluded) | %s |\n| Sampling interval | %.0f ms |\n\n", st.Warmup, st.IntervalMS)

	bl := Baseline
	p("## Baseline headline (published figures, different machine)\n\n")
	p("The Python baseline's own report, measured with PyTorch on an Apple GPU (MPS), two replica processes; ")
	p("not measured here, shown for side-by-side reading only.\n\n")
	p("| Batch | Concurrency | Pairs | Total time (s) | Throughput (pairs/s) | Latency avg (ms) | Latency p99 (ms) | GPU memory (MB) | Tokenization (ms) | Padding waste (%%) |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	p("| %d | %d | %d | %.2f | %.1f | %.1f | %.1f | %.0f | %.1f | %.1f |\n\n", bl.BatchSize, bl.Concurrency, bl.Pairs, bl.Seconds,
		bl.Throughput, bl.LatencyAvgMS, bl.LatencyP99MS, bl.GPUMemoryMB, bl.TokenizeMS, bl.PaddingPercent)

	p("%s\n\n", ReportSections[1])
	mdTable(&b, ResultsHeader, r.ResultsRows())

	p("%s\n\n", ReportSections[2])
	for _, c := range r.Configs {
		writeDetails(&b, c)
	}

	p("%s\n\n", ReportSections[3])
	bt, bl2 := r.Best()
	if bt < 0 {
		p("No batch completed.\n\n")
	} else {
		name := func(i int) string {
			return fmt.Sprintf("batch %d, concurrency %d", r.Configs[i].BatchSize, r.Configs[i].Concurrency)
		}
		p("| Metric | Value |\n|---|---|\n")
		p("| Best throughput | %s: %.1f pairs/s |\n", name(bt), r.Configs[bt].Summary.Throughput)
		p("| Best latency (lowest average) | %s: %.1f ms |\n", name(bl2), r.Configs[bl2].Summary.LatencyMS.Mean)
		var thr, lat, p99 []float64
		for _, c := range r.Configs {
			if c.Summary.Batches > 0 {
				thr = append(thr, c.Summary.Throughput)
				lat = append(lat, c.Summary.LatencyMS.Mean)
				p99 = append(p99, c.Summary.LatencyMS.P99)
			}
		}
		p("| Average throughput over configurations | %.1f pairs/s |\n", Summarize(thr).Mean)
		p("| Average latency over configurations | %.1f ms |\n", Summarize(lat).Mean)
		p("| Average p99 latency over configurations | %.1f ms |\n\n", Summarize(p99).Mean)
	}

	p("%s\n\n", ReportSections[4])
	for _, c := range r.Configs {
		p("%s\n\n", ConfigHeading(c))
		writeDashboard(&b, c)
	}
	p("%s\n\n", ReportSections[5])
	for _, c := range r.Configs {
		p("%s\n\n", ConfigHeading(c))
		r.writeSeries(&b, c)
	}

	p("%s\n\n", ReportSections[6])
	for _, c := range []struct{ file, what string }{
		{ChartLatency, "Latency per batch over time"},
		{ChartThroughput, "Throughput per interval over time"},
		{ChartScatter, "Latency vs throughput per batch"},
		{ChartStages, "Stage breakdown per configuration (average ms per batch)"},
	} {
		p("- %s: [%s](%s)\n", c.what, c.file, c.file)
	}
	p("\n%s\n\n", ReportSections[7])
	for _, k := range definitionOrder {
		if d, ok := st.Definitions[k]; ok {
			p("- **%s**: %s\n", k, d)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// definitionOrder lists Settings.Definitions keys in report order.
var definitionOrder = []string{"latency", "throughput", "tokenization", "queue wait", "inference",
	"padding waste", "device utilization", "memory", "CPU", "std", "percentiles", "latency bands", "correlation", "time series"}

// ConfigHeading is the heading of a configuration's part of each
// per-configuration section.
func ConfigHeading(c Config) string {
	return fmt.Sprintf("### Batch %d, Concurrency %d", c.BatchSize, c.Concurrency)
}

func writeDetails(b *strings.Builder, c Config) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	s := c.Summary
	p("%s\n\n", ConfigHeading(c))
	p("| Metric | Value |\n|---|---|\n")
	p("| Pairs | %d |\n| Batches | %d (after %d warm-up batches) |\n", s.Pairs, s.Batches, c.WarmupBatches)
	p("| Total time (s) | %.2f |\n| Throughput (pairs/s) | %.1f |\n", s.Seconds, s.Throughput)
	p("| Tokens (real / computed) | %d / %d |\n| Padding waste (%%) | %.1f |\n", s.TokensReal, s.TokensComputed, s.PaddingPercent)
	if h := c.HTTP; h != nil {
		statuses := slices.Sorted(maps.Keys(h.ByStatus))
		var parts []string
		for _, k := range statuses {
			parts = append(parts, fmt.Sprintf("%s: %d", k, h.ByStatus[k]))
		}
		p("| Server | %s |\n| Requests sent (after warm-up) | %d |\n", h.URL, h.Sent)
		p("| Requests by status | %s |\n| Requests/s (status 200) | %.1f |\n", strings.Join(parts, ", "), h.RequestsPerS)
	}
	p("\n")

	p("#### Latency per batch (ms)\n\n")
	statTable(b, []string{"Latency"}, []Summary{s.LatencyMS})
	p("#### Throughput (pairs/s)\n\n")
	p("Overall: %.1f pairs/s (pairs / total time). Per batch (pairs / latency):\n\n", s.Throughput)
	statTable(b, []string{"Per batch"}, []Summary{s.BatchThroughput})

	p("#### Latency vs throughput\n\n")
	if len(s.Bands) > 0 {
		l := s.LatencyMS
		ranges := []string{
			fmt.Sprintf("< %.1f", l.P50), fmt.Sprintf("%.1f – %.1f", l.P50, l.P75),
			fmt.Sprintf("%.1f – %.1f", l.P75, l.P90), fmt.Sprintf("≥ %.1f", l.P90),
		}
		p("| Latency band | Latency (ms) | Count | Throughput avg | Throughput min | Throughput max |\n|---|---|---|---|---|---|\n")
		for i, band := range s.Bands {
			if band.Count == 0 {
				p("| %s | %s | 0 | – | – | – |\n", band.Name, ranges[i])
				continue
			}
			p("| %s | %s | %d | %.1f | %.1f | %.1f |\n", band.Name, ranges[i], band.Count, band.Avg, band.Min, band.Max)
		}
		p("\n")
	}
	if s.Correlation != nil {
		p("Correlation (Pearson r, per-batch latency vs throughput): %.3f\n\n", *s.Correlation)
	} else {
		p("Correlation (Pearson r, per-batch latency vs throughput): n/a (fewer than two batches, or a constant series)\n\n")
	}
}

func writeDashboard(b *strings.Builder, c Config) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	d := c.Summary.Dashboard
	p("| Metric | Avg | Min | Max | P50 | P95 |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		s    *Summary
	}{
		{"Device memory (MB, RSS of all processes)", d.MemoryMB},
		{"Device utilization (%)", d.UtilPercent},
		{"CPU (%, 100 = one core)", d.CPUPercent},
		{"Tokenization (ms)", d.TokenizeMS},
		{"Inference (ms)", d.InferenceMS},
		{"Queue wait (ms)", d.QueueWaitMS},
		{"Padding waste (%)", d.PaddingPercent},
	} {
		if row.s == nil {
			p("| %s | n/a | n/a | n/a | n/a | n/a |\n", row.name)
			continue
		}
		p("| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", row.name, row.s.Mean, row.s.Min, row.s.Max, row.s.P50, row.s.P95)
	}
	p("\n")
}

func (r *Results) writeSeries(b *strings.Builder, c Config) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("| t (s) | Batches | Throughput (pairs/s) | Memory (MB) | Device util (%%) | CPU (%%) | Tokenization (ms) | Inference (ms) | Queue wait (ms) | Padding (%%) |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	// Enough decimals to tell the intervals apart.
	prec := 1
	for iv := r.Settings.IntervalMS / 1000; iv < 1 && prec < 3; iv *= 10 {
		prec++
	}
	for _, x := range c.Samples {
		p("| %.*f–%.*f | %d | %.1f | %s | %.1f | %s | %s | %s | %s | %s |\n", prec, x.StartMS/1000, prec, x.EndMS/1000, x.Batches, x.Throughput,
			opt(x.MemoryMB, f0), x.UtilPercent, opt(x.CPUPercent, f0), opt(x.TokenizeMS, f1), opt(x.InferenceMS, f1),
			opt(x.QueueWaitMS, f1), opt(x.PaddingPercent, f1))
	}
	p("\n")
}

func statTable(b *strings.Builder, names []string, ss []Summary) {
	fmt.Fprintf(b, "| | Avg | Min | Max | Std | P50 | P90 | P95 | P99 |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, s := range ss {
		if s.N == 0 {
			fmt.Fprintf(b, "| %s | – | – | – | – | – | – | – | – |\n", names[i])
			continue
		}
		fmt.Fprintf(b, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", names[i],
			s.Mean, s.Min, s.Max, s.Std, s.P50, s.P90, s.P95, s.P99)
	}
	b.WriteString("\n")
}

func mdTable(b *strings.Builder, header []string, rows [][]string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range rows {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\n")
}

func f0(x float64) string { return fmt.Sprintf("%.0f", x) }
func f1(x float64) string { return fmt.Sprintf("%.1f", x) }
func f2(x float64) string { return fmt.Sprintf("%.2f", x) }

// opt formats a measurement that may be missing ("n/a").
func opt(x *float64, f func(float64) string) string {
	if x == nil {
		return "n/a"
	}
	return f(*x)
}

// WriteFiles writes results.json, report.md and the charts into dir.
func (r *Results) WriteFiles(dir string) error {
	data, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("bench: results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var md strings.Builder
	r.WriteMarkdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, err = r.WriteCharts(dir)
	return err
}
