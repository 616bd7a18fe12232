package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenDirectory(t *testing.T) {
	m, err := Open(context.Background(), tinyDir, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })

	assert.Equal(t, tinyDir, m.Dir)
	assert.Equal(t, 32, m.Config.HiddenSize)
	assert.Equal(t, ActivationIdentity, m.Config.Activation)
	assert.Equal(t, filepath.Join(tinyDir, "vocab.txt"), m.VocabPath)
	assert.Equal(t, filepath.Join(tinyDir, "tokenizer.json"), m.TokenizerJSONPath)
	assert.Equal(t, filepath.Join(tinyDir, "tokenizer_config.json"), m.TokenizerConfigPath)

	// The same tensor by its full name and without the "bert." prefix.
	full, shape, err := m.Float32("bert.embeddings.word_embeddings.weight")
	require.NoError(t, err)
	assert.Equal(t, []int{30522, 32}, shape)
	short, shape2, err := m.Float32("embeddings.word_embeddings.weight")
	require.NoError(t, err)
	assert.Equal(t, shape, shape2)
	assert.Same(t, &full[0], &short[0])

	cls, shape, err := m.Float32("classifier.weight")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 32}, shape)
	assert.Len(t, cls, 32)

	_, _, err = m.Float32("pooler.nope")
	require.ErrorIs(t, err, ErrNoTensor)
	assert.Contains(t, err.Error(), `tensor "pooler.nope" (nor "bert.pooler.nope")`)
}

// miniConfig is a config.json for miniTensors.
const miniConfig = `{"model_type":"bert","num_labels":1,"vocab_size":8,"hidden_size":4,"num_attention_heads":1,` +
	`"num_hidden_layers":2,"intermediate_size":8,"max_position_embeddings":6,"type_vocab_size":2}`

// miniTensors is a safetensors header and data holding zero F32 tensors of
// the shapes checkShapes checks for miniConfig, named with prefix, plus the
// tensors of extra (a header fragment) and their data.
func miniTensors(prefix, extra string, extraData []byte) []byte {
	shapes := [][2]any{
		{"embeddings.word_embeddings.weight", "[8,4]"},
		{"embeddings.position_embeddings.weight", "[6,4]"},
		{"embeddings.token_type_embeddings.weight", "[2,4]"},
		{"encoder.layer.0.attention.self.query.weight", "[4,4]"},
		{"encoder.layer.0.intermediate.dense.weight", "[8,4]"},
		{"encoder.layer.1.attention.self.query.weight", "[4,4]"},
		{"encoder.layer.1.intermediate.dense.weight", "[8,4]"},
	}
	sizes := map[string]int{"[8,4]": 128, "[6,4]": 96, "[2,4]": 32, "[4,4]": 64}
	header, off := "{", len(extraData)
	if extra != "" {
		header += extra + ","
	}
	for i, sh := range shapes {
		n := sizes[sh[1].(string)]
		header += fmt.Sprintf(`"%s%s":{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, prefix, sh[0], sh[1], off, off+n)
		if i < len(shapes)-1 {
			header += ","
		}
		off += n
	}
	return stFile(header+"}", append(extraData, make([]byte, off-len(extraData))...))
}

// writeMini writes miniTensors (prefixed) and a vocab.txt into dir.
func writeMini(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), miniTensors("bert.", "", nil), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte("[UNK]\n[CLS]\n[SEP]\n"), 0o644))
}

// A bare-BertModel checkpoint names its encoder weights without "bert.";
// engine code asks with the prefix and must still find them.
func TestOpenUnprefixedNames(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(miniConfig), 0o644))
	data, err := os.ReadFile(filepath.Join(tinyDir, "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644))
	file := miniTensors("", `"embeddings.LayerNorm.bias":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}`, []byte{0x80, 0x3f, 0x00, 0xc0})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), file, 0o644))

	m, err := Open(context.Background(), dir, Options{})
	require.NoError(t, err)
	defer m.Close()
	v, shape, err := m.Float32("bert.embeddings.LayerNorm.bias")
	require.NoError(t, err)
	assert.Equal(t, []int{2}, shape)
	assert.Equal(t, []float32{1, -2}, v)
	assert.Empty(t, m.VocabPath)
	assert.Empty(t, m.TokenizerConfigPath)
}

// TestConfigSizesCheckedAgainstTensors is the reproducer of a config
// crashing the runtime (num_hidden_layers 1e9: out of memory; 4e18: a
// makeslice panic): every size must be bounded, and borne out by the
// tensors, before a model opens, and the error must name the config file
// and the field.
func TestConfigSizesCheckedAgainstTensors(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		value       any
		want        string
	}{
		{"a billion layers", "num_hidden_layers", 1000000000, "num_hidden_layers is 1000000000, more than the 512"},
		{"4e18 layers", "num_hidden_layers", int64(4e18), "num_hidden_layers is 4000000000000000000, more than the 512"},
		{"more layers than tensors", "num_hidden_layers", 3, `num_hidden_layers, hidden_size: `},
		{"huge vocab", "vocab_size", 1 << 40, "vocab_size is 1099511627776, more than"},
		{"vocab not the table", "vocab_size", 9, "vocab_size, hidden_size say embeddings.word_embeddings.weight is [9 4]"},
		{"positions", "max_position_embeddings", 512, "max_position_embeddings, hidden_size say"},
		{"intermediate", "intermediate_size", 16, "num_hidden_layers, intermediate_size say"},
		{"type vocab", "type_vocab_size", 1, "type_vocab_size, hidden_size say"},
		{"hidden", "hidden_size", 1 << 20, "hidden_size is 1048576, more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var cfg map[string]any
			require.NoError(t, json.Unmarshal([]byte(miniConfig), &cfg))
			cfg[tc.field] = tc.value
			data, err := json.Marshal(cfg)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
			writeMini(t, dir)
			_, err = Open(context.Background(), dir, Options{})
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), filepath.Join(dir, "config.json"))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(miniConfig), 0o644))
		writeMini(t, dir)
		m, err := Open(context.Background(), dir, Options{})
		require.NoError(t, err)
		require.NoError(t, m.Close())
	})
}

// TestOversizedConfigRefusedUnread is the reproducer of a config.json
// padded to 300 MB being read and accepted: beyond 1 MiB it is refused
// before reading (the file here is sparse, 4 GiB).
func TestOversizedConfigRefusedUnread(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	_, err = f.WriteString(miniConfig)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(4<<30))
	require.NoError(t, f.Close())
	writeMini(t, dir)
	_, err = Open(context.Background(), dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "config.json: corrupt file: 4294967296 bytes, more than the 1048576")
}

func TestOpenFromCache(t *testing.T) {
	clearHFEnv(t)
	cache := t.TempDir()
	fakeCache(t, cache, DefaultModel, map[string]string{"main": commitMain}, commitMain)
	t.Setenv("HF_HUB_CACHE", cache)
	m, err := Open(context.Background(), "", Options{})
	require.NoError(t, err)
	defer m.Close()
	assert.Equal(t, filepath.Join(cache, RepoFolder(DefaultModel), "snapshots", commitMain), m.Dir)
	assert.Empty(t, m.TokenizerJSONPath)
	_, shape, err := m.Float32("classifier.bias")
	require.NoError(t, err)
	assert.Equal(t, []int{1}, shape)
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, tinyDir, Options{})
	assert.ErrorIs(t, err, context.Canceled)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"bert","num_labels":2}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), stFile("{}", nil), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.txt"), nil, 0o644))
	_, err = Open(context.Background(), dir, Options{})
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), filepath.Join(dir, "config.json"))

	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"bert","num_labels":1}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("short"), 0o644))
	_, err = Open(context.Background(), dir, Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), filepath.Join(dir, "model.safetensors"))
}
