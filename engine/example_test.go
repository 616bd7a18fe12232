package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/minilm-dev/minilm/engine"
)

func Example() {
	ctx := context.Background()
	// A directory in Hugging Face layout, or a repo id such as
	// "cross-encoder/ms-marco-MiniLM-L-6-v2" (downloaded on first use).
	m, err := engine.Load(ctx, "../testdata/models/tiny", engine.Options{Threads: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	ranked, err := m.Rank(ctx, "How many people live in Berlin?", []string{
		"Berlin is well known for its museums.",
		"Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.",
	}, engine.RankOptions{ReturnDocuments: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range ranked {
		fmt.Printf("doc %d: %.2f %s…\n", r.Index, r.Score, strings.Join(strings.Fields(r.Document)[:4], " "))
	}
	// Output:
	// doc 1: 6.45 Berlin has a population…
	// doc 0: 3.50 Berlin is well known…
}

// A caller sets truncation and reads length errors with this package alone.
func ExampleOptions_truncation() {
	ctx := context.Background()
	m, err := engine.Load(ctx, "../testdata/models/tiny", engine.Options{MaxLength: 8, Truncation: engine.OnlySecond, Threads: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	_, err = m.Score(ctx, []engine.Pair{{Query: "a query of far more than eight tokens", Passage: "p"}})
	var le *engine.LengthError
	fmt.Println(errors.Is(err, engine.ErrInput), errors.As(err, &le), le.First)
	fmt.Println(err)

	_, err = engine.Load(ctx, "../testdata/models/tiny", engine.Options{Backend: "gpu"})
	fmt.Println(errors.Is(err, engine.ErrOption), err)
	// Output:
	// true true 9
	// engine: pair 0: query is 9 tokens, longer than MaxLength 8 allows with OnlySecond truncation (at most 4)
	// true engine: Options.Backend "gpu": want "auto", "cpu" or "metal" (or "")
}
