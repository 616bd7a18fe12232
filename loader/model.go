package loader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	cfg, err := ParseConfig(data, cfgPath)
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
