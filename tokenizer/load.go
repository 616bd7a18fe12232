package tokenizer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/minilm-dev/minilm/internal/limitread"
)

// File names in a Hugging Face model directory.
const (
	tokenizerJSON    = "tokenizer.json"
	vocabTXT         = "vocab.txt"
	tokenizerConfig  = "tokenizer_config.json"
	specialTokensMap = "special_tokens_map.json"
)

// Size limits per kind of file, far above any BERT tokenizer's (the largest,
// multilingual BERT's, has a 1 MB vocab.txt and a 2.9 MB tokenizer.json) and
// far below what would exhaust memory: a file beyond its limit is refused
// before it is read, and a stream that grows past it is cut off there.
const (
	maxTokenizerJSON = 32 << 20
	maxVocabTXT      = 16 << 20
	maxSettingsJSON  = 1 << 20 // tokenizer_config.json, special_tokens_map.json
	maxVocabLine     = 1 << 10 // bytes in one vocab.txt token
)

// ErrBadFile marks a tokenizer file that is unreadable as one: too large,
// not UTF-8 text, malformed, empty, or missing a token the settings name.
var ErrBadFile = errors.New("bad tokenizer file")

// badFilef reports what is wrong with the file at path, wrapping ErrBadFile.
func badFilef(path, format string, args ...any) error {
	return fmt.Errorf("tokenizer: %s: %w: %s", path, ErrBadFile, fmt.Sprintf(format, args...))
}

// Options are checks against the model that the tokenizer belongs to.
type Options struct {
	// VocabSize is the number of rows of the model's word embedding table
	// (config.json's vocab_size); 0: unknown, not checked. Every token id
	// must index a row, so reading stops at the first token beyond it; and
	// a vocabulary covering less than 15/16 of the rows (more than any
	// padding of the table) belongs to another model, so it is refused.
	VocabSize int
}

// readLimited reads the file at path, refusing it (ErrBadFile) beyond limit
// bytes without reading past the limit.
func readLimited(path string, limit int64) ([]byte, error) {
	data, err := limitread.ReadFile(path, limit)
	var tl *limitread.TooLargeError
	switch {
	case errors.As(err, &tl):
		return nil, badFilef(path, "%v for a %s", tl, filepath.Base(path))
	case err != nil:
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return data, nil
}

// settings is everything Load gathers before building a Tokenizer.
type settings struct {
	vocab                                            map[string]int32
	unk, prefix, cls, sep                            string
	maxWordChars                                     int
	cleanText, chineseChars, lowercase, stripAccents bool
	specials                                         []special
	modelMaxLength                                   int
}

// Load reads the tokenizer of the model directory dir: tokenizer.json when
// present, else vocab.txt with tokenizer_config.json and
// special_tokens_map.json. model_max_length comes from tokenizer_config.json
// in both cases. It is LoadWith without checks against the model.
func Load(dir string) (*Tokenizer, error) {
	return LoadWith(dir, Options{})
}

// LoadWith is Load with the checks of opts. Files that are not a tokenizer
// (see ErrBadFile) are refused with an error naming the file.
func LoadWith(dir string, opts Options) (*Tokenizer, error) {
	cfg, err := readConfig(filepath.Join(dir, tokenizerConfig), filepath.Join(dir, specialTokensMap))
	if err != nil {
		return nil, err
	}
	var st settings
	path := filepath.Join(dir, tokenizerJSON)
	data, err := readLimited(path, maxTokenizerJSON)
	switch {
	case err == nil:
		st, err = parseTokenizerJSON(data, path)
		if err == nil && opts.VocabSize > 0 && len(st.vocab) > opts.VocabSize {
			err = badFilef(path, "%d tokens, more than the model's %d embedding rows", len(st.vocab), opts.VocabSize)
		}
	case errors.Is(err, fs.ErrNotExist):
		path = filepath.Join(dir, vocabTXT)
		st, err = fromVocabTXT(path, cfg, opts.VocabSize)
	}
	if err != nil {
		return nil, err
	}
	st.modelMaxLength = cfg.modelMaxLength()
	t, err := build(st)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w: %w", path, ErrBadFile, err)
	}
	if rows := opts.VocabSize; rows > 0 {
		if n := t.VocabSize(); n > rows {
			return nil, badFilef(path, "token ids reach %d, beyond the model's %d embedding rows", n-1, rows)
		} else if n < rows-rows/16 {
			return nil, badFilef(path, "%d tokens for the model's %d embedding rows: the vocabulary of another model?", n, rows)
		}
	}
	return t, nil
}

// tokenizerConfigFile is the part of tokenizer_config.json we use.
type tokenizerConfigFile struct {
	DoLowerCase          *bool             `json:"do_lower_case"`
	StripAccents         *bool             `json:"strip_accents"`
	TokenizeChineseChars *bool             `json:"tokenize_chinese_chars"`
	ModelMaxLength       *float64          `json:"model_max_length"`
	UnkToken             json.RawMessage   `json:"unk_token"`
	SepToken             json.RawMessage   `json:"sep_token"`
	PadToken             json.RawMessage   `json:"pad_token"`
	ClsToken             json.RawMessage   `json:"cls_token"`
	MaskToken            json.RawMessage   `json:"mask_token"`
	AdditionalSpecial    []json.RawMessage `json:"additional_special_tokens"`
	path                 string
}

// specialTokensFile is special_tokens_map.json: the special tokens'
// settings, which (as in transformers) override tokenizer_config.json's.
type specialTokensFile struct {
	UnkToken          json.RawMessage   `json:"unk_token"`
	SepToken          json.RawMessage   `json:"sep_token"`
	PadToken          json.RawMessage   `json:"pad_token"`
	ClsToken          json.RawMessage   `json:"cls_token"`
	MaskToken         json.RawMessage   `json:"mask_token"`
	AdditionalSpecial []json.RawMessage `json:"additional_special_tokens"`
}

// readConfig reads tokenizer_config.json and special_tokens_map.json; each
// may be absent.
func readConfig(path, mapPath string) (*tokenizerConfigFile, error) {
	cfg := &tokenizerConfigFile{path: path}
	data, err := readLimited(path, maxSettingsJSON)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := parseConfig(data, path, cfg); err != nil {
			return nil, err
		}
	}
	data, err = readLimited(mapPath, maxSettingsJSON)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cfg, nil
	case err != nil:
		return nil, err
	}
	return cfg, parseSpecialTokensMap(data, mapPath, cfg)
}

// parseConfig decodes tokenizer_config.json into cfg.
func parseConfig(data []byte, path string, cfg *tokenizerConfigFile) error {
	if err := json.Unmarshal(data, cfg); err != nil {
		return badFilef(path, "%v", err)
	}
	return nil
}

// parseSpecialTokensMap decodes special_tokens_map.json over cfg: the
// tokens it sets (not null) replace tokenizer_config.json's.
func parseSpecialTokensMap(data []byte, path string, cfg *tokenizerConfigFile) error {
	var m specialTokensFile
	if err := json.Unmarshal(data, &m); err != nil {
		return badFilef(path, "%v", err)
	}
	for _, f := range []struct{ src, dst *json.RawMessage }{
		{&m.UnkToken, &cfg.UnkToken},
		{&m.SepToken, &cfg.SepToken},
		{&m.PadToken, &cfg.PadToken},
		{&m.ClsToken, &cfg.ClsToken},
		{&m.MaskToken, &cfg.MaskToken},
	} {
		if len(*f.src) > 0 && !isNull(*f.src) {
			if _, err := tokenString(*f.src, ""); err != nil {
				return badFilef(path, "special token: %v", err)
			}
			*f.dst = *f.src
		}
	}
	if m.AdditionalSpecial != nil {
		cfg.AdditionalSpecial = m.AdditionalSpecial
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// modelMaxLength treats transformers' "no limit" placeholder (1e30) and
// other absurd values as absent.
func (c *tokenizerConfigFile) modelMaxLength() int {
	if c.ModelMaxLength == nil {
		return 0
	}
	v := *c.ModelMaxLength
	if v < 1 || v > math.MaxInt32 || v != math.Trunc(v) {
		return 0
	}
	return int(v)
}

// tokenString reads a special token setting written either as a string or
// as an AddedToken object {"content": ...}; def when absent or null.
func tokenString(raw json.RawMessage, def string) (string, error) {
	if len(raw) == 0 || isNull(raw) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	return obj.Content, nil
}

// fromVocabTXT builds the settings transformers' BertTokenizerFast
// converter would: clean_text on, the other flags from the config. The file
// must be UTF-8 text of one token a line, with the unknown, classifier and
// separator tokens among them; rows > 0 (see Options.VocabSize) stops reading
// at the first line beyond it.
func fromVocabTXT(path string, cfg *tokenizerConfigFile, rows int) (settings, error) {
	var st settings
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("tokenizer: no %s or %s: %w", tokenizerJSON, vocabTXT, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxVocabTXT {
		return st, badFilef(path, "%d bytes, more than the %d a vocab.txt may have", fi.Size(), int64(maxVocabTXT))
	}
	vocab, err := parseVocab(io.LimitReader(f, maxVocabTXT+1), path, rows)
	if err != nil {
		return st, err
	}
	st, err = settingsFromVocab(vocab, cfg)
	if err != nil {
		return st, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return st, nil
}

// settingsFromVocab completes the settings of a vocab.txt vocabulary (as
// parseVocab returns it) from the config. Its errors wrap ErrBadFile; the
// caller names the vocabulary file.
func settingsFromVocab(vocab map[string]int32, cfg *tokenizerConfigFile) (settings, error) {
	st := settings{vocab: vocab, prefix: "##", maxWordChars: 100, cleanText: true, chineseChars: true, lowercase: true}
	next := int32(len(st.vocab))
	for _, id := range st.vocab {
		next = max(next, id+1)
	}
	if cfg.DoLowerCase != nil {
		st.lowercase = *cfg.DoLowerCase
	}
	st.stripAccents = st.lowercase
	if cfg.StripAccents != nil {
		st.stripAccents = *cfg.StripAccents
	}
	if cfg.TokenizeChineseChars != nil {
		st.chineseChars = *cfg.TokenizeChineseChars
	}
	names := []struct {
		raw json.RawMessage
		def string
		dst *string
	}{
		{cfg.UnkToken, "[UNK]", &st.unk},
		{cfg.SepToken, "[SEP]", &st.sep},
		{cfg.PadToken, "[PAD]", nil},
		{cfg.ClsToken, "[CLS]", &st.cls},
		{cfg.MaskToken, "[MASK]", nil},
	}
	var contents []string
	for _, n := range names {
		s, err := tokenString(n.raw, n.def)
		if err != nil {
			return st, badFilef(cfg.path, "special token: %v", err)
		}
		if n.dst != nil {
			*n.dst = s
		}
		contents = append(contents, s)
	}
	for _, raw := range cfg.AdditionalSpecial {
		s, err := tokenString(raw, "")
		if err != nil {
			return st, badFilef(cfg.path, "additional_special_tokens: %v", err)
		}
		contents = append(contents, s)
	}
	for _, n := range []struct{ what, tok string }{{"unknown", st.unk}, {"classifier", st.cls}, {"separator", st.sep}} {
		if _, ok := st.vocab[n.tok]; !ok {
			return st, fmt.Errorf("%w: no line %q, the %s token %s names", ErrBadFile, n.tok, n.what, settingsName(cfg))
		}
	}
	for _, c := range contents {
		// transformers adds any other special token missing from the
		// vocabulary with a new id; the pad and mask tokens of some are.
		id, ok := st.vocab[c]
		if c == "" {
			continue
		}
		if !ok {
			id = next
			next++
			st.vocab[c] = id
		}
		st.specials = append(st.specials, special{content: c, id: id})
	}
	return st, nil
}

// settingsName names where the special tokens' names came from.
func settingsName(cfg *tokenizerConfigFile) string {
	if cfg.UnkToken == nil && cfg.ClsToken == nil && cfg.SepToken == nil {
		return "BERT's default"
	}
	return "the tokenizer settings"
}

// parseVocab reads vocab.txt: one token a line, the line number its id.
// transformers strips only the line ending, keeping other spaces; a repeated
// token takes its last line's id. Reading stops at the first line that is
// not UTF-8 text, is too long for a token, or (rows > 0) has an id beyond
// rows, and at more than maxVocabTXT bytes.
func parseVocab(r io.Reader, path string, rows int) (map[string]int32, error) {
	vocab := make(map[string]int32)
	br := bufio.NewReaderSize(r, 64<<10)
	var size int64
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(b) > maxVocabLine+2 {
			return nil, badFilef(path, "line %d is longer than %d bytes: not a vocabulary", line, maxVocabLine)
		}
		if err != nil && err != io.EOF {
			return nil, badFilef(path, "%v", err)
		}
		if size += int64(len(b)); size > maxVocabTXT {
			return nil, badFilef(path, "more than the %d bytes a vocab.txt may have", int64(maxVocabTXT))
		}
		if len(b) == 0 && err == io.EOF {
			break
		}
		tok := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if !utf8.ValidString(tok) || strings.IndexByte(tok, 0) >= 0 {
			return nil, badFilef(path, "line %d is not UTF-8 text: not a vocabulary", line)
		}
		if rows > 0 && line > rows {
			return nil, badFilef(path, "more than the model's %d embedding rows of tokens", rows)
		}
		vocab[tok] = int32(line - 1)
		if err == io.EOF {
			break
		}
	}
	if len(vocab) == 0 {
		return nil, badFilef(path, "empty: no tokens")
	}
	return vocab, nil
}

// tokenizerFile is the part of tokenizer.json we use.
type tokenizerFile struct {
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          *bool  `json:"clean_text"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          *bool  `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	PostProcessor *struct {
		Type string `json:"type"`
		// TemplateProcessing
		SpecialTokens map[string]struct {
			IDs []int32 `json:"ids"`
		} `json:"special_tokens"`
		// BertProcessing: [token, id]
		Sep []json.RawMessage `json:"sep"`
		Cls []json.RawMessage `json:"cls"`
	} `json:"post_processor"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int             `json:"max_input_chars_per_word"`
		Vocab                   map[string]int32 `json:"vocab"`
	} `json:"model"`
}

func parseTokenizerJSON(data []byte, path string) (settings, error) {
	var st settings
	var tf tokenizerFile
	if err := json.Unmarshal(data, &tf); err != nil {
		return st, badFilef(path, "%v", err)
	}
	if tf.Model.Type != "WordPiece" {
		return st, badFilef(path, "model type %q is not supported (want WordPiece)", tf.Model.Type)
	}
	if tf.Normalizer == nil || tf.Normalizer.Type != "BertNormalizer" {
		return st, badFilef(path, "normalizer is not supported (want BertNormalizer)")
	}
	if tf.PreTokenizer == nil || tf.PreTokenizer.Type != "BertPreTokenizer" {
		return st, badFilef(path, "pre_tokenizer is not supported (want BertPreTokenizer)")
	}
	if len(tf.Model.Vocab) == 0 {
		return st, badFilef(path, "empty model.vocab")
	}
	st.vocab = tf.Model.Vocab
	st.unk = tf.Model.UnkToken
	st.prefix = "##"
	if p := tf.Model.ContinuingSubwordPrefix; p != nil {
		st.prefix = *p
	}
	st.maxWordChars = 100
	if m := tf.Model.MaxInputCharsPerWord; m != nil {
		st.maxWordChars = *m
	}
	n := tf.Normalizer
	flag := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	st.cleanText = flag(n.CleanText, true)
	st.chineseChars = flag(n.HandleChineseChars, true)
	st.lowercase = flag(n.Lowercase, true)
	st.stripAccents = flag(n.StripAccents, st.lowercase)

	for _, at := range tf.AddedTokens {
		if at.Content == "" {
			continue
		}
		if at.Normalized || at.SingleWord || at.LStrip || at.RStrip {
			return st, badFilef(path, "added token %q: normalized, single_word, lstrip and rstrip are not supported", at.Content)
		}
		if at.ID < 0 {
			return st, badFilef(path, "added token %q has negative id %d", at.Content, at.ID)
		}
		st.specials = append(st.specials, special{content: at.Content, id: at.ID})
	}

	st.cls, st.sep = "[CLS]", "[SEP]"
	if pp := tf.PostProcessor; pp != nil {
		var err error
		switch pp.Type {
		case "TemplateProcessing":
			// The ids are resolved from the vocabulary below; only check
			// that the template names the BERT tokens.
			for _, name := range []string{"[CLS]", "[SEP]"} {
				if _, ok := pp.SpecialTokens[name]; !ok {
					err = badFilef(path, "post_processor lacks %s", name)
				}
			}
		case "BertProcessing":
			if st.cls, err = processorToken(pp.Cls); err == nil {
				st.sep, err = processorToken(pp.Sep)
			}
			if err != nil {
				err = fmt.Errorf("tokenizer: %s: post_processor: %w", path, err)
			}
		default:
			err = badFilef(path, "post_processor %q is not supported", pp.Type)
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func processorToken(pair []json.RawMessage) (string, error) {
	if len(pair) != 2 {
		return "", errors.New("BertProcessing token is not [token, id]")
	}
	var s string
	if err := json.Unmarshal(pair[0], &s); err != nil {
		return "", fmt.Errorf("BertProcessing token: %w", err)
	}
	return s, nil
}

// build checks the settings and derives the lookup structures. Its errors
// are for Load to prefix with the directory.
func build(st settings) (*Tokenizer, error) {
	t := &Tokenizer{
		norm: newNormalizer(st.cleanText, st.chineseChars, st.stripAccents, st.lowercase),
		wp:   wordPiece{maxWordChars: st.maxWordChars},
	}
	cont := make(map[string]int32)
	maxID := int32(-1)
	for tok, id := range st.vocab {
		if id < 0 {
			return nil, fmt.Errorf("token %q has negative id %d", tok, id)
		}
		maxID = max(maxID, id)
	}
	for _, sp := range st.specials {
		maxID = max(maxID, sp.id)
	}
	// Ids index a table; refuse files whose ids would make it absurdly
	// large for the number of tokens (vocab.txt cannot: ids are lines).
	if n := int64(len(st.vocab) + len(st.specials)); int64(maxID) >= 2*n+1024 {
		return nil, fmt.Errorf("token ids up to %d for %d tokens", maxID, n)
	}
	t.tokens = make([]string, maxID+1)
	for tok, id := range st.vocab {
		t.tokens[id] = tok
		t.wp.maxLen = max(t.wp.maxLen, len(tok))
		if rest, ok := strings.CutPrefix(tok, st.prefix); ok && rest != "" {
			cont[rest] = id
			t.wp.maxContLen = max(t.wp.maxContLen, len(rest))
		}
	}
	t.wp.vocab = newVocabTable(st.vocab)
	t.wp.cont = newVocabTable(cont)
	for _, sp := range st.specials {
		sp.runes = int32(utf8.RuneCountInString(sp.content))
		t.tokens[sp.id] = sp.content
		t.specials = append(t.specials, sp)
		t.specialFirst[sp.content[0]] = true
	}
	var err error
	lookup := func(name, what string) int32 {
		id, ok := st.vocab[name]
		for _, sp := range st.specials {
			if sp.content == name {
				id, ok = sp.id, true
			}
		}
		if !ok && err == nil {
			err = fmt.Errorf("%s token %q is not in the vocabulary", what, name)
		}
		return id
	}
	t.wp.unkID = lookup(st.unk, "unknown")
	t.clsID = lookup(st.cls, "classifier")
	t.sepID = lookup(st.sep, "separator")
	if err != nil {
		return nil, err
	}
	t.modelMaxLength = st.modelMaxLength
	return t, nil
}
