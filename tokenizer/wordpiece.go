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
	normA, normB []normRune // the cursors' pending characters, one per side of a pair
	word         []byte
	pos          []int32 // byte index in word → index of its character in the word
	a, b         []token
	count        []token // tokens that are only counted (see compareLengths)
}

// chunkBytes is how much text a cursor normalizes at a time. Together with
// the word length limit it bounds the memory a text costs, whatever its size.
const chunkBytes = 4096

// cursor tokenizes one text a chunk at a time, so that a caller that needs
// only the first tokens (truncation) can stop early. Its output is exactly
// that of tokenizing the whole text at once:
//   - special tokens are matched at the same byte positions, on the whole
//     remaining text;
//   - a word cut by a chunk boundary is kept (in norm) until it ends;
//   - the normalizer's canonical-reordering state (runStart) is carried
//     over. Reordering moves only characters with a nonzero combining class,
//     and those are all word characters (TestNonStartersAreWordChars), so a
//     run being reordered always lies within the pending word.
type cursor struct {
	t    *Tokenizer
	text string
	i    int   // next byte of text to read
	idx  int32 // rune index of text[i:]
	// norm holds normalized characters not yet pre-tokenized: a word that the
	// next chunk may continue.
	norm     []normRune
	runStart int
	// long: the pending word already has more than maxWordChars characters,
	// so it is [UNK] however it goes on; norm holds only its first and last
	// characters (the [UNK]'s offsets), which keeps memory bounded.
	long bool
}

func (c *cursor) done() bool { return c.i >= len(c.text) }

// fill appends tokens to dst until the text ends or at least limit tokens
// have been appended (limit <= 0: the whole text).
func (c *cursor) fill(s *scratch, dst []token, limit int) []token {
	start := len(dst)
	for !c.done() && (limit <= 0 || len(dst)-start < limit) {
		dst = c.step(s, dst)
	}
	return dst
}

// step reads the next chunk of text, up to and including a special token.
func (c *cursor) step(s *scratch, dst []token) []token {
	t, text := c.t, c.text
	end := len(text)
	if end-c.i > chunkBytes {
		end = c.i + chunkBytes
		for end < len(text) && !utf8.RuneStart(text[end]) {
			end++
		}
	}
	for k := c.i; k < end; k++ {
		if !t.specialFirst[text[k]] {
			continue
		}
		if sp, ok := t.matchSpecial(text[k:]); ok {
			dst = c.feed(s, dst, text[c.i:k], true)
			dst = append(dst, token{id: sp.id, start: c.idx, end: c.idx + sp.runes})
			c.idx += sp.runes
			c.i = k + len(sp.content)
			return dst
		}
	}
	dst = c.feed(s, dst, text[c.i:end], end == len(text))
	c.i = end
	return dst
}

// feed normalizes piece (which holds no special token) after the pending
// characters, pre-tokenizes the result and word-pieces every word that is
// complete; final says that piece ends a run of text between special tokens.
func (c *cursor) feed(s *scratch, dst []token, piece string, final bool) []token {
	t := c.t
	c.norm, c.idx, c.runStart = t.norm.normalize(c.norm, piece, c.idx, c.runStart)
	buf := c.norm
	i := 0
	if c.long {
		j := 2 // buf[:2] are the first and last characters so far of the long word
		for j < len(buf) && buf[j].class == classWord {
			j++
		}
		if j == len(buf) && !final {
			buf[1] = buf[j-1]
			c.norm, c.runStart = buf[:2], 2
			return dst
		}
		dst = append(dst, token{id: t.wp.unkID, start: buf[0].orig, end: buf[j-1].orig + 1})
		c.long = false
		i = j
	}
	for i < len(buf) {
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
			if j == len(buf) && !final {
				return c.keepPending(dst, i)
			}
			dst = t.wordPieces(s, dst, buf[i:j])
			i = j
		}
	}
	c.norm, c.runStart = buf[:0], 0
	return dst
}

// keepPending moves the unfinished word norm[i:] to the front of norm.
func (c *cursor) keepPending(dst []token, i int) []token {
	n := copy(c.norm, c.norm[i:])
	c.norm, c.runStart = c.norm[:n], max(c.runStart-i, 0)
	if n > max(c.t.wp.maxWordChars, 2) {
		c.norm[1] = c.norm[n-1]
		c.norm, c.runStart, c.long = c.norm[:2], 2, true
	}
	return dst
}

// tokenize appends the tokens of text to dst: all of them when limit <= 0,
// else at least the first limit (or all, when there are fewer).
func (t *Tokenizer) tokenize(s *scratch, dst []token, text string, limit int) []token {
	c := cursor{t: t, text: text, norm: s.normA[:0]}
	dst = c.fill(s, dst, limit)
	s.normA = c.norm[:0]
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
