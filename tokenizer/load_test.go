package tokenizer

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeDir writes files into a fresh directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sparseFile makes path a file of size bytes without writing them.
func sparseFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedVocabularies is the reproducer of empty and binary vocab.txt
// files being accepted (every word then became [UNK]): a vocabulary that is
// not UTF-8 text, is empty or lacks the special tokens must be refused,
// naming the file.
func TestRefusedVocabularies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for name, files := range map[string]map[string]string{
		"empty":           {vocabTXT: ""},
		"random bytes":    {vocabTXT: string(random)},
		"NUL bytes":       {vocabTXT: "[UNK]\n[CLS]\n[SEP]\na\x00b\n"},
		"no [UNK]":        {vocabTXT: "[CLS]\n[SEP]\nhello\n"},
		"no [SEP]":        {vocabTXT: "[UNK]\n[CLS]\nhello\n"},
		"configured unk":  {vocabTXT: "[UNK]\n[CLS]\n[SEP]\n", tokenizerConfig: `{"unk_token": "<unk>"}`},
		"mapped unk":      {vocabTXT: "[UNK]\n[CLS]\n[SEP]\n", specialTokensMap: `{"unk_token": {"content": "<unk>"}}`},
		"bad map":         {vocabTXT: "[UNK]\n[CLS]\n[SEP]\n", specialTokensMap: `{"unk_token": 7}`},
		"long line":       {vocabTXT: "[UNK]\n[CLS]\n[SEP]\n" + strings.Repeat("x", 70<<10) + "\n"},
		"one long line":   {vocabTXT: strings.Repeat("[UNK]", 1000)},
		"json not vocab":  {tokenizerJSON: `{"model":{"type":"WordPiece","vocab":{}}}`},
		"config not json": {vocabTXT: "[UNK]\n[CLS]\n[SEP]\n", tokenizerConfig: "\x00\x01"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeDir(t, files))
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("error %v, want one wrapping ErrBadFile", err)
			}
			if !strings.Contains(err.Error(), string(os.PathSeparator)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestSpecialTokensMap: special_tokens_map.json's names win over
// tokenizer_config.json's, as in transformers.
func TestSpecialTokensMap(t *testing.T) {
	tok, err := Load(writeDir(t, map[string]string{
		vocabTXT:         "<unk>\n[UNK]\n[CLS]\n[SEP]\nhello\n",
		tokenizerConfig:  `{"unk_token": "[UNK]"}`,
		specialTokensMap: `{"unk_token": {"content": "<unk>", "lstrip": false}, "cls_token": null}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.Encode("hello zzz", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{2, 4, 0, 3}; !slices.Equal(enc.IDs, want) {
		t.Errorf("ids %v, want %v ([UNK] from the map is <unk>, id 0)", enc.IDs, want)
	}
}

// TestOversizedFilesRefusedUnread is the reproducer of oversized tokenizer
// files read in full before the size check (a 229 MB vocab.txt took 78 s
// and 3.7 GB): a file beyond its kind's limit is refused before reading.
// The files here are sparse, so reading them would take seconds and
// gigabytes; the check takes neither.
func TestOversizedFilesRefusedUnread(t *testing.T) {
	for _, name := range []string{vocabTXT, tokenizerJSON, tokenizerConfig, specialTokensMap} {
		t.Run(name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{vocabTXT: "[UNK]\n[CLS]\n[SEP]\n"})
			sparseFile(t, filepath.Join(dir, name), 4<<30)
			_, err := Load(dir)
			if !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), name) {
				t.Fatalf("error %v, want ErrBadFile naming %s", err, name)
			}
		})
	}
}

// countingReader is an endless vocabulary that counts what is read of it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "tok\n"[(c.n+int64(i))%4]
	}
	c.n += int64(len(p))
	return len(p), nil
}

// TestVocabStopsAtRows: reading stops at the first token beyond the
// model's embedding rows, and at the size limit of a stream whose size is
// not known in advance.
func TestVocabStopsAtRows(t *testing.T) {
	r := &countingReader{}
	_, err := parseVocab(r, "vocab.txt", 30522)
	if !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), "30522") {
		t.Fatalf("error %v, want ErrBadFile naming the 30522 rows", err)
	}
	if r.n > 30522*4+128<<10 {
		t.Errorf("read %d bytes to refuse a vocabulary beyond 30522 rows of 4 bytes", r.n)
	}
	r = &countingReader{}
	_, err = parseVocab(io.LimitReader(r, maxVocabTXT+1), "vocab.txt", 0)
	if !errors.Is(err, ErrBadFile) || r.n > maxVocabTXT+128<<10 {
		t.Fatalf("unbounded stream: error %v after %d bytes, want ErrBadFile after at most %d", err, r.n, maxVocabTXT+128<<10)
	}
}

// TestLoadWithRows checks the vocabulary against the embedding table's size.
func TestLoadWithRows(t *testing.T) {
	dir := vocabOnlyDir(t)
	if _, err := LoadWith(dir, Options{VocabSize: 30522}); err != nil {
		t.Fatalf("the tiny model's own rows: %v", err)
	}
	if _, err := LoadWith(dir, Options{VocabSize: 30528}); err != nil {
		t.Fatalf("a table padded by 6 rows: %v", err)
	}
	for _, rows := range []int{30000, 1 << 16} {
		if _, err := LoadWith(dir, Options{VocabSize: rows}); !errors.Is(err, ErrBadFile) {
			t.Errorf("vocab.txt with %d rows: error %v, want ErrBadFile", rows, err)
		}
		if _, err := LoadWith(tinyModel, Options{VocabSize: rows}); !errors.Is(err, ErrBadFile) {
			t.Errorf("tokenizer.json with %d rows: error %v, want ErrBadFile", rows, err)
		}
	}
}
