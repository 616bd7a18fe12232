package batch

import (
	"context"
	"fmt"

	"github.com/minilm-dev/minilm/engine"
)

// Rank scores every document against query on sc, through a Batcher of
// opts.BatchSize sequences per batch (DefaultMaxSequences when 0), and
// ranks them as engine.Model.Rank does: best first, ties in input order,
// opts.TopK and opts.ReturnDocuments applied. A document that cannot be
// tokenized fails the call, named by its index.
func Rank(ctx context.Context, sc Scorer, query string, docs []string, opts engine.RankOptions) ([]engine.Ranked, error) {
	b := New(sc, Config{MaxSequences: opts.BatchSize})
	defer b.Close(ctx)
	res, err := b.Score(ctx, engine.RankPairs(query, docs))
	if err != nil {
		return nil, err
	}
	for i, err := range res.Errs {
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
	}
	return engine.RankScores(res.Scores, docs, opts), nil
}
