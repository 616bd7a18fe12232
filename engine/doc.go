// Package engine scores query/passage pairs with a BERT cross-encoder
// (Hugging Face BertForSequenceClassification, e.g.
// cross-encoder/ms-marco-MiniLM-L-6-v2).
//
// A batch is packed, never padded: the tokens of all its pairs are
// concatenated into one (T,H) matrix with sequence offsets (cu_seqlens), every
// GEMM, LayerNorm and GELU runs over real tokens only, and attention runs per
// sequence within its own length. bert.go is the model, one step per Hugging
// Face submodule; the ops it emits are defined in package kernels and run by a
// backend (kernels/cpu, kernels/metal).
//
// Buffers: weights are loaded once (embedding tables stay memory-mapped when
// the backend can use host memory); activations live in one arena per Model,
// sized at Load for MaxTokensPerBatch tokens and reused by every batch.
package engine
