package bench

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/pairfile"
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

// ErrNoPairs is LoadPairs' error for a file without a pair.
var ErrNoPairs = errors.New("bench: no pairs")

// LoadPairs reads the pairs of the named file ("-": stdin) with pairfile's
// readers, or the bundled set when name is "", and says where they came
// from. Every record must be valid: a benchmark on a silently shortened set
// would mislead.
func LoadPairs(name string, stdin io.Reader) ([]engine.Pair, string, error) {
	var inputs []pairfile.Input
	source := name
	if name == "" {
		r, err := BundledPairs()
		if err != nil {
			return nil, "", err
		}
		source = "bundled set (testdata/bench_pairs.jsonl)"
		inputs = []pairfile.Input{{Name: "bundled pairs", Format: pairfile.JSONL, R: r}}
	} else {
		var err error
		if inputs, _, err = pairfile.Open([]string{name}, "", stdin); err != nil {
			return nil, "", err
		}
		defer pairfile.Close(inputs)
		if err := pairfile.Sniff(inputs); err != nil {
			return nil, "", err
		}
	}
	pairs, err := pairfile.ReadPairs(inputs)
	if err != nil {
		return nil, "", err
	}
	if len(pairs) == 0 {
		return nil, "", ErrNoPairs
	}
	return pairs, source, nil
}
