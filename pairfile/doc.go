// Package pairfile reads and writes the line formats of minilm's commands,
// record by record, in memory bounded by the longest line: pair files
// (JSONL objects with a "passage" or a "documents" list, whose other fields
// are kept in place; TSV lines; CSV rows under a header; stdin's format
// sniffed from its first line), rerank's documents and ranked lines, and
// tokenize's JSON lines. A bad record is an *InputError naming FILE:LINE.
// Score streams pair files through an engine/batch Batcher and writes every
// record back with its score, in input order; Progress reports it.
package pairfile
