package engine

import (
	"slices"
	"testing"

	"github.com/minilm-dev/minilm/tokenizer"
)

// TestLoadTokenizer: the tokenizer alone tokenizes a pair exactly as the
// loaded model does, with the model's default max length.
func TestLoadTokenizer(t *testing.T) {
	m := loadModel(t, "../testdata/models/tiny", Options{Threads: 1})
	tok, maxLen, err := LoadTokenizer(t.Context(), "../testdata/models/tiny", Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if maxLen != m.Info().MaxLength {
		t.Errorf("max length %d, the model's %d", maxLen, m.Info().MaxLength)
	}
	p := Pair{Query: "How many people live in Berlin?", Passage: "Berlin has a population of 3,520,031 registered inhabitants."}
	enc, err := tok.EncodePair(p.Query, p.Passage, maxLen, tokenizer.LongestFirst)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := m.Tokenize(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(enc.IDs, seq.IDs) || !slices.Equal(enc.TypeIDs, seq.TypeIDs) {
		t.Errorf("ids %v / %v, the model's %v / %v", enc.IDs, enc.TypeIDs, seq.IDs, seq.TypeIDs)
	}
	if _, _, err := LoadTokenizer(t.Context(), "../testdata/models/no-such-model", Options{Offline: true}); err == nil {
		t.Error("a missing model directory loaded")
	}
}
