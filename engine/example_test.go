package engine_test

import (
	"context"
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
