package batch

import (
	"context"
	"fmt"
	"testing"

	"github.com/minilm-dev/minilm/engine"
)

// TestRank ranks on the batcher: best first, ties in input order, top-k
// kept, documents returned when asked, and a document that cannot be
// tokenized named by its index.
func TestRank(t *testing.T) {
	docs := []string{"bb", "dddd", "a", "cccc", "ccc"}
	got, err := Rank(context.Background(), &fakeScorer{}, "q", docs, engine.RankOptions{TopK: 3, ReturnDocuments: true, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	var texts []string
	for _, r := range got {
		idx, texts = append(idx, r.Index), append(texts, r.Document)
		if want := wantPair(t, engine.Pair{Query: "q", Passage: docs[r.Index]}); r.Score != want {
			t.Errorf("document %d: score %v, want %v", r.Index, r.Score, want)
		}
	}
	// The fake scores the sum of the bytes: "dddd" > "cccc" > "ccc".
	if fmt.Sprint(idx, texts) != "[1 3 4] [dddd cccc ccc]" {
		t.Errorf("ranked %v %q, want [1 3 4] [dddd cccc ccc]", idx, texts)
	}
	if _, err := Rank(context.Background(), &fakeScorer{}, "bad", docs, engine.RankOptions{}); err == nil || err.Error() != "document 0: "+errBadPair.Error() {
		t.Errorf("error %v, want document 0: %v", err, errBadPair)
	}
}
