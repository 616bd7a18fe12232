package engine

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/minilm-dev/minilm/loader"
	"github.com/minilm-dev/minilm/tokenizer"
)

// LoadTokenizer finds the model as Load would (downloading it unless
// opts.Offline) and loads only its tokenizer, with its default max length:
// model_max_length capped by config.json's max_position_embeddings (0: no
// limit known).
func LoadTokenizer(ctx context.Context, ref string, opts Options) (*tokenizer.Tokenizer, int, error) {
	dir, err := Resolve(ctx, ref, opts)
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
