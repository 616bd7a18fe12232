package loader

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/minilm-dev/minilm/internal/limitread"
)

// Model is a resolved model directory with its config parsed and its weights
// mapped. The tokenizer file paths are "" when the file is absent.
type Model struct {
	Dir     string
	Config  *Config
	Weights *Safetensors

	VocabPath           string // vocab.txt
	TokenizerJSONPath   string // tokenizer.json
	TokenizerConfigPath string // tokenizer_config.json
}

// bertPrefix starts the encoder's weight names in BertForSequenceClassification
// checkpoints; checkpoints of a bare BertModel lack it.
const bertPrefix = "bert."

// Open resolves ref (see Resolve), parses its config.json and maps its
// model.safetensors. The caller must Close the model.
func Open(ctx context.Context, ref string, opts Options) (*Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loader: open %s: %w", ref, err)
	}
	dir, err := Resolve(ref, opts)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := ReadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loader: open %s: %w", ref, err)
	}
	weights, err := OpenSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return nil, err
	}
	if err := checkShapes(cfg, cfgPath, weights); err != nil {
		weights.Close()
		return nil, err
	}
	optional := func(file string) string {
		p := filepath.Join(dir, file)
		if !isFile(p) {
			return ""
		}
		return p
	}
	return &Model{
		Dir:                 dir,
		Config:              cfg,
		Weights:             weights,
		VocabPath:           optional("vocab.txt"),
		TokenizerJSONPath:   optional("tokenizer.json"),
		TokenizerConfigPath: optional("tokenizer_config.json"),
	}, nil
}

// maxConfigJSON bounds config.json: a BERT config is under 2 KB, and one
// beyond this is refused before it is read.
const maxConfigJSON = 1 << 20

// readLimited reads the file at path, refusing it (ErrCorrupt) beyond limit
// bytes without reading past the limit.
func readLimited(path string, limit int64) ([]byte, error) {
	data, err := limitread.ReadFile(path, limit)
	var tl *limitread.TooLargeError
	switch {
	case errors.As(err, &tl):
		return nil, corruptf(path, "%v for a %s", tl, filepath.Base(path))
	case err != nil:
		return nil, fmt.Errorf("loader: %w", err)
	}
	return data, nil
}

// checkShapes checks every size in the config against the tensors that it
// shapes, so that nothing is allocated from a size the weights do not bear
// out: the embedding tables, and the attention and intermediate weights of
// every one of num_hidden_layers layers. Errors name the config file, the
// field and the weights file.
func checkShapes(c *Config, cfgPath string, w *Safetensors) error {
	type want struct {
		tensor string
		shape  [2]int
		fields string
	}
	wants := []want{
		{"embeddings.word_embeddings.weight", [2]int{c.VocabSize, c.HiddenSize}, "vocab_size, hidden_size"},
		{"embeddings.position_embeddings.weight", [2]int{c.MaxPositionEmbeddings, c.HiddenSize}, "max_position_embeddings, hidden_size"},
		{"embeddings.token_type_embeddings.weight", [2]int{c.TypeVocabSize, c.HiddenSize}, "type_vocab_size, hidden_size"},
	}
	for i := range c.NumHiddenLayers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		wants = append(wants,
			want{p + "attention.self.query.weight", [2]int{c.HiddenSize, c.HiddenSize}, "num_hidden_layers, hidden_size"},
			want{p + "intermediate.dense.weight", [2]int{c.IntermediateSize, c.HiddenSize}, "num_hidden_layers, intermediate_size"})
	}
	for _, x := range wants {
		info, ok := w.Info(bertPrefix + x.tensor)
		if !ok {
			info, ok = w.Info(x.tensor)
		}
		if !ok {
			return corruptf(cfgPath, "%s: %s has no tensor %q (nor with %q)", x.fields, w.name, x.tensor, bertPrefix)
		}
		if len(info.Shape) != 2 || info.Shape[0] != x.shape[0] || info.Shape[1] != x.shape[1] {
			return corruptf(cfgPath, "%s say %s is %v, but %s has %v", x.fields, x.tensor, x.shape, w.name, info.Shape)
		}
	}
	return nil
}

// Float32 returns a weight by its Hugging Face name and its shape (see
// Safetensors.Float32 for when the data is a view into the mapping). The name
// is tried as given, then with "bert." added, then with it removed, so both
// BertForSequenceClassification and bare BertModel names work.
func (m *Model) Float32(name string) ([]float32, []int, error) {
	candidates := []string{name}
	if rest, ok := strings.CutPrefix(name, bertPrefix); ok {
		candidates = append(candidates, rest)
	} else {
		candidates = append(candidates, bertPrefix+name)
	}
	for _, c := range candidates {
		info, ok := m.Weights.Info(c)
		if !ok {
			continue
		}
		data, err := m.Weights.Float32(c)
		if err != nil {
			return nil, nil, err
		}
		return data, info.Shape, nil
	}
	return nil, nil, fmt.Errorf("loader: %s: tensor %q (nor %q): %w", m.Weights.name, candidates[0], candidates[1], ErrNoTensor)
}

// Close unmaps the weights; views obtained from Float32 must not be used afterwards.
func (m *Model) Close() error {
	return m.Weights.Close()
}
