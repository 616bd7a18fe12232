package main

import (
	"strings"
	"testing"
)

// The server itself is tested in package server (its process tests run
// this binary); here, only serve's and loadtest's command lines.
func TestServeAndLoadtestUsage(t *testing.T) {
	h := minilm(t, nil, "help", "serve")
	for _, want := range []string{"--max-batch-tokens", "--replicas", "--api-key", "--payload-limit", "MINILM_<FLAG>", "MODEL_ID", "curl"} {
		if h.code != 0 || !strings.Contains(h.stdout, want) {
			t.Errorf("help serve: exit %d, no %q in\n%s", h.code, want, h.stdout)
		}
	}
	t.Setenv("MINILM_MAX_BATCH_TOKENS", "lots")
	if r := minilm(t, nil, "serve"); r.code != exitUsage || !strings.Contains(r.stderr, "MINILM_MAX_BATCH_TOKENS") {
		t.Errorf("bad environment value: exit %d, %q", r.code, r.stderr)
	}
	t.Setenv("MINILM_MAX_BATCH_TOKENS", "")
	for _, args := range [][]string{{"serve", "--replicas", "-1"}, {"serve", "--activation", "sigmoid"}, {"serve", "extra"}, {"serve", "--payload-limit", "big"}, {"loadtest"}} {
		if r := minilm(t, nil, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d: %s", args, r.code, exitUsage, r.stderr)
		}
	}
}
