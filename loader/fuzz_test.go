package loader

import (
	"errors"
	"testing"
)

func FuzzSafetensors(f *testing.F) {
	for _, tc := range corruptCases(nil) {
		f.Add(tc.file)
	}
	f.Add(stFile(`{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},`+
		`"h":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[22,24]},`+
		`"i":{"dtype":"I64","shape":[1],"data_offsets":[24,32]},"z":{"dtype":"F32","shape":[0],"data_offsets":[32,32]}}`, make([]byte, 32)))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}  `, []byte{0, 0, 0x80, 0x3f}))

	f.Fuzz(func(t *testing.T, file []byte) {
		s, err := ParseSafetensors("fuzz.safetensors", file)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("parse error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		for _, name := range s.Names() {
			info, ok := s.Info(name)
			if !ok {
				t.Fatalf("listed tensor %q has no info", name)
			}
			v, err := s.Float32(name)
			switch info.DType {
			case DTypeF32, DTypeF16, DTypeBF16:
				if err != nil {
					t.Fatalf("%q: %v", name, err)
				}
				n := 1
				for _, d := range info.Shape {
					n *= d
				}
				if len(v) != n {
					t.Fatalf("%q: %d values for shape %v", name, len(v), info.Shape)
				}
			default:
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("%q of %s: want ErrUnsupported, got %v", name, info.DType, err)
				}
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		`{"architectures":["BertForSequenceClassification"],"model_type":"bert","hidden_size":32,"num_attention_heads":4,"id2label":{"0":"LABEL_0"},"sbert_ce_default_activation_function":"torch.nn.modules.linear.Identity"}`,
		`{"model_type":"bert","num_labels":1,"sentence_transformers":{"activation_fn":"torch.nn.modules.activation.Sigmoid"}}`,
		`{"model_type":"bert","num_labels":1,"hidden_size":384,"num_attention_heads":0}`,
		`{"model_type":"bert","num_labels":1,"layer_norm_eps":-1e-12,"hidden_act":"gelu_new"}`,
		`[]`, `null`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "config.json")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			return
		}
		if c.NumLabels != 1 || c.HiddenSize <= 0 || c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0 ||
			!(c.LayerNormEps > 0) || c.HiddenAct != "gelu" || c.NumHiddenLayers > 1<<9 || c.VocabSize > 1<<22 || c.IntermediateSize > 1<<16 {
			t.Fatalf("accepted an unusable config: %+v", c)
		}
	})
}
