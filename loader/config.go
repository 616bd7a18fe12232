package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Activation is what sentence-transformers applies to a cross-encoder's logit.
type Activation int

const (
	// ActivationIdentity leaves the raw logit as the score.
	ActivationIdentity Activation = iota
	// ActivationSigmoid maps the logit through 1/(1+e^-x).
	ActivationSigmoid
)

func (a Activation) String() string {
	switch a {
	case ActivationIdentity:
		return "identity"
	case ActivationSigmoid:
		return "sigmoid"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Config is the part of a Hugging Face BertForSequenceClassification
// config.json that inference needs. Absent fields take BertConfig's defaults.
type Config struct {
	Architectures []string
	ModelType     string

	HiddenSize        int
	NumHiddenLayers   int
	NumAttentionHeads int
	IntermediateSize  int
	HiddenAct         string
	LayerNormEps      float64

	MaxPositionEmbeddings int
	TypeVocabSize         int
	VocabSize             int
	NumLabels             int

	// Activation follows sentence-transformers: "sentence_transformers" →
	// "activation_fn", else the legacy "sbert_ce_default_activation_function",
	// else (as sentence-transformers does for a one-label model) sigmoid.
	Activation Activation
}

const bertArchitecture = "BertForSequenceClassification"

// activations maps the class paths sentence-transformers writes (and the
// short aliases torch also resolves) to what they compute.
var activations = map[string]Activation{
	"torch.nn.modules.linear.Identity":    ActivationIdentity,
	"torch.nn.Identity":                   ActivationIdentity,
	"torch.nn.modules.activation.Sigmoid": ActivationSigmoid,
	"torch.nn.Sigmoid":                    ActivationSigmoid,
}

// ParseConfig decodes and validates a config.json; name (the file's path) is
// used in error messages. Malformed JSON and impossible values wrap
// ErrCorrupt; a model this project cannot run (another architecture, a
// hidden_act other than exact-erf "gelu", relative positions, a decoder,
// more than one label, an unknown activation) wraps ErrUnsupported.
func ParseConfig(data []byte, name string) (*Config, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		if err == nil {
			err = fmt.Errorf("top level is null")
		}
		return nil, corruptf(name, "not a JSON object: %v", err)
	}
	get := func(key string, dst any) error {
		raw, ok := fields[key]
		if !ok || isJSONNull(raw) {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return corruptf(name, "%s: %v", key, err)
		}
		return nil
	}

	c := &Config{
		HiddenSize:            768,
		NumHiddenLayers:       12,
		NumAttentionHeads:     12,
		IntermediateSize:      3072,
		HiddenAct:             "gelu",
		LayerNormEps:          1e-12,
		MaxPositionEmbeddings: 512,
		TypeVocabSize:         2,
		VocabSize:             30522,
	}
	var (
		positionType = "absolute"
		isDecoder    bool
		numLabels    *int
		id2label     map[string]json.RawMessage
		stSettings   map[string]json.RawMessage
		legacyAct    *string
	)
	for _, f := range []struct {
		key string
		dst any
	}{
		{"architectures", &c.Architectures},
		{"model_type", &c.ModelType},
		{"hidden_size", &c.HiddenSize},
		{"num_hidden_layers", &c.NumHiddenLayers},
		{"num_attention_heads", &c.NumAttentionHeads},
		{"intermediate_size", &c.IntermediateSize},
		{"hidden_act", &c.HiddenAct},
		{"layer_norm_eps", &c.LayerNormEps},
		{"max_position_embeddings", &c.MaxPositionEmbeddings},
		{"type_vocab_size", &c.TypeVocabSize},
		{"vocab_size", &c.VocabSize},
		{"position_embedding_type", &positionType},
		{"is_decoder", &isDecoder},
		{"num_labels", &numLabels},
		{"id2label", &id2label},
		{"sentence_transformers", &stSettings},
		{"sbert_ce_default_activation_function", &legacyAct},
	} {
		if err := get(f.key, f.dst); err != nil {
			return nil, err
		}
	}

	switch {
	case c.ModelType != "" && c.ModelType != "bert":
		return nil, unsupportedf(name, "model_type %q (only \"bert\")", c.ModelType)
	case len(c.Architectures) > 0 && !slices.Contains(c.Architectures, bertArchitecture):
		return nil, unsupportedf(name, "architectures %q (only %s)", c.Architectures, bertArchitecture)
	case c.ModelType == "" && len(c.Architectures) == 0:
		return nil, unsupportedf(name, "model: neither model_type nor architectures says it is a BERT model")
	}
	c.ModelType = "bert"

	// Sizes are bounded before anything is allocated from them: far above
	// any BERT's (BERT-large: 1024 hidden, 24 layers, 4096 intermediate),
	// far below what would exhaust memory or overflow a product of two.
	for _, f := range []struct {
		key string
		v   int
		max int
	}{
		{"hidden_size", c.HiddenSize, 1 << 14},
		{"num_hidden_layers", c.NumHiddenLayers, 1 << 9},
		{"num_attention_heads", c.NumAttentionHeads, 1 << 10},
		{"intermediate_size", c.IntermediateSize, 1 << 16},
		{"max_position_embeddings", c.MaxPositionEmbeddings, 1 << 17},
		{"type_vocab_size", c.TypeVocabSize, 1 << 10},
		{"vocab_size", c.VocabSize, 1 << 22},
	} {
		if f.v <= 0 {
			return nil, corruptf(name, "%s is %d, want a positive number", f.key, f.v)
		}
		if f.v > f.max {
			return nil, corruptf(name, "%s is %d, more than the %d a model may have", f.key, f.v, f.max)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return nil, corruptf(name, "hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if !(c.LayerNormEps > 0) || math.IsInf(c.LayerNormEps, 0) {
		return nil, corruptf(name, "layer_norm_eps is %g, want a positive number", c.LayerNormEps)
	}
	if c.HiddenAct != "gelu" {
		return nil, unsupportedf(name, "hidden_act %q (only \"gelu\", the exact erf form)", c.HiddenAct)
	}
	if positionType != "absolute" {
		return nil, unsupportedf(name, "position_embedding_type %q (only \"absolute\")", positionType)
	}
	if isDecoder {
		return nil, unsupportedf(name, "is_decoder true (a cross-encoder attends both ways)")
	}

	// As in transformers' PretrainedConfig, id2label decides the label count
	// when present; num_labels alone otherwise; two labels when neither is.
	switch {
	case id2label != nil:
		c.NumLabels = len(id2label)
	case numLabels != nil:
		c.NumLabels = *numLabels
	default:
		c.NumLabels = 2
	}
	if c.NumLabels != 1 {
		return nil, unsupportedf(name, "label count %d (a cross-encoder score needs exactly 1 label)", c.NumLabels)
	}

	act, err := parseActivation(name, stSettings, legacyAct)
	if err != nil {
		return nil, err
	}
	c.Activation = act
	return c, nil
}

// ReadConfig reads and parses the config.json at path (see ParseConfig);
// a file beyond 1 MiB is refused (ErrCorrupt) before it is read.
func ReadConfig(path string) (*Config, error) {
	data, err := readLimited(path, maxConfigJSON)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

// parseActivation follows sentence-transformers' CrossEncoder: the v4 key
// wins, then the legacy key, then sigmoid for a one-label model.
func parseActivation(name string, st map[string]json.RawMessage, legacy *string) (Activation, error) {
	path, key := "", ""
	if raw, ok := st["activation_fn"]; ok {
		if isJSONNull(raw) {
			return ActivationSigmoid, nil
		}
		key = "sentence_transformers.activation_fn"
		if err := json.Unmarshal(raw, &path); err != nil {
			return 0, corruptf(name, "%s: %v", key, err)
		}
	} else if legacy != nil {
		path, key = *legacy, "sbert_ce_default_activation_function"
	} else {
		return ActivationSigmoid, nil
	}
	act, ok := activations[path]
	if !ok {
		return 0, unsupportedf(name, "%s %q (only torch.nn Identity or Sigmoid)", key, path)
	}
	return act, nil
}

func isJSONNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
