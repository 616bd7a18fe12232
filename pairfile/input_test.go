package pairfile

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// longLines is JSONL with a line of n bytes (a passage of "x") between
// two short ones.
func longLines(n int) string {
	head := `{"query":"q","passage":"`
	return `{"query":"a","passage":"b"}` + "\n" +
		head + strings.Repeat("x", n-len(head)-2) + `"}` + "\n" +
		`{"query":"c","passage":"d"}` + "\n"
}

// readAll reads every record of one input, from a stream or (file) from a
// regular file holding the same text.
func readAll(t *testing.T, text string, fm Format, maxLine int, file bool) []*record {
	t.Helper()
	var r io.Reader = strings.NewReader(text)
	if file {
		p := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		r = f
	}
	src := newMultiSource([]Input{{Name: "in.jsonl", Format: fm, R: r, MaxLine: maxLine}})
	var recs []*record
	for {
		rec, err := src.next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		if rec.fatal {
			return recs
		}
	}
}

// TestMaxLineBytes is the reproducer of unbounded lines (a JSONL, TSV or
// CSV line of any length was read whole): past --max-line-bytes a line is a
// FILE:LINE error, and the lines after it are still read (skip-invalid),
// from a stream (gathered in pieces) and from a regular file (measured,
// then read once), both below and above the 64 KiB read buffer.
func TestMaxLineBytes(t *testing.T) {
	for _, file := range []bool{false, true} {
		for _, tc := range []struct {
			max, n int
		}{{1 << 10, 2 << 10}, {1 << 20, 2 << 20}, {100 << 10, 100<<10 + 1}} {
			recs := readAll(t, longLines(tc.n), JSONL, tc.max, file)
			if len(recs) != 3 || recs[0].err != nil || recs[2].err != nil || recs[2].line != 3 {
				t.Fatalf("file %v, max %d: %d records %+v", file, tc.max, len(recs), recs)
			}
			want := "in.jsonl:2: line longer than " + ByteSize(tc.max) + " (--max-line-bytes)"
			if recs[1].err == nil || recs[1].err.Error() != want {
				t.Errorf("file %v, max %d, line of %d: error %v, want %q", file, tc.max, tc.n, recs[1].err, want)
			}
			// At the limit exactly, the line is read, whole and right.
			recs = readAll(t, longLines(tc.max), JSONL, tc.max, file)
			if len(recs) != 3 || recs[1].err != nil || len(recs[1].pairs[0].Passage) != tc.max-26 || recs[2].line != 3 {
				t.Errorf("file %v: a line of exactly %d bytes: %+v", file, tc.max, recs[1].err)
			}
		}
	}
	tsv := "a\tb\n" + "q\t" + strings.Repeat("y", 5000) + "\nc\td"
	if recs := readAll(t, tsv, TSV, 4096, false); len(recs) != 3 || recs[1].err == nil || recs[2].pairs[0].Passage != "d" {
		t.Errorf("TSV: %+v", recs)
	}
	csv := "query,passage\na,b\n\"q\",\"" + strings.Repeat("z", 5000) + "\"\nc,d\n"
	recs := readAll(t, csv, CSV, 4096, false)
	if last := recs[len(recs)-1]; !last.fatal || last.err == nil || !strings.HasPrefix(last.err.Error(), "in.jsonl:3: line longer than 4 KiB") {
		t.Errorf("CSV: last record %+v, want a fatal in.jsonl:3 line-too-long error", last)
	}
}

// FuzzLineReader checks the bounded line reader against splitting the
// input at "\n": every line up to max bytes comes back whole, every longer
// one as a *LineTooLongError, from a stream and from a regular file.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint16(2), false)
	f.Add([]byte(strings.Repeat("x", 70000)+"\ny\n"), uint16(65535), true)
	f.Add([]byte("\n\n"), uint16(1), true)
	f.Fuzz(func(t *testing.T, data []byte, max uint16, file bool) {
		if max == 0 {
			return
		}
		if len(data) > 0 && file {
			// Repeat the input so that lines span the 64 KiB buffer.
			data = bytes.Repeat(data, 1+(100<<10)/len(data))
		}
		var r io.Reader = bytes.NewReader(data)
		if file {
			p := filepath.Join(t.TempDir(), "in")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			fh, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			r = fh
		}
		want := bytes.Split(data, []byte{'\n'})
		if len(want) > 0 && len(want[len(want)-1]) == 0 {
			want = want[:len(want)-1] // a final "\n" ends the last line
		}
		lr := NewLineReader(r, int(max))
		for i := 0; ; i++ {
			line, err := lr.Next()
			if err == io.EOF {
				if i != len(want) {
					t.Fatalf("%d lines, want %d", i, len(want))
				}
				return
			}
			if i >= len(want) {
				t.Fatalf("line %d beyond the %d of the input", i+1, len(want))
			}
			var tooLong *LineTooLongError
			switch {
			case len(want[i]) > int(max):
				if !errors.As(err, &tooLong) {
					t.Fatalf("line %d of %d bytes, max %d: %q, %v", i+1, len(want[i]), max, line, err)
				}
			case err != nil || !bytes.Equal(line, want[i]):
				t.Fatalf("line %d: %q, %v; want %q", i+1, line, err, want[i])
			}
		}
	})
}

// TestLongStreamedLines: lines from a stream longer than the reader's
// buffer come back whole, joined in memory or (past spillAt) through a
// temporary file, and a line past max is refused either way.
func TestLongStreamedLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	line := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(26))
		}
		return b
	}
	lines := [][]byte{line(10), line(100 << 10), line(300 << 10), {}, line(70 << 10), line(2 << 20), line(5)}
	data := append(bytes.Join(lines, []byte{'\n'}), '\n')
	for _, spillAt := range []int{0, 150 << 10, 1} {
		lr := NewLineReader(bytes.NewReader(data), 1<<20)
		lr.spillAt = spillAt
		for i, want := range lines {
			got, err := lr.Next()
			if len(want) > 1<<20 {
				var tooLong *LineTooLongError
				if !errors.As(err, &tooLong) {
					t.Fatalf("spillAt %d: line %d of %d bytes: %v, want a LineTooLongError", spillAt, i+1, len(want), err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("spillAt %d: line %d: %d bytes, %v; want %d bytes", spillAt, i+1, len(got), err, len(want))
			}
		}
		if _, err := lr.Next(); err != io.EOF {
			t.Fatalf("spillAt %d: after the last line: %v", spillAt, err)
		}
	}
}
