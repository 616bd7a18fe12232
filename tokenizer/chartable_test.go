package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCharTable checks every Unicode scalar value against
// testdata/tokenizer/chartable.tsv.gz, which records what HF's BertNormalizer
// (uncased settings) and BertPreTokenizer do to each code point on its own.
// The table lists only code points that normalization changes or that the
// pre-tokenizer treats as space or punctuation; every other one must be
// kept unchanged as a word character.
func TestCharTable(t *testing.T) {
	type row struct{ norm, pretok string }
	table := make(map[rune]row)
	sc := gzipLines(t, "../testdata/tokenizer/chartable.tsv.gz")
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 3 {
			t.Fatalf("bad chartable line %q", line)
		}
		cp, err := strconv.ParseUint(fields[0], 16, 32)
		if err != nil {
			t.Fatalf("bad chartable line %q: %v", line, err)
		}
		table[rune(cp)] = row{fields[1], fields[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(table) < 200000 {
		t.Fatalf("chartable has %d rows, expected about 234,574", len(table))
	}

	n := newNormalizer(true, true, true, true)
	classNames := [...]string{classWord: "word", classSpace: "space", classPunct: "punct"}
	var buf []normRune
	var hex []string
	bad, checked := 0, 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue // surrogates cannot occur in a Go string
		}
		checked++
		want, listed := table[r]
		if !listed {
			want = row{fmt.Sprintf("%04X", r), "word"}
		}
		buf, _, _ = n.normalize(buf[:0], string(r), 0, 0)
		hex = hex[:0]
		for _, c := range buf {
			hex = append(hex, fmt.Sprintf("%04X", c.r))
			if c.orig != 0 {
				t.Errorf("U+%04X: normalized character aligned to %d, want 0", r, c.orig)
			}
		}
		got := strings.Join(hex, " ")
		if got == "" {
			got = "-"
		}
		gotClass := classNames[classOf(r)]
		if got != want.norm || gotClass != want.pretok {
			bad++
			if bad <= 20 {
				t.Errorf("U+%04X: normalized %s, pre-tokenizer %s; want %s, %s", r, got, gotClass, want.norm, want.pretok)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d code points differ", bad, checked)
	}
	t.Logf("%d code points checked", checked)
}
