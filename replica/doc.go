// Package replica runs the model in worker processes and spreads batches
// over them, so that one process's inference overlaps another's pipe and
// tokenizer work and a crashed worker does not take the service down.
//
// Workers are the minilm binary re-executed as `minilm worker --model DIR`;
// each loads the model (weights are memory-mapped, so workers share their
// pages; on Linux the Pool also packs the GEMM weights once into a memfd that
// every CPU worker maps read-only, inherited as descriptor 3 and named by
// cpu.SharedWeightsEnv, so N workers hold one copy of the packed panels),
// sends a Hello, and then serves length-prefixed binary frames on
// its stdin/stdout (protocol.go documents the layout). A worker exits when
// its stdin reaches EOF, so a killed supervisor leaves no orphans.
//
// The scheduling logic is a pure state machine, Sched (sched.go): events in,
// actions out, no goroutines, clocks or I/O, tested by the transcripts in
// testdata/*.txt. Supervisor is the thin driver around it that owns the
// processes, pipes and ticker:
//
//	sup, err := replica.Start(ctx, replica.Config{
//		Path:  exe,
//		Args:  []string{"worker", "--model", dir},
//		Model: id, // replica.IdentifyModel(dir)
//	})
//	...
//	logits, err := sup.ScoreSequences(ctx, seqs) // one call = one batch
//	...
//	err = sup.Close(ctx) // drain, then stop the workers
//
// Pool (pool.go) is the scorer Go callers use, with engine.Model's methods
// (Tokenize, Score, ScoreSequences, Rank) plus Metrics and Close. It loads
// the model in the caller's process only to tokenize (CPU, one thread),
// splits calls into batches spread over the workers, and starts the workers
// itself:
//
//	pool, err := replica.NewPool(ctx, "cross-encoder/ms-marco-MiniLM-L-6-v2",
//		engine.Options{Threads: 8}, // split: 4 threads per worker
//		replica.PoolConfig{Config: replica.Config{Path: minilmBinary, Workers: 2}})
//	...
//	ranked, err := pool.Rank(ctx, query, docs, engine.RankOptions{TopK: 10})
//	...
//	err = pool.Close(ctx)
//
// The workers run `PATH worker --model DIR --backend B --activation A
// --threads N`, the hidden command of the minilm binary: `minilm score
// --replicas N` passes its own executable; a Go program passes the path of
// an installed minilm (go install github.com/minilm-dev/minilm/cmd/minilm)
// built from the same module version, since the protocol version and the
// model hash must match or the workers are refused.
//
// Failure handling: a worker's death is seen at once (EOF on its stdout);
// its batches are retried on another worker, each answered exactly once; it
// is restarted with exponential backoff; a worker failing before the pool
// is up, or failing MaxFailures times in a row on every slot, makes the
// supervisor give up with an error quoting the worker's last stderr lines.
// A worker leaving a ping unanswered, or holding batches without answering,
// is killed and treated as crashed.
package replica
