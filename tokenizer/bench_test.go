package tokenizer

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

// benchPairsPath is the shared golden set of 10,000 real query/passage
// pairs; it lives outside the repository, so the benchmark skips without it.
const benchPairsPath = "../../shared/golden/tokenizer/bench_pairs.jsonl.gz"

type benchPair struct {
	Q string `json:"q"`
	P string `json:"p"`
}

func readBenchPairs(b *testing.B) []benchPair {
	b.Helper()
	if _, err := os.Stat(benchPairsPath); errors.Is(err, fs.ErrNotExist) {
		b.Skipf("%s not found: the benchmark needs the shared golden data", benchPairsPath)
	}
	return readGzipJSONL[benchPair](b, benchPairsPath)
}

// BenchmarkAppendPairIDs encodes the bench pairs one at a time on one
// goroutine, as the engine's hot path does; one op is one pair.
func BenchmarkAppendPairIDs(b *testing.B) {
	pairs := readBenchPairs(b)
	tok := loadTiny(b)
	ids := make([]int32, 0, 1024)
	types := make([]int32, 0, 1024)
	var tokens int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		var err error
		ids, types, err = tok.AppendPairIDs(ids[:0], types[:0], p.Q, p.P, 512, LongestFirst)
		if err != nil {
			b.Fatal(err)
		}
		tokens += len(ids)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	b.ReportMetric(float64(tokens)/float64(b.N), "tokens/pair")
}
