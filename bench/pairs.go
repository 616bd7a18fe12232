package bench

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
)

// bundledPairs is the query and passage of the 512 pairs of
// testdata/bench_pairs.jsonl (real English text, Brown-corpus passages with
// MS MARCO-like lengths, 87 tokens on average), one JSON object a line,
// gzipped so the binary carries them wherever it runs.
//
//go:embed pairs.jsonl.gz
var bundledPairs []byte

// BundledPairs returns the bundled pairs as JSONL.
func BundledPairs() (io.Reader, error) {
	zr, err := gzip.NewReader(bytes.NewReader(bundledPairs))
	if err != nil {
		return nil, fmt.Errorf("bench: bundled pairs: %w", err)
	}
	return zr, nil
}
