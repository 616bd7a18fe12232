package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// trapReader is a stdin that records whether anything read it: usage
// errors must be reported before any input is read.
type trapReader struct {
	r    *strings.Reader
	read atomic.Bool
}

func (t *trapReader) Read(p []byte) (int, error) {
	t.read.Store(true)
	return t.r.Read(p)
}

// TestErrorContract runs every command with every kind of mistake and checks
// the exit status and the whole first line of the message: usage errors
// (flags out of range, also against the model; a --model that is no model;
// inputs that cannot be opened) exit 2 naming the flag and what it takes,
// without reading stdin; bad input exits 2 with FILE:LINE; runtime failures
// exit 1. Every message starts "minilm" once and repeats no context.
func TestErrorContract(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A model directory whose weights file is garbage: a runtime failure.
	corrupt := filepath.Join(dir, "corrupt")
	if err := os.Mkdir(corrupt, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "vocab.txt", "tokenizer_config.json"} {
		data, err := os.ReadFile(filepath.Join(tinyModel, f))
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join("corrupt", f), string(data))
	}
	write("corrupt/model.safetensors", "garbage\n")
	goodTSV := write("good.tsv", "q\tp\n")
	badTSV := write("bad.tsv", "q\tp\nonly one column\n")
	longQuery := write("long.jsonl", `{"query":"a query of far more than eight tokens","passage":"p"}`+"\n")
	docs := write("docs.jsonl", `{"text":"ok"}`+"\n"+`{"txt":"no text"}`+"\n")
	tokLines := write("tok.jsonl", `{"text":"ok"}`+"\n"+`{"a":"x"}`+"\n")
	typo := filepath.Join(dir, "tinyy") // a path that does not exist
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1") // nothing may be downloaded
	t.Setenv("HF_HUB_OFFLINE", "")

	m := []string{"--model", tinyModel}
	with := func(args ...string) []string { return args }
	rangeMsg := "want 0 (the model's limit) or 5..512 (the model has 512 positions)"
	notCached := "minilm: loader: acme/absent at revision main: model not in the local Hugging Face cache (no "
	metal := "minilm: --backend metal: Metal needs macOS on Apple silicon (this is " + runtime.GOOS + "/" + runtime.GOARCH + "); --backend cpu (or auto) runs here"

	type tc struct {
		name  string
		args  []string
		stdin string // "" and untouched: a usage error must not read it
		code  int
		msg   string // the first line of stderr starts with it
		reads bool   // the mistake is in the input, which is read
		tail  string // the first line ends with it
	}
	var cases []tc
	// Mistakes every model-loading command shares.
	for _, cmd := range []string{"score", "rerank", "tokenize", "info", "worker", "bench"} {
		extra := map[string][]string{"rerank": {"--query", "q"}, "bench": {"--pairs-per-config", "1", "--output", dir, "--pairs", "-"}}[cmd] // bench: --pairs - proves the pairs are read after the model
		a := func(args ...string) []string { return append(append([]string{cmd}, extra...), args...) }
		cases = append(cases,
			tc{cmd + " unknown flag", a("--nope"), "", 2, "minilm " + cmd + ": flag provided but not defined: -nope", false, ""},
			tc{cmd + " no such model directory", a("--model", typo), "", 2, "minilm: --model " + typo + ": no such model directory", false, ""},
			tc{cmd + " not a model directory", a("--model", dir), "", 2, "minilm: --model " + dir + ": not a model directory: missing config.json, model.safetensors", false, ""},
			tc{cmd + " repo not cached, offline", a("--model", "acme/absent", "--offline"), "", 1, notCached, false, "; download it with: minilm download acme/absent"},
			tc{cmd + " max-length over the model", a(append(m, "--max-length", "1000")...), "", 2, "minilm: --max-length 1000: " + rangeMsg, false, ""},
			tc{cmd + " max-length below the minimum", a(append(m, "--max-length", "3")...), "", 2, "minilm: --max-length 3: " + rangeMsg, false, ""},
		)
		if cmd == "tokenize" {
			cases = append(cases, tc{cmd + " max-length negative", a(append(m, "--max-length", "-1")...), "", 2, "minilm: --max-length -1: " + rangeMsg, false, ""})
			continue // tokenize runs no model: no threads, backend or corrupt weights
		}
		cases = append(cases,
			tc{cmd + " max-length negative", a(append(m, "--max-length", "-1")...), "", 2, "minilm: --max-length -1: want 0 (the model's limit) or at least 5", false, ""},
			tc{cmd + " threads negative", a(append(m, "--threads", "-3")...), "", 2, "minilm: --threads -3: want 0 (one per CPU) or more", false, ""},
			tc{cmd + " unknown backend", a(append(m, "--backend", "gpu")...), "", 2, `minilm: --backend "gpu": want auto, cpu or metal`, false, ""},
			tc{cmd + " unknown activation", a(append(m, "--activation", "tanh")...), "", 2, `minilm: --activation "tanh": want auto, raw or sigmoid`, false, ""},
			tc{cmd + " corrupt model", a("--model", corrupt), "", 1, "minilm: loader: " + filepath.Join(corrupt, "model.safetensors") + ": corrupt file: ", false, ""},
		)
		if runtime.GOOS != "darwin" && cmd != "bench" { // bench meters its own backends
			cases = append(cases, tc{cmd + " metal off macOS", a(append(m, "--backend", "metal")...), "", 2, metal, false, ""})
		}
	}
	cases = append(cases,
		// score
		tc{"score batch-size", with(append(append([]string{"score"}, m...), "--batch-size", "0")...), "", 2, "minilm: --batch-size 0: must be at least 1", false, ""},
		tc{"score replicas", with(append(append([]string{"score"}, m...), "--replicas", "-1")...), "", 2, "minilm: --replicas -1: must be 0 or more", false, ""},
		tc{"score truncate", with(append(append([]string{"score"}, m...), "--truncate", "middle")...), "", 2, `minilm: --truncate "middle": want longest-first or only-second`, false, ""},
		tc{"score missing input", with(append(append([]string{"score"}, m...), filepath.Join(dir, "nope.jsonl"))...), "", 2, "minilm: input " + filepath.Join(dir, "nope.jsonl") + ": no such file or directory", false, ""},
		tc{"score mixed formats", with(append(append([]string{"score"}, m...), goodTSV, longQuery)...), "", 2, "minilm: inputs of different formats: " + goodTSV + " is tsv, " + longQuery + " is jsonl", false, ""},
		tc{"score bad record", with(append(append([]string{"score"}, m...), badTSV)...), "", 2, "minilm: " + badTSV + ":2: wrong column count: 1, want 2 (query<TAB>passage)", true, ""},
		tc{"score query too long", with(append(append([]string{"score"}, m...), "--max-length", "8", "--truncate", "only-second", longQuery)...), "", 2,
			"minilm: " + longQuery + ":1: query is 9 tokens, longer than --max-length 8 allows with --truncate only-second (at most 4)", true, ""},
		tc{"score stdin not JSON", with(append([]string{"score"}, m...)...), "what is go? Go is a language.\n", 2,
			"minilm: <stdin>:1: not JSON (the line starts with 'w'), nor a TSV line or a CSV header naming query and passage; give --format tsv or csv", true, ""},
		tc{"score JSON array", with(append([]string{"score"}, m...)...), `[{"query":"q","passage":"p"}]` + "\n", 2,
			"minilm: <stdin>:1: a JSON array, not an object: minilm reads JSON Lines", true, ""},
		// rerank
		tc{"rerank no query", with(append([]string{"rerank"}, m...)...), "", 2, "minilm: --query is required", false, ""},
		tc{"rerank top-k", with(append(append([]string{"rerank", "--query", "q"}, m...), "--top-k", "-1")...), "", 2, "minilm: --top-k -1: must be 0 (all) or more", false, ""},
		tc{"rerank batch-size", with(append(append([]string{"rerank", "--query", "q"}, m...), "--batch-size", "0")...), "", 2, "minilm: --batch-size 0: must be at least 1", false, ""},
		tc{"rerank format", with(append(append([]string{"rerank", "--query", "q"}, m...), "--format", "xml")...), "", 2, `minilm: --format "xml": want text or jsonl`, false, ""},
		tc{"rerank two files", with(append(append([]string{"rerank", "--query", "q"}, m...), docs, docs)...), "", 2, "minilm: rerank takes one FILE, got 2", false, ""},
		tc{"rerank query too long", with(append(append([]string{"rerank", "--query", "a query of far more than eight tokens"}, m...), "--max-length", "8", "--truncate", "only-second")...), "", 2,
			"minilm: --query is 9 tokens, longer than --max-length 8 allows with --truncate only-second (at most 4)", false, ""},
		tc{"rerank bad line", with(append(append([]string{"rerank", "--query", "q"}, m...), docs)...), "", 2, "minilm: " + docs + `:2: missing "text"`, true, ""},
		// tokenize
		tc{"tokenize truncate", with(append(append([]string{"tokenize"}, m...), "--truncate", "sideways")...), "", 2, `minilm: --truncate "sideways": want longest-first or only-second`, false, ""},
		tc{"tokenize bad line", with(append(append([]string{"tokenize"}, m...), tokLines)...), "", 2, "minilm: " + tokLines + `:2: "a" without "b"`, true, ""},
		tc{"tokenize query too long", with(append(append([]string{"tokenize"}, m...), "--max-length", "5", "--truncate", "only-second")...), `{"a":"one two three","b":"x"}` + "\n", 2,
			`minilm: <stdin>:1: "a" is 3 tokens, longer than max_length 5 allows with --truncate only-second (at most 1)`, true, ""},
		// info
		tc{"info argument", with(append([]string{"info"}, append(m, "extra")...)...), "", 2, `minilm: info takes no arguments, got ["extra"]`, false, ""},
		// download
		tc{"download unknown flag", with("download", "--nope"), "", 2, "minilm download: flag provided but not defined: -nope", false, ""},
		tc{"download two repos", with("download", "a/b", "c/d"), "", 2, `minilm: download takes at most one repo id, got ["a/b" "c/d"]`, false, ""},
		tc{"download bad repo id", with("download", "../etc"), "", 2, `minilm: hub: invalid repo id or revision: "../etc"`, false, ""},
		tc{"download quiet and progress", with("download", "--quiet", "--progress"), "", 2, "minilm: --quiet and --progress contradict each other", false, ""},
		// bench
		tc{"bench batch sizes", with("bench", "--batch-sizes", "0"), "", 2, `minilm: --batch-sizes "0": want a comma-separated list of positive integers`, false, ""},
		// serve: the flags it checks before it listens (the model loads
		// after, behind the readiness probe)
		tc{"serve unknown flag", with("serve", "--nope"), "", 2, "minilm serve: flag provided but not defined: -nope", false, ""},
		tc{"serve argument", with("serve", "extra"), "", 2, `minilm: serve takes no arguments, got ["extra"]`, false, ""},
		tc{"serve unknown backend", with("serve", "--backend", "gpu"), "", 2, `minilm: --backend "gpu": want auto, cpu or metal`, false, ""},
		tc{"serve truncate", with("serve", "--truncate", "middle"), "", 2, `minilm: --truncate "middle": want longest-first or only-second`, false, ""},
		tc{"serve replicas", with("serve", "--replicas", "-1"), "", 2, "minilm: --replicas -1: must be 0 (in this process) or more", false, ""},
		// loadtest: its flags, checked before any request is sent.
		tc{"loadtest no server", []string{"loadtest"}, "", 2, "minilm: loadtest takes --server URL and no arguments", false, ""},
		tc{"loadtest argument", []string{"loadtest", "--server", "http://127.0.0.1:1", "extra"}, "", 2, "minilm: loadtest takes --server URL and no arguments", false, ""},
		tc{"loadtest clients", []string{"loadtest", "--server", "http://127.0.0.1:1", "--clients", "0"}, "", 2, "minilm: --clients 0: must be 1 or more", false, ""},
		tc{"loadtest docs", []string{"loadtest", "--server", "http://127.0.0.1:1", "--docs", "-2"}, "", 2, "minilm: --docs -2: must be 1 or more", false, ""},
		tc{"loadtest duration", []string{"loadtest", "--server", "http://127.0.0.1:1", "--duration", "0s"}, "", 2, "minilm: --duration 0s: must be positive", false, ""},
		tc{"loadtest unreachable server", []string{"loadtest", "--server", "http://127.0.0.1:1", "--requests", "1", "--clients", "1", "-o", t.TempDir()}, "", 1, "minilm: loadtest: the server answered no request", false, ""},
		// the command itself
		tc{"unknown command", with("frobnicate"), "", 2, `minilm: unknown command "frobnicate"`, false, ""},
	)

	commandsSeen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			commandsSeen[c.args[0]] = true
			in := &trapReader{r: strings.NewReader(c.stdin)}
			var out, errb bytes.Buffer
			code := run(context.Background(), stdio{in: in, out: &out, err: &errb}, c.args, commands())
			first, _, _ := strings.Cut(errb.String(), "\n")
			if code != c.code || !strings.HasPrefix(first, c.msg) || !strings.HasSuffix(first, c.tail) {
				t.Errorf("minilm %q: exit %d, stderr %q\nwant exit %d, a first line starting %q and ending %q", c.args, code, errb.String(), c.code, c.msg, c.tail)
			}
			if strings.Count(first, "minilm") > strings.Count(c.msg+c.tail, "minilm") || strings.Contains(first, "engine: ") || strings.Contains(first, "invalid input") {
				t.Errorf("minilm %q: message %q repeats its context or prints a sentinel", c.args, first)
			}
			if c.stdin == "" && !c.reads && in.read.Load() {
				t.Errorf("minilm %q: stdin was read before the usage error", c.args)
			}
			if c.code == exitUsage && !c.reads && out.Len() > 0 {
				t.Errorf("minilm %q: printed %q before the usage error", c.args, out.String())
			}
		})
	}
	for _, c := range commands() {
		if !commandsSeen[c.name] {
			t.Errorf("command %s has no case", c.name)
		}
	}
}

// TestServeModelErrors: serve listens before it loads the model (so that its
// probes answer while it loads); a flag the model cannot take still ends it
// as a usage error naming the flag, as every other command does.
func TestServeModelErrors(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"serve", "--model", tinyModel, "--addr", "127.0.0.1:0", "--max-length", "1000"}
	code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, err: &errb}, args, commands())
	want := "minilm: --max-length 1000: want 0 (the model's limit) or 5..512 (the model has 512 positions)\n"
	if code != exitUsage || !strings.HasSuffix(errb.String(), want) {
		t.Errorf("minilm %q: exit %d, stderr %q; want exit %d ending %q", args, code, errb.String(), exitUsage, want)
	}
}
