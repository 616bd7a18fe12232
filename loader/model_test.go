package loader

import (
	"context"
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

// A bare-BertModel checkpoint names its encoder weights without "bert.";
// engine code asks with the prefix and must still find them.
func TestOpenUnprefixedNames(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"config.json", "tokenizer.json"} {
		data, err := os.ReadFile(filepath.Join(tinyDir, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	file := stFile(`{"embeddings.LayerNorm.bias":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, []byte{0x80, 0x3f, 0x00, 0xc0})
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
