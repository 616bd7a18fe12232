package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Defaults used when the matching argument or environment variable is empty.
const (
	DefaultRepo     = "cross-encoder/ms-marco-MiniLM-L-6-v2"
	DefaultRevision = "main"
	DefaultEndpoint = "https://huggingface.co"
)

// Sentinel errors; every error Download returns that is one of these cases
// wraps the sentinel, whose text is also the user-facing reason.
var (
	// ErrOffline: offline mode is on and the snapshot is not complete in the cache.
	ErrOffline = errors.New("offline and not complete in the cache")
	// ErrUnauthorized: HTTP 401 or 403.
	ErrUnauthorized = errors.New("needs a token or access")
	// ErrNotFound: HTTP 404 for the repo, the revision or a required file.
	ErrNotFound = errors.New("no such repo/file/revision")
	// ErrIntegrity: a downloaded file has the wrong size or sha256.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrInvalid: the repo id or revision is malformed.
	ErrInvalid = errors.New("invalid repo id or revision")
	// ErrTooLarge: the hub claims a file larger than its cap (see
	// Options.MaxFileSize).
	ErrTooLarge = errors.New("file larger than allowed")
	// ErrNoSpace: the cache's file system has too little free space for
	// the rest of a file.
	ErrNoSpace = errors.New("not enough free disk space")
	// ErrStalled: a download made too little progress (see
	// Options.StallTimeout) on every attempt.
	ErrStalled = errors.New("download stalled")
)

// Options configures Download. Only CacheDir is required.
type Options struct {
	// CacheDir is the hub cache root (huggingface_hub's HF_HUB_CACHE).
	CacheDir string
	// Endpoint is the hub URL; "" means $HF_ENDPOINT, else DefaultEndpoint.
	Endpoint string
	// Revision is a branch, tag or commit hash; "" means DefaultRevision.
	Revision string
	// Token is sent as a Bearer token to the endpoint's host. "" means
	// $HF_TOKEN (or the legacy $HUGGING_FACE_HUB_TOKEN), else the file
	// huggingface_hub writes ($HF_TOKEN_PATH, else $HF_HOME/token, else
	// ~/.cache/huggingface/token), else no token.
	Token string
	// Client makes the requests; nil means one that waits at most 30 s for
	// a response's headers but has no overall timeout (cancel through ctx).
	// Its CheckRedirect is not used.
	Client *http.Client
	// Progress receives a progress line per downloaded file; nil is silent.
	Progress io.Writer
	// ProgressPlain writes Progress as plain lines, one every few seconds
	// and one when a file is done, for a log or a pipe; otherwise each
	// file's line is redrawn in place with \r, for a terminal.
	ProgressPlain bool
	// Offline forbids network access: Download returns the cached snapshot
	// if it is complete and an error wrapping ErrOffline otherwise. It is
	// also on when $HF_HUB_OFFLINE is 1, true, yes or on.
	Offline bool

	// StallTimeout and MinProgress are the minimum-progress rule: a GET
	// that delivers fewer than MinProgress bytes in any StallTimeout (no
	// byte at all, or a trickle) is abandoned and resumed with a Range
	// request; when every attempt stalls, Download fails with ErrStalled.
	// 0 means 30 s and 64 KiB (about 2 KiB/s).
	StallTimeout time.Duration
	MinProgress  int64
	// MaxFileSize caps the size the hub may claim for model.safetensors;
	// a larger claim fails with ErrTooLarge before anything is written.
	// 0 means DefaultMaxFileSize. The other files have fixed caps far above
	// any real tokenizer or config (see fileCaps).
	MaxFileSize int64

	// freeSpace reports the free bytes of the file system holding path
	// (false: unknown); nil means the statfs-based one. Tests replace it.
	freeSpace func(path string) (uint64, bool)
	// spaceEvery is how many bytes are written between free-space checks;
	// 0 means checkSpaceEvery. Tests shorten it.
	spaceEvery int64
	// retryBase is the first backoff delay (doubling each retry); 0 means
	// defaultRetryBase. Tests shorten it.
	retryBase time.Duration
	// now is the clock for progress rates; nil means time.Now.
	now func() time.Time
}

const (
	// DefaultMaxFileSize is Options.MaxFileSize's default: the weights of
	// models far larger than a MiniLM (90 MB) fit.
	DefaultMaxFileSize = 16 << 30
	defaultStall       = 30 * time.Second
	defaultMinProgress = 64 << 10
	// checkSpaceEvery is how many bytes are written between statfs checks.
	checkSpaceEvery  = 64 << 20
	defaultRetryBase = 500 * time.Millisecond
	maxRetryDelay    = 8 * time.Second
	// maxAttempts bounds the tries per request and, for a file's bytes,
	// the failed GETs per file.
	maxAttempts = 5
	// responseHeaderTimeout bounds the wait for a response's headers when
	// Options.Client is nil.
	responseHeaderTimeout = 30 * time.Second
)

// modelFile is a file the engine reads from a model repo.
type modelFile struct {
	name     string
	required bool // a repo without it cannot be used
}

// modelFiles lists what Download fetches, config.json first: its HEAD
// resolves the revision to the commit the other files are fetched at.
// A repo must have vocab.txt or tokenizer.json (checked separately).
func modelFiles() []modelFile {
	return []modelFile{
		{"config.json", true},
		{"model.safetensors", true},
		{"vocab.txt", false},
		{"tokenizer.json", false},
		{"tokenizer_config.json", false},
		{"special_tokens_map.json", false},
	}
}

// fileCaps are the size caps of the files other than model.safetensors,
// the same as the loader's and tokenizer's reading limits.
var fileCaps = map[string]int64{
	"config.json":             1 << 20,
	"vocab.txt":               16 << 20,
	"tokenizer.json":          32 << 20,
	"tokenizer_config.json":   1 << 20,
	"special_tokens_map.json": 1 << 20,
}

// ModelFiles returns the names of the files Download fetches when the repo
// has them: config.json and model.safetensors are required, and at least one
// of vocab.txt and tokenizer.json.
func ModelFiles() []string {
	files := modelFiles()
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	return names
}

// repoFolder is the cache directory name of a model repo: "models--ORG--NAME".
func repoFolder(repoID string) string {
	return "models--" + strings.ReplaceAll(repoID, "/", "--")
}

// Download makes the model files of repoID at opts.Revision complete in the
// cache and returns the snapshot directory holding them. Files already in
// the cache are not fetched again; optional files the repo lacks are skipped
// (and recorded under .no_exist, as huggingface_hub does).
func Download(ctx context.Context, repoID string, opts Options) (string, error) {
	rev := opts.Revision
	if rev == "" {
		rev = DefaultRevision
	}
	if err := validateRepoID(repoID); err != nil {
		return "", err
	}
	if err := validateRevision(rev); err != nil {
		return "", err
	}
	if opts.CacheDir == "" {
		return "", errors.New("hub: no cache directory given")
	}
	c := cache{root: opts.CacheDir, repoID: repoID}
	if offline, why := offlineMode(opts.Offline); offline {
		return c.completeSnapshot(rev, why)
	}
	d, err := newDownloader(repoID, rev, c, opts)
	if err != nil {
		return "", err
	}
	return d.run(ctx)
}

// offlineMode reports whether offline mode is on, and why, for errors.
func offlineMode(opt bool) (bool, string) {
	if opt {
		return true, "offline mode"
	}
	switch strings.ToLower(strings.TrimSpace(os.Getenv("HF_HUB_OFFLINE"))) {
	case "1", "true", "yes", "on":
		return true, "HF_HUB_OFFLINE is set"
	}
	return false, ""
}

// endpointURL applies the Endpoint default and checks it is an http(s) URL.
func endpointURL(opt string) (*url.URL, error) {
	raw := opt
	if raw == "" {
		raw = os.Getenv("HF_ENDPOINT")
	}
	if raw == "" {
		raw = DefaultEndpoint
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hub: endpoint %q is not an http(s) URL", raw)
	}
	return u, nil
}

// token applies the Token default: $HF_TOKEN, then huggingface_hub's token file.
func token(opt string) string {
	if opt != "" {
		return opt
	}
	for _, env := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(env)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		home := os.Getenv("HF_HOME")
		if home == "" {
			cache := os.Getenv("XDG_CACHE_HOME")
			if cache == "" {
				dir, err := os.UserHomeDir()
				if err != nil {
					return ""
				}
				cache = filepath.Join(dir, ".cache")
			}
			home = filepath.Join(cache, "huggingface")
		}
		path = filepath.Join(home, "token")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// repoPart is one component of a repo id, as huggingface_hub's
// validate_repo_id accepts it.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

func validateRepoID(id string) error {
	parts := strings.Split(id, "/")
	ok := len(id) <= 96 && len(parts) <= 2 && !strings.Contains(id, "--") && !strings.Contains(id, "..")
	for _, p := range parts {
		ok = ok && repoPart.MatchString(p)
	}
	if !ok {
		return fmt.Errorf("hub: %w: %q: want ORG/NAME (letters, digits, '-', '_', '.')", ErrInvalid, id)
	}
	return nil
}

// validateRevision rejects revisions that could escape refs/ when used as a
// path ("refs/pr/1" is fine: it nests as huggingface_hub nests it).
func validateRevision(rev string) error {
	ok := !strings.ContainsAny(rev, "\\\x00") && !strings.HasPrefix(rev, "/")
	for _, p := range strings.Split(rev, "/") {
		ok = ok && p != "" && p != "." && p != ".."
	}
	if !ok {
		return fmt.Errorf("hub: %w: revision %q", ErrInvalid, rev)
	}
	return nil
}

var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// isCommit reports whether rev is a full commit hash (huggingface_hub's
// REGEX_COMMIT_HASH), which needs no refs/ entry.
func isCommit(rev string) bool { return commitHash.MatchString(rev) }

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// isLFS reports whether a blob name is an LFS oid (sha256 of the content).
func isLFS(etag string) bool { return sha256Hex.MatchString(etag) }

// normalizeETag turns an ETag header into a blob name the way
// huggingface_hub does: drop a weak "W/" prefix and the quotes.
func normalizeETag(h string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(h), "W/"), `"`)
}

// validBlobName rejects ETags that are not safe as a file name in blobs/.
func validBlobName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 200 {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == '/' || r == '\\' || r == ':' || r >= 0x7f {
			return false
		}
	}
	return true
}
