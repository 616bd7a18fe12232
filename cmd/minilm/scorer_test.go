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
	got, err := rankDocuments(context.Background(), lengthScorer{}, "q", docs, engine.RankOptions{TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	var scores []float32
	for _, r := range got {
		idx, scores = append(idx, r.Index), append(scores, r.Score)
	}
	if fmt.Sprint(idx, scores) != "[1 3 4] [4 4 3]" {
		t.Errorf("ranked %v %v, want [1 3 4] [4 4 3]", idx, scores)
	}
	if _, err := rankDocuments(context.Background(), lengthScorer{}, "TOOLONG", docs, engine.RankOptions{}); err == nil || err.Error() != "document 0: query too long" {
		t.Errorf("error %v, want document 0: query too long", err)
	}
}
