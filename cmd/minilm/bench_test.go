package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minilm-dev/minilm/bench"
)

// benchRun runs `minilm bench` on the tiny model into a fresh directory and
// returns the directory and the run.
func benchRun(t *testing.T, args ...string) (string, result) {
	t.Helper()
	dir := t.TempDir()
	r := minilm(t, nil, append([]string{"bench", "--model", tinyModel, "--quiet", "--interval", "2ms", "-o", dir}, args...)...)
	if r.code != 0 {
		t.Fatalf("minilm bench %q: exit %d: %s", args, r.code, r.stderr)
	}
	return dir, r
}

// reportSections are the headings report.md must have: the baseline's
// sections and, per configuration, its parts of them.
var reportSections = append([]string{
	"# minilm bench report",
	"#### Latency per batch (ms)",
	"#### Throughput (pairs/s)",
	"#### Latency vs throughput",
}, bench.ReportSections...)

func TestBenchInProcess(t *testing.T) {
	dir, r := benchRun(t, "--batch-sizes", "3,4", "--concurrency", "1,2", "--pairs-per-config", "10", "--warmup", "1")
	res := checkBench(t, dir, r, []int{3, 4}, []int{1, 2}, 10)
	for _, c := range res.Configs {
		if c.WarmupBatches != c.Concurrency {
			t.Errorf("batch %d concurrency %d: %d warm-up batches, want one per client", c.BatchSize, c.Concurrency, c.WarmupBatches)
		}
		for _, b := range c.Batches {
			if b.Worker != -1 {
				t.Errorf("in process, a batch ran on worker %d", b.Worker)
			}
		}
	}
	if s := res.Settings; s.Replicas != 1 || s.Backend != "cpu" || s.PairsInSet != 512 || !filepath.IsAbs(s.Model) {
		t.Errorf("settings %+v", s)
	}
	if m := res.Machine; m.Cores < 1 || m.GOOS == "" || m.GOARCH == "" {
		t.Errorf("machine %+v", m)
	}
}

func TestBenchReplicas(t *testing.T) {
	dir, r := benchRun(t, "--batch-sizes", "4", "--concurrency", "3", "--replicas", "2", "--pairs-per-config", "22", "--threads", "2")
	res := checkBench(t, dir, r, []int{4}, []int{3}, 22)
	c := res.Configs[0]
	if c.Devices != 2 || res.Settings.Replicas != 2 || res.Settings.Threads != 1 {
		t.Errorf("devices %d, replicas %d, threads per worker %d; want 2, 2, 1", c.Devices, res.Settings.Replicas, res.Settings.Threads)
	}
	for _, b := range c.Batches {
		if b.Worker != 0 && b.Worker != 1 {
			t.Errorf("batch on worker slot %d", b.Worker)
		}
	}
	if runtimeHasProc() {
		// Three processes: the bench and its two workers.
		if p := c.Procs[len(c.Procs)-1].Processes; p != 3 {
			t.Errorf("%d processes accounted, want 3", p)
		}
	}
}

// TestBenchDurationAndPairsFile runs on a --pairs file until --duration.
func TestBenchDurationAndPairsFile(t *testing.T) {
	dir, r := benchRun(t, "--pairs", filepath.Join(cliData, "pairs.tsv"), "--batch-sizes", "5", "--concurrency", "1", "--duration", "30ms", "--warmup", "5ms")
	res := checkBench(t, dir, r, []int{5}, []int{1}, 0)
	s := res.Configs[0].Summary
	if s.Batches < 1 || s.Pairs != 5*s.Batches {
		t.Errorf("%d pairs in %d batches of 5", s.Pairs, s.Batches)
	}
	if res.Settings.PairsSource != filepath.Join(cliData, "pairs.tsv") || res.Settings.PairsInSet != len(readLines(t, filepath.Join(cliData, "pairs.tsv"))) {
		t.Errorf("pairs source %q with %d pairs", res.Settings.PairsSource, res.Settings.PairsInSet)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--batch-sizes", "4,0"}, `minilm: --batch-sizes "4,0": want a comma-separated list of positive integers`},
		{[]string{"--concurrency", ""}, `minilm: --concurrency "": want a comma-separated list`},
		{[]string{"--warmup", "soon"}, `minilm: --warmup "soon": want a duration (2s) or a number of batches per client`},
		{[]string{"--duration", "0s"}, "minilm: --duration 0s: must be positive"},
		{[]string{"--pairs-per-config", "-1"}, "minilm: --pairs-per-config -1: must be 0"},
		{[]string{"pairs.jsonl"}, `minilm: bench takes no arguments, got ["pairs.jsonl"]`},
		{[]string{"--pairs", "missing.jsonl"}, "minilm: input missing.jsonl: no such file or directory"},
		{[]string{"--pairs", filepath.Join(cliData, "bad", "type.jsonl")}, "minilm: " + filepath.Join(cliData, "bad", "type.jsonl") + ":5:"},
	} {
		r := minilm(t, nil, append([]string{"bench", "--model", tinyModel, "-o", t.TempDir()}, c.args...)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("bench %q: exit %d, stderr %q; want 2, %q", c.args, r.code, r.stderr, c.msg)
		}
	}
}

func runtimeHasProc() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// checkBench checks a bench run's outputs: every report section, the
// results' consistency, the charts, and the stdout table. pairs is the
// --pairs-per-config (0: --duration ran).
func checkBench(t *testing.T, dir string, r result, sizes, conc []int, pairs int) *bench.Results {
	t.Helper()
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	for _, s := range reportSections {
		if !strings.Contains(report, "\n"+s+"\n") && !strings.HasPrefix(report, s+"\n") {
			t.Errorf("report.md lacks section %q", s)
		}
	}
	for _, s := range []string{"| 64 | 1 | 6400 | 10.02 | 638.9 | 100.2 | 129.6 | 1371 | 22.2 | 44.9 |", "| <P50 |", "| ≥P90 |",
		"| Device utilization (%) |", "| Queue wait (ms) |", "| Padding waste (%) |", "Correlation (Pearson r"} {
		if !strings.Contains(report, s) {
			t.Errorf("report.md lacks %q", s)
		}
	}

	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Results
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(res.Configs) != len(sizes)*len(conc) {
		t.Fatalf("%d configurations, want %d", len(res.Configs), len(sizes)*len(conc))
	}
	rows := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(rows) != 1+len(res.Configs) || strings.Join(strings.Fields(rows[0]), " ") != "batch concurrency pairs pairs/s lat avg ms p50 ms p99 ms CPU % RSS MB padding %" {
		t.Errorf("stdout table:\n%s", r.stdout)
	}
	for i, c := range res.Configs {
		where := fmt.Sprintf("batch %d concurrency %d", c.BatchSize, c.Concurrency)
		if c.BatchSize != sizes[i/len(conc)] || c.Concurrency != conc[i%len(conc)] {
			t.Errorf("configuration %d is %s", i, where)
		}
		if n := strings.Count(report, "\n"+bench.ConfigHeading(c)+"\n"); n != 3 {
			t.Errorf("report.md has %d parts of %s, want one in each of Detailed Metrics, Dashboard Metrics Summary and Dashboard Time-Series Data", n, where)
		}
		checkConfig(t, where, c, pairs)
		// The stdout row says what results.json says.
		row := strings.Fields(rows[1+i])
		s := c.Summary
		want := []string{strconv.Itoa(c.BatchSize), strconv.Itoa(c.Concurrency), strconv.Itoa(s.Pairs), f1s(s.Throughput), f1s(s.LatencyMS.Mean),
			f1s(s.LatencyMS.P50), f1s(s.LatencyMS.P99)}
		if len(row) != 10 || strings.Join(row[:7], " ") != strings.Join(want, " ") || row[9] != "0.0" {
			t.Errorf("%s: stdout row %q, want %q... padding 0.0", where, row, want)
		}
	}

	for _, name := range []string{bench.ChartLatency, bench.ChartThroughput, bench.ChartScatter, bench.ChartStages} {
		checkSVG(t, filepath.Join(dir, name))
		if !strings.Contains(report, "("+name+")") {
			t.Errorf("report.md does not link %s", name)
		}
	}
	return &res
}

func f1s(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

// checkConfig checks that one configuration's numbers agree with each
// other.
func checkConfig(t *testing.T, where string, c bench.Config, pairs int) {
	t.Helper()
	s := c.Summary
	submitted, batches := 0, len(c.Batches)
	perClient := map[int]int{}
	for _, b := range c.Batches {
		submitted += b.Pairs
		if b.Pairs < 1 || b.Pairs > c.BatchSize {
			t.Errorf("%s: a batch of %d pairs", where, b.Pairs)
		}
		if b.Tokens <= 0 || b.TokensComputed != b.Tokens {
			t.Errorf("%s: batch with %d real tokens computed as %d (packed batches compute exactly the real ones)", where, b.Tokens, b.TokensComputed)
		}
		// Stages happen one after the other within the batch's latency.
		if b.TokenizeMS < 0 || b.QueueWaitMS < 0 || b.InferenceMS <= 0 || b.TokenizeMS+b.QueueWaitMS+b.InferenceMS > b.LatencyMS+1e-6 {
			t.Errorf("%s: stages %.3f + %.3f + %.3f ms exceed latency %.3f ms", where, b.TokenizeMS, b.QueueWaitMS, b.InferenceMS, b.LatencyMS)
		}
		if math.Abs(b.EndMS-b.StartMS-b.LatencyMS) > 1e-6 || math.Abs(b.Throughput-float64(b.Pairs)/b.LatencyMS*1000) > 1e-6*b.Throughput {
			t.Errorf("%s: batch %+v: latency or throughput inconsistent", where, b)
		}
		if b.Seq != perClient[b.Client] {
			t.Errorf("%s: client %d batch %d after %d batches", where, b.Client, b.Seq, perClient[b.Client])
		}
		perClient[b.Client]++
	}
	if submitted != s.Pairs || s.Batches != batches || (pairs > 0 && s.Pairs != pairs) {
		t.Errorf("%s: summary says %d pairs in %d batches; counted %d in %d; want %d pairs", where, s.Pairs, s.Batches, submitted, batches, pairs)
	}
	if pairs > 0 && batches != (pairs+c.BatchSize-1)/c.BatchSize {
		t.Errorf("%s: %d batches for %d pairs of batch %d", where, batches, pairs, c.BatchSize)
	}
	if s.Seconds <= 0 || math.Abs(s.Throughput-float64(s.Pairs)/s.Seconds) > 1e-9*s.Throughput {
		t.Errorf("%s: throughput %v for %d pairs in %v s", where, s.Throughput, s.Pairs, s.Seconds)
	}
	if s.PaddingPercent != 0 || s.TokensComputed != s.TokensReal || s.Dashboard.PaddingPercent.Max != 0 {
		t.Errorf("%s: padding waste %v%% (%d computed for %d real)", where, s.PaddingPercent, s.TokensComputed, s.TokensReal)
	}
	for name, x := range map[string]bench.Summary{"latency": s.LatencyMS, "batch throughput": s.BatchThroughput} {
		if x.N != batches || !(x.Min <= x.P50 && x.P50 <= x.P75 && x.P75 <= x.P90 && x.P90 <= x.P95 && x.P95 <= x.P99 && x.P99 <= x.Max) || x.Mean < x.Min || x.Mean > x.Max {
			t.Errorf("%s: %s statistics out of order: %+v", where, name, x)
		}
	}
	inBands := 0
	for _, b := range s.Bands {
		inBands += b.Count
	}
	if len(s.Bands) != 4 || inBands != batches {
		t.Errorf("%s: %d batches in %d bands, want %d in 4", where, inBands, len(s.Bands), batches)
	}
	if s.Correlation != nil && (*s.Correlation < -1-1e-12 || *s.Correlation > 1+1e-12) {
		t.Errorf("%s: correlation %v", where, *s.Correlation)
	}
	// Every batch ends in exactly one interval of the time series.
	inSamples := 0
	for _, x := range c.Samples {
		inSamples += x.Batches
		if x.UtilPercent < 0 {
			t.Errorf("%s: negative utilization %v", where, x.UtilPercent)
		}
	}
	if len(c.Samples) == 0 || inSamples != batches {
		t.Errorf("%s: %d batches in %d samples, want %d", where, inSamples, len(c.Samples), batches)
	}
	if runtimeHasProc() && (s.PeakMemoryMB == nil || *s.PeakMemoryMB <= 0 || s.CPUPercent == nil) {
		t.Errorf("%s: memory or CPU not measured", where)
	}
}

// checkSVG checks that a file is well-formed XML whose root is <svg> and
// that it draws something.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	var root string
	paths := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err != io.EOF {
				t.Errorf("%s is not well-formed XML: %v", path, err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				paths++
			}
		}
	}
	if root != "svg" || paths < 10 {
		t.Errorf("%s: root <%s> with %d paths, want <svg> drawing a chart", path, root, paths)
	}
}
