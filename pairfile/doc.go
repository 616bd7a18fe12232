// Package pairfile reads and writes the query/passage files minilm scores,
// record by record, in memory bounded by the longest line: JSONL objects (a
// "passage", or a "documents" list) whose other fields are kept in place,
// TSV lines, and CSV rows under a header; stdin's format is sniffed from its
// first line. A bad record is an *InputError naming FILE:LINE. Score streams
// inputs through an engine/batch Batcher and writes every record back with
// its score, in input order.
package pairfile
