package pairfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
)

// Input is one file (or stdin) to score.
type Input struct {
	Name   string // as printed in messages: the path, or "<stdin>"
	Format Format
	R      io.Reader
}

// recordSource yields the records of the inputs in order. next returns
// io.EOF after the last one; any other error is a read failure. Malformed
// records are returned as records with err set, so that they reach the
// writer in order.
type recordSource interface {
	next() (*record, error)
}

// multiSource reads inputs one after the other.
type multiSource struct {
	inputs []Input
	i      int
	cur    recordSource
}

func newMultiSource(inputs []Input) *multiSource { return &multiSource{inputs: inputs} }

func (m *multiSource) next() (*record, error) {
	for {
		if m.cur == nil {
			if m.i == len(m.inputs) {
				return nil, io.EOF
			}
			in := m.inputs[m.i]
			if in.Format == CSV {
				m.cur = newCSVSource(in, m.i)
			} else {
				m.cur = newLineSource(in, m.i)
			}
			m.i++
		}
		r, err := m.cur.next()
		if err == io.EOF {
			m.cur = nil
			continue
		}
		return r, err
	}
}

// lineSource reads JSONL or TSV: one record per line. Blank lines are
// skipped; they still count for line numbers. Lines may be of any length.
type lineSource struct {
	in    Input
	index int
	r     *bufio.Reader
	line  int
	off   int64
	parse func([]byte, *record) error
}

func newLineSource(in Input, index int) *lineSource {
	s := &lineSource{in: in, index: index, r: bufio.NewReaderSize(in.R, 1<<16), parse: parseJSONL}
	if in.Format == TSV {
		s.parse = parseTSV
	}
	return s
}

func (s *lineSource) next() (*record, error) {
	for {
		line, err := s.r.ReadBytes('\n')
		if len(line) == 0 {
			if err == nil || err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("read %s: %w", s.in.Name, err)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", s.in.Name, err)
		}
		s.line++
		s.off += int64(len(line))
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if s.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF")) // a byte order mark some editors write
		}
		if s.blank(line) {
			continue
		}
		r := &record{format: s.in.Format, input: s.index, end: s.off, name: s.in.Name, line: s.line}
		if perr := s.parse(line, r); perr != nil {
			r.err = &InputError{File: s.in.Name, Line: s.line, Reason: perr.Error()}
		}
		return r, nil
	}
}

// blank tells a line that holds no record: empty, or for JSONL only
// whitespace (in TSV a tab is an empty query and passage).
func (s *lineSource) blank(line []byte) bool {
	if s.in.Format == JSONL {
		return len(bytes.TrimSpace(line)) == 0
	}
	return len(bytes.TrimRight(line, "\r")) == 0
}

// csvSource reads CSV whose first row names the columns; "query" and
// "passage" are required, other columns are kept.
type csvSource struct {
	in             Input
	index          int
	r              *csv.Reader
	started        bool
	query, passage int
	score          int // an existing "score" column, replaced; -1: one is appended
}

func newCSVSource(in Input, index int) *csvSource {
	r := csv.NewReader(in.R)
	r.ReuseRecord = false
	return &csvSource{in: in, index: index, r: r, score: -1}
}

func (s *csvSource) next() (*record, error) {
	fields, err := s.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	rec := &record{format: CSV, input: s.index, end: s.r.InputOffset(), name: s.in.Name, col: s.score}
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		reason := perr.Err.Error()
		if errors.Is(perr.Err, csv.ErrFieldCount) {
			reason = fmt.Sprintf("wrong column count: %d, want %d as in the header", len(fields), s.r.FieldsPerRecord)
		}
		rec.line = perr.StartLine
		rec.err = &InputError{File: s.in.Name, Line: perr.StartLine, Reason: reason}
		if !s.started {
			rec.fatal = true // without a header nothing after it can be read
		}
		return rec, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.in.Name, err)
	}
	line, _ := s.r.FieldPos(0)
	rec.line = line
	for i, f := range fields {
		if !utf8.ValidString(f) {
			rec.err = &InputError{File: s.in.Name, Line: line, Reason: fmt.Sprintf("field %d: invalid UTF-8", i+1)}
			rec.fatal = !s.started
			return rec, nil
		}
	}
	if !s.started {
		s.started = true
		if len(fields) > 0 {
			fields[0] = strings.TrimPrefix(fields[0], "\uFEFF")
		}
		s.query, s.passage = column(fields, "query"), column(fields, "passage")
		if s.query < 0 || s.passage < 0 {
			rec.err = &InputError{File: s.in.Name, Reason: fmt.Sprintf("the CSV header must name a \"query\" and a \"passage\" column; it has %q", fields)}
			rec.fatal = true
			return rec, nil
		}
		s.score = column(fields, "score")
		rec.fields, rec.header, rec.col = fields, true, s.score
		return rec, nil
	}
	rec.fields = fields
	rec.pairs = []engine.Pair{{Query: fields[s.query], Passage: fields[s.passage]}}
	rec.scores = make([]float32, 1)
	return rec, nil
}

// column finds a header column by name, ignoring case and surrounding spaces.
func column(header []string, name string) int {
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), name) {
			return i
		}
	}
	return -1
}
