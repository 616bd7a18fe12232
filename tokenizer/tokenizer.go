package tokenizer

import (
	"errors"
	"fmt"
	"sync"
)

// Truncation is how a pair that exceeds the maximum length is cut.
type Truncation int

const (
	// LongestFirst cuts tokens from the longer side first, exactly as Hugging
	// Face tokenizers 0.22 does: when both sides must be cut, the odd token
	// left over goes to the longer side (to the second on a tie).
	LongestFirst Truncation = iota
	// OnlySecond cuts only the second text (the passage), never the query.
	OnlySecond
)

func (tr Truncation) String() string {
	switch tr {
	case LongestFirst:
		return "longest_first"
	case OnlySecond:
		return "only_second"
	}
	return fmt.Sprintf("Truncation(%d)", int(tr))
}

// ErrMaxLength is returned when a maximum length cannot hold the special
// tokens, or (OnlySecond) cannot be met by cutting the second text alone.
var ErrMaxLength = errors.New("tokenizer: max_length too small")

// Number of special tokens around one text ([CLS] a [SEP]) and a pair
// ([CLS] a [SEP] b [SEP]).
const (
	specialsSingle = 2
	specialsPair   = 3
)

// Tokenizer is a BERT WordPiece tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	norm           normalizer
	wp             wordPiece
	tokens         []string // id → token text
	specials       []special
	specialFirst   [256]bool // first bytes of the specials, to skip the rest fast
	clsID, sepID   int32
	modelMaxLength int
	pool           sync.Pool // *scratch
}

// Encoding is a tokenized text or pair with special tokens. Offsets are
// [start, end) character (rune) indices into the text each token came from
// (for a pair, into its own side); special tokens added around the texts
// have [0, 0].
type Encoding struct {
	IDs, TypeIDs []int32
	Tokens       []string
	Offsets      [][2]int
}

// VocabSize is one more than the largest token id.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// ModelMaxLength is tokenizer_config.json's model_max_length, or 0 when it
// is absent or a placeholder for "no limit".
func (t *Tokenizer) ModelMaxLength() int { return t.modelMaxLength }

func (t *Tokenizer) getScratch() *scratch {
	if s, ok := t.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

func (t *Tokenizer) putScratch(s *scratch) {
	s.a, s.b = s.a[:0], s.b[:0]
	t.pool.Put(s)
}

// Encode tokenizes one text as [CLS] text [SEP], cut to maxLen tokens
// (maxLen <= 0: no limit).
func (t *Tokenizer) Encode(text string, maxLen int) (*Encoding, error) {
	if maxLen > 0 && maxLen < specialsSingle {
		return nil, fmt.Errorf("%w: %d cannot hold the %d special tokens", ErrMaxLength, maxLen, specialsSingle)
	}
	s := t.getScratch()
	defer t.putScratch(s)
	s.a = t.tokenize(s, s.a[:0], text)
	a := s.a
	if maxLen > 0 && len(a) > maxLen-specialsSingle {
		a = a[:maxLen-specialsSingle]
	}
	enc := newEncoding(len(a) + specialsSingle)
	t.appendSpecial(enc, t.clsID, 0)
	t.appendTokens(enc, a, 0)
	t.appendSpecial(enc, t.sepID, 0)
	return enc, nil
}

// EncodePair tokenizes a pair as [CLS] a [SEP] b [SEP] with type ids 0 for
// the first part and 1 for the second, cut to maxLen tokens (maxLen <= 0: no
// limit) by the truncation strategy tr.
func (t *Tokenizer) EncodePair(a, b string, maxLen int, tr Truncation) (*Encoding, error) {
	s := t.getScratch()
	defer t.putScratch(s)
	ta, tb, err := t.pair(s, a, b, maxLen, tr)
	if err != nil {
		return nil, err
	}
	enc := newEncoding(len(ta) + len(tb) + specialsPair)
	t.appendSpecial(enc, t.clsID, 0)
	t.appendTokens(enc, ta, 0)
	t.appendSpecial(enc, t.sepID, 0)
	t.appendTokens(enc, tb, 1)
	t.appendSpecial(enc, t.sepID, 1)
	return enc, nil
}

// AppendPairIDs is EncodePair for the hot path: it appends the ids and type
// ids of the pair to ids and typeIDs and returns them, without allocating
// once the destination slices and the internal scratch have grown.
func (t *Tokenizer) AppendPairIDs(ids, typeIDs []int32, a, b string, maxLen int, tr Truncation) ([]int32, []int32, error) {
	s := t.getScratch()
	defer t.putScratch(s)
	ta, tb, err := t.pair(s, a, b, maxLen, tr)
	if err != nil {
		return ids, typeIDs, err
	}
	ids, typeIDs = t.appendPairIDs(ids, typeIDs, ta, tb)
	return ids, typeIDs, nil
}

// appendPairIDs appends [CLS] ta [SEP] tb [SEP] and its type ids.
func (t *Tokenizer) appendPairIDs(ids, typeIDs []int32, ta, tb []token) ([]int32, []int32) {
	ids = append(ids, t.clsID)
	for _, tok := range ta {
		ids = append(ids, tok.id)
	}
	ids = append(ids, t.sepID)
	for range len(ta) + 2 {
		typeIDs = append(typeIDs, 0)
	}
	for _, tok := range tb {
		ids = append(ids, tok.id)
	}
	ids = append(ids, t.sepID)
	for range len(tb) + 1 {
		typeIDs = append(typeIDs, 1)
	}
	return ids, typeIDs
}

// pair tokenizes both sides into the scratch and truncates them.
func (t *Tokenizer) pair(s *scratch, a, b string, maxLen int, tr Truncation) ([]token, []token, error) {
	if tr != LongestFirst && tr != OnlySecond {
		return nil, nil, fmt.Errorf("tokenizer: unknown truncation %d", int(tr))
	}
	if maxLen > 0 && maxLen < specialsPair {
		return nil, nil, fmt.Errorf("%w: %d cannot hold the %d special tokens of a pair", ErrMaxLength, maxLen, specialsPair)
	}
	s.a = t.tokenize(s, s.a[:0], a)
	s.b = t.tokenize(s, s.b[:0], b)
	if maxLen <= 0 {
		return s.a, s.b, nil
	}
	na, nb, err := truncatePair(len(s.a), len(s.b), maxLen-specialsPair, tr)
	if err != nil {
		return nil, nil, err
	}
	return s.a[:na], s.b[:nb], nil
}

// truncatePair returns how many tokens of each side to keep so that they
// fit in budget. LongestFirst reproduces tokenizers 0.22's
// truncate_encodings, including its arithmetic.
func truncatePair(la, lb, budget int, tr Truncation) (int, int, error) {
	if la+lb <= budget {
		return la, lb, nil
	}
	if tr == OnlySecond {
		remove := la + lb - budget
		if lb <= remove {
			return 0, 0, fmt.Errorf("%w: the first text has %d tokens, max_length leaves room for %d and only_second may not cut it",
				ErrMaxLength, la, budget)
		}
		return la, lb - remove, nil
	}
	n1, n2 := la, lb
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > budget {
		n2 = n1
	} else {
		n2 = max(n1, budget-n1)
	}
	if n1+n2 > budget {
		n1 = budget / 2
		n2 = n1 + budget%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return min(la, n1), min(lb, n2), nil
}

func newEncoding(n int) *Encoding {
	return &Encoding{
		IDs:     make([]int32, 0, n),
		TypeIDs: make([]int32, 0, n),
		Tokens:  make([]string, 0, n),
		Offsets: make([][2]int, 0, n),
	}
}

func (t *Tokenizer) appendSpecial(enc *Encoding, id, typeID int32) {
	enc.IDs = append(enc.IDs, id)
	enc.TypeIDs = append(enc.TypeIDs, typeID)
	enc.Tokens = append(enc.Tokens, t.tokens[id])
	enc.Offsets = append(enc.Offsets, [2]int{0, 0})
}

func (t *Tokenizer) appendTokens(enc *Encoding, toks []token, typeID int32) {
	for _, tok := range toks {
		enc.IDs = append(enc.IDs, tok.id)
		enc.TypeIDs = append(enc.TypeIDs, typeID)
		enc.Tokens = append(enc.Tokens, t.tokens[tok.id])
		enc.Offsets = append(enc.Offsets, [2]int{int(tok.start), int(tok.end)})
	}
}
