package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The end-to-end tests build the minilm binary once and run it on
// testdata/cli with the tiny model (testdata/models/tiny: 2 layers, random
// weights, so that numerical errors show).

// goldenTol is the bar for scores against the golden logits: the reference
// agrees with ONNX Runtime within 1e-5, so a correct float32 engine lands
// within ~1e-5 and 1e-4 leaves room for summation order only.
const goldenTol = 1e-4

const (
	tinyModel = "../../testdata/models/tiny"
	cliData   = "../../testdata/cli"
)

var binary string // the minilm built by TestMain

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "minilm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "minilm")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
	state          *os.ProcessState
}

// minilm runs the binary with stdin (may be nil).
func minilm(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("minilm %q: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), state: cmd.ProcessState}
}

func score(args ...string) []string {
	return append([]string{"score", "--model", tinyModel}, args...)
}

// goldenLogits maps query+"\x00"+passage to the reference logit.
var goldenLogits = sync.OnceValues(func() (map[string]float64, error) {
	data, err := os.ReadFile("../../testdata/golden/tiny.public.jsonl")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var g struct {
			Query, Passage string
			Logit          float64
		}
		if err := json.Unmarshal([]byte(line), &g); err != nil {
			return nil, err
		}
		m[g.Query+"\x00"+g.Passage] = g.Logit
	}
	return m, nil
})

// checkScore parses a printed score and compares it with the golden logit
// of the pair (when the pair has one).
func checkScore(t *testing.T, where, printed, query, passage string) {
	t.Helper()
	v, err := strconv.ParseFloat(printed, 32)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		t.Errorf("%s: score %q is not a finite float32", where, printed)
		return
	}
	if s := strconv.FormatFloat(v, 'g', -1, 32); s != printed {
		t.Errorf("%s: score printed as %q, shortest float32 form is %q", where, printed, s)
	}
	golden, err := goldenLogits()
	if err != nil {
		t.Fatalf("golden logits: %v", err)
	}
	if want, ok := golden[query+"\x00"+passage]; ok && math.Abs(v-want) > goldenTol {
		t.Errorf("%s: score %v, golden %v (|Δ| %.2g > %g)", where, v, want, math.Abs(v-want), goldenTol)
	}
}

// readLines reads a file's lines without line ends, as minilm counts them.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// checkJSONL checks that out is the scored version of the non-blank lines
// in (in order, every field kept in order, score spliced in), scores
// matching the golden logits, and returns the number of records.
func checkJSONL(t *testing.T, in []string, out string) int {
	t.Helper()
	if out != "" && !strings.HasSuffix(out, "\n") {
		t.Errorf("output ends in a torn line: %q", out[max(0, len(out)-80):])
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if out == "" {
		lines = nil
	}
	var records []string
	for _, l := range in {
		if strings.TrimSpace(l) != "" {
			records = append(records, strings.TrimRight(l, " \r"))
		}
	}
	if len(lines) > len(records) {
		t.Fatalf("%d output lines for %d input records", len(lines), len(records))
	}
	for i, l := range lines {
		cut := strings.LastIndex(l, `,"score":`)
		if cut < 0 || !strings.HasSuffix(l, "}") {
			t.Errorf("line %d has no spliced score: %.200s", i+1, l)
			continue
		}
		if got, want := l[:cut]+l[len(l)-1:], records[i]; got != want {
			t.Errorf("line %d: the input bytes changed:\n got %.200s\nwant %.200s", i+1, got, want)
			continue
		}
		var rec struct{ Query, Passage string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("line %d is not JSON: %v", i+1, err)
			continue
		}
		checkScore(t, fmt.Sprintf("line %d", i+1), l[cut+len(`,"score":`):len(l)-1], rec.Query, rec.Passage)
	}
	return len(lines)
}

func TestScoreJSONLGolden(t *testing.T) {
	in := filepath.Join(cliData, "pairs.jsonl")
	r := minilm(t, nil, score(in)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if n := checkJSONL(t, readLines(t, in), r.stdout); n != 151 {
		t.Errorf("%d records scored, want 151", n)
	}
}

// TestScoreBatchSize checks that batching changes nothing: one pair per
// forward pass gives the same bytes as the default 32.
func TestScoreBatchSize(t *testing.T) {
	in := filepath.Join(cliData, "pairs.tsv")
	r32 := minilm(t, nil, score(in)...)
	r1 := minilm(t, nil, score("--batch-size", "1", in)...)
	if r1.code != 0 || r32.code != 0 || r1.stdout != r32.stdout {
		t.Errorf("--batch-size 1 (exit %d) differs from 32 (exit %d):\n%s", r1.code, r32.code, firstDiff(r1.stdout, r32.stdout))
	}
}

// scoreLines runs `minilm score` on cliData's file name and returns its input
// lines with the output line written for each.
func scoreLines(t *testing.T, name string) (inLines, out []string) {
	t.Helper()
	in := filepath.Join(cliData, name)
	r := minilm(t, nil, score(in)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	inLines = readLines(t, in)
	out = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(out) != len(inLines) {
		t.Fatalf("%d output lines for %d input lines", len(out), len(inLines))
	}
	return inLines, out
}

func TestScoreTSV(t *testing.T) {
	inLines, out := scoreLines(t, "pairs.tsv")
	for i, l := range out {
		cut := strings.LastIndexByte(l, '\t')
		if l[:cut] != inLines[i] {
			t.Errorf("line %d: input not kept: %.100s", i+1, l)
			continue
		}
		q, p, _ := strings.Cut(inLines[i], "\t")
		checkScore(t, fmt.Sprintf("line %d", i+1), l[cut+1:], q, p)
	}
}

func TestScoreCSV(t *testing.T) {
	in := filepath.Join(cliData, "pairs.csv")
	r := minilm(t, nil, score(in)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	f, _ := os.Open(in)
	defer f.Close()
	want, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	if !reflect.DeepEqual(got[0], append(want[0], "score")) {
		t.Errorf("header %q, want %q + score", got[0], want[0])
	}
	for i := 1; i < len(got); i++ {
		if !reflect.DeepEqual(got[i][:4], want[i]) {
			t.Errorf("row %d: fields changed: %q", i, got[i])
		}
		checkScore(t, fmt.Sprintf("row %d", i), got[i][4], want[i][2], want[i][1])
	}
}

func TestScoreDocuments(t *testing.T) {
	inLines, out := scoreLines(t, "documents.jsonl")
	for i, l := range out {
		var rec struct {
			Query, Passage string
			Documents      []string
			Scores         []json.Number
			Score          json.Number
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if rec.Documents == nil {
			checkScore(t, fmt.Sprintf("line %d", i+1), string(rec.Score), rec.Query, rec.Passage)
			continue
		}
		if !strings.HasPrefix(l, strings.TrimSuffix(inLines[i], "}")) {
			t.Errorf("line %d: input not kept: %.200s", i+1, l)
		}
		if len(rec.Scores) != len(rec.Documents) {
			t.Errorf("line %d: %d scores for %d documents", i+1, len(rec.Scores), len(rec.Documents))
			continue
		}
		for j, d := range rec.Documents {
			checkScore(t, fmt.Sprintf("line %d document %d", i+1, j), string(rec.Scores[j]), rec.Query, d)
		}
	}
}

// TestScoreFilesAndStdin scores several inputs in one run: the outputs are
// concatenated in argument order, "-" reading stdin (its format told from
// its first line). Inputs of different formats are refused.
func TestScoreFilesAndStdin(t *testing.T) {
	tsv, docs, pairs := filepath.Join(cliData, "pairs.tsv"), filepath.Join(cliData, "documents.jsonl"), filepath.Join(cliData, "pairs.jsonl")
	stdin := `{"query":"How many people live in Berlin?","passage":"Berlin is well known for its museums."}` + "\n"
	r := minilm(t, strings.NewReader(stdin), score(docs, "-", pairs)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	a := minilm(t, nil, score(docs)...)
	b := minilm(t, strings.NewReader(stdin), score()...)
	c := minilm(t, nil, score(pairs)...)
	if want := a.stdout + b.stdout + c.stdout; r.stdout != want {
		t.Errorf("concatenated output differs:\n%s", firstDiff(r.stdout, want))
	}
	const q, p = "How many people live in Berlin?", "Berlin is well known for its museums."
	prefix := stdin[:len(stdin)-2] + `,"score":`
	if !strings.HasPrefix(b.stdout, prefix) || !strings.HasSuffix(b.stdout, "}\n") {
		t.Errorf("stdin output %q, want the input object with a score", b.stdout)
	} else {
		checkScore(t, "stdin", strings.TrimSuffix(b.stdout[len(prefix):], "}\n"), q, p)
	}
	// TSV on stdin, with --format or told from its first line.
	for _, args := range [][]string{score("--format", "tsv", "-"), score()} {
		tr := minilm(t, strings.NewReader("\n"+q+"\t"+p+"\n"), args...)
		if tr.code != 0 || !strings.HasPrefix(tr.stdout, q+"\t"+p+"\t") || !strings.HasSuffix(tr.stdout, "\n") {
			t.Errorf("%q, tsv on stdin: exit %d, %q, %s", args, tr.code, tr.stdout, tr.stderr)
		} else {
			checkScore(t, "tsv stdin", strings.TrimSuffix(tr.stdout[len(q+"\t"+p+"\t"):], "\n"), q, p)
		}
	}
	// A CSV header on stdin.
	cr := minilm(t, strings.NewReader("query,passage\n\""+q+"\",\""+p+"\"\n"), score()...)
	if cr.code != 0 || !strings.HasPrefix(cr.stdout, "query,passage,score\n") {
		t.Errorf("csv on stdin: exit %d, %q, %s", cr.code, cr.stdout, cr.stderr)
	}
	// Several formats in one run: refused before anything is scored.
	if m := minilm(t, nil, score(docs, tsv)...); m.code != 2 || m.stdout != "" ||
		m.stderr != "minilm: inputs of different formats: "+docs+" is jsonl, "+tsv+" is tsv; score them in separate runs (the output keeps one layout)\n" {
		t.Errorf("mixed formats: exit %d, %q, %q", m.code, m.stdout, m.stderr)
	}
	if m := minilm(t, strings.NewReader(q+"\t"+p+"\n"), score(docs, "-")...); m.code != 2 || m.stdout != "" ||
		!strings.Contains(m.stderr, "inputs of different formats: "+docs+" is jsonl, <stdin> is tsv") {
		t.Errorf("mixed formats with stdin: exit %d, %q, %q", m.code, m.stdout, m.stderr)
	}
}

func TestScoreEmpty(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	for _, args := range [][]string{score(empty), score("-")} {
		r := minilm(t, strings.NewReader(""), args...)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("minilm %q on empty input: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	// Empty queries and passages are valid input.
	r := minilm(t, strings.NewReader(`{"query":"","passage":""}`+"\n"+`{"query":"q","passage":""}`+"\n"+`{"query":"","documents":["",""]}`+"\n"), score()...)
	if r.code != 0 {
		t.Fatalf("empty strings: exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"query":"","passage":"","score":`) || !strings.Contains(lines[2], `"scores":[`) {
		t.Errorf("empty strings: output %q", r.stdout)
	}
}

// TestScoreBadInput runs every kind of malformed record: the run stops with
// exit status 2 and "minilm: FILE:LINE: reason", and stdout holds exactly
// the records before it, each whole.
func TestScoreBadInput(t *testing.T) {
	cases := []struct {
		file, msg string
		before    int // output lines before the bad record
	}{
		{"json.jsonl", "json.jsonl:3: bad JSON: unexpected end of line", 2},
		{"missing.jsonl", `missing.jsonl:2: missing "passage" (or "documents")`, 1},
		{"type.jsonl", `type.jsonl:5: "passage" is a number, not a string`, 3},
		{"object.jsonl", "object.jsonl:2: a JSON array, not an object", 1},
		{"utf8.jsonl", "utf8.jsonl:3: invalid UTF-8", 2},
		{"columns.tsv", "columns.tsv:3: wrong column count: 3, want 2 (query<TAB>passage)", 2},
		{"utf8.tsv", "utf8.tsv:2: invalid UTF-8", 1},
		{"columns.csv", "columns.csv:4: wrong column count: 2, want 3 as in the header", 3}, // header + a row over 2 lines
		{"quote.csv", `quote.csv:2: bare " in non-quoted-field`, 1},
		{"header.csv", `header.csv: the CSV header must name a "query" and a "passage" column`, 0},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			in := filepath.Join(cliData, "bad", c.file)
			r := minilm(t, nil, score(in)...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if want := "minilm: " + filepath.Join(cliData, "bad", c.msg); !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line starting %q", r.stderr, want)
			}
			if r.stdout != "" && !strings.HasSuffix(r.stdout, "\n") {
				t.Errorf("torn last line: %q", r.stdout)
			}
			if n := strings.Count(r.stdout, "\n"); n != c.before {
				t.Errorf("%d output lines, want the %d records before the bad one:\n%s", n, c.before, r.stdout)
			}
			if strings.HasSuffix(c.file, ".jsonl") {
				checkJSONL(t, readLines(t, in), r.stdout)
			}
		})
	}
}

func TestScoreSkipInvalid(t *testing.T) {
	in := filepath.Join(cliData, "skip.jsonl")
	r := minilm(t, nil, score("--skip-invalid", in)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	p := "minilm: " + in
	want := p + ":2: bad JSON: invalid character 'o' looking for beginning of value (skipped)\n" +
		p + `:4: missing "passage" (or "documents") (skipped)` + "\n" +
		p + `:5: "documents" item 1 is a number, not a string (skipped)` + "\n" +
		"minilm: skipped 3 invalid record(s)\n"
	if r.stderr != want {
		t.Errorf("stderr\n%s\nwant\n%s", r.stderr, want)
	}
	lines := readLines(t, in)
	if n := checkJSONL(t, []string{lines[0], lines[2], lines[5]}, r.stdout); n != 3 {
		t.Errorf("%d records written, want 3", n)
	}
	q := minilm(t, nil, score("--skip-invalid", "--quiet", in)...)
	if q.code != 0 || q.stderr != "minilm: skipped 3 invalid record(s)\n" || q.stdout != r.stdout {
		t.Errorf("--quiet: exit %d, stderr %q", q.code, q.stderr)
	}
}

// TestScoreQueryTooLong: with --truncate only-second a query longer than
// --max-length cannot be tokenized; that record is bad input like any other.
func TestScoreQueryTooLong(t *testing.T) {
	in := `{"query":"q","passage":"p"}` + "\n" + `{"query":"a query of far more than eight tokens","passage":"p"}` + "\n"
	r := minilm(t, strings.NewReader(in), score("--truncate", "only-second", "--max-length", "8")...)
	if r.code != 2 || !strings.HasPrefix(r.stderr, "minilm: <stdin>:2: ") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("exit %d, stderr %q, stdout %q; want 2, <stdin>:2 and the first record", r.code, r.stderr, r.stdout)
	}
}

func TestScoreUsageErrors(t *testing.T) {
	pairs := filepath.Join(cliData, "pairs.tsv")
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"score", "--no-such-flag"}, "minilm score: flag provided but not defined: -no-such-flag"},
		{score("--batch-size", "0", pairs), "minilm: --batch-size 0: must be at least 1"},
		{score("--truncate", "middle", pairs), `minilm: --truncate "middle": want longest-first or only-second`},
		{score("--activation", "softmax", pairs), `minilm: --activation "softmax": want auto, raw or sigmoid`},
		{score("--backend", "tpu", pairs), `minilm: --backend "tpu": want auto, cpu or metal`},
		{score("--format", "xml", pairs), `minilm: unknown format "xml"`},
		{score("notes.txt"), "minilm: notes.txt: cannot tell the format from the extension; use --format"},
		{score("missing.jsonl"), "minilm: input missing.jsonl: no such file or directory"},
		{score("-", "-"), "minilm: stdin (-) given twice"},
		{[]string{"frobnicate"}, `minilm: unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `minilm: unknown command "frobnicate"`},
		{nil, "minilm scores query/passage pairs"},
	}
	for _, c := range cases {
		r := minilm(t, strings.NewReader(""), c.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("minilm %q: exit %d, stderr %q, stdout %q; want 2, %q", c.args, r.code, r.stderr, r.stdout, c.msg)
		}
	}
	// A --model that names no model is a bad flag.
	if r := minilm(t, nil, "score", "--model", t.TempDir(), pairs); r.code != 2 || !strings.HasPrefix(r.stderr, "minilm: --model ") {
		t.Errorf("no model: exit %d, stderr %q; want 2", r.code, r.stderr)
	}
}

// padded is a cheap record with a large ignored field, so that a pipe fills
// up long before the model is busy.
func padded(i int) string {
	return fmt.Sprintf(`{"i":%d,"query":"How many people live in Berlin?","passage":"Berlin is well known for its museums.","pad":"%s"}`+"\n", i, strings.Repeat("x", 4000))
}

// TestScoreOutputAtomic checks -o: while the run is going (the child has
// read far more than a pipe holds) the target keeps its old content; on
// success it holds the whole result and no temporary file is left.
func TestScoreOutputAtomic(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "scored.jsonl")
	os.WriteFile(target, []byte("old\n"), 0o640)
	cmd := exec.Command(binary, score("-o", target, "-")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var in []string
	for i := range 100 { // 400 KB: writes return only once the child has read most of it
		in = append(in, padded(i))
		if _, err := io.WriteString(stdin, in[i]); err != nil {
			t.Fatalf("write to minilm: %v (stderr %s)", err, errb.String())
		}
	}
	if got, _ := os.ReadFile(target); string(got) != "old\n" {
		t.Errorf("mid-run, the target holds %.100q, want its old content", got)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".scored.jsonl.tmp-*")); len(tmp) != 1 {
		t.Errorf("mid-run temporary files: %q, want one", tmp)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("minilm: %v: %s", err, errb.String())
	}
	got, _ := os.ReadFile(target)
	for i := range in {
		in[i] = strings.TrimSuffix(in[i], "\n")
	}
	if n := checkJSONL(t, in, string(got)); n != 100 {
		t.Errorf("target has %d records, want 100", n)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o640 {
		t.Errorf("target mode %v, want the old 0640 kept", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the output directory: %v", entries)
	}

	// A bad record: exit 2, the valid prefix is put in place.
	bad := filepath.Join(cliData, "bad", "type.jsonl")
	if r := minilm(t, nil, score("-o", target, bad)...); r.code != 2 {
		t.Errorf("bad input with -o: exit %d", r.code)
	}
	if got, _ := os.ReadFile(target); strings.Count(string(got), "\n") != 3 {
		t.Errorf("after a bad record the target holds %q, want the 3 records before it", got)
	}
	// A failure before scoring (no model there) leaves the target alone.
	os.WriteFile(target, []byte("old\n"), 0o640)
	if r := minilm(t, nil, "score", "--model", dir, "-o", target, bad); r.code != 2 {
		t.Errorf("bad model with -o: exit %d", r.code)
	}
	if got, _ := os.ReadFile(target); string(got) != "old\n" {
		t.Errorf("after a failed run the target holds %q, want its old content", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the output directory: %v", entries)
	}
}

// TestScoreInterrupt feeds records through a pipe that stays open, waits
// for the first scored line, and sends SIGINT: minilm exits with 130 after
// writing whole, correctly scored lines only.
func TestScoreInterrupt(t *testing.T) {
	cmd := exec.Command(binary, score("-")...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		// Feed until minilm exits and the pipe breaks.
		for i := 0; ; i++ {
			if _, err := io.WriteString(stdin, padded(i)); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReaderSize(stdout, 1<<20)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no output before EOF: %v (stderr %s)", err, errb.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	stdin.Close()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v), want 130", code, werr)
	}
	if !strings.HasSuffix(errb.String(), "minilm: interrupted\n") {
		t.Errorf("stderr %q, want it to end with minilm: interrupted", errb.String())
	}
	out := first + string(rest)
	n := strings.Count(out, "\n")
	var in []string
	for i := range n {
		in = append(in, strings.TrimSuffix(padded(i), "\n"))
	}
	checkJSONL(t, in, out)
	t.Logf("%d records written before the interrupt", n)
}

// TestScoreInterruptOutput interrupts a run writing to -o: the exit status
// is 130, the target holds whole scored lines only (the valid prefix), and
// no temporary file is left.
func TestScoreInterruptOutput(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "scored.jsonl")
	cmd := exec.Command(binary, score("-o", target, "-")...)
	stdin, _ := cmd.StdinPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := range 100 { // 400 KB: the child is past loading and scoring
		if _, err := io.WriteString(stdin, padded(i)); err != nil {
			t.Fatalf("write to minilm: %v (stderr %s)", err, errb.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	stdin.Close()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v, %s), want 130", code, werr, errb.String())
	}
	got, err := os.ReadFile(target)
	if err != nil {
		t.Fatalf("the target was not put in place: %v", err)
	}
	var in []string
	for i := range 100 {
		in = append(in, strings.TrimSuffix(padded(i), "\n"))
	}
	t.Logf("%d records in the target", checkJSONL(t, in, string(got)))
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left in the output directory: %v", entries)
	}
}

// TestScoreReplicas scores on two worker processes: same bytes as in process.
func TestScoreReplicas(t *testing.T) {
	in := filepath.Join(cliData, "documents.jsonl")
	want := minilm(t, nil, score(in)...)
	got := minilm(t, nil, score("--replicas", "2", in)...)
	if got.code != 0 || got.stdout != want.stdout {
		t.Errorf("--replicas 2: exit %d, stderr %q\n%s", got.code, got.stderr, firstDiff(got.stdout, want.stdout))
	}
}

func TestScoreProgress(t *testing.T) {
	// Off a terminal: plain lines (here only the summary: the run is short),
	// no carriage return, no escape codes.
	r := minilm(t, nil, score("--progress", filepath.Join(cliData, "documents.jsonl"))...)
	if r.code != 0 || !regexp.MustCompile(`^6 pairs in \d+\.\d\d s, \d+\.\d pairs/s\n$`).MatchString(r.stderr) {
		t.Errorf("--progress: exit %d, stderr %q; want one summary line", r.code, r.stderr)
	}
	if r := minilm(t, nil, score("--quiet", "--progress", "x.jsonl")...); r.code != 2 {
		t.Errorf("--quiet --progress: exit %d, want 2", r.code)
	}
}

func TestRerank(t *testing.T) {
	docs := filepath.Join(cliData, "docs.txt")
	query := "How many people live in Berlin?"
	r := minilm(t, nil, "rerank", "--model", tinyModel, "--query", query, docs)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := readLines(t, docs)
	out := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(out) != 4 {
		t.Fatalf("%d documents ranked, want 4 (the blank line skipped):\n%s", len(out), r.stdout)
	}
	prev := math.Inf(1)
	seen := map[int]bool{}
	for _, l := range out {
		f := strings.SplitN(l, "\t", 3)
		idx, _ := strconv.Atoi(f[0])
		s, _ := strconv.ParseFloat(f[1], 32)
		if s > prev {
			t.Errorf("not sorted best first: %v after %v", s, prev)
		}
		prev = s
		seen[idx] = true
		if f[2] != lines[idx] {
			t.Errorf("index %d printed with the text of another document", idx)
		}
		checkScore(t, "rerank index "+f[0], f[1], query, f[2])
	}
	if len(seen) != 4 {
		t.Errorf("indexes %v, want 0..3 once each", seen)
	}

	j := minilm(t, nil, "rerank", "--model", tinyModel, "--query", query, "--top-k", "2", "--json", docs)
	var got []struct {
		Rank, Index int
		Score       float64
		Text        string
	}
	for _, l := range strings.Split(strings.TrimSuffix(j.stdout, "\n"), "\n") {
		var x struct {
			Rank, Index int
			Score       float64
			Text        string
		}
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("--json line %q: %v", l, err)
		}
		got = append(got, x)
	}
	if len(got) != 2 || got[0].Rank != 1 || got[1].Rank != 2 || got[0].Text != strings.SplitN(out[0], "\t", 3)[2] {
		t.Errorf("--top-k 2 --json: %+v", got)
	}

	// JSONL documents with "text", on stdin.
	in := `{"text":"Berlin is well known for its museums.","id":1}` + "\n" + `{"id":2,"text":"Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers."}` + "\n"
	s := minilm(t, strings.NewReader(in), "rerank", "--model", tinyModel, "--query", query, "--format", "jsonl")
	ranked := strings.Split(strings.TrimSuffix(s.stdout, "\n"), "\n")
	wantOrder := []struct{ index, text string }{
		{"1", "Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers."},
		{"0", "Berlin is well known for its museums."},
	}
	if s.code != 0 || len(ranked) != len(wantOrder) {
		t.Fatalf("jsonl rerank: exit %d, %q, %s", s.code, s.stdout, s.stderr)
	}
	for i, w := range wantOrder {
		f := strings.SplitN(ranked[i], "\t", 3)
		if len(f) != 3 || f[0] != w.index || f[2] != w.text {
			t.Errorf("jsonl rerank line %d: %q, want index %s and text %q", i+1, ranked[i], w.index, w.text)
			continue
		}
		checkScore(t, fmt.Sprintf("jsonl rerank line %d", i+1), f[1], query, w.text)
	}
	if e := minilm(t, strings.NewReader(`{"id":1}`+"\n"), "rerank", "--model", tinyModel, "--query", query, "--format", "jsonl"); e.code != 2 || e.stderr != "minilm: <stdin>:1: missing \"text\"\n" {
		t.Errorf("rerank without text: exit %d, %q", e.code, e.stderr)
	}
	if e := minilm(t, nil, "rerank", "--model", tinyModel, docs); e.code != 2 || !strings.Contains(e.stderr, "--query is required") {
		t.Errorf("rerank without --query: exit %d, %q", e.code, e.stderr)
	}
}

func TestInfo(t *testing.T) {
	r := minilm(t, nil, "info", "--model", tinyModel, "--threads", "3")
	abs, _ := filepath.Abs(tinyModel)
	for _, want := range []string{"model:             " + abs + "\n", "layers:            2\n", "hidden size:       32\n", "parameters:        ", "dtype:             F32\n", "backend:           cpu\n", "kernels:           ", "threads:           3\n", "max length:        512 tokens\n", "activation:        raw"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("info output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 0 {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

func TestHelpAndVersion(t *testing.T) {
	r := minilm(t, nil, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "minilm score pairs.jsonl") || !strings.Contains(r.stdout, "\n  score ") || !strings.Contains(r.stdout, "\n  rerank ") {
		t.Errorf("--help: exit %d\n%s", r.code, r.stdout)
	}
	for _, c := range commands() {
		if listed := strings.Contains(r.stdout, "\n  "+c.name+" "); listed == c.hidden {
			t.Errorf("command %s: hidden %v but listed %v", c.name, c.hidden, listed)
		}
	}
	h := minilm(t, nil, "help", "score")
	if h.code != 0 || !strings.HasPrefix(h.stdout, "Usage: minilm score [flags] [FILE ...|-]") || !strings.Contains(h.stdout, "--batch-size") {
		t.Errorf("help score: exit %d\n%s", h.code, h.stdout)
	}
	v := minilm(t, nil, "--version")
	if v.code != 0 || !strings.HasPrefix(v.stdout, "minilm ") || !strings.Contains(v.stdout, "go1.") {
		t.Errorf("--version: exit %d, %q", v.code, v.stdout)
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d\n got %q\nwant %q", i+1, gl, wl)
		}
	}
	return "(equal)"
}
