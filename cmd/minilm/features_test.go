package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// TestRerankFlags: -o writes atomically, --json keeps a JSON document's
// fields, --skip-invalid reports and skips bad lines, and --batch-size and
// --replicas change nothing in the ranking.
func TestRerankFlags(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "docs.jsonl")
	docs := `{"id":7,"text":"Berlin is well known for its museums.","score":0,"rank":9}` + "\n" +
		"not json\n" +
		`{"text":"Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.","lang":"en"}` + "\n"
	if err := os.WriteFile(in, []byte(docs), 0o644); err != nil {
		t.Fatal(err)
	}
	q := "How many people live in Berlin?"
	args := func(extra ...string) []string {
		return append([]string{"rerank", "--model", tinyModel, "--query", q, "--json", "--skip-invalid"}, extra...)
	}
	out := filepath.Join(dir, "ranked.jsonl")
	r := minilm(t, nil, args("-o", out, in)...)
	if r.code != 0 || r.stdout != "" || r.stderr != "minilm: "+in+":2: bad JSON: invalid character 'o' in literal null (expecting 'u') (skipped)\nminilm: skipped 1 invalid line(s)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"text":"Berlin has a population`) || !strings.Contains(lines[0], `"lang":"en","rank":1,"index":1,"score":`) ||
		!strings.HasPrefix(lines[1], `{"id":7,"text":"Berlin is well known for its museums.","score":`) || !strings.HasSuffix(lines[1], `,"rank":2,"index":0}`) {
		t.Errorf("--json output keeps the documents' fields, rank, index and score set in place:\n%s", got)
	}
	for _, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Errorf("line %q: %v", l, err)
		}
	}
	for _, extra := range [][]string{{"--batch-size", "1"}, {"--replicas", "2", "--batch-size", "1"}} {
		o := minilm(t, nil, args(append(extra, "--quiet", in)...)...)
		if o.code != 0 || o.stdout != string(got) || o.stderr != "minilm: skipped 1 invalid line(s)\n" {
			t.Errorf("%q: exit %d, stderr %q\n%s", extra, o.code, o.stderr, firstDiff(o.stdout, string(got)))
		}
	}
	// Without --skip-invalid the bad line stops the run; -o is left alone.
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := minilm(t, nil, "rerank", "--model", tinyModel, "--query", q, "-o", out, in)
	if old, _ := os.ReadFile(out); b.code != 2 || string(old) != "old\n" {
		t.Errorf("bad line with -o: exit %d, target %q", b.code, old)
	}
}

func TestInfoJSON(t *testing.T) {
	text := minilm(t, nil, "info", "--model", tinyModel, "--threads", "3")
	r := minilm(t, nil, "info", "--model", tinyModel, "--threads", "3", "--json")
	var got infoFacts
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
	}
	abs, _ := filepath.Abs(tinyModel)
	if got.Model != abs || got.Layers != 2 || got.HiddenSize != 32 || got.Threads != 3 || got.Backend != "cpu" ||
		got.MaxLength != 512 || got.Activation != "raw" || got.DType != "F32" || got.Parameters <= 0 {
		t.Errorf("info --json = %+v", got)
	}
	if got.text() != text.stdout {
		t.Errorf("the JSON facts print as\n%s\nbut info prints\n%s", got.text(), text.stdout)
	}
}

// TestProgressLines: on a terminal one line redrawn in place, with the total
// size, ending in a summary line; elsewhere plain lines, no \r or escapes.
func TestProgressLines(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		var b strings.Builder
		p := startProgress(&b, terminal, []int64{2_000_000, 1_000_000}, time.Hour) // drawn by hand below
		p.written(&record{pairs: make([]engine.Pair, 3), input: 1, end: 500_000})
		p.draw()
		p.finish()
		s := b.String()
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		if !strings.Contains(s, "3 pairs  ") || !strings.Contains(s, "2.5 MB of 3.0 MB (83%)") || !strings.Contains(s, "ETA ") {
			t.Errorf("terminal %v: %q lacks pairs, bytes of the total, ETA", terminal, s)
		}
		if !strings.HasSuffix(s, "\n") || !strings.Contains(lines[len(lines)-1], "3 pairs in ") || !strings.Contains(lines[len(lines)-1], " pairs/s") {
			t.Errorf("terminal %v: %q does not end with the summary line", terminal, s)
		}
		if hasCtl := strings.ContainsAny(s, "\r\x1b"); hasCtl != terminal {
			t.Errorf("terminal %v: carriage returns or escapes present: %v in %q", terminal, hasCtl, s)
		}
		if !terminal && len(lines) != 2 {
			t.Errorf("off a terminal: %d lines, want a progress line and the summary: %q", len(lines), s)
		}
	}
}
