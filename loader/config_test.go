package loader

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTinyConfig(t *testing.T) {
	path := filepath.Join(tinyDir, "config.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	c, err := ParseConfig(data, path)
	require.NoError(t, err)
	assert.Equal(t, &Config{
		Architectures:         []string{"BertForSequenceClassification"},
		ModelType:             "bert",
		HiddenSize:            32,
		NumHiddenLayers:       2,
		NumAttentionHeads:     4,
		IntermediateSize:      64,
		HiddenAct:             "gelu",
		LayerNormEps:          1e-12,
		MaxPositionEmbeddings: 512,
		TypeVocabSize:         2,
		VocabSize:             30522,
		NumLabels:             1,
		Activation:            ActivationIdentity,
	}, c)
}

// config renders a minimal valid config with the given fields replaced;
// a nil value deletes the field.
func config(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	base := map[string]any{
		"architectures": []string{"BertForSequenceClassification"},
		"model_type":    "bert",
		"num_labels":    1,
	}
	for k, v := range fields {
		if v == nil {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	data, err := json.Marshal(base)
	require.NoError(t, err)
	return data
}

func TestConfigDefaultsAreBertConfigs(t *testing.T) {
	c, err := ParseConfig(config(t, nil), "config.json")
	require.NoError(t, err)
	assert.Equal(t, 768, c.HiddenSize)
	assert.Equal(t, 12, c.NumHiddenLayers)
	assert.Equal(t, 12, c.NumAttentionHeads)
	assert.Equal(t, 3072, c.IntermediateSize)
	assert.Equal(t, "gelu", c.HiddenAct)
	assert.Equal(t, 1e-12, c.LayerNormEps)
	assert.Equal(t, 512, c.MaxPositionEmbeddings)
	assert.Equal(t, 2, c.TypeVocabSize)
	assert.Equal(t, 30522, c.VocabSize)
	assert.Equal(t, 1, c.NumLabels)
}

func TestConfigActivation(t *testing.T) {
	const (
		identity = "torch.nn.modules.linear.Identity"
		sigmoid  = "torch.nn.modules.activation.Sigmoid"
	)
	for _, tc := range []struct {
		name   string
		fields map[string]any
		want   Activation
	}{
		{"v4 identity", map[string]any{"sentence_transformers": map[string]any{"activation_fn": identity, "version": "4.0.1"}}, ActivationIdentity},
		{"v4 sigmoid", map[string]any{"sentence_transformers": map[string]any{"activation_fn": sigmoid}}, ActivationSigmoid},
		{"v4 short alias", map[string]any{"sentence_transformers": map[string]any{"activation_fn": "torch.nn.Identity"}}, ActivationIdentity},
		{"legacy identity", map[string]any{"sbert_ce_default_activation_function": identity}, ActivationIdentity},
		{"legacy sigmoid", map[string]any{"sbert_ce_default_activation_function": "torch.nn.Sigmoid"}, ActivationSigmoid},
		{"v4 wins over legacy", map[string]any{
			"sentence_transformers":                map[string]any{"activation_fn": sigmoid},
			"sbert_ce_default_activation_function": identity,
		}, ActivationSigmoid},
		{"legacy used when v4 block lacks the key", map[string]any{
			"sentence_transformers":                map[string]any{"version": "4.0.1"},
			"sbert_ce_default_activation_function": identity,
		}, ActivationIdentity},
		// sentence-transformers falls back to sigmoid for one-label models.
		{"absent", nil, ActivationSigmoid},
		{"v4 null", map[string]any{"sentence_transformers": map[string]any{"activation_fn": nil}}, ActivationSigmoid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(config(t, tc.fields), "config.json")
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Activation)
		})
	}
	assert.Equal(t, "identity", ActivationIdentity.String())
	assert.Equal(t, "sigmoid", ActivationSigmoid.String())
}

func TestConfigLabels(t *testing.T) {
	c, err := ParseConfig(config(t, map[string]any{"num_labels": nil, "id2label": map[string]string{"0": "LABEL_0"}}), "config.json")
	require.NoError(t, err)
	assert.Equal(t, 1, c.NumLabels)
	// As in transformers, id2label decides when both are given.
	c, err = ParseConfig(config(t, map[string]any{"num_labels": 3, "id2label": map[string]string{"0": "LABEL_0"}}), "config.json")
	require.NoError(t, err)
	assert.Equal(t, 1, c.NumLabels)
}

func TestConfigAcceptsEitherIdentification(t *testing.T) {
	_, err := ParseConfig(config(t, map[string]any{"architectures": nil}), "config.json")
	assert.NoError(t, err, "model_type alone")
	_, err = ParseConfig(config(t, map[string]any{"model_type": nil}), "config.json")
	assert.NoError(t, err, "architectures alone")
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		target error
		want   string
	}{
		{"bad JSON", []byte(`{"model_type":`), ErrCorrupt, "not a JSON object"},
		{"JSON array", []byte(`[1]`), ErrCorrupt, "not a JSON object"},
		{"JSON null", []byte(`null`), ErrCorrupt, "not a JSON object"},
		{"wrong field type", config(t, map[string]any{"hidden_size": "384"}), ErrCorrupt, "hidden_size: json: cannot unmarshal string"},
		{"fractional size", config(t, map[string]any{"hidden_size": 38.5}), ErrCorrupt, "hidden_size: json: cannot unmarshal number 38.5"},
		{"zero layers", config(t, map[string]any{"num_hidden_layers": 0}), ErrCorrupt, "num_hidden_layers is 0, want a positive number"},
		{"negative vocab", config(t, map[string]any{"vocab_size": -5}), ErrCorrupt, "vocab_size is -5, want a positive number"},
		{"heads do not divide hidden", config(t, map[string]any{"hidden_size": 384, "num_attention_heads": 5}), ErrCorrupt, "hidden_size 384 is not a multiple of num_attention_heads 5"},
		{"zero eps", config(t, map[string]any{"layer_norm_eps": 0}), ErrCorrupt, "layer_norm_eps is 0, want a positive number"},
		{"activation not a string", config(t, map[string]any{"sentence_transformers": map[string]any{"activation_fn": 1}}), ErrCorrupt, "sentence_transformers.activation_fn"},
		{"sentence_transformers not an object", config(t, map[string]any{"sentence_transformers": "x"}), ErrCorrupt, "sentence_transformers: json"},

		{"roberta", config(t, map[string]any{"model_type": "roberta"}), ErrUnsupported, `unsupported model_type "roberta" (only "bert")`},
		{"masked LM", config(t, map[string]any{"architectures": []string{"BertForMaskedLM"}}), ErrUnsupported, `unsupported architectures ["BertForMaskedLM"] (only BertForSequenceClassification)`},
		{"unidentified", config(t, map[string]any{"architectures": nil, "model_type": nil}), ErrUnsupported, "neither model_type nor architectures"},
		{"gelu_new", config(t, map[string]any{"hidden_act": "gelu_new"}), ErrUnsupported, `unsupported hidden_act "gelu_new" (only "gelu", the exact erf form)`},
		{"relu", config(t, map[string]any{"hidden_act": "relu"}), ErrUnsupported, `unsupported hidden_act "relu"`},
		{"relative positions", config(t, map[string]any{"position_embedding_type": "relative_key"}), ErrUnsupported, `unsupported position_embedding_type "relative_key"`},
		{"decoder", config(t, map[string]any{"is_decoder": true}), ErrUnsupported, "unsupported is_decoder true"},
		{"two labels", config(t, map[string]any{"num_labels": 2}), ErrUnsupported, "unsupported label count 2 (a cross-encoder score needs exactly 1 label)"},
		{"three id2label", config(t, map[string]any{"num_labels": nil, "id2label": map[string]string{"0": "a", "1": "b", "2": "c"}}), ErrUnsupported, "unsupported label count 3"},
		{"no labels given", config(t, map[string]any{"num_labels": nil}), ErrUnsupported, "unsupported label count 2"},
		{"tanh activation", config(t, map[string]any{"sentence_transformers": map[string]any{"activation_fn": "torch.nn.modules.activation.Tanh"}}), ErrUnsupported,
			`unsupported sentence_transformers.activation_fn "torch.nn.modules.activation.Tanh" (only torch.nn Identity or Sigmoid)`},
		{"legacy unknown activation", config(t, map[string]any{"sbert_ce_default_activation_function": "my.module.Act"}), ErrUnsupported,
			`unsupported sbert_ce_default_activation_function "my.module.Act"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.data, "/models/x/config.json")
			assert.Nil(t, c)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.target)
			assert.Contains(t, err.Error(), "loader: /models/x/config.json: ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
