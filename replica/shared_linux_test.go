package replica

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// bigModel is the full-size MiniLM-L6-shaped random model of the shared
// golden folder beside the repository.
const bigModel = "../../shared/golden/models/minilm-l6-random"

// pssKiB reads a process's proportional set size from smaps_rollup.
func pssKiB(tb testing.TB, pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				tb.Fatal(err)
			}
			return kib
		}
	}
	tb.Fatalf("no Pss line in /proc/%d/smaps_rollup", pid)
	return 0
}

// BenchmarkPoolPSS starts pools of 1 and 2 workers on the full-size model,
// with the packed weights shared (the default) and private, scores the 512
// bench pairs (the pool's default batches of 32) so that the activations are
// touched, and reports the PSS (smaps_rollup) of all the workers together,
// of the supervisor (this process), and of all of them.
//
//	go test -run '^$' -bench PoolPSS -benchtime 1x ./replica/
func BenchmarkPoolPSS(b *testing.B) {
	if _, err := os.Stat(bigModel); err != nil {
		b.Skipf("full-size model not found at %s: %v", bigModel, err)
	}
	for _, private := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("private=%v/workers=%d", private, workers), func(b *testing.B) {
				exe, err := os.Executable()
				if err != nil {
					b.Fatal(err)
				}
				cfg := Config{
					Path: exe, Workers: workers, StartTimeout: time.Minute,
					Env: []string{fakeWorkerEnv + "=engine", fakeModelEnv + "=" + bigModel},
				}
				ctx := context.Background()
				pairs := benchPairs(b)
				var workersKiB, selfKiB int
				for b.Loop() {
					p, err := NewPool(ctx, bigModel, engine.Options{Offline: true, Threads: workers}, PoolConfig{Config: cfg, PrivateWeights: private})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := p.Score(ctx, pairs); err != nil {
						b.Fatal(err)
					}
					workersKiB = 0
					for _, w := range p.Metrics().Workers {
						workersKiB += pssKiB(b, w.PID)
					}
					selfKiB = pssKiB(b, os.Getpid())
					if err := p.Close(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(workersKiB)/1024, "workers-PSS-MiB")
				b.ReportMetric(float64(selfKiB)/1024, "supervisor-PSS-MiB")
				b.ReportMetric(float64(workersKiB+selfKiB)/1024, "total-PSS-MiB")
			})
		}
	}
}

// benchPairs reads testdata/bench_pairs.jsonl (512 pairs, MS MARCO-like
// lengths).
func benchPairs(tb testing.TB) []engine.Pair {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "bench_pairs.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	var pairs []engine.Pair
	for line := range strings.Lines(string(data)) {
		var r struct{ Query, Passage string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			tb.Fatal(err)
		}
		pairs = append(pairs, engine.Pair{Query: r.Query, Passage: r.Passage})
	}
	return pairs
}
