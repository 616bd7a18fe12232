package pairfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
)

// Format is the layout of an input file; the output keeps the same layout.
type Format int

const (
	JSONL Format = iota // {"query":..,"passage":..} or {"query":..,"documents":[..]} per line
	TSV                 // query<TAB>passage per line
	CSV                 // header row naming query and passage columns
)

func (f Format) String() string {
	switch f {
	case TSV:
		return "tsv"
	case CSV:
		return "csv"
	default:
		return "jsonl"
	}
}

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "jsonl", "json", "ndjson":
		return JSONL, nil
	case "tsv":
		return TSV, nil
	case "csv":
		return CSV, nil
	}
	return 0, fmt.Errorf("unknown format %q (want jsonl, tsv or csv)", s)
}

// FormatOf tells an input's format from its file name extension.
func FormatOf(name string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".json", ".ndjson":
		return JSONL, true
	case ".tsv":
		return TSV, true
	case ".csv":
		return CSV, true
	}
	return 0, false
}

// InputError is a malformed record, or an input that cannot be read as its
// format. It prints as FILE:LINE: reason, or FILE: reason without a line.
type InputError struct {
	File   string
	Line   int // from 1; 0 when the whole input is at fault
	Reason string
}

func (e *InputError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// record is one input record (a line, or a CSV row) on its way through the
// pipeline. The reader fills everything but scores; the scorer stage fills
// scores; the writer prints it.
type record struct {
	format Format
	pairs  []engine.Pair
	scores []float32 // one per pair
	err    error     // the record is invalid (*InputError) or the input failed
	name   string    // input name and line, for messages
	line   int
	fatal  bool  // err stops the run even with --skip-invalid
	input  int   // index of the input file, for progress
	end    int64 // input offset just after the record, for progress

	// JSONL: the object's bytes (trailing whitespace and line end removed).
	// The output is raw[:at] + insert + value + raw[to:], where value is the
	// score, or the scores array when many is set (a "documents" record).
	raw    []byte
	at, to int
	insert string
	many   bool

	// CSV: the row's fields. The score goes in column col, or is appended
	// when col is -1; a header row gets a "score" column the same way.
	fields []string
	col    int
	header bool
}

// AppendScore appends s as the shortest decimal that reads back as the same
// float32.
func AppendScore(dst []byte, s float32) []byte {
	return strconv.AppendFloat(dst, float64(s), 'g', -1, 32)
}

// AppendJSONScore is AppendScore for JSON, which has no NaN or infinities.
func AppendJSONScore(dst []byte, s float32) []byte {
	if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
		return append(dst, "null"...)
	}
	return AppendScore(dst, s)
}

// appendJSONL appends a JSONL record's output line.
func (r *record) appendJSONL(dst []byte) []byte {
	dst = append(dst, r.raw[:r.at]...)
	dst = append(dst, r.insert...)
	if r.many {
		dst = append(dst, '[')
		for i, s := range r.scores {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONScore(dst, s)
		}
		dst = append(dst, ']')
	} else {
		dst = AppendJSONScore(dst, r.scores[0])
	}
	dst = append(dst, r.raw[r.to:]...)
	return append(dst, '\n')
}

// appendTSV appends a TSV record's output line: the input line, a tab, the score.
func (r *record) appendTSV(dst []byte) []byte {
	dst = append(dst, r.raw...)
	dst = append(dst, '\t')
	dst = AppendScore(dst, r.scores[0])
	return append(dst, '\n')
}

// parseJSONL parses one JSONL line (without its line end) into r. The object
// must hold a string "query" and either a string "passage" or a "documents"
// array of strings. Every other field is kept as it is; an existing "score"
// ("scores" for documents) is replaced in place, so scored files can be
// scored again.
func parseJSONL(line []byte, r *record) error {
	if !utf8.Valid(line) {
		return errors.New("invalid UTF-8")
	}
	line = bytes.TrimRight(line, " \t\r")
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("bad JSON: %v", JSONReason(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	var (
		query, passage, documents json.RawMessage
		hasQuery, hasPassage      bool
		hasDocuments              bool
		lastEnd                   = int(dec.InputOffset()) // just after '{' while the object is empty
		empty                     = true
		scoreAt, scoreTo          = -1, -1
		scoresAt, scoresTo        = -1, -1
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("bad JSON: %v", JSONReason(err))
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("bad JSON: object key is %v, not a string", tok)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return fmt.Errorf("bad JSON: %v", JSONReason(err))
		}
		end := int(dec.InputOffset())
		start := end - len(val)
		lastEnd, empty = end, false
		switch key {
		case "query":
			query, hasQuery = val, true
		case "passage":
			passage, hasPassage = val, true
		case "documents":
			documents, hasDocuments = val, true
		case "score":
			scoreAt, scoreTo = start, end
		case "scores":
			scoresAt, scoresTo = start, end
		}
	}
	tok, err = dec.Token()
	if err != nil {
		return fmt.Errorf("bad JSON: %v", JSONReason(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '}' {
		return errors.New("bad JSON: object not closed")
	}
	closeEnd := int(dec.InputOffset())
	if len(bytes.TrimSpace(line[closeEnd:])) != 0 {
		return errors.New("bad JSON: data after the object")
	}

	if !hasQuery {
		return errors.New(`missing "query"`)
	}
	var q string
	if err := DecodeString(query, &q); err != nil {
		return fmt.Errorf(`"query" %v`, err)
	}
	switch {
	case hasPassage && hasDocuments:
		return errors.New(`both "passage" and "documents"; give one`)
	case hasPassage:
		var p string
		if err := DecodeString(passage, &p); err != nil {
			return fmt.Errorf(`"passage" %v`, err)
		}
		r.pairs = []engine.Pair{{Query: q, Passage: p}}
	case hasDocuments:
		docs, err := decodeStrings(documents)
		if err != nil {
			return fmt.Errorf(`"documents" %v`, err)
		}
		r.pairs = make([]engine.Pair, len(docs))
		for i, d := range docs {
			r.pairs[i] = engine.Pair{Query: q, Passage: d}
		}
		r.many = true
		scoreAt, scoreTo = scoresAt, scoresTo
	default:
		return errors.New(`missing "passage" (or "documents")`)
	}
	r.scores = make([]float32, len(r.pairs))
	r.raw = line
	key := `"score":`
	if r.many {
		key = `"scores":`
	}
	switch {
	case scoreAt >= 0:
		r.at, r.to, r.insert = scoreAt, scoreTo, ""
	case empty:
		r.at, r.to, r.insert = lastEnd, lastEnd, key
	default:
		r.at, r.to, r.insert = lastEnd, lastEnd, ","+key
	}
	return nil
}

// DecodeString decodes a JSON string; null and other types are errors.
func DecodeString(raw json.RawMessage, s *string) error {
	if len(raw) == 0 || raw[0] != '"' {
		return fmt.Errorf("is %s, not a string", JSONKind(raw))
	}
	if err := json.Unmarshal(raw, s); err != nil {
		return fmt.Errorf("is not a valid string: %v", JSONReason(err))
	}
	return nil
}

// decodeStrings decodes a JSON array of strings.
func decodeStrings(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("is %s, not an array of strings", JSONKind(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("is not a valid array: %v", JSONReason(err))
	}
	out := make([]string, len(items))
	for i, it := range items {
		if err := DecodeString(it, &out[i]); err != nil {
			return nil, fmt.Errorf("item %d %v", i, err)
		}
	}
	return out, nil
}

// JSONKind names the type of a JSON value for error messages.
func JSONKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// JSONReason turns a decoder error into a reason without Go type names.
func JSONReason(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of line"
	}
	return err.Error()
}

// parseTSV parses one TSV line (without its line end): exactly two columns.
func parseTSV(line []byte, r *record) error {
	if !utf8.Valid(line) {
		return errors.New("invalid UTF-8")
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	tab := bytes.IndexByte(line, '\t')
	if n := bytes.Count(line, []byte{'\t'}) + 1; n != 2 {
		return fmt.Errorf("wrong column count: %d, want 2 (query<TAB>passage)", n)
	}
	r.pairs = []engine.Pair{{Query: string(line[:tab]), Passage: string(line[tab+1:])}}
	r.scores = make([]float32, 1)
	r.raw = line
	return nil
}
