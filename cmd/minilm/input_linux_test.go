package main

import (
	"os"
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
		r, rss := minilmRSS(t, args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "minilm: /dev/zero:1: line longer than 64 MiB") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and /dev/zero:1: line longer than 64 MiB", args, r.code, r.stderr)
		}
		t.Logf("%q: exit %d, peak RSS %d MB", args[:min(len(args), 5)], r.code, rss>>20)
		if rss > 200<<20 {
			t.Errorf("%q: peak RSS %d MB, want < 200 MB", args, rss>>20)
		}
	}
}

// minilmRSS runs the binary and returns its result and peak RSS in bytes.
func minilmRSS(t *testing.T, args ...string) (result, int64) {
	t.Helper()
	r := minilm(t, nil, args...)
	ru, ok := r.state.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage here")
	}
	return r, ru.Maxrss << 10 // kilobytes on Linux
}
