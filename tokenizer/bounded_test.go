package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// wholeTokens is the slow twin of cursor: it normalizes each run of text
// between special tokens in one piece and word-pieces it, as the tokenizer
// did before it read in chunks. The bounded, chunked tokenizer must produce
// exactly its tokens.
func wholeTokens(t *Tokenizer, text string) []token {
	s := &scratch{}
	var dst []token
	var base int32
	piece := func(p string) {
		if p == "" {
			return
		}
		var buf []normRune
		buf, base, _ = t.norm.normalize(nil, p, base, 0)
		for i := 0; i < len(buf); {
			switch buf[i].class {
			case classSpace:
				i++
			case classPunct:
				dst = t.wordPieces(s, dst, buf[i:i+1])
				i++
			default:
				j := i + 1
				for j < len(buf) && buf[j].class == classWord {
					j++
				}
				dst = t.wordPieces(s, dst, buf[i:j])
				i = j
			}
		}
	}
	start := 0
	for i := 0; i < len(text); {
		if sp, ok := t.matchSpecial(text[i:]); ok {
			piece(text[start:i])
			dst = append(dst, token{id: sp.id, start: base, end: base + sp.runes})
			base += sp.runes
			i += len(sp.content)
			start = i
			continue
		}
		i++
	}
	piece(text[start:])
	return dst
}

// hugeText builds a text of about n bytes from fragments that stress chunk
// boundaries: multi-byte characters, combining marks that canonical
// reordering moves, CJK, literal special tokens, words longer than the word
// limit (which a boundary cuts), control characters and invalid UTF-8.
func hugeText(rng *rand.Rand, n int) string {
	frags := []string{
		"hello ", "world", ", ", "Café au lait ", "naïve ", "x\u0301\u0316 ", "a\u0316\u0301",
		"\U0001D16D\u0301", "中文字符", "かな ", "한국어 ", "[SEP]", "[MASK]", "[CLS", "İstanbul ",
		"tab\tnew\nline ", "\x07", "\u200b", "\xff", "\xc3", "e\u0301", "\u0301\u0301\u0301",
		strings.Repeat("é", 150), strings.Repeat("ab", 60), strings.Repeat("\u0301", 300), " ",
		"supercalifragilisticexpialidocious ", "don't ", "$100.00 ", "e-mail ",
	}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(frags[rng.IntN(len(frags))])
	}
	return b.String()
}

// wantPair is what pair must return: both sides tokenized whole, then cut.
func wantPair(t *Tokenizer, a, b string, maxLen int, tr Truncation) ([]token, []token, error) {
	ta, tb := wholeTokens(t, a), wholeTokens(t, b)
	if maxLen <= 0 {
		return ta, tb, nil
	}
	na, nb, err := truncatePair(len(ta), len(tb), maxLen-specialsPair, tr)
	if err != nil {
		return nil, nil, err
	}
	return ta[:na], tb[:nb], nil
}

// TestBoundedMatchesWhole compares the chunked, early-stopping tokenizer
// with wholeTokens on texts many chunks long, at shifted offsets so that
// chunk boundaries fall everywhere, for both truncations and odd and even
// budgets (an odd one makes LongestFirst compare the full lengths). Exact:
// tokenization has no tolerance.
func TestBoundedMatchesWhole(t *testing.T) {
	for _, src := range []struct{ name, dir string }{
		{"tokenizer.json", tinyModel},
		{"vocab.txt", vocabOnlyDir(t)},
	} {
		t.Run(src.name, func(t *testing.T) {
			tok, err := Load(src.dir)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(17, 42))
			s := &scratch{}
			for iter := range 24 {
				a := strings.Repeat(" ", iter) + hugeText(rng, 1+rng.IntN(6*chunkBytes))
				b := strings.Repeat("x", iter%5) + hugeText(rng, 1+rng.IntN(6*chunkBytes))
				if got, want := tok.tokenize(s, nil, a, 0), wholeTokens(tok, a); !slices.Equal(got, want) {
					t.Fatalf("iteration %d: unbounded tokens differ from the whole-text tokens (%d vs %d)", iter, len(got), len(want))
				}
				for _, maxLen := range []int{0, 3, 4, 16, 511, 512} {
					for _, tr := range []Truncation{LongestFirst, OnlySecond} {
						ga, gb, gerr := tok.pair(s, a, b, maxLen, tr)
						wa, wb, werr := wantPair(tok, a, b, maxLen, tr)
						if (gerr != nil) != (werr != nil) || gerr != nil && gerr.Error() != werr.Error() || !slices.Equal(ga, wa) || !slices.Equal(gb, wb) {
							t.Fatalf("iteration %d, max_length %d, %v: got %d+%d tokens (%v), want %d+%d (%v)",
								iter, maxLen, tr, len(ga), len(gb), gerr, len(wa), len(wb), werr)
						}
					}
					enc, err := tok.Encode(a, maxLen)
					want := wholeTokens(tok, a)
					if maxLen > 0 {
						want = want[:min(len(want), maxLen-specialsSingle)]
					}
					if err != nil || len(enc.IDs) != len(want)+specialsSingle {
						t.Fatalf("iteration %d: Encode max_length %d: %d ids (%v), want %d", iter, maxLen, len(enc.IDs), err, len(want)+specialsSingle)
					}
					for i, tk := range want {
						if enc.IDs[i+1] != tk.id || enc.Offsets[i+1] != [2]int{int(tk.start), int(tk.end)} {
							t.Fatalf("iteration %d: Encode max_length %d: token %d differs", iter, maxLen, i)
						}
					}
				}
			}
		})
	}
}

// TestLongestFirstTieBreak pins the case where both sides exceed an odd
// budget: the longer side (the second on a tie) gets the odd token, so the
// bounded tokenizer must find out which side is longer.
func TestLongestFirstTieBreak(t *testing.T) {
	tok := loadTiny(t)
	word := func(n int) string { return strings.TrimSpace(strings.Repeat("hello ", n)) }
	for _, tc := range []struct {
		la, lb, wantA, wantB int
	}{
		{5000, 4000, 5, 4},
		{4000, 5000, 4, 5},
		{4000, 4000, 4, 5},
		{4001, 4000, 5, 4},
	} {
		enc, err := tok.EncodePair(word(tc.la), word(tc.lb), 12, LongestFirst)
		if err != nil {
			t.Fatal(err)
		}
		var na, nb int
		for i, typ := range enc.TypeIDs[1 : len(enc.TypeIDs)-1] {
			if enc.Tokens[i+1] == "[SEP]" {
				continue
			}
			if typ == 0 {
				na++
			} else {
				nb++
			}
		}
		if na != tc.wantA || nb != tc.wantB {
			t.Errorf("%d and %d words, max_length 12: kept %d and %d, want %d and %d", tc.la, tc.lb, na, nb, tc.wantA, tc.wantB)
		}
	}
}

// TestBoundedMemory is the reproducer of unbounded memory on long input:
// tokenizing every character of a text before truncating cost memory in
// proportion to the text (hundreds of megabytes for these 16 MiB). Cut to
// 512 tokens, a pair must cost what its first 512 tokens cost: no more
// allocation for the whole 16 MiB text than for its first 64 KiB (which
// hold well over 512 tokens), within one chunk's worth of slack.
func TestBoundedMemory(t *testing.T) {
	tok := loadTiny(t)
	rng := rand.New(rand.NewPCG(1, 2))
	huge := hugeText(rng, 16<<20)
	n := 64 << 10
	for !utf8.RuneStart(huge[n]) {
		n++
	}
	short := huge[:n]
	query := "what is a reranker?"
	allocs := func(f func()) uint64 {
		f() // warm the scratch pool
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const slack = 64 << 10
	for _, tc := range []struct {
		name  string
		query bool // the long text is the query
		tr    Truncation
	}{
		{"long passage", false, LongestFirst},
		{"long passage, only_second", false, OnlySecond},
		{"long query", true, LongestFirst},
	} {
		cost := func(text string) uint64 {
			a, b := query, text
			if tc.query {
				a, b = text, query
			}
			return allocs(func() {
				if ids, _, err := tok.AppendPairIDs(nil, nil, a, b, 512, tc.tr); err != nil || len(ids) != 512 {
					t.Fatalf("%s: %d ids, %v; want 512", tc.name, len(ids), err)
				}
			})
		}
		if h, s := cost(huge), cost(short); h > s+slack {
			t.Errorf("%s: a 512-token pair allocated %d bytes from %d bytes of text, %d from %d", tc.name, h, len(huge), s, len(short))
		}
	}
	cost := func(text string) uint64 {
		return allocs(func() {
			if enc, err := tok.Encode(text, 512); err != nil || len(enc.IDs) != 512 {
				t.Fatalf("Encode: %v; want 512 ids", err)
			}
		})
	}
	if h, s := cost(huge), cost(short); h > s+slack {
		t.Errorf("Encode: 512 tokens allocated %d bytes from %d bytes of text, %d from %d", h, len(huge), s, len(short))
	}
}

// TestNonStartersAreWordChars checks what the chunked tokenizer's exactness
// rests on: every character that canonical reordering can move (nonzero
// combining class, surviving accent stripping) is a word character, under
// every normalizer setting, so a reordered run never crosses a word
// boundary and lies within the word a cursor keeps pending.
func TestNonStartersAreWordChars(t *testing.T) {
	for _, lower := range []bool{false, true} {
		n := newNormalizer(true, true, true, lower)
		for r := rune(0); r <= utf8.MaxRune; r++ {
			if !utf8.ValidRune(r) {
				continue
			}
			var in [utf8.UTFMax]byte
			d := norm.NFD.Append(nil, in[:utf8.EncodeRune(in[:], r)]...)
			for len(d) > 0 {
				ccc := norm.NFD.Properties(d).CCC()
				dr, size := utf8.DecodeRune(d)
				d = d[size:]
				if ccc == 0 {
					continue
				}
				if c := classOf(dr); c != classWord {
					t.Fatalf("%U (from %U, combining class %d) has class %d", dr, r, ccc, c)
				}
				for _, o := range n.appendLower(nil, dr, 0) {
					if o.class != classWord {
						t.Fatalf("%U lowercased (from %U, combining class %d) has class %d", o.r, r, ccc, o.class)
					}
				}
			}
		}
	}
}

func ExampleTokenizer_Encode_bounded() {
	tok, err := Load(tinyModel)
	if err != nil {
		panic(err)
	}
	// A text of a million words costs no more than its first 8 tokens.
	enc, err := tok.Encode(strings.Repeat("hello world ", 1<<20), 8)
	if err != nil {
		panic(err)
	}
	fmt.Println(enc.Tokens)
	// Output: [[CLS] hello world hello world hello world [SEP]]
}
