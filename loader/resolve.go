package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultModel is the repository id used when no model is named.
const DefaultModel = "cross-encoder/ms-marco-MiniLM-L-6-v2"

// defaultRevision is the ref huggingface_hub downloads when none is given.
const defaultRevision = "main"

// Options say where to look for a model named by repository id.
type Options struct {
	// CacheDir is the Hugging Face hub cache; "" means HubCacheDir().
	CacheDir string
	// Revision is a branch, tag or commit hash; "" means "main" unless the
	// reference carries one ("org/name@rev").
	Revision string
}

// HubCacheDir is the Hugging Face hub cache as huggingface_hub computes it:
// $HF_HUB_CACHE, else the legacy $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
// else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub, with a
// leading "~" expanded. It is "" only when no home directory is known.
func HubCacheDir() string {
	for _, env := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if v := os.Getenv(env); v != "" {
			return expandHome(v)
		}
	}
	if v := os.Getenv("HF_HOME"); v != "" {
		return filepath.Join(expandHome(v), "hub")
	}
	if v := os.Getenv("XDG_CACHE_HOME"); v != "" {
		return filepath.Join(expandHome(v), "huggingface", "hub")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") && !strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}

// RepoFolder is the cache folder of a model repository: "org/name" → "models--org--name".
func RepoFolder(repoID string) string {
	return "models--" + strings.ReplaceAll(repoID, "/", "--")
}

// Resolve turns a model reference into a model directory. The reference is
// an existing directory (which wins over any other reading), or a repository
// id "org/name" with an optional "@revision", looked up in the hub cache as
// huggingface_hub does: refs/<revision> holds a commit hash naming
// snapshots/<hash>/, and a revision with no ref file (a commit hash) names
// its snapshot directly. "" means DefaultModel. The directory must hold
// config.json, model.safetensors, and vocab.txt or tokenizer.json. A model
// missing from the cache, or only partly there, gives an error wrapping
// ErrNotCached that says what is missing. A reference that reads as a path
// (absolute, relative with ./ or ../, more than one '/', or whose first part
// is a local directory) and does not exist, or that is no repo id at all,
// gives "no such model directory", wrapping fs.ErrNotExist.
func Resolve(ref string, opts Options) (string, error) {
	if ref == "" {
		ref = DefaultModel
	}
	st, err := os.Stat(ref)
	switch {
	case err == nil && st.IsDir():
		if missing := missingFiles(ref); missing != "" {
			return "", notExistf("loader: %s: not a model directory: missing %s", ref, missing)
		}
		return ref, nil
	case err == nil:
		return "", fmt.Errorf("loader: %s: not a directory (want a model directory or a repo id org/name)", ref)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("loader: %w", err)
	}
	if looksLikePath(ref) {
		return "", notExistf("loader: %s: no such model directory", ref)
	}
	repo, rev, err := parseRepoRef(ref, opts.Revision)
	if err != nil {
		return "", notExistf("loader: %s: no such model directory, and %v", ref, err)
	}
	cache := opts.CacheDir
	if cache == "" {
		cache = HubCacheDir()
	}
	if cache == "" {
		return "", fmt.Errorf("loader: %s: no home directory to find the Hugging Face cache in; set HF_HUB_CACHE or HF_HOME", ref)
	}
	return resolveCached(cache, repo, rev)
}

// looksLikePath tells a reference meant as a directory from a repo id
// "org/name[@rev]": "testdata/tinyy" (a typo of a local directory, since
// testdata exists here) must not go to the hub.
func looksLikePath(ref string) bool {
	repo, _, _ := strings.Cut(ref, "@")
	if filepath.IsAbs(ref) || strings.HasPrefix(ref, ".") || strings.HasPrefix(ref, "~") ||
		strings.ContainsRune(repo, '\\') || strings.Count(repo, "/") > 1 {
		return true
	}
	org, _, ok := strings.Cut(repo, "/")
	if !ok {
		return false // parseRepoRef says why it is no repo id
	}
	st, err := os.Stat(org)
	return err == nil && st.IsDir()
}

// parseRepoRef splits "org/name[@rev]" and checks both parts the way
// huggingface_hub validates them, which also keeps them from escaping the
// cache directory when joined into paths.
func parseRepoRef(ref, optRev string) (repo, rev string, err error) {
	repo, rev, hasRev := strings.Cut(ref, "@")
	switch {
	case hasRev && optRev != "" && rev != optRev:
		return "", "", fmt.Errorf("its revision %q conflicts with the requested revision %q", rev, optRev)
	case hasRev && rev == "":
		return "", "", errors.New("the revision after '@' is empty")
	case !hasRev:
		rev = optRev
	}
	if rev == "" {
		rev = defaultRevision
	}
	org, name, ok := strings.Cut(repo, "/")
	if !ok || !validRepoPart(org) || !validRepoPart(name) {
		return "", "", fmt.Errorf("%q is not a repo id of the form org/name", repo)
	}
	if !validRevision(rev) {
		return "", "", fmt.Errorf("%q is not a valid revision", rev)
	}
	return repo, rev, nil
}

// validRepoPart accepts what huggingface_hub's validate_repo_id accepts for
// one side of the slash: letters, digits, '_', '-', '.', not starting or
// ending with '-' or '.', without "--" or "..", at most 96 characters.
func validRepoPart(s string) bool {
	if s == "" || len(s) > 96 || strings.Contains(s, "--") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	edge := func(b byte) bool { return b == '-' || b == '.' }
	return !edge(s[0]) && !edge(s[len(s)-1])
}

// validRevision accepts branch and tag names, including slashed ones such as
// "refs/pr/1", that stay inside refs/ and snapshots/ when joined as paths.
func validRevision(rev string) bool {
	if strings.ContainsAny(rev, "\\:\x00") {
		return false
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func isCommitHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func resolveCached(cache, repo, rev string) (string, error) {
	notCached := func(why string) error {
		return fmt.Errorf("loader: %s at revision %s: %w (%s)", repo, rev, ErrNotCached, why)
	}
	repoDir := filepath.Join(cache, RepoFolder(repo))
	if st, err := os.Stat(repoDir); err != nil || !st.IsDir() {
		return "", notCached("no " + repoDir)
	}
	commit := rev
	refFile := filepath.Join(repoDir, "refs", filepath.FromSlash(rev))
	if st, err := os.Stat(refFile); err == nil && st.Mode().IsRegular() {
		b, err := os.ReadFile(refFile)
		if err != nil {
			return "", fmt.Errorf("loader: %w", err)
		}
		commit = strings.TrimSpace(string(b))
		if !isCommitHash(commit) {
			return "", corruptf(refFile, "holds %q, not a commit hash", commit)
		}
	} else if !isCommitHash(rev) {
		return "", notCached("no " + refFile)
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", notCached("no " + dir)
	}
	if missing := missingFiles(dir); missing != "" {
		return "", notCached(dir + " lacks " + missing)
	}
	return dir, nil
}

// missingFiles says which required model files dir lacks ("" when none).
// Cache snapshots hold symlinks into blobs/; a dangling one counts as missing.
func missingFiles(dir string) string {
	var missing []string
	if !isFile(filepath.Join(dir, "config.json")) {
		missing = append(missing, "config.json")
	}
	if !isFile(filepath.Join(dir, "model.safetensors")) {
		m := "model.safetensors"
		switch {
		case isFile(filepath.Join(dir, "model.safetensors.index.json")):
			m += " (sharded weights are not supported)"
		case isFile(filepath.Join(dir, "pytorch_model.bin")):
			m += " (pytorch_model.bin is not read; convert it to safetensors)"
		}
		missing = append(missing, m)
	}
	if !isFile(filepath.Join(dir, "vocab.txt")) && !isFile(filepath.Join(dir, "tokenizer.json")) {
		missing = append(missing, "vocab.txt or tokenizer.json")
	}
	return strings.Join(missing, ", ")
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
