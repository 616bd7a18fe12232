// Package server is minilm's HTTP service: the reranker behind the request
// shapes its callers already speak (Hugging Face text-embeddings-inference,
// Cohere, Jina, vLLM, llama.cpp), with every request's pairs scored through
// one batch.Batcher, so concurrent requests share forward passes.
//
// Run listens, loads the model, warms it up and serves until its context
// ends; then it drains: /ready and new requests answer 503 while the
// requests in flight finish. Routes lists every path it serves.
package server
