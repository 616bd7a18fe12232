package engine

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minilm-dev/minilm/internal/backendhook"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
	"github.com/stretchr/testify/require"
)

const tinyDir = "../testdata/models/tiny"

// TestOptionsValidated: Load refuses every out-of-range option with an
// *OptionError naming the field and the values it takes.
func TestOptionsValidated(t *testing.T) {
	for _, tc := range []struct {
		opts  Options
		field string
		msg   string
	}{
		{Options{Activation: 7}, "Options.Activation", "engine: Options.Activation Activation(7): want ActivationAuto, ActivationRaw or ActivationSigmoid"},
		{Options{Activation: -1}, "Options.Activation", "Activation(-1)"},
		{Options{Threads: -3}, "Options.Threads", "engine: Options.Threads -3: want 0 (one per CPU) or more"},
		{Options{MaxTokensPerBatch: -5}, "Options.MaxTokensPerBatch", "engine: Options.MaxTokensPerBatch -5: want 0 (1024) or more"},
		{Options{MaxLength: -1}, "Options.MaxLength", "engine: Options.MaxLength -1: want 0 (the model's limit) or at least 5"},
		{Options{MaxLength: 1000}, "Options.MaxLength", "engine: Options.MaxLength 1000: want 0 (the model's limit) or 5..512 (the model has 512 positions)"},
		{Options{MaxLength: 3}, "Options.MaxLength", "engine: Options.MaxLength 3: want 0 (the model's limit) or 5..512"},
		{Options{MaxLength: 4}, "Options.MaxLength", "5..512"},
		{Options{Truncation: 9}, "Options.Truncation", "engine: Options.Truncation Truncation(9): want LongestFirst or OnlySecond"},
		{Options{Backend: "gpu"}, "Options.Backend", `engine: Options.Backend "gpu": want "auto", "cpu" or "metal" (or "")`},
	} {
		_, err := Load(context.Background(), tinyDir, tc.opts)
		require.ErrorIs(t, err, ErrOption, tc.field)
		var oe *OptionError
		require.True(t, errors.As(err, &oe), tc.field)
		require.Equal(t, tc.field, oe.Field)
		require.Contains(t, err.Error(), tc.msg)
		require.Equal(t, 1, strings.Count(err.Error(), "engine:"), err.Error())
	}
	for _, n := range []int{MinMaxLength, 512} {
		m := loadModel(t, tinyDir, Options{MaxLength: n, Threads: 1})
		require.Equal(t, n, m.Info().MaxLength)
	}
}

func TestActivationText(t *testing.T) {
	for _, a := range []Activation{ActivationAuto, ActivationRaw, ActivationSigmoid} {
		b, err := a.MarshalText()
		require.NoError(t, err)
		require.Equal(t, a.String(), string(b))
		var back Activation
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, a, back)
	}
	require.Equal(t, "sigmoid", ActivationSigmoid.String())
	require.Equal(t, "Activation(7)", Activation(7).String())
	var a Activation
	require.ErrorContains(t, a.UnmarshalText([]byte("tanh")), "want auto, raw or sigmoid")

	// Flags and JSON share the spelling.
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.TextVar(&a, "activation", ActivationAuto, "")
	require.NoError(t, fs.Parse([]string{"--activation", "sigmoid"}))
	require.Equal(t, ActivationSigmoid, a)
	var cfg struct{ Activation Activation }
	require.NoError(t, json.Unmarshal([]byte(`{"Activation":"raw"}`), &cfg))
	require.Equal(t, ActivationRaw, cfg.Activation)
	info, err := json.Marshal(loadModel(t, tinyDir, Options{Threads: 1}).Info())
	require.NoError(t, err)
	require.Contains(t, string(info), `"Activation":"raw"`)
}

// TestQueryTooLongOnlySecond: a query that only-second truncation cannot
// fit is ErrInput (as ErrInput's doc says), with the tokenizer's numbers
// reachable, said once.
func TestQueryTooLongOnlySecond(t *testing.T) {
	m := loadModel(t, tinyDir, Options{MaxLength: 8, Truncation: OnlySecond, Threads: 1})
	long := Pair{Query: "berlin berlin berlin berlin berlin berlin", Passage: "museums"}
	_, err := m.Score(context.Background(), []Pair{{"a", "b"}, long})
	require.ErrorIs(t, err, ErrInput)
	var le *LengthError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 6, le.First)
	require.EqualError(t, err, "engine: pair 1: query is 6 tokens, longer than MaxLength 8 allows with OnlySecond truncation (at most 4)")
	_, err = m.Tokenize(long)
	require.ErrorIs(t, err, ErrInput)
	require.EqualError(t, err, "engine: query is 6 tokens, longer than MaxLength 8 allows with OnlySecond truncation (at most 4)")
	_, err = m.Rank(context.Background(), long.Query, []string{"x"}, RankOptions{})
	require.ErrorIs(t, err, ErrInput)
	// LongestFirst cuts the query instead.
	lf := loadModel(t, tinyDir, Options{MaxLength: 8, Threads: 1})
	_, err = lf.Score(context.Background(), []Pair{long})
	require.NoError(t, err)
}

// TestInputErrorsSayItOnce: sentinel errors are matched, not printed.
func TestInputErrorsSayItOnce(t *testing.T) {
	m := loadModel(t, tinyDir, Options{Threads: 1})
	_, err := m.ScoreSequences(context.Background(), []Sequence{{IDs: []int32{101, 102}, TypeIDs: []int32{0}}})
	require.ErrorIs(t, err, ErrInput)
	require.EqualError(t, err, "engine: sequence 0: 2 ids but 1 type ids")
}

// countingBackend counts forward passes (Run calls that compute logits).
type countingBackend struct {
	kernels.Backend
	runs *atomic.Int64
}

func (c countingBackend) Run(ctx context.Context, ops ...kernels.Op) error {
	c.runs.Add(1)
	return c.Backend.Run(ctx, ops...)
}

// TestPerCallBatchSize: ScoreWith and Rank cap the pairs of a forward pass
// at BatchSize, as CrossEncoder.predict(batch_size) does, with the same scores.
func TestPerCallBatchSize(t *testing.T) {
	var runs atomic.Int64
	ctx := backendhook.With(context.Background(), func(threads int) (kernels.Backend, error) {
		be, err := cpu.New(threads)
		return countingBackend{be, &runs}, err
	})
	m, err := Load(ctx, tinyDir, Options{Threads: 1})
	require.NoError(t, err)
	defer m.Close()
	pairs := make([]Pair, 10)
	docs := make([]string, len(pairs))
	for i := range pairs {
		docs[i] = strings.Repeat("berlin museums ", i)
		pairs[i] = Pair{Query: "berlin", Passage: docs[i]}
	}
	runs.Store(0)
	all, err := m.Score(context.Background(), pairs)
	require.NoError(t, err)
	require.EqualValues(t, 1, runs.Load(), "one pass for 10 short pairs")
	for _, bs := range []int{1, 3, 10, 50} {
		runs.Store(0)
		got, err := m.ScoreWith(context.Background(), pairs, ScoreOptions{BatchSize: bs})
		require.NoError(t, err)
		require.EqualValues(t, (len(pairs)+bs-1)/bs, runs.Load(), "batch size %d", bs)
		require.InDeltaSlice(t, all, got, 1e-6, "batch size %d", bs)
	}
	runs.Store(0)
	ranked, err := m.Rank(context.Background(), "berlin", docs, RankOptions{BatchSize: 4, TopK: 3, ReturnDocuments: true})
	require.NoError(t, err)
	require.EqualValues(t, 3, runs.Load())
	require.Len(t, ranked, 3)
	for _, r := range ranked {
		require.Equal(t, docs[r.Index], r.Document)
		require.InDelta(t, all[r.Index], r.Score, 1e-6)
	}
	_, err = m.ScoreWith(context.Background(), pairs, ScoreOptions{BatchSize: -1})
	require.ErrorIs(t, err, ErrOption)
	require.EqualError(t, err, "engine: ScoreOptions.BatchSize -1: want 0 (as many as MaxTokensPerBatch holds) or more")
	_, err = m.Rank(context.Background(), "q", docs, RankOptions{TopK: -1})
	require.ErrorIs(t, err, ErrOption)
	_, err = m.Rank(context.Background(), "q", docs, RankOptions{BatchSize: -2})
	require.ErrorContains(t, err, "RankOptions.BatchSize -2")
}
