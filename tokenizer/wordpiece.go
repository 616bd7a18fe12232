package tokenizer

import "unicode/utf8"

// token is one piece of a tokenized text: its id and the span of original
// characters (runes) it covers.
type token struct {
	id         int32
	start, end int32
}

// special is a token written literally in the text (e.g. "[SEP]") that is
// matched before normalization, case-sensitively, even inside a word.
type special struct {
	content string
	id      int32
	runes   int32
}

// wordPiece is the greedy longest-match-first subword model.
type wordPiece struct {
	// vocab maps word-initial pieces; cont maps continuation pieces keyed
	// without their "##" prefix, so lookups need no string building.
	vocab, cont        vocabTable
	maxLen, maxContLen int // longest key in bytes: longer candidates cannot match
	unkID              int32
	maxWordChars       int
}

// scratch is the per-call working memory, pooled so that steady-state
// encoding does not allocate.
type scratch struct {
	norm []normRune
	word []byte
	pos  []int32 // byte index in word → index of its character in the word
	a, b []token
}

// tokenize appends the tokens of text to dst.
func (t *Tokenizer) tokenize(s *scratch, dst []token, text string) []token {
	var base int32 // rune index of text[start:]
	start := 0
	for i := 0; i < len(text); {
		c := text[i]
		if t.specialFirst[c] {
			if sp, ok := t.matchSpecial(text[i:]); ok {
				dst, base = t.tokenizePiece(s, dst, text[start:i], base)
				dst = append(dst, token{id: sp.id, start: base, end: base + sp.runes})
				base += sp.runes
				i += len(sp.content)
				start = i
				continue
			}
		}
		i++
	}
	dst, _ = t.tokenizePiece(s, dst, text[start:], base)
	return dst
}

// matchSpecial returns the longest special token that text starts with.
func (t *Tokenizer) matchSpecial(text string) (special, bool) {
	var best special
	found := false
	for _, sp := range t.specials {
		if len(sp.content) > len(best.content) && len(text) >= len(sp.content) && text[:len(sp.content)] == sp.content {
			best, found = sp, true
		}
	}
	return best, found
}

// tokenizePiece normalizes, pre-tokenizes and word-pieces text (which holds
// no special token); base is its rune index in the whole input. It returns
// the rune index just past text.
func (t *Tokenizer) tokenizePiece(s *scratch, dst []token, text string, base int32) ([]token, int32) {
	if text == "" {
		return dst, base
	}
	var end int32
	s.norm, end = t.norm.normalize(s.norm[:0], text, base)
	buf := s.norm
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
	return dst, end
}

// wordPieces appends the word-pieces of one pre-tokenized word.
func (t *Tokenizer) wordPieces(s *scratch, dst []token, w []normRune) []token {
	wp := &t.wp
	unk := token{id: wp.unkID, start: w[0].orig, end: w[len(w)-1].orig + 1}
	if len(w) > wp.maxWordChars {
		return append(dst, unk)
	}
	// pos maps byte indices of word to characters of w; it is only needed
	// (and only built) once a multi-byte character makes them differ.
	word, pos := s.word[:0], s.pos[:0]
	for k, c := range w {
		if c.r < utf8.RuneSelf {
			word = append(word, byte(c.r))
			if len(pos) > 0 {
				pos = append(pos, int32(k))
			}
			continue
		}
		if len(pos) == 0 {
			for i := range k {
				pos = append(pos, int32(i))
			}
		}
		n := len(word)
		word = utf8.AppendRune(word, c.r)
		for range len(word) - n {
			pos = append(pos, int32(k))
		}
	}
	s.word, s.pos = word, pos
	charAt := func(i int) int32 {
		if len(pos) == 0 {
			return w[i].orig
		}
		return w[pos[i]].orig
	}

	mark := len(dst)
	for start := 0; start < len(word); {
		vocab, maxLen := &wp.vocab, wp.maxLen
		if start > 0 {
			vocab, maxLen = &wp.cont, wp.maxContLen
		}
		end := len(word)
		if end-start > maxLen {
			end = start + maxLen
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		id, found := int32(0), false
		for end > start {
			if id, found = vocab.get(word[start:end]); found {
				break
			}
			end--
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		if !found {
			return append(dst[:mark], unk)
		}
		dst = append(dst, token{id: id, start: charAt(start), end: charAt(end-1) + 1})
		start = end
	}
	return dst
}
