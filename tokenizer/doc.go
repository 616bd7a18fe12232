// Package tokenizer is a native BERT WordPiece tokenizer that reproduces
// Hugging Face tokenizers 0.22 (BertNormalizer, BertPreTokenizer, WordPiece
// and the BERT pair template) id for id, with character offsets, for
// cross-encoder rerankers such as cross-encoder/ms-marco-MiniLM-L-6-v2.
//
// The hot path, AppendPairIDs, does not allocate in steady state: scratch
// memory is pooled per Tokenizer, which is safe for concurrent use.
//
// With a maximum length, a text is read in chunks and tokenized only as far
// as truncation can keep (for longest_first, max_length word pieces per side
// at most, plus a count of the shorter side when both overflow an odd
// budget), so memory and time follow max_length rather than the text's size;
// the ids are those of tokenizing the whole text.
//
// Tokenizer files are checked before and while they are read: each kind has
// a size limit, a vocab.txt must be UTF-8 text holding the special tokens,
// and LoadWith checks the vocabulary against the model's embedding rows.
// Errors name the file and wrap ErrBadFile.
package tokenizer
