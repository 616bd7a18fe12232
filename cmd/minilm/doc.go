// Command minilm scores query/passage pairs with a cross-encoder reranker
// (cross-encoder/ms-marco-MiniLM-L-6-v2 and models of the same shape).
//
// The main job is `minilm score`: it streams JSONL, TSV or CSV files of
// query/passage pairs through a pipeline (read → tokenize → batch → score →
// write in input order) with memory independent of the input's length, and
// writes each record back with its score. `minilm rerank` sorts a list of
// documents for one query; `minilm info` describes a model; `minilm tokenize`
// shows what the model sees; `minilm download` fills the Hugging Face cache;
// `minilm bench` measures latency and throughput the way the Python baseline
// reported them; `minilm serve` is the HTTP service (package server) and
// `minilm loadtest` drives one (package server/loadtest). The hidden `minilm worker` is the process the replica
// supervisor starts for `--replicas N`.
//
// main.go is the only place that exits the process; every subcommand is a
// [command] whose run function returns an exit status (see cli.go).
package main
