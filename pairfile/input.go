package pairfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
)

// DefaultMaxLine is --max-line-bytes' default: far beyond any real
// query/passage record, small enough that memory stays bounded on endless
// input such as /dev/zero.
const DefaultMaxLine = 64 << 20

// Input is one file (or stdin) to score.
type Input struct {
	Name    string // as printed in messages: the path, or "<stdin>"
	Format  Format
	R       io.Reader
	MaxLine int // longest line (CSV: physical line) in bytes; 0: DefaultMaxLine
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
// skipped; they still count for line numbers. A line longer than the input's
// maxLine is a malformed record (skipped with --skip-invalid).
type lineSource struct {
	in    Input
	index int
	lr    *LineReader
	line  int
	parse func([]byte, *record) error
}

func newLineSource(in Input, index int) *lineSource {
	s := &lineSource{in: in, index: index, lr: NewLineReader(in.R, in.MaxLine), parse: parseJSONL}
	if in.Format == TSV {
		s.parse = parseTSV
	}
	return s
}

func (s *lineSource) next() (*record, error) {
	for {
		line, err := s.lr.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		var tooLong *LineTooLongError
		if err != nil && !errors.As(err, &tooLong) {
			return nil, fmt.Errorf("read %s: %w", s.in.Name, err)
		}
		s.line++
		r := &record{format: s.in.Format, input: s.index, end: s.lr.off, name: s.in.Name, line: s.line}
		if tooLong != nil {
			r.err = &InputError{File: s.in.Name, Line: s.line, Reason: tooLong.Error()}
			return r, nil
		}
		if s.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF")) // a byte order mark some editors write
		}
		if s.blank(line) {
			continue
		}
		if perr := s.parse(line, r); perr != nil {
			r.err = &InputError{File: s.in.Name, Line: s.line, Reason: perr.Error()}
		}
		return r, nil
	}
}

// LineTooLongError is a line past the --max-line-bytes limit.
type LineTooLongError struct{ Max int }

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line longer than %s (--max-line-bytes)", ByteSize(e.Max))
}

// ByteSize prints n in the largest binary unit that divides it.
func ByteSize(n int) string {
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

// LineReader reads lines of at most max bytes, each into a slice of its own
// (records keep their line: strings alias it), in memory that follows the
// line's length, not the input's. The line of a regular file is measured
// first and then read once into a slice of its exact size; from a stream it
// is gathered in pieces and joined, or past spillLineAt in a temporary
// file read back once, so it costs about its own size at the peak. A line over max is dropped as soon as max is passed: it costs
// nothing more, and the next call skips its rest.
type LineReader struct {
	r    *bufio.Reader
	file io.ReaderAt // the input when it is a regular file, else nil
	max  int
	off  int64 // input offset just past what next returned
	skip bool  // the rest of a too-long line is still to be skipped
	// spillAt: a line from a stream longer than this many bytes is
	// gathered in a temporary file (0: never).
	spillAt int
}

// spillLineAt is where a streamed line moves from memory to a temporary
// file: joining pieces would cost twice the line.
const spillLineAt = 8 << 20

func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	lr := &LineReader{r: bufio.NewReaderSize(r, 1<<16), max: max, spillAt: spillLineAt}
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && pos == 0 {
				lr.file = f
			}
		}
	}
	return lr
}

// Next returns the next line without its "\n", io.EOF after the last, or a
// *LineTooLongError for a line longer than max.
func (lr *LineReader) Next() ([]byte, error) {
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
			return nil, &LineTooLongError{lr.max}
		}
		return bytes.Clone(bytes.TrimSuffix(b, []byte{'\n'})), nil
	}
	// From a stream, the line so far is kept in pieces; past spillAt bytes
	// it goes to an unlinked temporary file instead, read back at the end
	// into one slice of its exact size, so that a long line costs about its
	// own size in memory rather than twice that.
	var (
		pieces [][]byte
		spill  *os.File
	)
	defer func() {
		if spill != nil {
			spill.Close()
		}
	}()
	keep := func(b []byte) error {
		if lr.file != nil || len(b) == 0 {
			return nil
		}
		if spill == nil && lr.spillAt > 0 && piecesLen(pieces)+len(b) > lr.spillAt {
			if f, err := os.CreateTemp("", "minilm-line-*"); err == nil {
				os.Remove(f.Name()) // gone with the last descriptor
				spill = f
				for i, p := range pieces {
					if _, err := spill.Write(p); err != nil {
						return fmt.Errorf("spill a long line to %s: %w", os.TempDir(), err)
					}
					pieces[i] = nil
				}
				pieces = nil
			}
		}
		if spill != nil {
			if _, err := spill.Write(b); err != nil {
				return fmt.Errorf("spill a long line to %s: %w", os.TempDir(), err)
			}
			return nil
		}
		pieces = append(pieces, bytes.Clone(b))
		return nil
	}
	if err := keep(b); err != nil {
		return nil, err
	}
	total := len(b)
	for err == bufio.ErrBufferFull {
		if total > lr.max {
			lr.skip = true
			return nil, &LineTooLongError{lr.max}
		}
		b, err = lr.r.ReadSlice('\n')
		lr.off += int64(len(b))
		total += len(b)
		if kerr := keep(b); kerr != nil {
			return nil, kerr
		}
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if total-(len(b)-contentLen(b)) > lr.max {
		return nil, &LineTooLongError{lr.max}
	}
	line := make([]byte, total)
	switch {
	case lr.file != nil:
		if _, err := lr.file.ReadAt(line, start); err != nil {
			return nil, err
		}
	case spill != nil:
		if _, err := spill.ReadAt(line, 0); err != nil {
			return nil, fmt.Errorf("read back a long line spilled to %s: %w", os.TempDir(), err)
		}
	default:
		n := 0
		for i := range pieces {
			n += copy(line[n:], pieces[i])
			pieces[i] = nil // garbage as soon as copied
		}
	}
	return bytes.TrimSuffix(line, []byte{'\n'}), nil
}

func piecesLen(pieces [][]byte) int {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	return n
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
	lim            *physicalLines
	started        bool
	query, passage int
	score          int // an existing "score" column, replaced; -1: one is appended
}

func newCSVSource(in Input, index int) *csvSource {
	lim := &physicalLines{lr: NewLineReader(in.R, in.MaxLine)}
	r := csv.NewReader(lim)
	r.ReuseRecord = false
	return &csvSource{in: in, index: index, r: r, lim: lim, score: -1}
}

// physicalLines hands a CSV input to encoding/csv one physical line (as
// split by "\n", quoted or not) at a time, read by a lineReader, and fails
// at a line longer than max: encoding/csv itself would buffer a line of
// any length, growing its buffer as it goes.
type physicalLines struct {
	lr   *LineReader
	cur  []byte // what is left of the current line, "\n" included
	line int    // the current line's number
	err  *LineTooLongError
}

func (p *physicalLines) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	for len(p.cur) == 0 {
		line, err := p.lr.Next()
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
	rec := &record{format: CSV, input: s.index, end: s.r.InputOffset(), name: s.in.Name, col: s.score}
	if s.lim.err != nil {
		// Fatal even with --skip-invalid: where the next record starts is
		// unknown, as a quoted field may span lines.
		rec.line, rec.fatal = s.lim.line, true
		rec.err = &InputError{File: s.in.Name, Line: s.lim.line, Reason: s.lim.err.Error() + "; a CSV input cannot go on past it"}
		return rec, nil
	}
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
