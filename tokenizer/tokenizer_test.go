package tokenizer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestTruncatePair(t *testing.T) {
	tests := []struct {
		la, lb, budget int
		tr             Truncation
		wa, wb         int
	}{
		{3, 4, 10, LongestFirst, 3, 4},  // fits
		{3, 4, 7, LongestFirst, 3, 4},   // exact fit
		{2, 10, 6, LongestFirst, 2, 4},  // only the longer side is cut
		{10, 2, 6, LongestFirst, 4, 2},  // same, mirrored
		{10, 10, 7, LongestFirst, 3, 4}, // equal: the odd token goes to the second
		{12, 9, 7, LongestFirst, 4, 3},  // first longer: it gets the odd token
		{9, 12, 7, LongestFirst, 3, 4},  // second longer: it gets the odd token
		{9, 12, 8, LongestFirst, 4, 4},
		{5, 6, 8, LongestFirst, 4, 4}, // max(n1, budget-n1) overshoots: both halved
		{20, 30, 0, LongestFirst, 0, 0},
		{3, 10, 7, OnlySecond, 3, 4},
		{3, 10, 20, OnlySecond, 3, 10},
		{0, 10, 1, OnlySecond, 0, 1},
	}
	for _, tc := range tests {
		a, b, err := truncatePair(tc.la, tc.lb, tc.budget, tc.tr)
		if err != nil || a != tc.wa || b != tc.wb {
			t.Errorf("truncatePair(%d, %d, %d, %v) = %d, %d, %v; want %d, %d", tc.la, tc.lb, tc.budget, tc.tr, a, b, err, tc.wa, tc.wb)
		}
	}
	// only_second cannot leave the second text empty (as in HF).
	for _, tc := range [][3]int{{7, 3, 7}, {8, 3, 7}, {5, 2, 5}} {
		if _, _, err := truncatePair(tc[0], tc[1], tc[2], OnlySecond); !errors.Is(err, ErrMaxLength) {
			t.Errorf("truncatePair(%d, %d, %d, OnlySecond) error = %v, want ErrMaxLength", tc[0], tc[1], tc[2], err)
		}
	}
}

func TestMaxLengthErrors(t *testing.T) {
	tok := loadTiny(t)
	if _, err := tok.Encode("hello", 1); !errors.Is(err, ErrMaxLength) {
		t.Errorf("Encode max 1: error %v, want ErrMaxLength", err)
	}
	if enc, err := tok.Encode("hello world", 2); err != nil || len(enc.IDs) != 2 {
		t.Errorf("Encode max 2 = %v, %v; want [CLS] [SEP]", enc, err)
	}
	for _, tr := range []Truncation{LongestFirst, OnlySecond} {
		if _, err := tok.EncodePair("a", "b", 2, tr); !errors.Is(err, ErrMaxLength) {
			t.Errorf("EncodePair max 2 %v: error %v, want ErrMaxLength", tr, err)
		}
		if _, _, err := tok.AppendPairIDs(nil, nil, "a", "b", 1, tr); !errors.Is(err, ErrMaxLength) {
			t.Errorf("AppendPairIDs max 1 %v: error %v, want ErrMaxLength", tr, err)
		}
	}
	enc, err := tok.EncodePair("a b", "c d", 3, LongestFirst)
	if err != nil || !slices.Equal(enc.Tokens, []string{"[CLS]", "[SEP]", "[SEP]"}) {
		t.Errorf("EncodePair max 3 = %v, %v; want [CLS] [SEP] [SEP]", enc, err)
	}
	if _, err := tok.EncodePair("a b c", "d", 5, OnlySecond); !errors.Is(err, ErrMaxLength) {
		t.Errorf("EncodePair only_second with a too long query: error %v, want ErrMaxLength", err)
	}
	if _, err := tok.EncodePair("a", "b", 5, Truncation(7)); err == nil {
		t.Error("EncodePair with an unknown truncation: no error")
	}
}

func TestOnlySecond(t *testing.T) {
	tok := loadTiny(t)
	enc, err := tok.EncodePair("the quick brown fox", "jumps over the lazy dog", 9, OnlySecond)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[CLS]", "the", "quick", "brown", "fox", "[SEP]", "jumps", "over", "[SEP]"}
	if !slices.Equal(enc.Tokens, want) {
		t.Errorf("tokens %q, want %q", enc.Tokens, want)
	}
	if want := []int32{0, 0, 0, 0, 0, 0, 1, 1, 1}; !slices.Equal(enc.TypeIDs, want) {
		t.Errorf("type ids %v, want %v", enc.TypeIDs, want)
	}
	ids, types, err := tok.AppendPairIDs([]int32{42}, []int32{7}, "the quick brown fox", "jumps over the lazy dog", 9, OnlySecond)
	if err != nil || !slices.Equal(ids[1:], enc.IDs) || !slices.Equal(types[1:], enc.TypeIDs) || ids[0] != 42 || types[0] != 7 {
		t.Errorf("AppendPairIDs = %v %v %v; want the encoding appended after the existing elements", ids, types, err)
	}
}

// TestNormalizerFlags covers the cased and no-strip settings, which the
// uncased golden data cannot.
func TestNormalizerFlags(t *testing.T) {
	tests := []struct {
		clean, chinese, strip, lower bool
		in, want                     string
	}{
		{true, true, true, true, "Café İ", "cafe i"},
		{true, true, false, true, "Café İ", "café i\u0307"},
		{true, true, true, false, "Café İ", "Cafe I"},
		{true, true, false, false, "Café\u200b", "Café"},
		{false, true, false, false, "a\u200bb\tc", "a\u200bb\tc"},
		{true, false, true, true, "中文", "中文"},
		{true, true, true, true, "中文", " 中  文 "},
		{true, true, true, true, "\uF900", " \u8C48 "}, // compatibility ideograph decomposes
	}
	for _, tc := range tests {
		n := newNormalizer(tc.clean, tc.chinese, tc.strip, tc.lower)
		buf, _, _ := n.normalize(nil, tc.in, 0, 0)
		var got []rune
		for _, c := range buf {
			got = append(got, c.r)
		}
		if string(got) != tc.want {
			t.Errorf("normalize(%q) clean=%v chinese=%v strip=%v lower=%v = %q, want %q",
				tc.in, tc.clean, tc.chinese, tc.strip, tc.lower, string(got), tc.want)
		}
	}
}

// TestCanonicalOrder checks that accent stripping reorders surviving
// combining characters as NFD does, across original characters:
// U+1D165 (class 216) then U+1D16D (class 226) stay, reversed they swap.
func TestCanonicalOrder(t *testing.T) {
	n := newNormalizer(true, true, true, true)
	for _, tc := range []struct{ in, want string }{
		{"a\U0001D165\U0001D16D", "a\U0001D165\U0001D16D"},
		{"a\U0001D16D\U0001D165", "a\U0001D165\U0001D16D"},
		{"a\U0001D16D\u0301\U0001D165", "a\U0001D165\U0001D16D"}, // stripped mark inside the run
		{"a\U0001D16D\u0CBF\U0001D165", "a\U0001D16D\U0001D165"}, // class-0 mark ends the run
	} {
		buf, _, _ := n.normalize(nil, tc.in, 0, 0)
		var got []rune
		for _, c := range buf {
			got = append(got, c.r)
		}
		if string(got) != tc.want {
			t.Errorf("normalize(%+q) = %+q, want %+q", tc.in, string(got), tc.want)
		}
	}
}

func TestLongWord(t *testing.T) {
	tok := loadTiny(t)
	for _, n := range []int{99, 100, 101} {
		// "é" is two bytes but one character: the limit counts characters.
		word := ""
		for range n {
			word += "é"
		}
		enc, err := tok.Encode(word+" x", 0)
		if err != nil {
			t.Fatal(err)
		}
		isUnk := enc.Tokens[1] == "[UNK]" && enc.Offsets[1] == [2]int{0, n}
		if isUnk != (n > 100) {
			t.Errorf("%d-character word: tokens %q offsets %v", n, enc.Tokens[:3], enc.Offsets[:3])
		}
	}
}

func TestSpecialTokensLiteral(t *testing.T) {
	tok := loadTiny(t)
	enc, err := tok.Encode("x[MASK]y [mask] [SEP", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[CLS]", "x", "[MASK]", "y", "[", "mask", "]", "[", "sep", "[SEP]"}
	if !slices.Equal(enc.Tokens, want) {
		t.Errorf("tokens %q, want %q", enc.Tokens, want)
	}
	if enc.Offsets[2] != [2]int{1, 7} {
		t.Errorf("[MASK] offsets %v, want [1 7]", enc.Offsets[2])
	}
}

func TestConcurrent(t *testing.T) {
	tok := loadTiny(t)
	recs := readGolden(t)
	var pairs []goldenRecord
	for _, r := range recs {
		if r.Kind == "pair" {
			pairs = append(pairs, r)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			var ids, types []int32
			for i := g; i < len(pairs); i += 2 {
				r := pairs[i]
				maxLen := 0
				if r.MaxLength != nil {
					maxLen = *r.MaxLength
				}
				var err error
				ids, types, err = tok.AppendPairIDs(ids[:0], types[:0], r.A, r.B, maxLen, LongestFirst)
				if err != nil || !slices.Equal(ids, r.IDs) || !slices.Equal(types, r.TypeIDs) {
					errs <- fmt.Errorf("goroutine %d, pair %d: ids %v, err %v", g, i, ids, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty directory: no error")
	}
	for name, files := range map[string]map[string]string{
		"bad json":   {tokenizerJSON: `{"model":`},
		"bad config": {vocabTXT: "[UNK]\n[CLS]\n[SEP]\n", tokenizerConfig: `{"do_lower_case": "yes"}`},
		"bpe model":  {tokenizerJSON: `{"model":{"type":"BPE","vocab":{"a":0}}}`},
		"no unk in vocab": {tokenizerJSON: `{"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},
			"model":{"type":"WordPiece","unk_token":"<unk>","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2}}}`},
		"normalized added token": {tokenizerJSON: `{"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},
			"added_tokens":[{"id":3,"content":"<x>","normalized":true}],
			"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2}}}`},
		"other normalizer": {tokenizerJSON: `{"normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"BertPreTokenizer"},
			"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2}}}`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(writeDir(t, files)); err == nil {
				t.Error("no error")
			}
		})
	}
	t.Run("vocab only", func(t *testing.T) {
		tok, err := Load(writeDir(t, map[string]string{vocabTXT: "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\n"}))
		if err != nil {
			t.Fatal(err)
		}
		enc, err := tok.Encode("Hellos HELLO x", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []int32{2, 5, 6, 5, 1, 3}
		if !slices.Equal(enc.IDs, want) || tok.VocabSize() != 7 || tok.ModelMaxLength() != 0 {
			t.Errorf("ids %v vocab %d max %d; want %v, 7, 0", enc.IDs, tok.VocabSize(), tok.ModelMaxLength(), want)
		}
	})
}

func TestModelMaxLength(t *testing.T) {
	tok := loadTiny(t)
	if tok.ModelMaxLength() != 512 || tok.VocabSize() != 30522 {
		t.Errorf("ModelMaxLength %d VocabSize %d; want 512, 30522", tok.ModelMaxLength(), tok.VocabSize())
	}
}

// TestLengthErrorMessage checks that a length error carries its numbers for
// callers (errors.As) and says its context once.
func TestLengthErrorMessage(t *testing.T) {
	tok := loadTiny(t)
	_, err := tok.EncodePair("a b c", "d", 5, OnlySecond)
	var le *LengthError
	if !errors.As(err, &le) || le.First != 3 || le.MaxLength != 5 || le.Specials != 3 || le.Truncation != OnlySecond {
		t.Fatalf("EncodePair only_second = %v (%+v), want a *LengthError{First: 3, MaxLength: 5}", err, le)
	}
	want := "tokenizer: the first text is 3 tokens, longer than max_length 5 allows with only_second truncation (at most 1: "
	if !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "tokenizer:") != 1 {
		t.Errorf("message %q, want it to start %q and name the package once", err, want)
	}
	_, err = tok.Encode("a", 1)
	if err == nil || err.Error() != "tokenizer: max_length 1 cannot hold the 2 special tokens" {
		t.Errorf("Encode max 1: %v", err)
	}
}

func TestTruncationText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Truncation
	}{{"longest_first", LongestFirst}, {"longest-first", LongestFirst}, {"only_second", OnlySecond}, {"only-second", OnlySecond}} {
		var tr Truncation
		if err := tr.UnmarshalText([]byte(tc.in)); err != nil || tr != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.in, tr, err, tc.want)
		}
		if b, err := tc.want.MarshalText(); err != nil || string(b) != tc.want.String() {
			t.Errorf("MarshalText(%v) = %q, %v", tc.want, b, err)
		}
	}
	var tr Truncation
	if err := tr.UnmarshalText([]byte("middle")); err == nil || !strings.Contains(err.Error(), "longest_first or only_second") {
		t.Errorf("UnmarshalText(middle) = %v, want an error listing the strategies", err)
	}
	if _, err := Truncation(7).MarshalText(); err == nil {
		t.Error("MarshalText(Truncation(7)): no error")
	}
}
