package tokenizer

import (
	"errors"
	"slices"
	"testing"
)

func TestAppendPairIDsWith(t *testing.T) {
	tok := loadTiny(t)
	const a, b = "the quick brown fox", "jumps over the lazy dog"
	ids := func(tokens ...string) []int32 {
		out := make([]int32, len(tokens))
		for i, s := range tokens {
			enc, err := tok.Encode(s, 0)
			if err != nil || len(enc.IDs) != 3 {
				t.Fatalf("%q is not one token: %v %v", s, enc, err)
			}
			out[i] = enc.IDs[1]
		}
		return out
	}
	cases := []struct {
		name  string
		opts  PairOptions
		want  []int32
		types []int32
		err   error
	}{
		{"no limit", PairOptions{},
			ids("[CLS]", "the", "quick", "brown", "fox", "[SEP]", "jumps", "over", "the", "lazy", "dog", "[SEP]"),
			[]int32{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, nil},
		{"right, longest first", PairOptions{MaxLength: 9},
			ids("[CLS]", "the", "quick", "brown", "[SEP]", "jumps", "over", "the", "[SEP]"),
			[]int32{0, 0, 0, 0, 0, 1, 1, 1, 1}, nil},
		{"left, longest first", PairOptions{MaxLength: 9, FromLeft: true},
			ids("[CLS]", "quick", "brown", "fox", "[SEP]", "the", "lazy", "dog", "[SEP]"),
			[]int32{0, 0, 0, 0, 0, 1, 1, 1, 1}, nil},
		{"left, only second", PairOptions{MaxLength: 9, Truncation: OnlySecond, FromLeft: true},
			ids("[CLS]", "the", "quick", "brown", "fox", "[SEP]", "lazy", "dog", "[SEP]"),
			[]int32{0, 0, 0, 0, 0, 0, 1, 1, 1}, nil},
		{"second capped", PairOptions{MaxSecond: 2},
			ids("[CLS]", "the", "quick", "brown", "fox", "[SEP]", "jumps", "over", "[SEP]"),
			[]int32{0, 0, 0, 0, 0, 0, 1, 1, 1}, nil},
		{"second capped to fit, strict", PairOptions{MaxSecond: 2, MaxLength: 9, Strict: true},
			ids("[CLS]", "the", "quick", "brown", "fox", "[SEP]", "jumps", "over", "[SEP]"),
			[]int32{0, 0, 0, 0, 0, 0, 1, 1, 1}, nil},
		{"strict, too long", PairOptions{MaxLength: 9, Strict: true}, nil, nil, ErrTooLong},
		{"limit below the specials", PairOptions{MaxLength: 2}, nil, nil, ErrMaxLength},
	}
	for _, c := range cases {
		got, types, err := tok.AppendPairIDsWith(nil, nil, a, b, c.opts)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) || !slices.Equal(types, c.types) {
			t.Errorf("%s: %v %v %v, want %v %v", c.name, got, types, err, c.want, c.types)
		}
	}
	var le *TooLongError
	if _, _, err := tok.AppendPairIDsWith(nil, nil, a, b, PairOptions{MaxLength: 9, Strict: true}); !errors.As(err, &le) || le.Tokens != 12 || le.Max != 9 {
		t.Errorf("strict error %v, want a TooLongError of 12 tokens against 9", err)
	}
	// The default options agree with AppendPairIDs.
	want, wantTypes, _ := tok.AppendPairIDs(nil, nil, a, b, 9, LongestFirst)
	got, gotTypes, _ := tok.AppendPairIDsWith(nil, nil, a, b, PairOptions{MaxLength: 9})
	if !slices.Equal(got, want) || !slices.Equal(gotTypes, wantTypes) {
		t.Errorf("AppendPairIDsWith %v, AppendPairIDs %v", got, want)
	}
}
