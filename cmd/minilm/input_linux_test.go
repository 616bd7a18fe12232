package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestZeroInputBounded is the reproducer of `minilm score --format jsonl
// /dev/zero` growing to 24 GB: with the default limit it must end with a
// FILE:LINE error, exit 2, having used less than 200 MB (the child's peak
// RSS), for each line-based format and for rerank and tokenize.
func TestZeroInputBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	for _, args := range [][]string{
		score("--format", "jsonl", "/dev/zero"),
		score("--format", "tsv", "/dev/zero"),
		score("--format", "csv", "/dev/zero"),
		{"rerank", "--model", tinyModel, "--query", "q", "/dev/zero"},
		{"tokenize", "--model", tinyModel, "/dev/zero"},
	} {
		r, rss := minilmRSS(t, nil, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "minilm: /dev/zero:1: line longer than 64 MiB") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and /dev/zero:1: line longer than 64 MiB", args, r.code, r.stderr)
		}
		t.Logf("%q: exit %d, peak RSS %d MB", args[:min(len(args), 5)], r.code, rss>>20)
		if rss > 200<<20 {
			t.Errorf("%q: peak RSS %d MB, want < 200 MB", args, rss>>20)
		}
	}
}

// TestPipedLongLineBounded: a long line from a pipe (no size to measure
// first) costs about its own size, not twice it as when its pieces were
// joined in memory (a 200 MB line then peaked at 414 MB; now 226 MB).
func TestPipedLongLineBounded(t *testing.T) {
	const n = 100 << 20
	// The line is written to a file in pieces and piped from it: a child's
	// peak RSS starts from the parent's (the kernel takes the mm's high
	// water mark at exec), so this process must not hold the line.
	path := filepath.Join(t.TempDir(), "long.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(`{"query":"what is x","passage":"`)
	for range n / 2 {
		w.WriteString("x ")
	}
	w.WriteString(`"}` + "\n")
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	pipe := struct{ io.Reader }{in} // not an *os.File: exec makes a pipe
	r, rss := minilmRSS(t, pipe, score("--format", "jsonl", "--max-line-bytes", "128M", "-o", out)...)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Size() < n {
		t.Fatalf("output %v, %v: want the scored line", st, err)
	}
	t.Logf("a %d MB line from a pipe: peak RSS %d MB", n>>20, rss>>20)
	if rss > n*3/2 {
		t.Errorf("peak RSS %d MB for a %d MB line, want < %d MB", rss>>20, n>>20, n*3/2>>20)
	}
}

// minilmRSS runs the binary and returns its result and peak RSS in bytes.
func minilmRSS(t *testing.T, stdin io.Reader, args ...string) (result, int64) {
	t.Helper()
	r := minilm(t, stdin, args...)
	ru, ok := r.state.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage here")
	}
	return r, ru.Maxrss << 10 // kilobytes on Linux
}
