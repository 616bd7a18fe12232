package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/loader"
	"github.com/minilm-dev/minilm/tokenizer"
)

const tokenizeAbout = `
Tokenize text as the model sees it (Hugging Face tokenizers' ids, exactly).

Input (FILE, or stdin when FILE is "-" or absent): JSON lines, each an object
with a "text" string, or "a" and "b" strings for a pair ([CLS] a [SEP] b
[SEP]), and an optional "max_length": an integer, or null for no truncation
(absent: the model's limit). Each line is written back with "ids",
"type_ids", "tokens" and "offsets" set, its other fields kept as they are.
Offsets are [start, end) character indices into the line's text (for a pair,
into its own side); special tokens added around the texts have [0, 0].
A bad line stops the run with status 2 after every line before it is written.

Example:
  echo '{"a":"what is go?","b":"Go is a language."}' | minilm tokenize`

func tokenizeCommand() command {
	return command{
		name:    "tokenize",
		summary: "show the token ids, tokens and offsets of texts and pairs",
		run:     runTokenize,
	}
}

func runTokenize(ctx context.Context, std stdio, args []string) int {
	var (
		model, truncate string
		maxLength       int
		offline         bool
	)
	spec := newFlagSpec("tokenize", "minilm tokenize [flags] [FILE|-]", tokenizeAbout)
	spec.fs.StringVar(&model, "model", defaultModel, "model `dir`ectory, or Hugging Face repo id (org/name[@revision]) looked up in the\nHugging Face cache and downloaded when missing")
	spec.fs.IntVar(&maxLength, "max-length", 0, fmt.Sprintf("truncate to `n` tokens, special tokens included, where a line has no \"max_length\":\n0 (the model's limit) or %d up to that limit, as score takes", engine.MinMaxLength))
	spec.fs.StringVar(&truncate, "truncate", "longest-first", "how pairs over max_length are cut: longest-first (like Hugging Face) or only-second")
	spec.fs.BoolVar(&offline, "offline", false, "never download: a repo id must already be in the Hugging Face cache (as HF_HUB_OFFLINE=1)")
	var maxLine maxLineFlag
	registerMaxLine(spec.fs, &maxLine)
	files, status, done := spec.parse(std, args)
	if done {
		return status
	}
	var tr tokenizer.Truncation
	var err error
	switch {
	case len(files) > 1:
		err = usagef("tokenize takes one FILE, got %d", len(files))
	case model == "":
		err = usagef("--model is empty")
	case truncate != "longest-first" && truncate != "only-second" || tr.UnmarshalText([]byte(truncate)) != nil:
		err = usagef("--truncate %q: want longest-first or only-second", truncate)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	name, in := "<stdin>", std.in
	if len(files) == 1 && files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			return exitWith(ctx, std, usagef("input %s: %v", files[0], unwrapPathError(err)))
		}
		defer f.Close()
		name, in = files[0], f
	}
	opts := engine.Options{Offline: offline}
	if std.errIsTerminal {
		opts.Progress = std.err // a first run may download the model
	}
	tok, maxLen, err := loadTokenizer(ctx, model, opts)
	if err == nil && maxLength != 0 {
		if err = engine.CheckMaxLength(maxLength, maxLen); err == nil {
			maxLen = maxLength
		}
	}
	if err != nil {
		return exitWith(ctx, std, modelError(err, model))
	}
	out := bufio.NewWriterSize(std.out, 1<<16)
	err = tokenizeLines(ctx, tok, maxLen, tr, name, in, out, int(maxLine))
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	return exitWith(ctx, std, err)
}

// loadTokenizer finds the model as engine.Load would (downloading it unless
// opts.Offline) and loads its tokenizer and its default max length:
// model_max_length capped by config.json's max_position_embeddings (0: no
// limit known).
func loadTokenizer(ctx context.Context, ref string, opts engine.Options) (*tokenizer.Tokenizer, int, error) {
	dir, err := engine.Resolve(ctx, ref, opts)
	if err != nil {
		return nil, 0, err
	}
	cfg, err := loader.ReadConfig(filepath.Join(dir, "config.json"))
	var topts tokenizer.Options
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, 0, err
	default:
		topts.VocabSize = cfg.VocabSize
	}
	tok, err := tokenizer.LoadWith(dir, topts)
	if err != nil {
		return nil, 0, err
	}
	maxLen := tok.ModelMaxLength()
	if cfg != nil {
		if p := cfg.MaxPositionEmbeddings; p > 0 && (maxLen == 0 || p < maxLen) {
			maxLen = p
		}
	}
	return tok, maxLen, nil
}

// tokenizeLines tokenizes every line of in and writes the results to out.
// Blank lines are skipped (they still count for line numbers).
func tokenizeLines(ctx context.Context, tok *tokenizer.Tokenizer, maxLen int, tr tokenizer.Truncation,
	name string, in io.Reader, out io.Writer, maxLine int) error {
	lr := newLineReader(in, maxLine)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := lr.next()
		var tooLong *lineTooLongError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &tooLong):
			return &inputError{file: name, line: lineNo, reason: tooLong.Error()}
		case err != nil:
			return fmt.Errorf("read %s: %w", name, err)
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 0 {
			buf, err = tokenizeLine(buf[:0], tok, maxLen, tr, line)
			if err != nil {
				return &inputError{file: name, line: lineNo, reason: err.Error()}
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
	obj, err := parseObject(line)
	if err != nil {
		return dst, err
	}
	enc, err := encodeFields(tok, maxLen, tr, obj.fields)
	if err != nil {
		return dst, err
	}
	values := [][]byte{
		appendInt32s(nil, enc.IDs),
		appendInt32s(nil, enc.TypeIDs),
		appendStrings(nil, enc.Tokens),
		appendOffsets(nil, enc.Offsets),
	}
	return append(obj.appendWith(dst, outputKeys, values), '\n'), nil
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
		s, derr := decodeString(text)
		if derr != nil {
			return nil, fmt.Errorf(`"text" %v`, derr)
		}
		enc, err = tok.Encode(s, maxLen)
	case hasA && hasB:
		sa, aerr := decodeString(a)
		if aerr != nil {
			return nil, fmt.Errorf(`"a" %v`, aerr)
		}
		sb, berr := decodeString(b)
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
	if k := jsonKind(raw); k != "a number" {
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
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xF])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}
