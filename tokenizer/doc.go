// Package tokenizer is a native BERT WordPiece tokenizer that reproduces
// Hugging Face tokenizers 0.22 (BertNormalizer, BertPreTokenizer, WordPiece
// and the BERT pair template) id for id, with character offsets, for
// cross-encoder rerankers such as cross-encoder/ms-marco-MiniLM-L-6-v2.
//
// The hot path, AppendPairIDs, does not allocate in steady state: scratch
// memory is pooled per Tokenizer, which is safe for concurrent use.
package tokenizer
