package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minilm-dev/minilm/loader/hub"
	"github.com/minilm-dev/minilm/loader/hub/hubtest"
)

// downloadHub serves the tiny test model as repo id, with its weights as
// an LFS file behind the fake CDN, and points HF_ENDPOINT at it.
func downloadHub(t *testing.T, id string) *hubtest.Server {
	t.Helper()
	repo, err := hubtest.RepoFromDir(id, filepath.Join("..", "..", "testdata", "models", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	srv := hubtest.NewServer(repo)
	t.Cleanup(srv.Close)
	home := t.TempDir()
	for k, v := range map[string]string{
		"HF_ENDPOINT": srv.URL(), "HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": "", "HF_TOKEN_PATH": "", "HF_HUB_OFFLINE": "",
		"HF_HOME": home, "HF_HUB_CACHE": "", "HUGGINGFACE_HUB_CACHE": "", "XDG_CACHE_HOME": home,
	} {
		t.Setenv(k, v)
	}
	return srv
}

func runDownloadCmd(t *testing.T, terminal bool, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	std := stdio{in: strings.NewReader(""), out: &out, err: &errOut, errIsTerminal: terminal}
	status = downloadCommand().run(context.Background(), std, args)
	return out.String(), errOut.String(), status
}

func TestDownloadCommand(t *testing.T) {
	srv := downloadHub(t, "org/tiny")
	cache := t.TempDir()
	stdout, stderr, status := runDownloadCmd(t, false, "org/tiny", "--cache-dir", cache)
	if status != exitOK || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	want := filepath.Join(cache, "models--org--tiny", "snapshots", srv.Commit("org/tiny"))
	if stdout != want+"\n" {
		t.Errorf("stdout %q, want %q", stdout, want+"\n")
	}
	for _, name := range hub.ModelFiles() {
		got, err := os.ReadFile(filepath.Join(want, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		orig, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "models", "tiny", name))
		if !bytes.Equal(got, orig) {
			t.Errorf("%s differs from the served file", name)
		}
	}

	// A terminal gets a progress bar, unless --quiet.
	if _, stderr, status := runDownloadCmd(t, true, "org/tiny@main", "--cache-dir", t.TempDir()); status != exitOK || !strings.Contains(stderr, "model.safetensors [") {
		t.Errorf("terminal: status %d, stderr %q; want a progress bar", status, stderr)
	}
	if _, stderr, status := runDownloadCmd(t, true, "--quiet", "org/tiny", "--cache-dir", t.TempDir()); status != exitOK || stderr != "" {
		t.Errorf("--quiet: status %d, stderr %q; want nothing", status, stderr)
	}
	if _, stderr, status := runDownloadCmd(t, false, "--progress", "org/tiny", "--cache-dir", t.TempDir()); status != exitOK || !strings.Contains(stderr, "ETA") && !strings.Contains(stderr, "/s  in ") {
		t.Errorf("--progress: status %d, stderr %q; want a progress bar", status, stderr)
	}
}

func TestDownloadCommandDefaults(t *testing.T) {
	srv := downloadHub(t, hub.DefaultRepo)
	// No repo id and no --cache-dir: the default model into $HF_HOME/hub.
	stdout, stderr, status := runDownloadCmd(t, false)
	if status != exitOK {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	want := filepath.Join(os.Getenv("HF_HOME"), "hub", "models--cross-encoder--ms-marco-MiniLM-L-6-v2", "snapshots", srv.Commit(hub.DefaultRepo))
	if stdout != want+"\n" {
		t.Errorf("stdout %q, want %q", stdout, want+"\n")
	}
	// Offline, the cached snapshot is found without the network.
	srv.Close()
	t.Setenv("HF_HUB_OFFLINE", "1")
	if stdout2, stderr, status := runDownloadCmd(t, false); status != exitOK || stdout2 != stdout {
		t.Errorf("offline: status %d, stdout %q, stderr %q; want %q", status, stdout2, stderr, stdout)
	}
}

func TestDownloadCommandErrors(t *testing.T) {
	downloadHub(t, "org/tiny")
	for _, tc := range []struct {
		name   string
		args   []string
		env    string // HF_HUB_OFFLINE
		status int
		want   []string
	}{
		{"unknown revision", []string{"org/tiny", "--revision", "nope"}, "", exitFailure,
			[]string{"minilm: hub: org/tiny@nope: config.json: HTTP 404", "no such repo/file/revision"}},
		{"unknown repo", []string{"org/nothing"}, "", exitFailure,
			[]string{"org/nothing", "HTTP 401", "needs a token or access"}},
		{"offline miss", []string{"org/tiny@v2"}, "1", exitFailure,
			[]string{"org/tiny@v2: offline", "; unset HF_HUB_OFFLINE to download it"}},
		{"two repos", []string{"org/a", "org/b"}, "", exitUsage, []string{"at most one repo id"}},
		{"conflicting revisions", []string{"org/tiny@a", "--revision", "b"}, "", exitUsage, []string{"conflicts with --revision b"}},
		{"bad repo id", []string{"../etc"}, "", exitUsage, []string{"invalid repo id"}},
		{"bad flag", []string{"--nope"}, "", exitUsage, []string{"minilm download:", "nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HF_HUB_OFFLINE", tc.env)
			args := append(tc.args, "--cache-dir", t.TempDir())
			stdout, stderr, status := runDownloadCmd(t, false, args...)
			if status != tc.status || stdout != "" {
				t.Errorf("status %d, stdout %q; want %d and nothing", status, stdout, tc.status)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
			}
		})
	}
	stdout, _, status := runDownloadCmd(t, false, "--help")
	if status != exitOK || !strings.Contains(stdout, "minilm download [flags] [REPO_ID]") || !strings.Contains(stdout, "-revision") {
		t.Errorf("--help: status %d, stdout %q", status, stdout)
	}
}
