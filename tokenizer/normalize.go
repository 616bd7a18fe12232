package tokenizer

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Pre-tokenizer classes of a normalized character.
const (
	classWord uint8 = iota
	classSpace
	classPunct
)

// normRune is one character of normalized text and the index of the
// original character it came from (characters that normalization inserts
// share the index of the one they came from, as in HF's alignments).
type normRune struct {
	r     rune
	orig  int32
	class uint8
	ccc   uint8 // canonical combining class, only while reordering marks
}

// asciiRule is what normalization does to one ASCII byte, precomputed per
// tokenizer because it depends on the normalizer flags.
type asciiRule struct {
	keep  bool
	to    byte
	class uint8
}

// isControl is HF's clean_text deletion test (besides NUL and U+FFFD): the
// categories Cc, Cf, Co and Cs, except the whitespace controls.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if unicode.In(r, unicode.Cc, unicode.Co, unicode.Cs) {
		return true
	}
	return unicode.Is(unicode.Cf, r) && !unicode.Is(hfNotControl, r)
}

// isWhitespace matches Rust's char::is_whitespace (the White_Space property).
func isWhitespace(r rune) bool {
	return unicode.IsSpace(r)
}

// isPunct is BertPreTokenizer's split test: ASCII punctuation (which
// includes symbols such as $ + < = > ^ ` | ~) or Unicode P*.
func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
	}
	if unicode.Is(hfExtraPunct, r) {
		return true
	}
	return unicode.IsPunct(r) && !unicode.Is(hfNotPunct, r)
}

// isMark is the accent-stripping filter: nonspacing marks (Mn).
func isMark(r rune) bool {
	if unicode.Is(hfExtraMark, r) {
		return true
	}
	return unicode.Is(unicode.Mn, r) && !unicode.Is(hfNotMark, r)
}

// isCJK reports the ideograph blocks that BertNormalizer surrounds with
// spaces. These are HF's ranges, not the Unicode CJK blocks of today.
func isCJK(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

func classOf(r rune) uint8 {
	switch {
	case isWhitespace(r):
		return classSpace
	case isPunct(r):
		return classPunct
	}
	return classWord
}

// normalizer holds BertNormalizer's flags and the ASCII table they imply.
type normalizer struct {
	cleanText, chineseChars, stripAccents, lowercase bool
	ascii                                            [utf8.RuneSelf]asciiRule
}

func newNormalizer(cleanText, chineseChars, stripAccents, lowercase bool) normalizer {
	n := normalizer{cleanText: cleanText, chineseChars: chineseChars, stripAccents: stripAccents, lowercase: lowercase}
	for c := range utf8.RuneSelf {
		r := rune(c)
		rule := asciiRule{keep: true, to: byte(c)}
		if cleanText {
			if r == 0 || isControl(r) {
				rule.keep = false
			} else if isWhitespace(r) {
				rule.to = ' '
			}
		}
		if lowercase && 'A' <= rule.to && rule.to <= 'Z' {
			rule.to += 'a' - 'A'
		}
		rule.class = classOf(rune(rule.to))
		n.ascii[c] = rule
	}
	return n
}

// normalize appends the normalized characters of text to dst; base is the
// rune index of text within the whole input. runStart is where the current
// run of non-starters (ccc != 0) begins in dst, for canonical reordering
// across original characters: len(dst) for a fresh text, or what the
// previous call returned when text continues the text before it. It returns
// the rune index just past text and the new runStart.
func (n *normalizer) normalize(dst []normRune, text string, base int32, runStart int) ([]normRune, int32, int) {
	idx := base
	for i := 0; i < len(text); idx++ {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			if rule := n.ascii[c]; rule.keep {
				dst = append(dst, normRune{r: rune(rule.to), orig: idx, class: rule.class})
			}
			runStart = len(dst)
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		dst, runStart = n.normalizeRune(dst, r, idx, runStart)
	}
	return dst, idx, runStart
}

func (n *normalizer) normalizeRune(dst []normRune, r rune, idx int32, runStart int) ([]normRune, int) {
	if n.cleanText {
		if r == utf8.RuneError || isControl(r) {
			return dst, runStart
		}
		if isWhitespace(r) {
			dst = append(dst, normRune{r: ' ', orig: idx, class: classSpace})
			return dst, len(dst)
		}
	}
	cjk := n.chineseChars && isCJK(r)
	if cjk {
		dst = append(dst, normRune{r: ' ', orig: idx, class: classSpace})
		runStart = len(dst)
	}
	if n.stripAccents && !unicode.Is(hfNoDecompose, r) {
		var in [utf8.UTFMax]byte
		var out [4 * utf8.UTFMax * 4]byte
		d := norm.NFD.Append(out[:0], in[:utf8.EncodeRune(in[:], r)]...)
		for len(d) > 0 {
			props := norm.NFD.Properties(d)
			dr, size := utf8.DecodeRune(d)
			d = d[size:]
			ccc := props.CCC()
			if ccc == 0 {
				runStart = len(dst)
			}
			if isMark(dr) {
				continue
			}
			dst = n.appendLower(dst, dr, idx)
			if ccc != 0 {
				dst = reorderLast(dst, runStart, ccc)
			}
		}
	} else {
		dst = n.appendLower(dst, r, idx)
		runStart = len(dst)
	}
	if cjk {
		dst = append(dst, normRune{r: ' ', orig: idx, class: classSpace})
		runStart = len(dst)
	}
	return dst, runStart
}

// reorderLast moves the rune just appended (combining class ccc) back past
// kept marks of the current run with a higher class: NFD's stable canonical
// ordering, restricted to the characters that survive accent stripping.
// Alignments stay in place, as in HF, where the reordered output takes the
// original positions' alignments in sequence; offsets thus stay monotonic.
func reorderLast(dst []normRune, runStart int, ccc uint8) []normRune {
	last := len(dst) - 1
	dst[last].ccc = ccc
	for j := last; j > runStart && dst[j-1].ccc > ccc; j-- {
		a, b := &dst[j-1], &dst[j]
		a.r, b.r = b.r, a.r
		a.class, b.class = b.class, a.class
		a.ccc, b.ccc = b.ccc, a.ccc
	}
	return dst
}

func (n *normalizer) appendLower(dst []normRune, r rune, idx int32) []normRune {
	if n.lowercase {
		if r == 0x130 { // İ: the one unconditional one-to-two lowercase mapping
			return append(dst,
				normRune{r: 'i', orig: idx, class: classWord},
				normRune{r: 0x307, orig: idx, class: classOf(0x307)})
		}
		if l, ok := hfLower(r); ok {
			r = l
		} else {
			r = unicode.ToLower(r)
		}
	}
	return append(dst, normRune{r: r, orig: idx, class: classOf(r)})
}
