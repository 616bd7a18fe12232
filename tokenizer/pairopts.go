package tokenizer

import (
	"errors"
	"fmt"
)

// ErrTooLong is wrapped by the *TooLongError of a pair that PairOptions.Strict
// forbids cutting.
var ErrTooLong = errors.New("tokenizer: input too long")

// TooLongError says how long a pair was against the most it may be.
type TooLongError struct {
	Tokens, Max int // special tokens included
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("%v: %d tokens, at most %d allowed", ErrTooLong, e.Tokens, e.Max)
}

func (e *TooLongError) Unwrap() error { return ErrTooLong }

// PairOptions say how AppendPairIDsWith fits a pair into MaxLength. The zero
// value keeps every token.
type PairOptions struct {
	// MaxLength bounds the pair's tokens, special tokens included (<= 0: no
	// limit).
	MaxLength int
	// Truncation is the strategy for pairs over MaxLength.
	Truncation Truncation
	// FromLeft cuts each side's first tokens instead of its last
	// (Hugging Face's truncation_side="left").
	FromLeft bool
	// MaxSecond, when > 0, first cuts the second text to that many tokens
	// (a per-document budget), from the side FromLeft says.
	MaxSecond int
	// Strict refuses a pair over MaxLength (after MaxSecond) with a
	// *TooLongError instead of cutting it.
	Strict bool
}

// AppendPairIDsWith is AppendPairIDs with the options a server takes per
// request: truncation side, a cap on the second text, or no truncation.
func (t *Tokenizer) AppendPairIDsWith(ids, typeIDs []int32, a, b string, o PairOptions) ([]int32, []int32, error) {
	if o.Truncation != LongestFirst && o.Truncation != OnlySecond {
		return ids, typeIDs, fmt.Errorf("tokenizer: unknown truncation %d", int(o.Truncation))
	}
	if o.MaxLength > 0 && o.MaxLength < specialsPair {
		return ids, typeIDs, fmt.Errorf("%w: %d cannot hold the %d special tokens of a pair", ErrMaxLength, o.MaxLength, specialsPair)
	}
	if !o.Strict && !o.FromLeft && o.MaxSecond <= 0 {
		// Hugging Face's own truncation: tokenize only what it keeps.
		return t.AppendPairIDs(ids, typeIDs, a, b, o.MaxLength, o.Truncation)
	}
	// Cutting from the left, a per-document cap and an exact token count
	// for Strict need whole texts; the server's payload limit bounds them.
	s := t.getScratch()
	defer t.putScratch(s)
	s.a = t.tokenize(s, s.a[:0], a, 0)
	s.b = t.tokenize(s, s.b[:0], b, 0)
	ta, tb := s.a, s.b
	if o.MaxSecond > 0 && len(tb) > o.MaxSecond {
		tb = cut(tb, o.MaxSecond, o.FromLeft)
	}
	if n := len(ta) + len(tb) + specialsPair; o.MaxLength > 0 && n > o.MaxLength {
		if o.Strict {
			return ids, typeIDs, &TooLongError{Tokens: n, Max: o.MaxLength}
		}
		na, nb, err := truncatePair(len(ta), len(tb), o.MaxLength-specialsPair, o.Truncation)
		if err != nil {
			return ids, typeIDs, err
		}
		ta, tb = cut(ta, na, o.FromLeft), cut(tb, nb, o.FromLeft)
	}
	ids, typeIDs = t.appendPairIDs(ids, typeIDs, ta, tb)
	return ids, typeIDs, nil
}

// cut keeps n tokens of toks: the first n, or the last n from the left.
func cut(toks []token, n int, fromLeft bool) []token {
	if fromLeft {
		return toks[len(toks)-n:]
	}
	return toks[:n]
}
