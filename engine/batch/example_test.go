package batch_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/engine/batch"
)

// A stream of pairs of any length is scored in order with bounded memory;
// the same works over a replica.Pool.
func ExampleBatcher_Stream() {
	ctx := context.Background()
	m, err := engine.Load(ctx, "../../testdata/models/tiny", engine.Options{Threads: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	b := batch.New(m, batch.Config{MaxTokens: 4096, MaxSequences: 32})
	defer b.Close(ctx)

	q := "How many people live in Berlin?"
	pairs := []engine.Pair{
		{Query: q, Passage: "Berlin is well known for its museums."},
		{Query: q, Passage: "Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers."},
	}
	for score, err := range b.Stream(ctx, slices.Values(pairs)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%.2f\n", score)
	}
	// Output:
	// 3.50
	// 6.45
}
