package engine

import (
	"context"
	"sort"
)

// RankOptions tune Rank the way the arguments of sentence-transformers'
// CrossEncoder.rank(query, documents, top_k, return_documents, batch_size) do.
type RankOptions struct {
	// TopK > 0 keeps only the best TopK documents (top_k); 0 keeps all.
	TopK int
	// ReturnDocuments fills Ranked.Document with the text (return_documents).
	ReturnDocuments bool
	// BatchSize caps the pairs of one forward pass, as ScoreOptions.BatchSize.
	BatchSize int
}

func (o RankOptions) validate() error {
	if o.TopK < 0 {
		return &OptionError{Field: "RankOptions.TopK", Value: o.TopK, Allowed: "0 (all) or more"}
	}
	return ScoreOptions{BatchSize: o.BatchSize}.validate("RankOptions")
}

// Ranked is one document's place in a ranking.
type Ranked struct {
	Index    int // position in the documents given to Rank (rank's corpus_id)
	Score    float32
	Document string // the document's text, when RankOptions.ReturnDocuments
}

// Rank scores every document against the query and returns them best first
// (ties keep input order).
func (m *Model) Rank(ctx context.Context, query string, docs []string, opts RankOptions) ([]Ranked, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	scores, err := m.score(ctx, RankPairs(query, docs), opts.BatchSize)
	if err != nil {
		return nil, err
	}
	return RankScores(scores, docs, opts), nil
}

// RankPairs pairs the query with each document, in order.
func RankPairs(query string, docs []string) []Pair {
	pairs := make([]Pair, len(docs))
	for i, d := range docs {
		pairs[i] = Pair{Query: query, Passage: d}
	}
	return pairs
}

// RankScores orders documents by their scores, best first (ties keep input
// order), as opts say (TopK, ReturnDocuments; BatchSize is unused).
// scores[i] is docs[i]'s, so a scorer that is not a Model (a replica pool)
// ranks exactly as Rank does.
func RankScores(scores []float32, docs []string, opts RankOptions) []Ranked {
	ranked := make([]Ranked, len(scores))
	for i, s := range scores {
		ranked[i] = Ranked{Index: i, Score: s}
	}
	sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].Score > ranked[b].Score })
	if opts.TopK > 0 && opts.TopK < len(ranked) {
		ranked = ranked[:opts.TopK]
	}
	if opts.ReturnDocuments {
		for i := range ranked {
			ranked[i].Document = docs[ranked[i].Index]
		}
	}
	return ranked
}
