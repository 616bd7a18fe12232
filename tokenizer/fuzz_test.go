package tokenizer

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"",
	"Hello, world!",
	"Café au lait, naïve résumé",
	"[CLS] hello [SEP] world [SEP]",
	"foo[SEP]bar[MASK",
	"İstanbul ǅ Ǆ ǆ",
	"中文字符 and かな 한국어",
	"tab\there\x07bell\u200bzero\u00adsoft\ufeffbom",
	"a\U0001D16D\u0301\U0001D165 x\u0301\u0316",
	"\xff\xfe invalid \xc3",
	"supercalifragilisticexpialidocioussupercalifragilisticexpialidocioussupercalifragilisticexpialidociousx",
}

// checkEncoding verifies the invariants every encoding must satisfy.
func checkEncoding(t *testing.T, tok *Tokenizer, enc *Encoding, maxLen int, texts ...string) {
	t.Helper()
	n := len(enc.IDs)
	if len(enc.TypeIDs) != n || len(enc.Tokens) != n || len(enc.Offsets) != n {
		t.Fatalf("lengths differ: ids %d, types %d, tokens %d, offsets %d", n, len(enc.TypeIDs), len(enc.Tokens), len(enc.Offsets))
	}
	if maxLen > 0 && n > maxLen {
		t.Fatalf("%d tokens, max_length %d", n, maxLen)
	}
	if n < len(texts)+1 || enc.IDs[0] != tok.clsID || enc.IDs[n-1] != tok.sepID {
		t.Fatalf("not framed by [CLS] ... [SEP]: %v", enc.IDs)
	}
	prevType := int32(0)
	for i, id := range enc.IDs {
		if id < 0 || int(id) >= tok.VocabSize() {
			t.Fatalf("id %d out of range [0, %d)", id, tok.VocabSize())
		}
		if enc.Tokens[i] != tok.tokens[id] {
			t.Fatalf("token %q for id %d", enc.Tokens[i], id)
		}
		typ := enc.TypeIDs[i]
		if typ < prevType || int(typ) >= len(texts) {
			t.Fatalf("type ids %v not 0...0 1...1", enc.TypeIDs)
		}
		prevType = typ
		// Each side's offsets index its own text; the type id says which.
		off := enc.Offsets[i]
		if limit := utf8.RuneCountInString(texts[typ]); off[0] < 0 || off[1] > limit || off[0] > off[1] {
			t.Fatalf("offsets %v outside text %d (%d characters)", off, typ, limit)
		}
	}
}

func FuzzEncode(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint16(i*7))
	}
	tok := loadTiny(f)
	f.Fuzz(func(t *testing.T, text string, ml uint16) {
		maxLen := int(ml % 600)
		enc, err := tok.Encode(text, maxLen)
		if maxLen == 1 {
			if !errors.Is(err, ErrMaxLength) {
				t.Fatalf("max_length 1: error %v, want ErrMaxLength", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkEncoding(t, tok, enc, maxLen, text)
	})
}

func FuzzEncodePair(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, fuzzSeeds[(i+3)%len(fuzzSeeds)], uint16(i*5), i%2 == 0)
	}
	tok := loadTiny(f)
	f.Fuzz(func(t *testing.T, a, b string, ml uint16, onlySecond bool) {
		maxLen := int(ml % 600)
		tr := LongestFirst
		if onlySecond {
			tr = OnlySecond
		}
		enc, err := tok.EncodePair(a, b, maxLen, tr)
		ids, types, err2 := tok.AppendPairIDs(nil, nil, a, b, maxLen, tr)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("EncodePair error %v, AppendPairIDs error %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrMaxLength) || maxLen == 0 || (maxLen >= 3 && !onlySecond) {
				t.Fatalf("max_length %d only_second %v: unexpected error %v", maxLen, onlySecond, err)
			}
			return
		}
		checkEncoding(t, tok, enc, maxLen, a, b)
		if !slices.Equal(ids, enc.IDs) || !slices.Equal(types, enc.TypeIDs) {
			t.Fatalf("AppendPairIDs %v %v differs from EncodePair %v %v", ids, types, enc.IDs, enc.TypeIDs)
		}
	})
}

// FuzzParseTokenizerJSON feeds arbitrary tokenizer.json contents to the
// loader: it must fail cleanly or give a tokenizer that encodes.
func FuzzParseTokenizerJSON(f *testing.F) {
	f.Add([]byte(`{"added_tokens":[{"id":1,"content":"[CLS]","special":true},{"id":2,"content":"[SEP]"}],
		"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
		"pre_tokenizer":{"type":"BertPreTokenizer"},
		"post_processor":{"type":"BertProcessing","sep":["[SEP]",2],"cls":["[CLS]",1]},
		"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
		"vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"a":3,"##b":4,"中":5,"!":6}}}`))
	f.Add([]byte(`{"normalizer":{"type":"BertNormalizer","lowercase":false},"pre_tokenizer":{"type":"BertPreTokenizer"},
		"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"","max_input_chars_per_word":0,
		"vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"A":3}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseTokenizerJSON(data, "fuzz.json")
		if err != nil {
			return
		}
		tok, err := build(st)
		if err != nil {
			return
		}
		for _, text := range []string{"ab a中! [CLS]x", "Ab\u0301 b", ""} {
			enc, err := tok.EncodePair(text, text, 0, LongestFirst)
			if err != nil {
				t.Fatal(err)
			}
			checkEncoding(t, tok, enc, 0, text, text)
		}
	})
}

// FuzzParseVocab feeds arbitrary vocab.txt contents to the loader: it must
// refuse them with ErrBadFile or give a vocabulary of UTF-8 tokens whose ids
// are line numbers.
func FuzzParseVocab(f *testing.F) {
	for _, seed := range []string{"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n", "", "\n\n", "a\r\nb", "\xff\xfe", "a\x00"} {
		f.Add([]byte(seed), uint16(0))
	}
	f.Add([]byte("a\nb\nc\n"), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, rows uint16) {
		vocab, err := parseVocab(bytes.NewReader(data), "vocab.txt", int(rows))
		if err != nil {
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("error does not wrap ErrBadFile: %v", err)
			}
			return
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		for tok, id := range vocab {
			if !utf8.ValidString(tok) || id < 0 || int(id) >= lines || rows > 0 && int(id) >= int(rows) {
				t.Fatalf("token %q id %d from %d lines, %d rows", tok, id, lines, rows)
			}
		}
		// Whatever the vocabulary, the tokenizer built on it encodes.
		cfg := &tokenizerConfigFile{path: "tokenizer_config.json"}
		st, err := settingsFromVocab(vocab, cfg)
		if err != nil {
			return
		}
		tok, err := build(st)
		if err != nil {
			t.Fatalf("build of a checked vocabulary: %v", err)
		}
		enc, err := tok.EncodePair("hello worlds", "[SEP]x", 8, LongestFirst)
		if err != nil {
			t.Fatal(err)
		}
		checkEncoding(t, tok, enc, 8, "hello worlds", "[SEP]x")
	})
}

// FuzzTokenizerSettings feeds arbitrary tokenizer_config.json and
// special_tokens_map.json contents to the loader: they must be refused with
// ErrBadFile or give settings whose tokenizer encodes.
func FuzzTokenizerSettings(f *testing.F) {
	f.Add([]byte(`{"do_lower_case": false, "model_max_length": 512, "unk_token": "[UNK]", "additional_special_tokens": ["<x>"]}`),
		[]byte(`{"cls_token": {"content": "[CLS]", "lstrip": false}, "mask_token": "[MASK]"}`))
	f.Add([]byte(`{"model_max_length": 1e30, "strip_accents": null, "tokenize_chinese_chars": false}`), []byte(`{}`))
	f.Add([]byte(`{"sep_token": {"content": 1}}`), []byte(`null`))
	f.Add([]byte(`[`), []byte(`{"unk_token": "<unk>"}`))
	vocab := map[string]int32{"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "<unk>": 3, "hello": 4, "##s": 5}
	f.Fuzz(func(t *testing.T, config, specials []byte) {
		cfg := &tokenizerConfigFile{path: "tokenizer_config.json"}
		if err := parseConfig(config, cfg.path, cfg); err != nil {
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("config error does not wrap ErrBadFile: %v", err)
			}
			return
		}
		if err := parseSpecialTokensMap(specials, "special_tokens_map.json", cfg); err != nil {
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("map error does not wrap ErrBadFile: %v", err)
			}
			return
		}
		if n := cfg.modelMaxLength(); n < 0 {
			t.Fatalf("model_max_length %d", n)
		}
		st, err := settingsFromVocab(maps.Clone(vocab), cfg)
		if err != nil {
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("settings error does not wrap ErrBadFile: %v", err)
			}
			return
		}
		tok, err := build(st)
		if err != nil {
			return
		}
		for _, text := range []string{"hellos HELLO x", "[CLS]<unk>", ""} {
			enc, err := tok.EncodePair(text, text, 0, LongestFirst)
			if err != nil {
				t.Fatal(err)
			}
			checkEncoding(t, tok, enc, 0, text, text)
		}
	})
}
