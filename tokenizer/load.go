package tokenizer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// File names in a Hugging Face model directory.
const (
	tokenizerJSON   = "tokenizer.json"
	vocabTXT        = "vocab.txt"
	tokenizerConfig = "tokenizer_config.json"
)

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
// present, else vocab.txt with tokenizer_config.json. model_max_length comes
// from tokenizer_config.json in both cases.
func Load(dir string) (*Tokenizer, error) {
	cfg, err := readConfig(filepath.Join(dir, tokenizerConfig))
	if err != nil {
		return nil, err
	}
	var st settings
	path := filepath.Join(dir, tokenizerJSON)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		st, err = parseTokenizerJSON(data, path)
	case errors.Is(err, fs.ErrNotExist):
		st, err = fromVocabTXT(filepath.Join(dir, vocabTXT), cfg)
	default:
		err = fmt.Errorf("tokenizer: %w", err)
	}
	if err != nil {
		return nil, err
	}
	st.modelMaxLength = cfg.modelMaxLength()
	t, err := build(st)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", dir, err)
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

func readConfig(path string) (*tokenizerConfigFile, error) {
	cfg := &tokenizerConfigFile{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return cfg, nil
}

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
	if len(raw) == 0 || string(raw) == "null" {
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
// converter would: clean_text on, the other flags from the config.
func fromVocabTXT(path string, cfg *tokenizerConfigFile) (settings, error) {
	st := settings{prefix: "##", maxWordChars: 100, cleanText: true, chineseChars: true, lowercase: true}
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("tokenizer: no %s or %s: %w", tokenizerJSON, vocabTXT, err)
	}
	defer f.Close()
	st.vocab = make(map[string]int32)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var next int32
	for ; sc.Scan(); next++ {
		if next == math.MaxInt32 {
			return st, fmt.Errorf("tokenizer: %s: too many tokens", path)
		}
		// transformers strips only the line ending, keeping other spaces;
		// a repeated token takes its last line's id.
		st.vocab[strings.TrimRight(sc.Text(), "\r")] = next
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("tokenizer: %s: %w", path, err)
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
			return st, fmt.Errorf("tokenizer: %s: special token: %w", cfg.path, err)
		}
		if n.dst != nil {
			*n.dst = s
		}
		contents = append(contents, s)
	}
	for _, raw := range cfg.AdditionalSpecial {
		s, err := tokenString(raw, "")
		if err != nil {
			return st, fmt.Errorf("tokenizer: %s: additional_special_tokens: %w", cfg.path, err)
		}
		contents = append(contents, s)
	}
	for _, c := range contents {
		// transformers adds a special token missing from the vocabulary
		// with a new id; the pad and mask tokens of some vocabularies are.
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
		return st, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if tf.Model.Type != "WordPiece" {
		return st, fmt.Errorf("tokenizer: %s: model type %q is not supported (want WordPiece)", path, tf.Model.Type)
	}
	if tf.Normalizer == nil || tf.Normalizer.Type != "BertNormalizer" {
		return st, fmt.Errorf("tokenizer: %s: normalizer is not supported (want BertNormalizer)", path)
	}
	if tf.PreTokenizer == nil || tf.PreTokenizer.Type != "BertPreTokenizer" {
		return st, fmt.Errorf("tokenizer: %s: pre_tokenizer is not supported (want BertPreTokenizer)", path)
	}
	if len(tf.Model.Vocab) == 0 {
		return st, fmt.Errorf("tokenizer: %s: empty model.vocab", path)
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
			return st, fmt.Errorf("tokenizer: %s: added token %q: normalized, single_word, lstrip and rstrip are not supported", path, at.Content)
		}
		if at.ID < 0 {
			return st, fmt.Errorf("tokenizer: %s: added token %q has negative id %d", path, at.Content, at.ID)
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
					err = fmt.Errorf("tokenizer: %s: post_processor lacks %s", path, name)
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
			err = fmt.Errorf("tokenizer: %s: post_processor %q is not supported", path, pp.Type)
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
