package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/kernels/cpu"
	"github.com/stretchr/testify/require"
)

// benchPairs reads testdata/bench_pairs.jsonl: 512 query/passage pairs of
// real English text with MS MARCO-like lengths (mean 87 tokens).
func benchPairs(t testing.TB) []Pair {
	f, err := os.Open(filepath.Join("..", "testdata", "bench_pairs.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	var pairs []Pair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r struct{ Query, Passage string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		pairs = append(pairs, Pair{r.Query, r.Passage})
	}
	require.NoError(t, sc.Err())
	return pairs
}

// flops is the useful work of scoring seqs with d: every GEMM of every layer
// over real tokens, attention within each sequence, pooler and classifier.
func flops(d dims, layers int, seqs []Sequence) float64 {
	var f float64
	for _, s := range seqs {
		L := float64(len(s.IDs))
		H, I := float64(d.H), float64(d.I)
		perLayer := 2*L*H*(3*H+H+2*I) + 2*2*L*L*H
		f += float64(layers)*perLayer + 2*H*H + 2*H
	}
	return f
}

// BenchmarkScore runs the full-size MiniLM-L6-shaped model over the 512 bench
// pairs in batches of 64, as `minilm score --batch-size 64` does, and reports
// pairs/s and GFLOP/s of useful work.
func BenchmarkScore(b *testing.B) {
	if _, err := os.Stat(bigModelDir); err != nil {
		b.Skipf("full-size model not found at %s: %v", bigModelDir, err)
	}
	for _, c := range []struct {
		threads   int
		precision string
	}{{1, "f32"}, {2, "f32"}, {1, "bf16"}, {2, "bf16"}} {
		b.Run(fmt.Sprintf("cpu/%s/threads=%d/batch=64", c.precision, c.threads), func(b *testing.B) {
			if c.precision == "bf16" && !cpu.HasBF16() {
				b.Skip("this CPU lacks AVX512_BF16: the bf16 precision is refused here")
			}
			m := loadModel(b, bigModelDir, Options{Threads: c.threads, Precision: c.precision})
			pairs := benchPairs(b)
			seqs := make([]Sequence, len(pairs))
			for i, p := range pairs {
				s, err := m.Tokenize(p)
				require.NoError(b, err)
				seqs[i] = s
			}
			work := flops(m.net.d, len(m.net.layers), seqs)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				for i := 0; i < len(seqs); i += 64 {
					if _, err := m.ScoreSequences(ctx, seqs[i:min(i+64, len(seqs))]); err != nil {
						b.Fatal(err)
					}
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*len(seqs))/sec, "pairs/s")
			b.ReportMetric(work*float64(b.N)/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSmallRequests times the reranker's typical calls on the full-size
// model, 2 threads: one query with 1, 20 or 100 passages (and a 64-pair
// batch, for the per-pair cost of a full batch), each call alone, and
// reports the p50 and p99 latency over the calls.
//
//	go test -run '^$' -bench SmallRequests -benchtime 40x ./engine/
func BenchmarkSmallRequests(b *testing.B) {
	if _, err := os.Stat(bigModelDir); err != nil {
		b.Skipf("full-size model not found at %s: %v", bigModelDir, err)
	}
	m := loadModel(b, bigModelDir, Options{Threads: 2, Backend: "cpu"})
	pairs := benchPairs(b)
	for _, n := range []int{1, 20, 64, 100} {
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			ctx := context.Background()
			var lat []time.Duration
			i := 0
			for b.Loop() {
				call := make([]Pair, n)
				for j := range call {
					call[j] = Pair{Query: pairs[i%len(pairs)].Query, Passage: pairs[(i+j)%len(pairs)].Passage}
				}
				i++
				start := time.Now()
				if _, err := m.Score(ctx, call); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			q := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}
