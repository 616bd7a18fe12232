package loader

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	commitMain = "0123456789abcdef0123456789abcdef01234567"
	commitV1   = "89abcdef0123456789abcdef0123456789abcdef"
)

// fakeCache lays out a hub cache the way huggingface_hub does: file contents
// under blobs/, snapshots/<commit>/ holding relative symlinks to them, and
// refs/<name> files holding commit hashes. Snapshot files are the tiny
// model's, so the cache also serves Open.
func fakeCache(t *testing.T, cache, repo string, refs map[string]string, snapshots ...string) string {
	t.Helper()
	repoDir := filepath.Join(cache, RepoFolder(repo))
	for name, commit := range refs {
		p := filepath.Join(repoDir, "refs", filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(commit), 0o644))
	}
	blobs := filepath.Join(repoDir, "blobs")
	require.NoError(t, os.MkdirAll(blobs, 0o755))
	for _, commit := range snapshots {
		snap := filepath.Join(repoDir, "snapshots", commit)
		require.NoError(t, os.MkdirAll(snap, 0o755))
		for _, f := range []string{"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"} {
			data, err := os.ReadFile(filepath.Join(tinyDir, f))
			require.NoError(t, err)
			blob := commit[:8] + "-" + f
			require.NoError(t, os.WriteFile(filepath.Join(blobs, blob), data, 0o644))
			require.NoError(t, os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snap, f)))
		}
	}
	return repoDir
}

// clearHFEnv makes the cache location depend only on what a test sets.
func clearHFEnv(t *testing.T) {
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
	}
}

func TestHubCacheDir(t *testing.T) {
	clearHFEnv(t)
	t.Setenv("HOME", "/home/u")
	assert.Equal(t, "/home/u/.cache/huggingface/hub", HubCacheDir())
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	assert.Equal(t, "/xdg/huggingface/hub", HubCacheDir())
	t.Setenv("HF_HOME", "~/hf")
	assert.Equal(t, "/home/u/hf/hub", HubCacheDir())
	t.Setenv("HUGGINGFACE_HUB_CACHE", "/legacy")
	assert.Equal(t, "/legacy", HubCacheDir())
	t.Setenv("HF_HUB_CACHE", "/hub")
	assert.Equal(t, "/hub", HubCacheDir())
}

func TestRepoFolder(t *testing.T) {
	assert.Equal(t, "models--cross-encoder--ms-marco-MiniLM-L-6-v2", RepoFolder(DefaultModel))
}

func TestResolveRepoID(t *testing.T) {
	clearHFEnv(t)
	cache := t.TempDir()
	repoDir := fakeCache(t, cache, "org/name", map[string]string{"main": commitMain, "v1": commitV1 + "\n", "refs/pr/1": commitV1}, commitMain, commitV1)
	snap := func(c string) string { return filepath.Join(repoDir, "snapshots", c) }

	for _, tc := range []struct {
		ref, rev, want string
	}{
		{"org/name", "", snap(commitMain)},
		{"org/name@main", "", snap(commitMain)},
		{"org/name@v1", "", snap(commitV1)},
		{"org/name", "v1", snap(commitV1)},
		{"org/name@v1", "v1", snap(commitV1)},
		{"org/name@refs/pr/1", "", snap(commitV1)},
		{"org/name@" + commitV1, "", snap(commitV1)},
		{"org/name", commitMain, snap(commitMain)},
	} {
		got, err := Resolve(tc.ref, Options{CacheDir: cache, Revision: tc.rev})
		require.NoError(t, err, "%s rev %q", tc.ref, tc.rev)
		assert.Equal(t, tc.want, got, "%s rev %q", tc.ref, tc.rev)
	}

	// The cache location comes from the environment when Options leave it out.
	t.Setenv("HF_HUB_CACHE", cache)
	got, err := Resolve("org/name", Options{})
	require.NoError(t, err)
	assert.Equal(t, snap(commitMain), got)

	home := t.TempDir()
	hfHome := filepath.Join(home, "hf")
	fakeCache(t, filepath.Join(hfHome, "hub"), "org/name", map[string]string{"main": commitMain}, commitMain)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HOME", hfHome)
	got, err = Resolve("org/name", Options{})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(hfHome, "hub", RepoFolder("org/name"), "snapshots", commitMain), got)

	fakeCache(t, filepath.Join(home, ".cache", "huggingface", "hub"), "org/name", map[string]string{"main": commitV1}, commitV1)
	t.Setenv("HF_HOME", "")
	t.Setenv("HOME", home)
	got, err = Resolve("org/name", Options{})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".cache", "huggingface", "hub", RepoFolder("org/name"), "snapshots", commitV1), got)
}

func TestResolveNotCached(t *testing.T) {
	clearHFEnv(t)
	cache := t.TempDir()
	repoDir := fakeCache(t, cache, "org/name", map[string]string{"main": commitMain, "gone": commitV1}, commitMain)
	// A snapshot whose weights blob was never downloaded: a dangling symlink.
	partial := filepath.Join(repoDir, "snapshots", commitV1)
	require.NoError(t, os.MkdirAll(partial, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(partial, "config.json"), []byte("{}"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(partial, "tokenizer.json"), []byte("{}"), 0o644))
	require.NoError(t, os.Symlink("../../blobs/missing", filepath.Join(partial, "model.safetensors")))

	for _, tc := range []struct {
		ref, rev string
		want     []string
	}{
		{"other/model", "", []string{"loader: other/model at revision main: model not in the local Hugging Face cache (no " + filepath.Join(cache, "models--other--model") + ")"}},
		{"org/name@v2", "", []string{"org/name at revision v2:", "no " + filepath.Join(repoDir, "refs", "v2")}},
		{"org/name", "v2", []string{"org/name at revision v2:"}},
		{"org/name@" + commitV1[:39] + "0", "", []string{"org/name at revision " + commitV1[:39] + "0"}},
		{"org/name@gone", "", []string{partial + " lacks model.safetensors)"}},
		{"", "", []string{DefaultModel + " at revision main"}},
	} {
		_, err := Resolve(tc.ref, Options{CacheDir: cache, Revision: tc.rev})
		require.ErrorIs(t, err, ErrNotCached, tc.ref)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w, tc.ref)
		}
		// A Go caller gets what is missing, not a command to run.
		assert.NotContains(t, err.Error(), "minilm download", tc.ref)
	}
}

func TestResolveRejects(t *testing.T) {
	clearHFEnv(t)
	cache := t.TempDir()
	repoDir := fakeCache(t, cache, "org/name", map[string]string{"main": "not-a-hash"}, commitMain)

	_, err := Resolve("org/name", Options{CacheDir: cache})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), filepath.Join(repoDir, "refs", "main")+`: corrupt file: holds "not-a-hash", not a commit hash`)

	for ref, want := range map[string]string{
		"org/name@v1":        `its revision "v1" conflicts with the requested revision "v2"`,
		"org/name@":          "the revision after '@' is empty",
		"org/name@../../etc": `"../../etc" is not a valid revision`,
		"org/name@a//b":      `"a//b" is not a valid revision`,
		"org/na--me":         `"org/na--me" is not a repo id`,
		"org/-name":          `"org/-name" is not a repo id`,
		"org/name.":          `"org/name." is not a repo id`,
		"plainword":          `"plainword" is not a repo id`,
		"org/na me":          `"org/na me" is not a repo id`,
	} {
		rev := ""
		if ref == "org/name@v1" {
			rev = "v2"
		}
		_, err := Resolve(ref, Options{CacheDir: cache, Revision: rev})
		require.Error(t, err, ref)
		assert.False(t, errors.Is(err, ErrNotCached), ref)
		assert.ErrorIs(t, err, fs.ErrNotExist, ref)
		assert.Contains(t, err.Error(), "loader: "+ref+": no such model directory, and "+want, ref)
	}
}

// TestResolveMissingPath: a reference that reads as a path and does not
// exist is reported as a missing directory, never looked up as a repo id.
func TestResolveMissingPath(t *testing.T) {
	clearHFEnv(t)
	cache := t.TempDir()
	work := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(work, "testdata"), 0o755))
	t.Chdir(work)
	for _, ref := range []string{"testdata/tinyy", "./tinyy", "../x/tinyy", "a/b/c", "/no/such/model", "~/models/x", `org\name`} {
		_, err := Resolve(ref, Options{CacheDir: cache})
		require.ErrorIs(t, err, fs.ErrNotExist, ref)
		assert.False(t, errors.Is(err, ErrNotCached), ref)
		assert.EqualError(t, err, "loader: "+ref+": no such model directory", ref)
	}
	// org/name whose org is no local directory is still a repo id.
	_, err := Resolve("acme/tinyy", Options{CacheDir: cache})
	require.ErrorIs(t, err, ErrNotCached)
}

func TestResolveDirectory(t *testing.T) {
	got, err := Resolve(tinyDir, Options{})
	require.NoError(t, err)
	assert.Equal(t, tinyDir, got)

	empty := t.TempDir()
	_, err = Resolve(empty, Options{})
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "loader: "+empty+": not a model directory: missing config.json, model.safetensors, vocab.txt or tokenizer.json")

	torch := t.TempDir()
	for _, f := range []string{"config.json", "pytorch_model.bin", "tokenizer.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(torch, f), nil, 0o644))
	}
	_, err = Resolve(torch, Options{})
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "missing model.safetensors (pytorch_model.bin is not read; convert it to safetensors)")
	require.NoError(t, os.WriteFile(filepath.Join(torch, "model.safetensors.index.json"), nil, 0o644))
	_, err = Resolve(torch, Options{})
	assert.Contains(t, err.Error(), "missing model.safetensors (sharded weights are not supported)")

	file := filepath.Join(tinyDir, "config.json")
	_, err = Resolve(file, Options{})
	assert.EqualError(t, err, "loader: "+file+": not a directory (want a model directory or a repo id org/name)")
}

func TestResolveDirectoryWinsOverRepoID(t *testing.T) {
	clearHFEnv(t)
	cache := t.TempDir()
	fakeCache(t, cache, "org/name", map[string]string{"main": commitMain}, commitMain)
	work := t.TempDir()
	local := filepath.Join(work, "org", "name")
	require.NoError(t, os.MkdirAll(local, 0o755))
	for _, f := range []string{"config.json", "model.safetensors", "vocab.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(local, f), nil, 0o644))
	}
	t.Chdir(work)
	got, err := Resolve("org/name", Options{CacheDir: cache})
	require.NoError(t, err)
	assert.Equal(t, "org/name", got)
}
