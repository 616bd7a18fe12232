package hub

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/loader/hub/hubtest"
)

const testRepoID = "org/model"

// weightsSize spans several 256 KiB copy buffers and many progress updates.
const weightsSize = 700_000

func testWeights() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, weightsSize)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// testRepo lacks tokenizer.json, so one optional file is always skipped.
func testRepo() hubtest.Repo {
	return hubtest.Repo{ID: testRepoID, Files: []hubtest.File{
		{Name: "config.json", Data: []byte(`{"model_type": "bert"}`)},
		{Name: "model.safetensors", Data: testWeights(), LFS: true},
		{Name: "vocab.txt", Data: []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n")},
		{Name: "tokenizer_config.json", Data: []byte(`{"do_lower_case": true}`)},
		{Name: "special_tokens_map.json", Data: []byte(`{"unk_token": "[UNK]"}`)},
	}}
}

// isolate keeps the developer's hub settings out of a test.
func isolate(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	for k, v := range map[string]string{
		"HF_ENDPOINT": "", "HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": "", "HF_TOKEN_PATH": "", "HF_HUB_OFFLINE": "",
		"HF_HOME": home, "XDG_CACHE_HOME": home,
	} {
		t.Setenv(k, v)
	}
}

func newServer(t *testing.T, repos ...hubtest.Repo) *hubtest.Server {
	t.Helper()
	isolate(t)
	if len(repos) == 0 {
		repos = []hubtest.Repo{testRepo()}
	}
	srv := hubtest.NewServer(repos...)
	t.Cleanup(srv.Close)
	return srv
}

func testOptions(t *testing.T, srv *hubtest.Server) Options {
	return Options{CacheDir: t.TempDir(), Endpoint: srv.URL(), retryBase: time.Millisecond}
}

func fileData(t *testing.T, repo hubtest.Repo, name string) []byte {
	t.Helper()
	for _, f := range repo.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("test repo has no %s", name)
	return nil
}

// blobName is the blob huggingface_hub stores a file under.
func blobName(f hubtest.File) string {
	if f.LFS {
		return hubtest.SHA256(f.Data)
	}
	return hubtest.GitBlobSHA1(f.Data)
}

// count counts recorded requests matching server, method and path suffix.
func count(reqs []hubtest.Request, server, method, suffix string) int {
	n := 0
	for _, r := range reqs {
		if r.Server == server && r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// checkLayout checks the cache holds repo exactly as huggingface_hub lays
// it out, and returns nothing else in blobs/.
func checkLayout(t *testing.T, cacheDir string, repo hubtest.Repo, commit, snapshot string) {
	t.Helper()
	repoDir := filepath.Join(cacheDir, "models--org--model")
	if want := filepath.Join(repoDir, "snapshots", commit); snapshot != want {
		t.Errorf("snapshot dir = %s, want %s", snapshot, want)
	}
	ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main"))
	if err != nil || string(ref) != commit {
		t.Errorf("refs/main = %q, %v; want %q with no newline", ref, err, commit)
	}
	var wantBlobs []string
	for _, f := range repo.Files {
		blob := blobName(f)
		wantBlobs = append(wantBlobs, blob)
		pointer := filepath.Join(repoDir, "snapshots", commit, f.Name)
		target, err := os.Readlink(pointer)
		if err != nil {
			t.Errorf("%s is not a symlink: %v", f.Name, err)
			continue
		}
		if want := "../../blobs/" + blob; target != want {
			t.Errorf("%s -> %s, want %s", f.Name, target, want)
		}
		got, err := os.ReadFile(pointer)
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s content differs from the repo's (%d bytes, %v)", f.Name, len(got), err)
		}
		if _, err := os.Stat(filepath.Join(cacheDir, ".locks", "models--org--model", blob+".lock")); err != nil {
			t.Errorf("no lock file for %s: %v", f.Name, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(repoDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var gotBlobs []string
	for _, e := range entries {
		gotBlobs = append(gotBlobs, e.Name())
	}
	sort.Strings(gotBlobs)
	sort.Strings(wantBlobs)
	if strings.Join(gotBlobs, ",") != strings.Join(wantBlobs, ",") {
		t.Errorf("blobs/ = %v, want %v", gotBlobs, wantBlobs)
	}
}

func TestDownloadLayout(t *testing.T) {
	srv := newServer(t)
	repo := testRepo()
	opts := testOptions(t, srv)
	commit := srv.Commit(testRepoID)

	dir, err := Download(context.Background(), testRepoID, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, opts.CacheDir, repo, commit, dir)
	noExist := filepath.Join(opts.CacheDir, "models--org--model", ".no_exist", commit, "tokenizer.json")
	if _, err := os.Stat(noExist); err != nil {
		t.Errorf("missing tokenizer.json not recorded: %v", err)
	}

	reqs := srv.Requests()
	if reqs[0].Method != "HEAD" || reqs[0].Path != "/org/model/resolve/main/config.json" {
		t.Errorf("first request %s %s, want HEAD of config.json at main", reqs[0].Method, reqs[0].Path)
	}
	// After config.json, files are resolved at the commit it reported.
	for _, r := range reqs[1:] {
		if r.Server == "hub" && !strings.Contains(r.Path, "/resolve/"+commit+"/") {
			t.Errorf("%s %s not pinned to commit %s", r.Method, r.Path, commit)
		}
	}
	if n := count(reqs, "cdn", "GET", "/blobs/"+hubtest.SHA256(fileData(t, repo, "model.safetensors"))); n != 1 {
		t.Errorf("%d CDN GETs of model.safetensors, want 1", n)
	}
	if n := count(reqs, "hub", "GET", "/tokenizer.json"); n != 0 {
		t.Errorf("GET of the missing tokenizer.json")
	}

	// A second download finds every blob and fetches nothing.
	before := len(reqs)
	dir2, err := Download(context.Background(), testRepoID, opts)
	if err != nil || dir2 != dir {
		t.Fatalf("second download: %q, %v; want %q", dir2, err, dir)
	}
	for _, r := range srv.Requests()[before:] {
		if r.Method != "HEAD" {
			t.Errorf("second download made %s %s", r.Method, r.Path)
		}
	}
}

func TestDownloadRevisionCommitAndRenamedRepo(t *testing.T) {
	repo := testRepo()
	repo.Refs = []string{"main", "refs/pr/1"}
	repo.OldIDs = []string{"old-org/model"}
	srv := newServer(t, repo)
	commit := srv.Commit(testRepoID)

	opts := testOptions(t, srv)
	opts.Revision = "refs/pr/1"
	if _, err := Download(context.Background(), testRepoID, opts); err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join(opts.CacheDir, "models--org--model", "refs", "refs", "pr", "1"))
	if err != nil || string(ref) != commit {
		t.Errorf("refs/refs/pr/1 = %q, %v; want %q", ref, err, commit)
	}

	// A commit hash needs no ref.
	opts = testOptions(t, srv)
	opts.Revision = commit
	dir, err := Download(context.Background(), testRepoID, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(opts.CacheDir, "models--org--model", "refs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refs/ written for a commit revision: %v", err)
	}
	if filepath.Base(dir) != commit {
		t.Errorf("snapshot %s, want commit %s", dir, commit)
	}

	// A renamed repo answers with a relative redirect that is followed.
	opts = testOptions(t, srv)
	dir, err = Download(context.Background(), "old-org/model", opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(opts.CacheDir, "models--old-org--model", "snapshots", commit); dir != want {
		t.Errorf("renamed repo snapshot %s, want %s", dir, want)
	}
}

func TestDownloadResumesAfterCut(t *testing.T) {
	srv := newServer(t)
	repo := testRepo()
	const cut = 300_000
	srv.CutNext("model.safetensors", cut, 1)
	srv.CutNext("vocab.txt", 7, 1)
	opts := testOptions(t, srv)

	dir, err := Download(context.Background(), testRepoID, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, opts.CacheDir, repo, srv.Commit(testRepoID), dir)
	var ranges []string
	for _, r := range srv.Requests() {
		if r.Server == "cdn" && r.Method == "GET" {
			ranges = append(ranges, r.Range)
		}
	}
	if want := []string{"", "bytes=300000-"}; strings.Join(ranges, "|") != strings.Join(want, "|") {
		t.Errorf("CDN GET ranges %q, want %q", ranges, want)
	}
	var vocabRanges []string
	for _, r := range srv.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/vocab.txt") {
			vocabRanges = append(vocabRanges, r.Range)
		}
	}
	if want := []string{"", "bytes=7-"}; strings.Join(vocabRanges, "|") != strings.Join(want, "|") {
		t.Errorf("vocab.txt GET ranges %q, want %q", vocabRanges, want)
	}
}

func TestDownloadResumesPartialFile(t *testing.T) {
	srv := newServer(t)
	repo := testRepo()
	weights := fileData(t, repo, "model.safetensors")
	sum := hubtest.SHA256(weights)
	opts := testOptions(t, srv)
	blobs := filepath.Join(opts.CacheDir, "models--org--model", "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	// What an interrupted earlier run (ours or huggingface_hub's) left.
	if err := os.WriteFile(filepath.Join(blobs, sum+".incomplete"), weights[:123456], 0o644); err != nil {
		t.Fatal(err)
	}

	dir, err := Download(context.Background(), testRepoID, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, opts.CacheDir, repo, srv.Commit(testRepoID), dir)
	for _, r := range srv.Requests() {
		if r.Server == "cdn" && r.Range != "bytes=123456-" {
			t.Errorf("CDN request with Range %q, want bytes=123456-", r.Range)
		}
	}
}

func TestDownloadPartialFileEdgeCases(t *testing.T) {
	weights := testWeights()
	sum := hubtest.SHA256(weights)
	for _, tc := range []struct {
		name    string
		partial []byte
		fault   func(*hubtest.Server)
		ranges  []string // of the weights GETs
	}{
		// The server answers 200 to the Range: the body replaces the partial.
		{"range ignored", weights[:1000], func(s *hubtest.Server) { s.IgnoreRange("model.safetensors") }, []string{"bytes=1000-"}},
		// Longer than the file: useless, fetched again from the start.
		{"oversized", append(append([]byte(nil), weights...), 1, 2, 3), nil, []string{""}},
		// Complete but never renamed (a crash after the last byte): verified, not fetched.
		{"complete", weights, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			if tc.fault != nil {
				tc.fault(srv)
			}
			opts := testOptions(t, srv)
			blobs := filepath.Join(opts.CacheDir, "models--org--model", "blobs")
			if err := os.MkdirAll(blobs, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(blobs, sum+".incomplete"), tc.partial, 0o644); err != nil {
				t.Fatal(err)
			}
			dir, err := Download(context.Background(), testRepoID, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, opts.CacheDir, testRepo(), srv.Commit(testRepoID), dir)
			var ranges []string
			for _, r := range srv.Requests() {
				if r.Server == "cdn" {
					ranges = append(ranges, r.Range)
				}
			}
			if strings.Join(ranges, "|") != strings.Join(tc.ranges, "|") || len(ranges) != len(tc.ranges) {
				t.Errorf("weights GET ranges %q, want %q", ranges, tc.ranges)
			}
		})
	}
}

// checkNothingLinked checks a failed download left no snapshot, no ref, no
// weights blob and no partial file.
func checkNothingLinked(t *testing.T, cacheDir string) {
	t.Helper()
	repoDir := filepath.Join(cacheDir, "models--org--model")
	for _, p := range []string{"snapshots", "refs"} {
		if _, err := os.Stat(filepath.Join(repoDir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a failed download (%v)", p, err)
		}
	}
	sum := hubtest.SHA256(testWeights())
	for _, p := range []string{sum, sum + ".incomplete"} {
		if _, err := os.Stat(filepath.Join(repoDir, "blobs", p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("blobs/%s exists after a failed download (%v)", p, err)
		}
	}
}

func TestDownloadRejectsCorruption(t *testing.T) {
	srv := newServer(t)
	srv.Corrupt("model.safetensors")
	opts := testOptions(t, srv)
	_, err := Download(context.Background(), testRepoID, opts)
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("err = %v, want ErrIntegrity", err)
	}
	for _, want := range []string{testRepoID, "model.safetensors", "sha256"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	checkNothingLinked(t, opts.CacheDir)
}

func TestDownloadRejectsCorruptPartialFile(t *testing.T) {
	srv := newServer(t)
	weights := testWeights()
	opts := testOptions(t, srv)
	blobs := filepath.Join(opts.CacheDir, "models--org--model", "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), weights[:5000]...)
	bad[10] ^= 1
	if err := os.WriteFile(filepath.Join(blobs, hubtest.SHA256(weights)+".incomplete"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Download(context.Background(), testRepoID, opts); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("err = %v, want ErrIntegrity", err)
	}
	checkNothingLinked(t, opts.CacheDir)
}

func TestOffline(t *testing.T) {
	srv := newServer(t)
	opts := testOptions(t, srv)
	ctx := context.Background()

	// Miss: an empty cache.
	opts.Offline = true
	_, err := Download(ctx, testRepoID, opts)
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("err = %v, want ErrOffline", err)
	}
	for _, want := range []string{"org/model@main", "refs/main", opts.CacheDir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "minilm") {
		t.Errorf("error %q tells a Go caller to run a command", err)
	}
	opts.Revision = "v2"
	if _, err := Download(ctx, testRepoID, opts); err == nil || !strings.Contains(err.Error(), "org/model@v2") {
		t.Errorf("offline error for a revision = %v, want it to name org/model@v2", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("offline mode made %d requests", n)
	}

	// Hit: after a download, offline mode returns the snapshot without the network.
	opts.Offline, opts.Revision = false, ""
	dir, err := Download(ctx, testRepoID, opts)
	if err != nil {
		t.Fatal(err)
	}
	before := len(srv.Requests())
	opts.Offline = true
	if got, err := Download(ctx, testRepoID, opts); err != nil || got != dir {
		t.Errorf("offline hit = %q, %v; want %q", got, err, dir)
	}
	opts.Offline = false
	t.Setenv("HF_HUB_OFFLINE", "1")
	if got, err := Download(ctx, testRepoID, opts); err != nil || got != dir {
		t.Errorf("HF_HUB_OFFLINE=1 hit = %q, %v; want %q", got, err, dir)
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("offline hits made %d requests", n)
	}

	// Miss: a snapshot missing a file names it; the error says why offline.
	if err := os.Remove(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	_, err = Download(ctx, testRepoID, opts)
	if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "lacks model.safetensors") || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("err = %v, want ErrOffline naming model.safetensors and HF_HUB_OFFLINE", err)
	}
	// An optional file neither present nor known absent makes it incomplete.
	noExist := filepath.Join(opts.CacheDir, "models--org--model", ".no_exist", srv.Commit(testRepoID), "tokenizer.json")
	if err := os.Remove(noExist); err != nil {
		t.Fatal(err)
	}
	if _, err := Download(ctx, testRepoID, opts); err == nil || !strings.Contains(err.Error(), "lacks model.safetensors, tokenizer.json") {
		t.Errorf("err = %v, want it to name model.safetensors and tokenizer.json", err)
	}
}

func TestToken(t *testing.T) {
	const secret = "hf_s3cretT0ken"
	repo := testRepo()
	repo.Token = secret
	for i := range repo.Files {
		if repo.Files[i].Name == "vocab.txt" {
			repo.Files[i].ViaCDN = true // GET redirected by the client itself
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, opts *Options)
	}{
		{"option", func(t *testing.T, opts *Options) { opts.Token = secret }},
		{"HF_TOKEN", func(t *testing.T, opts *Options) { t.Setenv("HF_TOKEN", secret) }},
		{"HF_TOKEN_PATH", func(t *testing.T, opts *Options) {
			path := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("HF_TOKEN_PATH", path)
		}},
		{"HF_HOME", func(t *testing.T, opts *Options) {
			if err := os.WriteFile(filepath.Join(os.Getenv("HF_HOME"), "token"), []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, repo)
			opts := testOptions(t, srv)
			tc.setup(t, &opts)
			if _, err := Download(context.Background(), testRepoID, opts); err != nil {
				t.Fatal(err)
			}
			cdn := 0
			for _, r := range srv.Requests() {
				switch {
				case r.Server == "hub" && r.Authorization != "Bearer "+secret:
					t.Errorf("hub %s %s without the token", r.Method, r.Path)
				case r.Server == "cdn" && r.Authorization != "":
					t.Errorf("token forwarded to the CDN on %s %s", r.Method, r.Path)
				case r.Server == "cdn":
					cdn++
				}
			}
			if cdn != 2 {
				t.Errorf("%d CDN requests, want 2 (weights, vocab.txt)", cdn)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		srv := newServer(t, repo)
		opts := testOptions(t, srv)
		opts.Token = "hf_wrongButSecretToo"
		_, err := Download(context.Background(), testRepoID, opts)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		for _, want := range []string{testRepoID, "config.json", "HTTP 401", "needs a token or access"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "hf_wrongButSecretToo") {
			t.Errorf("error leaks the token: %q", err)
		}
	})
}

func TestHTTPErrors(t *testing.T) {
	without := func(name string) hubtest.Repo {
		r := testRepo()
		r.Files = slicesDelete(r.Files, name)
		return r
	}
	for _, tc := range []struct {
		name     string
		repo     hubtest.Repo
		id, rev  string
		fail     func(*hubtest.Server)
		sentinel error
		want     []string
		requests int // hub requests made; 0 = unchecked
	}{
		{name: "no such repo", repo: testRepo(), id: "org/nothing", sentinel: ErrUnauthorized,
			want: []string{"org/nothing", "config.json", "HTTP 401", "RepoNotFound", "needs a token or access"}, requests: 1},
		{name: "no such revision", repo: testRepo(), id: testRepoID, rev: "v9", sentinel: ErrNotFound,
			want: []string{"org/model@v9", "config.json", "HTTP 404", "no such repo/file/revision"}, requests: 1},
		{name: "no weights", repo: without("model.safetensors"), id: testRepoID, sentinel: ErrNotFound,
			want: []string{"model.safetensors", "HTTP 404", "EntryNotFound", "no such repo/file/revision"}},
		{name: "no tokenizer", repo: without("vocab.txt"), id: testRepoID, sentinel: ErrNotFound,
			want: []string{"neither vocab.txt nor tokenizer.json"}},
		{name: "forbidden", repo: testRepo(), id: testRepoID, sentinel: ErrUnauthorized,
			fail: func(s *hubtest.Server) { s.FailNext("config.json", 403, 1) },
			want: []string{"config.json", "HTTP 403", "needs a token or access"}, requests: 1},
		{name: "weights forbidden", repo: testRepo(), id: testRepoID, sentinel: ErrUnauthorized,
			fail: func(s *hubtest.Server) { s.FailNext("model.safetensors", 403, 1) },
			want: []string{"model.safetensors", "HTTP 403"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.repo)
			if tc.fail != nil {
				tc.fail(srv)
			}
			opts := testOptions(t, srv)
			opts.Revision = tc.rev
			_, err := Download(context.Background(), tc.id, opts)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if tc.requests > 0 && len(srv.Requests()) != tc.requests {
				t.Errorf("%d requests, want %d (no retry)", len(srv.Requests()), tc.requests)
			}
			if _, err := os.Stat(filepath.Join(opts.CacheDir, repoFolder(tc.id), "snapshots")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("snapshot written after a failure (%v)", err)
			}
		})
	}
}

func slicesDelete(files []hubtest.File, name string) []hubtest.File {
	var out []hubtest.File
	for _, f := range files {
		if f.Name != name {
			out = append(out, f)
		}
	}
	return out
}

func TestRetry(t *testing.T) {
	t.Run("500 then success", func(t *testing.T) {
		srv := newServer(t)
		srv.FailNext("config.json", 500, 2)
		srv.FailNext("model.safetensors", 503, maxAttempts-1)
		opts := testOptions(t, srv)
		dir, err := Download(context.Background(), testRepoID, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkLayout(t, opts.CacheDir, testRepo(), srv.Commit(testRepoID), dir)
		reqs := srv.Requests()
		if n := count(reqs, "hub", "HEAD", "/config.json"); n != 3 {
			t.Errorf("%d HEADs of config.json, want 3", n)
		}
		if n := count(reqs, "hub", "HEAD", "/model.safetensors"); n != maxAttempts {
			t.Errorf("%d HEADs of model.safetensors, want %d", n, maxAttempts)
		}
	})
	t.Run("gives up on 500", func(t *testing.T) {
		srv := newServer(t)
		srv.FailNext("config.json", 500, 100)
		opts := testOptions(t, srv)
		_, err := Download(context.Background(), testRepoID, opts)
		if err == nil || !strings.Contains(err.Error(), "config.json: HTTP 500") || !strings.Contains(err.Error(), "gave up after 5 attempts") {
			t.Fatalf("err = %v, want HTTP 500 after 5 attempts", err)
		}
		if n := len(srv.Requests()); n != maxAttempts {
			t.Errorf("%d requests, want %d", n, maxAttempts)
		}
	})
	t.Run("gives up on cuts", func(t *testing.T) {
		srv := newServer(t)
		srv.CutNext("model.safetensors", 1000, 100)
		opts := testOptions(t, srv)
		_, err := Download(context.Background(), testRepoID, opts)
		if err == nil || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "gave up after 5 attempts") {
			t.Fatalf("err = %v, want model.safetensors given up after 5 attempts", err)
		}
		if n := count(srv.Requests(), "cdn", "GET", ""); n != maxAttempts {
			t.Errorf("%d CDN GETs, want %d", n, maxAttempts)
		}
		// What arrived stays for a later resume; nothing is linked.
		sum := hubtest.SHA256(testWeights())
		info, err := os.Stat(filepath.Join(opts.CacheDir, "models--org--model", "blobs", sum+".incomplete"))
		if err != nil || info.Size() != 5000 {
			t.Errorf("partial file: %v, %v; want 5000 bytes kept", info, err)
		}
		if _, err := os.Stat(filepath.Join(opts.CacheDir, "models--org--model", "snapshots")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("snapshot written after a failure (%v)", err)
		}
	})
	t.Run("cancelled during backoff", func(t *testing.T) {
		srv := newServer(t)
		srv.FailNext("config.json", 500, 100)
		opts := testOptions(t, srv)
		opts.retryBase = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		srv.OnRequest(func(hubtest.Request) { cancel() })
		if _, err := Download(ctx, testRepoID, opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestProgress(t *testing.T) {
	srv := newServer(t)
	opts := testOptions(t, srv)
	var out bytes.Buffer
	opts.Progress = &out
	clock := time.Unix(0, 0)
	opts.now = func() time.Time {
		clock = clock.Add(100 * time.Millisecond)
		return clock
	}
	if _, err := Download(context.Background(), testRepoID, opts); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) != 5 {
		t.Fatalf("%d finished lines, want one per downloaded file (5):\n%q", len(lines), text)
	}
	weights := lines[1]
	for _, want := range []string{"model.safetensors", "ETA", "700.0 kB / 700.0 kB", "/s  in "} {
		if !strings.Contains(weights, want) {
			t.Errorf("weights progress %q lacks %q", weights, want)
		}
	}
}

// TestProgressPlain: for a log, whole lines (no \r), a few per file.
func TestProgressPlain(t *testing.T) {
	var out bytes.Buffer
	clock := time.Unix(0, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	p := newProgress(&out, true, "model.safetensors", 1000, 0, now)
	for range 12 {
		p.add(50)
	}
	p.finish()
	text := out.String()
	if strings.ContainsAny(text, "\r\x1b") {
		t.Errorf("plain progress has carriage returns or escapes: %q", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	// The first line, one per 5 s of the 12 (a tick a second), the last.
	if len(lines) != 4 || !strings.Contains(lines[3], "600 B / 1.0 kB") || !strings.Contains(lines[3], "/s  in ") {
		t.Errorf("plain progress lines:\n%s", text)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 90_900_000: "90.9 MB", 2_500_000_000: "2.5 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestValidation(t *testing.T) {
	for _, id := range []string{"org/model", "bert-base-uncased", "a.b/c_d-e"} {
		if err := validateRepoID(id); err != nil {
			t.Errorf("validateRepoID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "a/b/c", "../x", "org/..", "org/-x", "a--b/c", "org/x.", "/x", "x/"} {
		if err := validateRepoID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("validateRepoID(%q) = %v, want ErrInvalid", id, err)
		}
	}
	for _, rev := range []string{"main", "v1.0", "refs/pr/1"} {
		if err := validateRevision(rev); err != nil {
			t.Errorf("validateRevision(%q) = %v", rev, err)
		}
	}
	for _, rev := range []string{"../x", "a/../../b", "/abs", "a//b", `a\b`} {
		if err := validateRevision(rev); !errors.Is(err, ErrInvalid) {
			t.Errorf("validateRevision(%q) = %v, want ErrInvalid", rev, err)
		}
	}
	if _, err := Download(context.Background(), testRepoID, Options{Offline: true}); err == nil {
		t.Error("Download without a cache directory succeeded")
	}
}

func TestNotAHub(t *testing.T) {
	isolate(t)
	// A web server that is not a hub: 200 with none of the hub's headers.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>hello</html>"))
	}))
	defer srv.Close()
	_, err := Download(context.Background(), testRepoID, Options{CacheDir: t.TempDir(), Endpoint: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "config.json: response has no commit hash") || !strings.Contains(err.Error(), "a Hugging Face hub?") {
		t.Errorf("err = %v, want a missing X-Repo-Commit error", err)
	}
	if _, err := Download(context.Background(), testRepoID, Options{CacheDir: t.TempDir(), Endpoint: "ftp://x"}); err == nil {
		t.Error("non-http endpoint accepted")
	}
}
