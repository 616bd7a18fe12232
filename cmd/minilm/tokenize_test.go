package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const tinyModelDir = "../../testdata/models/tiny"

// runTokenizeCmd runs `minilm tokenize args...` with stdin in.
func runTokenizeCmd(t *testing.T, in string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errb bytes.Buffer
	std := stdio{in: strings.NewReader(in), out: &out, err: &errb}
	status = tokenizeCommand().run(context.Background(), std, args)
	return out.String(), errb.String(), status
}

// TestTokenizeGolden feeds golden records (Hugging Face tokenizers 0.22
// output) through the command and requires identical results.
func TestTokenizeGolden(t *testing.T) {
	f, err := os.Open("../../testdata/tokenizer/public.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Kind      string   `json:"kind"`
		Text      string   `json:"text,omitempty"`
		A         string   `json:"a,omitempty"`
		B         string   `json:"b,omitempty"`
		MaxLength *int     `json:"max_length"`
		IDs       []int32  `json:"ids"`
		TypeIDs   []int32  `json:"type_ids"`
		Tokens    []string `json:"tokens"`
		Offsets   [][2]int `json:"offsets"`
	}
	var want []rec
	var input strings.Builder
	sc := bufio.NewScanner(z)
	sc.Buffer(nil, 1<<24)
	for i := 0; sc.Scan(); i++ {
		if i%25 != 0 { // a sample across all cases keeps the test fast
			continue
		}
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		line := map[string]any{"n": len(want), "max_length": r.MaxLength}
		if r.Kind == "single" {
			line["text"] = r.Text
			r.TypeIDs = make([]int32, len(r.IDs))
		} else {
			line["a"], line["b"] = r.A, r.B
		}
		data, err := json.Marshal(line)
		if err != nil {
			t.Fatal(err)
		}
		input.Write(data)
		input.WriteByte('\n')
		want = append(want, r)
	}
	out, errOut, status := runTokenizeCmd(t, input.String(), "--model", tinyModelDir)
	if status != 0 || errOut != "" {
		t.Fatalf("status %d, stderr %q", status, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d output lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		var got rec
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		w := want[i]
		if !slices.Equal(got.IDs, w.IDs) || !slices.Equal(got.TypeIDs, w.TypeIDs) ||
			!slices.Equal(got.Tokens, w.Tokens) || !slices.Equal(got.Offsets, w.Offsets) {
			t.Errorf("line %d: got %s\nwant ids %v types %v tokens %q offsets %v", i+1, l, w.IDs, w.TypeIDs, w.Tokens, w.Offsets)
		}
	}
}

func TestTokenizeKeepsFields(t *testing.T) {
	in := `{"z":1,"text":"Hello <&>","ids":[1],"m":{"x":"é"}}` + "\n" +
		"\n" + // blank lines are skipped
		`{ "a" : "hi" , "b":"there", "tokens": null }` + "\r\n" +
		`{"a":"one two three","b":"four five six","max_length":6}`
	want := `{"z":1,"text":"Hello <&>","ids":[101,7592,1026,1004,1028,102],"m":{"x":"é"},"type_ids":[0,0,0,0,0,0],"tokens":["[CLS]","hello","<","&",">","[SEP]"],"offsets":[[0,0],[0,5],[6,7],[7,8],[8,9],[0,0]]}
{ "a" : "hi" , "b":"there", "tokens": ["[CLS]","hi","[SEP]","there","[SEP]"],"ids":[101,7632,102,2045,102],"type_ids":[0,0,0,1,1],"offsets":[[0,0],[0,2],[0,0],[0,5],[0,0]] }
{"a":"one two three","b":"four five six","max_length":6,"ids":[101,2028,102,2176,2274,102],"type_ids":[0,0,0,1,1,1],"tokens":["[CLS]","one","[SEP]","four","five","[SEP]"],"offsets":[[0,0],[0,3],[0,0],[0,4],[5,9],[0,0]]}
`
	out, errOut, status := runTokenizeCmd(t, in, "--model", tinyModelDir, "-")
	if status != 0 || errOut != "" {
		t.Fatalf("status %d, stderr %q", status, errOut)
	}
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
}

func TestTokenizeMaxLength(t *testing.T) {
	long := strings.Repeat("word ", 600)
	in := `{"text":"` + long + `"}` + "\n" + `{"text":"` + long + `","max_length":null}` + "\n" +
		`{"a":"` + long + `","b":"x y z","max_length":8}`
	out, errOut, status := runTokenizeCmd(t, in, "--model", tinyModelDir, "--truncate", "only-second")
	if status != exitUsage || errOut != "minilm: <stdin>:3: \"a\" is 600 tokens, longer than max_length 8 allows with --truncate only-second (at most 4)\n" {
		t.Fatalf("status %d, stderr %q; want an only-second error on line 3", status, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d output lines, want 2", len(lines))
	}
	for i, wantLen := range []int{512, 602} { // model default (512), then none
		var got struct{ IDs []int32 }
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.IDs) != wantLen {
			t.Errorf("line %d: %d ids, want %d", i+1, len(got.IDs), wantLen)
		}
	}
}

func TestTokenizeBadLines(t *testing.T) {
	for _, tc := range []struct{ line, reason string }{
		{`[1,2]`, "not a JSON object"},
		{`{"text":`, "bad JSON"},
		{`{"text":"a"} x`, "bad JSON: data after the object"},
		{`{"txt":"a"}`, `missing "text" (or "a" and "b")`},
		{`{"a":"q"}`, `"a" without "b"`},
		{`{"text":"a","b":"c"}`, `both "text" and "a"/"b"`},
		{`{"text":5}`, `"text" is a number, not a string`},
		{`{"text":"a","max_length":1.5}`, `"max_length" is 1.5, not an integer or null`},
		{`{"text":"a","max_length":"5"}`, `"max_length" is a string`},
		{`{"text":"a","max_length":0}`, `"max_length" 0: must be positive`},
		{`{"text":"a","max_length":1}`, "max_length 1 cannot hold the 2 special tokens\n"},
		{`{"a":"x","b":"y","max_length":2}`, "max_length 2 cannot hold the 3 special tokens\n"},
		{"{\"text\":\"\xff\"}", "invalid UTF-8"},
	} {
		in := `{"text":"first"}` + "\n" + tc.line + "\n" + `{"text":"never"}` + "\n"
		out, errOut, status := runTokenizeCmd(t, in, "--model", tinyModelDir)
		if status != exitUsage {
			t.Errorf("%s: status %d, want %d", tc.line, status, exitUsage)
		}
		if want := "minilm: <stdin>:2: " + tc.reason; !strings.HasPrefix(errOut, want) {
			t.Errorf("%s: stderr %q, want it to start with %q", tc.line, errOut, want)
		}
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"tokens":["[CLS]","first","[SEP]"]`) {
			t.Errorf("%s: stdout %q, want only the first line's output", tc.line, out)
		}
	}
}

func TestTokenizeFileAndUsage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(path, []byte("{\"text\":\"ok\"}\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, status := runTokenizeCmd(t, "", path, "--model", tinyModelDir)
	if status != exitUsage || errOut != "minilm: "+path+":2: missing \"text\" (or \"a\" and \"b\")\n" {
		t.Errorf("status %d stderr %q", status, errOut)
	}
	if !strings.Contains(out, `"tokens":["[CLS]","ok","[SEP]"]`) {
		t.Errorf("stdout %q", out)
	}
	for _, args := range [][]string{
		{"--model", tinyModelDir, filepath.Join(dir, "missing.jsonl")},
		{"--model", tinyModelDir, "a", "b"},
		{"--model", tinyModelDir, "--truncate", "sideways"},
		{"--bogus"},
	} {
		if _, _, status := runTokenizeCmd(t, "", args...); status != exitUsage {
			t.Errorf("%q: status %d, want %d", args, status, exitUsage)
		}
	}
	// A --model that names no model is a usage error, said as the flag.
	if _, errOut, status := runTokenizeCmd(t, "", "--model", dir); status != exitUsage || !strings.HasPrefix(errOut, "minilm: --model "+dir+": not a model directory: missing config.json") {
		t.Errorf("a directory without a model: status %d, stderr %q; want %d", status, errOut, exitUsage)
	}
	// --max-length, as score takes it, applies where a line has no max_length.
	out, errOut, status = runTokenizeCmd(t, `{"a":"one two three","b":"four five six"}`+"\n", "--model", tinyModelDir, "--max-length", "6")
	if status != 0 || !strings.Contains(out, `"tokens":["[CLS]","one","[SEP]","four","five","[SEP]"]`) {
		t.Errorf("--max-length 6: status %d, stdout %q, stderr %q", status, out, errOut)
	}
	for _, n := range []string{"3", "513", "-1"} {
		_, errOut, status = runTokenizeCmd(t, "", "--model", tinyModelDir, "--max-length", n)
		if want := "minilm: --max-length " + n + ": want 0 (the model's limit) or 5..512"; status != exitUsage || !strings.HasPrefix(errOut, want) {
			t.Errorf("--max-length %s: status %d, stderr %q; want 2, %q", n, status, errOut, want)
		}
	}
	// --offline: a repo id missing from the cache is not downloaded.
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1") // nothing may be fetched
	_, errOut, status = runTokenizeCmd(t, "", "--model", "acme/absent", "--offline")
	if status != exitFailure || !strings.Contains(errOut, "acme/absent at revision main: model not in the local Hugging Face cache") ||
		!strings.HasSuffix(errOut, "; download it with: minilm download acme/absent\n") {
		t.Errorf("--offline miss: status %d, stderr %q", status, errOut)
	}
	if out, _, status := runTokenizeCmd(t, "", "--help"); status != 0 || !strings.Contains(out, "minilm tokenize") {
		t.Errorf("--help: status %d, stdout %q", status, out)
	}
}
