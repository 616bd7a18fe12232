package tokenizer

import (
	"errors"
	"fmt"
	"strings"
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

// MarshalText writes the Hugging Face name (longest_first, only_second).
func (tr Truncation) MarshalText() ([]byte, error) {
	if tr != LongestFirst && tr != OnlySecond {
		return nil, fmt.Errorf("tokenizer: unknown truncation %v", tr)
	}
	return []byte(tr.String()), nil
}

// UnmarshalText reads longest_first or only_second, also spelled with a
// hyphen (longest-first) as command-line flags are.
func (tr *Truncation) UnmarshalText(b []byte) error {
	switch strings.ReplaceAll(string(b), "-", "_") {
	case "longest_first":
		*tr = LongestFirst
	case "only_second":
		*tr = OnlySecond
	default:
		return fmt.Errorf("tokenizer: unknown truncation %q (want longest_first or only_second)", b)
	}
	return nil
}

// ErrMaxLength is matched (errors.Is) by every *LengthError: a maximum
// length cannot hold the special tokens, or (OnlySecond) cannot be met by
// cutting the second text alone.
var ErrMaxLength = errors.New("max_length too small")

// LengthError says why a text or pair does not fit in MaxLength tokens, with
// the numbers a caller needs to say it in its own terms (flag names, "query").
type LengthError struct {
	MaxLength  int // the limit asked for, special tokens included
	Specials   int // special tokens it must hold: 2 for a text, 3 for a pair
	First      int // OnlySecond: tokens of the first text, which may not be cut; 0 otherwise
	Truncation Truncation
}

func (e *LengthError) Error() string {
	if e.First > 0 {
		return fmt.Sprintf("tokenizer: the first text is %d tokens, longer than max_length %d allows with %s truncation (at most %d: %d special tokens and one of the second text take the rest)",
			e.First, e.MaxLength, e.Truncation, e.MaxLength-e.Specials-1, e.Specials)
	}
	return fmt.Sprintf("tokenizer: max_length %d cannot hold the %d special tokens", e.MaxLength, e.Specials)
}

// Is makes errors.Is(err, ErrMaxLength) true.
func (e *LengthError) Is(target error) bool { return target == ErrMaxLength }

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
		return nil, &LengthError{MaxLength: maxLen, Specials: specialsSingle}
	}
	s := t.getScratch()
	defer t.putScratch(s)
	limit := 0
	if maxLen > 0 {
		limit = maxLen - specialsSingle
	}
	s.a = t.tokenize(s, s.a[:0], text, limit)
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

// pair tokenizes both sides into the scratch and truncates them. With a
// maximum length it tokenizes only as far as truncation can keep: budget+1
// tokens per side tell whether a side fits, which (with the longer side's
// identity, see compareLengths) is all truncatePair's result depends on.
func (t *Tokenizer) pair(s *scratch, a, b string, maxLen int, tr Truncation) ([]token, []token, error) {
	if tr != LongestFirst && tr != OnlySecond {
		return nil, nil, fmt.Errorf("tokenizer: unknown truncation %v", tr)
	}
	if maxLen > 0 && maxLen < specialsPair {
		return nil, nil, &LengthError{MaxLength: maxLen, Specials: specialsPair, Truncation: tr}
	}
	budget, limit := maxLen-specialsPair, 0
	if maxLen > 0 {
		limit = budget + 1
	}
	ca := cursor{t: t, text: a, norm: s.normA[:0]}
	cb := cursor{t: t, text: b, norm: s.normB[:0]}
	defer func() { s.normA, s.normB = ca.norm[:0], cb.norm[:0] }()
	s.a = ca.fill(s, s.a[:0], limit)
	s.b = cb.fill(s, s.b[:0], limit)
	if maxLen <= 0 {
		return s.a, s.b, nil
	}
	la, lb := len(s.a), len(s.b)
	if tr == LongestFirst && la > budget && lb > budget && budget%2 == 1 {
		la, lb = compareLengths(s, &ca, &cb, la, lb)
	}
	na, nb, err := truncatePair(la, lb, budget, tr)
	var le *LengthError
	if errors.As(err, &le) && le.First > 0 && !ca.done() {
		// The error names the first text's length: count the rest of it
		// (in bounded memory; this is the refusal path only).
		for !ca.done() {
			s.count = ca.step(s, s.count[:0])
			le.First += len(s.count)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return s.a[:na], s.b[:nb], nil
}

// compareLengths settles which side is longer when both exceed an odd
// budget, the one case where truncatePair needs more than "over budget":
// the odd token goes to the longer side. It counts on in lockstep from the
// la and lb tokens already read, so it costs about the shorter side's
// length, and returns counts that order the sides as their full lengths do.
func compareLengths(s *scratch, ca, cb *cursor, la, lb int) (int, int) {
	count := func(c *cursor, n *int) {
		s.count = c.step(s, s.count[:0])
		*n += len(s.count)
	}
	for {
		switch {
		case ca.done() && cb.done(),
			ca.done() && lb > la,
			cb.done() && la > lb:
			return la, lb
		case cb.done() || !ca.done() && la <= lb:
			count(ca, &la)
		default:
			count(cb, &lb)
		}
	}
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
			return 0, 0, &LengthError{MaxLength: budget + specialsPair, Specials: specialsPair, First: la, Truncation: tr}
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
