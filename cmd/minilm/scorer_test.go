package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/minilm-dev/minilm/engine"
)

// lengthScorer scores a pair by the length of its passage; a query
// "TOOLONG" fails to tokenize.
type lengthScorer struct{}

func (lengthScorer) Tokenize(p engine.Pair) (engine.Sequence, error) {
	if p.Query == "TOOLONG" {
		return engine.Sequence{}, errors.New("query too long")
	}
	return engine.Sequence{IDs: []int32{int32(len(p.Passage))}, TypeIDs: []int32{0}}, nil
}

func (lengthScorer) ScoreSequences(_ context.Context, seqs []engine.Sequence) ([]float32, error) {
	out := make([]float32, len(seqs))
	for i, s := range seqs {
		out[i] = float32(s.IDs[0])
	}
	return out, nil
}

// TestRankDocuments ranks on the batcher: best first, ties in input order,
// top-k kept, and a document that cannot be tokenized named by its index.
func TestRankDocuments(t *testing.T) {
	docs := []string{"bb", "dddd", "a", "cccc", "ccc"}
	got, err := rankDocuments(context.Background(), lengthScorer{}, "q", docs, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Ranked{{Index: 1, Score: 4}, {Index: 3, Score: 4}, {Index: 4, Score: 3}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ranked %v, want %v", got, want)
	}
	if _, err := rankDocuments(context.Background(), lengthScorer{}, "TOOLONG", docs, 0); err == nil || err.Error() != "document 0: query too long" {
		t.Errorf("error %v, want document 0: query too long", err)
	}
}
