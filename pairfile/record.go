package pairfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/minilm-dev/minilm/engine"
)

// Format is the layout of an input file; the output keeps the same layout.
type Format int

const (
	JSONL   Format = iota // {"query":..,"passage":..} or {"query":..,"documents":[..]} per line
	TSV                   // query<TAB>passage per line
	CSV                   // header row naming query and passage columns
	Sniffed               // stdin without --format: told from its first line
)

func (f Format) String() string {
	switch f {
	case TSV:
		return "tsv"
	case CSV:
		return "csv"
	case Sniffed:
		return "not yet known"
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

// writeJSONL writes a JSONL record's output line to w in parts, so that a
// long line is never copied whole; scratch is reused for the score.
func (r *record) writeJSONL(w *bufio.Writer, scratch []byte) ([]byte, error) {
	w.Write(r.raw[:r.at])
	scratch = r.appendJSONLScore(scratch[:0])
	w.Write(scratch)
	w.Write(r.raw[r.to:])
	return scratch, w.WriteByte('\n') // a bufio.Writer keeps its first error
}

// appendJSONLScore appends what goes between raw[:at] and raw[to:].
func (r *record) appendJSONLScore(dst []byte) []byte {
	dst = append(dst, r.insert...)
	if !r.many {
		return AppendJSONScore(dst, r.scores[0])
	}
	dst = append(dst, '[')
	for i, s := range r.scores {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONScore(dst, s)
	}
	return append(dst, ']')
}

// writeTSV writes a TSV record's output line (the input line, a tab, the
// score) to w without copying the line.
func (r *record) writeTSV(w *bufio.Writer, scratch []byte) ([]byte, error) {
	w.Write(r.raw)
	scratch = r.appendTSVScore(scratch[:0])
	_, err := w.Write(scratch)
	return scratch, err
}

// appendTSVScore appends what follows the line: a tab, the score, "\n".
func (r *record) appendTSVScore(dst []byte) []byte {
	dst = append(dst, '\t')
	dst = AppendScore(dst, r.scores[0])
	return append(dst, '\n')
}

// parseJSONL parses one JSONL line (without its line end) into r. The object
// must hold a string "query" and either a string "passage" or a "documents"
// array of strings. Every other field is kept as it is; an existing "score"
// ("scores" for documents) is replaced in place, so scored files can be
// scored again.
//
// The line is validated in one pass that allocates nothing and then walked
// in place; strings without escapes alias the line (which the record keeps
// unchanged as its output's source), so a record costs about its line's
// size, whatever that is.
func parseJSONL(line []byte, r *record) error {
	if !utf8.Valid(line) {
		return errors.New("invalid UTF-8")
	}
	line = bytes.TrimRight(line, " \t\r")
	switch t := bytes.TrimLeft(line, " \t"); {
	case len(t) > 0 && t[0] == '[':
		return errors.New(`a JSON array, not an object: minilm reads JSON Lines, one {"query":..,"passage":..} object per line (a file holding one array converts with: jq -c '.[]' FILE)`)
	case len(t) == 1 && t[0] == '{':
		return errors.New(`an object spread over several lines: minilm reads JSON Lines, one object per line (convert with: jq -c . FILE)`)
	}
	if !json.Valid(line) {
		var v json.RawMessage
		err := json.Unmarshal(line, &v)
		if err != nil && strings.Contains(err.Error(), "after top-level value") {
			return errors.New("bad JSON: data after the object")
		}
		return fmt.Errorf("bad JSON: %v", JSONReason(err))
	}
	i := skipSpace(line, 0)
	if line[i] != '{' {
		return errors.New("not a JSON object")
	}
	var (
		query, passage, documents []byte
		hasPassage, hasDocuments  bool
		lastEnd                   = i + 1 // just after '{' while the object is empty
		empty                     = true
		scoreAt, scoreTo          = -1, -1
		scoresAt, scoresTo        = -1, -1
	)
	for i = skipSpace(line, i+1); line[i] != '}'; {
		kEnd := skipJSONValue(line, i)
		key, err := jsonString(line[i:kEnd])
		if err != nil {
			return fmt.Errorf("bad JSON: key: %v", err)
		}
		start := skipSpace(line, skipSpace(line, kEnd)+1) // past ':'
		end := skipJSONValue(line, start)
		val := line[start:end]
		lastEnd, empty = end, false
		switch key {
		case "query":
			query = val
		case "passage":
			passage, hasPassage = val, true
		case "documents":
			documents, hasDocuments = val, true
		case "score":
			scoreAt, scoreTo = start, end
		case "scores":
			scoresAt, scoresTo = start, end
		}
		if i = skipSpace(line, end); line[i] == ',' {
			i = skipSpace(line, i+1)
		}
	}

	if query == nil {
		return errors.New(`missing "query"`)
	}
	q, err := DecodeString(query)
	if err != nil {
		return fmt.Errorf(`"query" %v`, err)
	}
	switch {
	case hasPassage && hasDocuments:
		return errors.New(`both "passage" and "documents"; give one`)
	case hasPassage:
		p, err := DecodeString(passage)
		if err != nil {
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

// skipSpace returns the index of the first non-space byte of b from i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipJSONValue returns the index just past the value starting at b[i]; b
// must be valid JSON (json.Valid), so only strings and nesting need care.
func skipJSONValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		default:
			if depth == 0 { // a number or literal: up to a delimiter
				for i < len(b) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(b[i])) {
					i++
				}
				return i
			}
		}
	}
	return i
}

// DecodeString decodes a JSON string; null and other types are errors.
func DecodeString(raw []byte) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("is %s, not a string", JSONKind(raw))
	}
	s, err := jsonString(raw)
	if err != nil {
		return "", fmt.Errorf("is not a valid string: %v", err)
	}
	return s, nil
}

// jsonString decodes a valid JSON string literal as encoding/json does (a
// lone surrogate becomes U+FFFD). Without escapes the result aliases raw,
// which must then stay unchanged; with them it is decoded once into memory
// of its own.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("not a string literal")
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		if len(body) == 0 {
			return "", nil
		}
		return unsafe.String(&body[0], len(body)), nil
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i >= len(body) {
			return "", errors.New("truncated escape")
		}
		switch body[i] {
		case '"', '\\', '/':
			out = append(out, body[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := hex4(body[i+1:])
			if n < 0 {
				return "", errors.New("bad \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), -1
				if i+2 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					r2, n2 = hex4(body[i+3:])
				}
				if dec := utf16.DecodeRune(r, r2); n2 >= 0 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", fmt.Errorf("bad escape \\%c", body[i])
		}
	}
	return unsafe.String(unsafe.SliceData(out), len(out)), nil
}

// hex4 reads four hex digits; n is -1 when they are not.
func hex4(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, -1
		}
		r = r<<4 | rune(c)
	}
	return r, 4
}

// decodeStrings decodes a JSON array of strings.
func decodeStrings(raw []byte) ([]string, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("is %s, not an array of strings", JSONKind(raw))
	}
	var out []string
	for i := skipSpace(raw, 1); raw[i] != ']'; {
		end := skipJSONValue(raw, i)
		s, err := DecodeString(raw[i:end])
		if err != nil {
			return nil, fmt.Errorf("item %d %v", len(out), err)
		}
		out = append(out, s)
		if i = skipSpace(raw, end); raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return out, nil
}

// JSONKind names the type of a JSON value for error messages.
func JSONKind(raw []byte) string {
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
	var se *json.SyntaxError
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &se) && se.Error() == "unexpected end of JSON input" {
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
	// The strings alias the line, which the record keeps unchanged.
	r.pairs = []engine.Pair{{Query: aliasString(line[:tab]), Passage: aliasString(line[tab+1:])}}
	r.scores = make([]float32, 1)
	r.raw = line
	return nil
}

// SniffFormat tells the format of an input without a name (stdin) from its
// first non-blank line, which stays in br: JSON (an object or array),
// query<TAB>passage, or a CSV header naming query and passage. Anything
// else is refused rather than guessed.
func SniffFormat(br *bufio.Reader, name string) (Format, error) {
	lineNo, start := 1, 0
	var err error // from the last read
	for {
		buf, _ := br.Peek(br.Buffered())
		for {
			nl := bytes.IndexByte(buf[start:], '\n')
			if nl < 0 {
				break
			}
			line := buf[start : start+nl]
			if len(bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\uFEFF")))) > 0 {
				return sniffLine(line, name, lineNo)
			}
			start += nl + 1
			lineNo++
		}
		if err != nil || len(buf) == br.Size() {
			// The end of the input (or a first line longer than the buffer).
			if line := buf[start:]; len(bytes.TrimSpace(line)) > 0 {
				return sniffLine(line, name, lineNo)
			}
			return JSONL, nil // nothing to read: any format gives no records
		}
		if _, err = br.Peek(len(buf) + 1); err != nil && err != io.EOF {
			return 0, fmt.Errorf("read %s: %w", name, err)
		}
	}
}

func sniffLine(line []byte, name string, lineNo int) (Format, error) {
	line = bytes.TrimPrefix(bytes.TrimRight(line, "\r"), []byte("\uFEFF"))
	t := bytes.TrimLeft(line, " \t")
	switch {
	case t[0] == '{' || t[0] == '[':
		return JSONL, nil
	case bytes.IndexByte(line, '\t') >= 0:
		return TSV, nil
	}
	if fields, err := csv.NewReader(bytes.NewReader(line)).Read(); err == nil && column(fields, "query") >= 0 && column(fields, "passage") >= 0 {
		return CSV, nil
	}
	c, _ := utf8.DecodeRune(t)
	return 0, &InputError{File: name, Line: lineNo, Reason: fmt.Sprintf("not JSON (the line starts with %q), nor a TSV line or a CSV header naming query and passage; give --format tsv or csv", c)}
}

// Object is one JSON object (a line) parsed for editing: its fields and
// where their values lie, so that fields can be set without reordering or
// re-encoding the others.
type Object struct {
	line    []byte
	Fields  map[string]json.RawMessage // the value of each key (the last, when repeated)
	spans   map[string][][2]int        // [start, end) of each value of a key, in order
	lastEnd int                        // just after the last value (after '{' when empty)
	empty   bool
}

// ParseObject parses a line holding one JSON object.
func ParseObject(line []byte) (*Object, error) {
	if !utf8.Valid(line) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("bad JSON: %v", JSONReason(err))
	} else if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	o := &Object{line: line, Fields: map[string]json.RawMessage{}, spans: map[string][][2]int{}, lastEnd: int(dec.InputOffset()), empty: true}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad JSON: %v", JSONReason(err))
		}
		key, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("bad JSON: object key is %v, not a string", t)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("bad JSON: %v", JSONReason(err))
		}
		end := int(dec.InputOffset())
		o.lastEnd, o.empty = end, false
		o.Fields[key] = val
		o.spans[key] = append(o.spans[key], [2]int{end - len(val), end})
	}
	if t, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("bad JSON: %v", JSONReason(err))
	} else if d, ok := t.(json.Delim); !ok || d != '}' {
		return nil, errors.New("bad JSON: object not closed")
	}
	if len(bytes.TrimSpace(line[dec.InputOffset():])) != 0 {
		return nil, errors.New("bad JSON: data after the object")
	}
	return o, nil
}

// AppendWith appends the object with keys[i] set to values[i] (JSON): each
// value replaced where the key is (every occurrence), the missing keys
// appended at the end in order; everything else is kept byte for byte.
func (o *Object) AppendWith(dst []byte, keys []string, values [][]byte) []byte {
	type edit struct {
		at, to int
		value  []byte
	}
	var edits []edit
	for i, k := range keys {
		for _, sp := range o.spans[k] {
			edits = append(edits, edit{sp[0], sp[1], values[i]})
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.at - b.at })
	pos := 0
	for _, e := range edits {
		dst = append(dst, o.line[pos:e.at]...)
		dst = append(dst, e.value...)
		pos = e.to
	}
	dst = append(dst, o.line[pos:o.lastEnd]...)
	empty := o.empty
	for i, k := range keys {
		if _, ok := o.Fields[k]; ok {
			continue
		}
		if !empty {
			dst = append(dst, ',')
		}
		empty = false
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		dst = append(dst, values[i]...)
	}
	return append(dst, o.line[o.lastEnd:]...)
}

// aliasString is b as a string without a copy; b must not change afterwards.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xF])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}
