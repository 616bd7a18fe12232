package pairfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
)

// Document is one document to rank (minilm rerank's input): its text and,
// for JSON input, its object, whose other fields the output keeps.
type Document struct {
	Text string
	obj  *Object // nil for a text line
}

var rankKeys = []string{"rank", "index", "score"}

// AppendRanked appends the output line of d, ranked rank (from 1) with
// rk's index and score: INDEX<TAB>SCORE<TAB>TEXT, or with asJSON d's object
// with "rank", "index" and "score" set (a text line: those and "text").
func AppendRanked(dst []byte, asJSON bool, rank int, rk engine.Ranked, d Document) []byte {
	if !asJSON {
		dst = fmt.Appendf(dst, "%d\t", rk.Index)
		dst = AppendScore(dst, rk.Score)
		dst = append(dst, '\t')
		dst = append(dst, d.Text...)
		return append(dst, '\n')
	}
	values := [][]byte{strconv.AppendInt(nil, int64(rank), 10), strconv.AppendInt(nil, int64(rk.Index), 10), AppendJSONScore(nil, rk.Score)}
	if d.obj != nil {
		return append(d.obj.AppendWith(dst, rankKeys, values), '\n')
	}
	dst = fmt.Appendf(dst, `{"rank":%s,"index":%s,"score":%s,"text":`, values[0], values[1], values[2])
	dst = AppendJSONString(dst, d.Text)
	return append(dst, "}\n"...)
}

// ReadDocuments reads documents: non-blank lines of text, or with jsonl
// the "text" of JSON objects, one a line of at most maxLine bytes. A
// malformed line is an *InputError naming name and the line; with skip it is
// passed to onSkip, counted and skipped.
func ReadDocuments(r io.Reader, name string, jsonl bool, maxLine int, skip bool, onSkip func(error)) (docs []Document, skipped int, err error) {
	lr := NewLineReader(r, maxLine)
	for n := 1; ; n++ {
		line, err := lr.Next()
		var tooLong *LineTooLongError
		var d Document
		switch {
		case err == io.EOF:
			return docs, skipped, nil
		case errors.As(err, &tooLong):
		case err != nil:
			return nil, skipped, fmt.Errorf("read %s: %w", name, err)
		default:
			line = bytes.TrimRight(line, "\r")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			d, err = parseDocument(line, jsonl)
		}
		if err != nil {
			ie := &InputError{File: name, Line: n, Reason: err.Error()}
			if !skip {
				return nil, skipped, ie
			}
			skipped++
			onSkip(ie)
			continue
		}
		docs = append(docs, d)
	}
}

// parseDocument reads a text line, or a JSON object with a "text" string.
func parseDocument(line []byte, jsonl bool) (Document, error) {
	if !utf8.Valid(line) {
		return Document{}, errors.New("invalid UTF-8")
	}
	if !jsonl {
		return Document{Text: string(line)}, nil
	}
	obj, err := ParseObject(bytes.TrimRight(line, " \t"))
	if err != nil {
		return Document{}, err
	}
	raw, ok := obj.Fields["text"]
	if !ok {
		return Document{}, errors.New(`missing "text"`)
	}
	s, err := DecodeString(raw)
	if err != nil {
		return Document{}, fmt.Errorf(`"text" %v`, err)
	}
	return Document{Text: s, obj: obj}, nil
}
