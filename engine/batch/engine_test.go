package batch_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// goldenPairs reads the tiny model's public golden pairs.
func goldenPairs(t *testing.T) []engine.Pair {
	f, err := os.Open("../../testdata/golden/tiny.public.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var ps []engine.Pair
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r struct{ Query, Passage string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		ps = append(ps, engine.Pair{Query: r.Query, Passage: r.Passage})
	}
	require.NoError(t, sc.Err())
	return ps
}

// TestBatchingDoesNotChangeScores: a pair's score is the same whether it
// runs alone or packed with other jobs' pairs, to 1e-6 (the engine's
// forward is per-sequence; packing only changes which rows share a GEMM).
func TestBatchingDoesNotChangeScores(t *testing.T) {
	ctx := context.Background()
	m, err := engine.Load(ctx, "../../testdata/models/tiny", engine.Options{Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	ps := goldenPairs(t)
	alone := make([]float32, len(ps))
	for i, p := range ps {
		s, err := m.Score(ctx, []engine.Pair{p})
		require.NoError(t, err)
		alone[i] = s[0]
	}
	b := batch.New(m, batch.Config{MaxTokens: 2048, MaxSequences: 16, Scorers: 2})
	defer b.Close(ctx)
	got := make([]float32, len(ps))
	var wg sync.WaitGroup
	for start := 0; start < len(ps); start += 5 {
		end := min(len(ps), start+5)
		wg.Go(func() {
			r, err := b.Score(ctx, ps[start:end])
			if assert.NoError(t, err) {
				copy(got[start:end], r.Scores)
			}
		})
	}
	wg.Wait()
	for i := range ps {
		assert.InDelta(t, alone[i], got[i], 1e-6, "pair %d", i)
	}
	st := b.Stats()
	assert.Equal(t, int64(len(ps)), st.Pairs)
	assert.Less(t, st.Batches, int64(len(ps)/5), "jobs should share batches")
}
