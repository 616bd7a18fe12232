package pairfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/minilm-dev/minilm/tokenizer"
)

// Tokenize reads JSON lines from in, each an object with a "text", or "a"
// and "b" (a pair), and an optional "max_length" (an integer, or null for
// no limit; absent: maxLen), and writes each back to out with its "ids",
// "type_ids", "tokens" and "offsets" set, its other fields kept in place.
// Blank lines are skipped (they still count for line numbers); the first
// bad line stops it as an *InputError naming name and the line.
func Tokenize(ctx context.Context, tok *tokenizer.Tokenizer, maxLen int, tr tokenizer.Truncation,
	name string, in io.Reader, out io.Writer, maxLine int) error {
	lr := NewLineReader(in, maxLine)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := lr.Next()
		var tooLong *LineTooLongError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &tooLong):
			return &InputError{File: name, Line: lineNo, Reason: tooLong.Error()}
		case err != nil:
			return fmt.Errorf("read %s: %w", name, err)
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 0 {
			buf, err = tokenizeLine(buf[:0], tok, maxLen, tr, line)
			if err != nil {
				return &InputError{File: name, Line: lineNo, Reason: err.Error()}
			}
			if _, err := out.Write(buf); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
	}
}

// outputKeys are the fields tokenize sets, in the order it appends them.
var outputKeys = []string{"ids", "type_ids", "tokens", "offsets"}

// tokenizeLine appends the output line for one input line (a JSON object):
// the object with the output fields' values replaced where it has them and
// appended at the end where it does not.
func tokenizeLine(dst []byte, tok *tokenizer.Tokenizer, maxLen int, tr tokenizer.Truncation, line []byte) ([]byte, error) {
	obj, err := ParseObject(line)
	if err != nil {
		return dst, err
	}
	enc, err := encodeFields(tok, maxLen, tr, obj.Fields)
	if err != nil {
		return dst, err
	}
	values := [][]byte{
		appendInt32s(nil, enc.IDs),
		appendInt32s(nil, enc.TypeIDs),
		appendStrings(nil, enc.Tokens),
		appendOffsets(nil, enc.Offsets),
	}
	return append(obj.AppendWith(dst, outputKeys, values), '\n'), nil
}

// encodeFields tokenizes the "text", or "a" and "b", of one object.
func encodeFields(tok *tokenizer.Tokenizer, maxLen int, tr tokenizer.Truncation, fields map[string]json.RawMessage) (*tokenizer.Encoding, error) {
	if raw, ok := fields["max_length"]; ok {
		switch {
		case string(raw) == "null":
			maxLen = 0
		default:
			n, err := strconv.Atoi(string(raw))
			if err != nil {
				return nil, fmt.Errorf(`"max_length" is %s, not an integer or null`, jsonKindOrValue(raw))
			}
			if n < 1 {
				return nil, fmt.Errorf(`"max_length" %d: must be positive (or null for no limit)`, n)
			}
			maxLen = n
		}
	}
	text, hasText := fields["text"]
	a, hasA := fields["a"]
	b, hasB := fields["b"]
	var enc *tokenizer.Encoding
	var err error
	switch {
	case hasText && (hasA || hasB):
		return nil, errors.New(`both "text" and "a"/"b"; give one`)
	case hasText:
		s, derr := DecodeString(text)
		if derr != nil {
			return nil, fmt.Errorf(`"text" %v`, derr)
		}
		enc, err = tok.Encode(s, maxLen)
	case hasA && hasB:
		sa, aerr := DecodeString(a)
		if aerr != nil {
			return nil, fmt.Errorf(`"a" %v`, aerr)
		}
		sb, berr := DecodeString(b)
		if berr != nil {
			return nil, fmt.Errorf(`"b" %v`, berr)
		}
		enc, err = tok.EncodePair(sa, sb, maxLen, tr)
	case hasA:
		return nil, errors.New(`"a" without "b"`)
	case hasB:
		return nil, errors.New(`"b" without "a"`)
	default:
		return nil, errors.New(`missing "text" (or "a" and "b")`)
	}
	var le *tokenizer.LengthError
	if errors.As(err, &le) && le.First > 0 {
		return nil, fmt.Errorf(`"a" is %d tokens, longer than max_length %d allows with --truncate only-second (at most %d)`,
			le.First, le.MaxLength, le.MaxLength-le.Specials-1)
	}
	if errors.As(err, &le) {
		return nil, fmt.Errorf("max_length %d cannot hold the %d special tokens", le.MaxLength, le.Specials)
	}
	if err != nil {
		return nil, err
	}
	return enc, nil
}

// jsonKindOrValue names a non-integer max_length: the number itself when it
// is one (1.5, 1e3), else its JSON type.
func jsonKindOrValue(raw json.RawMessage) string {
	if k := JSONKind(raw); k != "a number" {
		return k
	}
	return string(raw)
}

func appendInt32s(dst []byte, v []int32) []byte {
	dst = append(dst, '[')
	for i, x := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(x), 10)
	}
	return append(dst, ']')
}

func appendOffsets(dst []byte, v [][2]int) []byte {
	dst = append(dst, '[')
	for i, o := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(o[0]), 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, int64(o[1]), 10)
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

// appendStrings writes tokens as a JSON array of strings, without the HTML
// escaping of encoding/json (tokens such as "<" and "&" stay readable).
func appendStrings(dst []byte, v []string) []byte {
	dst = append(dst, '[')
	for i, s := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, s)
	}
	return append(dst, ']')
}
