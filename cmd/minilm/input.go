package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
)

// defaultMaxLine is --max-line-bytes' default: far beyond any real
// query/passage record, small enough that memory stays bounded on endless
// input such as /dev/zero.
const defaultMaxLine = 64 << 20

// input is one file (or stdin) to score.
type input struct {
	name    string // as printed in messages: the path, or "<stdin>"
	format  format
	r       io.Reader
	maxLine int // longest line (CSV: physical line) in bytes; 0: defaultMaxLine
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
	inputs []input
	i      int
	cur    recordSource
}

func newMultiSource(inputs []input) *multiSource { return &multiSource{inputs: inputs} }

func (m *multiSource) next() (*record, error) {
	for {
		if m.cur == nil {
			if m.i == len(m.inputs) {
				return nil, io.EOF
			}
			in := m.inputs[m.i]
			if in.format == formatCSV {
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
// skipped; they still count for line numbers. A line longer than the input's
// maxLine is a malformed record (skipped with --skip-invalid).
type lineSource struct {
	in    input
	index int
	lr    *lineReader
	line  int
	parse func([]byte, *record) error
}

func newLineSource(in input, index int) *lineSource {
	s := &lineSource{in: in, index: index, lr: newLineReader(in.r, in.maxLine), parse: parseJSONL}
	if in.format == formatTSV {
		s.parse = parseTSV
	}
	return s
}

func (s *lineSource) next() (*record, error) {
	for {
		line, err := s.lr.next()
		if err == io.EOF {
			return nil, io.EOF
		}
		var tooLong *lineTooLongError
		if err != nil && !errors.As(err, &tooLong) {
			return nil, fmt.Errorf("read %s: %w", s.in.name, err)
		}
		s.line++
		r := &record{format: s.in.format, input: s.index, end: s.lr.off, name: s.in.name, line: s.line}
		if tooLong != nil {
			r.err = &inputError{file: s.in.name, line: s.line, reason: tooLong.Error()}
			return r, nil
		}
		if s.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF")) // a byte order mark some editors write
		}
		if s.blank(line) {
			continue
		}
		if perr := s.parse(line, r); perr != nil {
			r.err = &inputError{file: s.in.name, line: s.line, reason: perr.Error()}
		}
		return r, nil
	}
}

// maxLineFlag is --max-line-bytes: a byte count, with an optional K, M or G
// suffix (binary: 1K = 1024; "KiB" and "KB" are read alike).
type maxLineFlag int

func (m *maxLineFlag) String() string {
	if m == nil || *m == 0 {
		return byteSize(defaultMaxLine)
	}
	return byteSize(int(*m))
}

func (m *maxLineFlag) Set(s string) error {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n < 1 || n > (1<<40)/mult {
		return fmt.Errorf("%q: want a size in bytes such as 65536, 64K or 64MiB", s)
	}
	*m = maxLineFlag(n * mult)
	return nil
}

// registerMaxLine adds --max-line-bytes to a command that reads lines.
func registerMaxLine(fs *flag.FlagSet, m *maxLineFlag) {
	fs.Var(m, "max-line-bytes", "longest input line (`SIZE` in bytes, or with a K, M or G suffix); a longer line is\nnot read into memory past SIZE and is an error naming FILE:LINE\n(score: skipped with --skip-invalid, except in CSV)")
}

// lineTooLongError is a line past the --max-line-bytes limit.
type lineTooLongError struct{ max int }

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("line longer than %s (--max-line-bytes)", byteSize(e.max))
}

// byteSize prints n in the largest binary unit that divides it.
func byteSize(n int) string {
	for _, u := range []struct {
		size int
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// lineReader reads lines of at most max bytes, each into a slice of its own
// (records keep their line: strings alias it), in memory that follows the
// line's length, not the input's. The line of a regular file is measured
// first and then read once into a slice of its exact size; from a stream it
// is gathered in pieces and joined, so it costs about twice its size at the
// peak. A line over max is dropped as soon as max is passed: it costs
// nothing more, and the next call skips its rest.
type lineReader struct {
	r    *bufio.Reader
	file io.ReaderAt // the input when it is a regular file, else nil
	max  int
	off  int64 // input offset just past what next returned
	skip bool  // the rest of a too-long line is still to be skipped
}

func newLineReader(r io.Reader, max int) *lineReader {
	if max <= 0 {
		max = defaultMaxLine
	}
	lr := &lineReader{r: bufio.NewReaderSize(r, 1<<16), max: max}
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && pos == 0 {
				lr.file = f
			}
		}
	}
	return lr
}

// next returns the next line without its "\n", io.EOF after the last, or a
// *lineTooLongError for a line longer than max.
func (lr *lineReader) next() ([]byte, error) {
	for lr.skip {
		b, err := lr.r.ReadSlice('\n')
		lr.off += int64(len(b))
		if err == bufio.ErrBufferFull {
			continue
		}
		lr.skip = false
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
	}
	start := lr.off
	b, err := lr.r.ReadSlice('\n')
	lr.off += int64(len(b))
	if err != bufio.ErrBufferFull {
		if len(b) == 0 && err != nil {
			return nil, err
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if n := contentLen(b); n > lr.max {
			return nil, &lineTooLongError{lr.max}
		}
		return bytes.Clone(bytes.TrimSuffix(b, []byte{'\n'})), nil
	}
	var pieces [][]byte
	if lr.file == nil {
		pieces = append(pieces, bytes.Clone(b))
	}
	total := len(b)
	for err == bufio.ErrBufferFull {
		if total > lr.max {
			lr.skip = true
			return nil, &lineTooLongError{lr.max}
		}
		b, err = lr.r.ReadSlice('\n')
		lr.off += int64(len(b))
		total += len(b)
		if lr.file == nil && len(b) > 0 {
			pieces = append(pieces, bytes.Clone(b))
		}
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if total-(len(b)-contentLen(b)) > lr.max {
		return nil, &lineTooLongError{lr.max}
	}
	line := make([]byte, total)
	if lr.file != nil {
		if _, err := lr.file.ReadAt(line, start); err != nil {
			return nil, err
		}
	} else {
		n := 0
		for i := range pieces {
			n += copy(line[n:], pieces[i])
			pieces[i] = nil // garbage as soon as copied
		}
	}
	return bytes.TrimSuffix(line, []byte{'\n'}), nil
}

// contentLen is the length of a line read with its "\n", without it.
func contentLen(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return len(b) - 1
	}
	return len(b)
}

// blank tells a line that holds no record: empty, or for JSONL only
// whitespace (in TSV a tab is an empty query and passage).
func (s *lineSource) blank(line []byte) bool {
	if s.in.format == formatJSONL {
		return len(bytes.TrimSpace(line)) == 0
	}
	return len(bytes.TrimRight(line, "\r")) == 0
}

// csvSource reads CSV whose first row names the columns; "query" and
// "passage" are required, other columns are kept.
type csvSource struct {
	in             input
	index          int
	r              *csv.Reader
	lim            *physicalLines
	started        bool
	query, passage int
	score          int // an existing "score" column, replaced; -1: one is appended
}

func newCSVSource(in input, index int) *csvSource {
	lim := &physicalLines{lr: newLineReader(in.r, in.maxLine)}
	r := csv.NewReader(lim)
	r.ReuseRecord = false
	return &csvSource{in: in, index: index, r: r, lim: lim, score: -1}
}

// physicalLines hands a CSV input to encoding/csv one physical line (as
// split by "\n", quoted or not) at a time, read by a lineReader, and fails
// at a line longer than max: encoding/csv itself would buffer a line of
// any length, growing its buffer as it goes.
type physicalLines struct {
	lr   *lineReader
	cur  []byte // what is left of the current line, "\n" included
	line int    // the current line's number
	err  *lineTooLongError
}

func (p *physicalLines) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	for len(p.cur) == 0 {
		line, err := p.lr.next()
		if err != nil {
			if errors.As(err, &p.err) {
				p.line++
			}
			return 0, err
		}
		p.line++
		p.cur = append(line, '\n')
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

func (s *csvSource) next() (*record, error) {
	fields, err := s.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	rec := &record{format: formatCSV, input: s.index, end: s.r.InputOffset(), name: s.in.name, col: s.score}
	if s.lim.err != nil {
		// Fatal even with --skip-invalid: where the next record starts is
		// unknown, as a quoted field may span lines.
		rec.line, rec.fatal = s.lim.line, true
		rec.err = &inputError{file: s.in.name, line: s.lim.line, reason: s.lim.err.Error() + "; a CSV input cannot go on past it"}
		return rec, nil
	}
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		reason := perr.Err.Error()
		if errors.Is(perr.Err, csv.ErrFieldCount) {
			reason = fmt.Sprintf("wrong column count: %d, want %d as in the header", len(fields), s.r.FieldsPerRecord)
		}
		rec.line = perr.StartLine
		rec.err = &inputError{file: s.in.name, line: perr.StartLine, reason: reason}
		if !s.started {
			rec.fatal = true // without a header nothing after it can be read
		}
		return rec, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.in.name, err)
	}
	line, _ := s.r.FieldPos(0)
	rec.line = line
	for i, f := range fields {
		if !utf8.ValidString(f) {
			rec.err = &inputError{file: s.in.name, line: line, reason: fmt.Sprintf("field %d: invalid UTF-8", i+1)}
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
			rec.err = usagef("%s: the CSV header must name a \"query\" and a \"passage\" column; it has %q", s.in.name, fields)
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
