package hub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cache is one repo's part of the hub cache.
type cache struct {
	root   string // the hub cache root
	repoID string
}

func (c cache) repoDir() string { return filepath.Join(c.root, repoFolder(c.repoID)) }

func (c cache) blobPath(etag string) string {
	return filepath.Join(c.repoDir(), "blobs", etag)
}

func (c cache) lockPath(etag string) string {
	return filepath.Join(c.root, ".locks", repoFolder(c.repoID), etag+".lock")
}

func (c cache) refPath(rev string) string {
	return filepath.Join(c.repoDir(), "refs", filepath.FromSlash(rev))
}

func (c cache) snapshotDir(commit string) string {
	return filepath.Join(c.repoDir(), "snapshots", commit)
}

func (c cache) noExistPath(commit, file string) string {
	return filepath.Join(c.repoDir(), ".no_exist", commit, filepath.FromSlash(file))
}

// link makes snapshots/<commit>/<file> a relative symlink to blobs/<etag>,
// replacing whatever was there in one rename so a reader never sees it absent
// or half-made.
func (c cache) link(commit, file, etag string) error {
	pointer := filepath.Join(c.snapshotDir(commit), filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	target, err := filepath.Rel(filepath.Dir(pointer), c.blobPath(etag))
	if err != nil {
		return fmt.Errorf("hub: link %s: %w", file, err)
	}
	if cur, err := os.Readlink(pointer); err == nil && cur == target {
		return nil
	}
	tmp, err := tempName(pointer)
	if err != nil {
		return err
	}
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("hub: link %s: %w", file, err)
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: link %s: %w", file, err)
	}
	return nil
}

// writeRef records that rev resolves to commit, unless rev is the commit.
func (c cache) writeRef(rev, commit string) error {
	if rev == commit {
		return nil
	}
	path := c.refPath(rev)
	if cur, err := os.ReadFile(path); err == nil && string(cur) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	tmp, err := tempName(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return fmt.Errorf("hub: write ref %s: %w", rev, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hub: write ref %s: %w", rev, err)
	}
	return nil
}

// markMissing records that the repo at commit has no such file.
func (c cache) markMissing(commit, file string) error {
	path := c.noExistPath(commit, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return f.Close()
}

// resolveCached returns the commit rev names in the cache, if any.
func (c cache) resolveCached(rev string) (string, bool) {
	if isCommit(rev) {
		return rev, true
	}
	data, err := os.ReadFile(c.refPath(rev))
	commit := strings.TrimSpace(string(data))
	if err != nil || !isCommit(commit) {
		return "", false
	}
	return commit, true
}

// completeSnapshot returns the snapshot directory for rev when every model
// file is in it or known absent (.no_exist) and the required ones are
// there; otherwise an error wrapping ErrOffline that names what is missing
// and the command that fetches it.
func (c cache) completeSnapshot(rev, why string) (string, error) {
	commit, ok := c.resolveCached(rev)
	if !ok {
		return "", c.offlineError(rev, why, "refs/"+rev+" (never downloaded)")
	}
	dir := c.snapshotDir(commit)
	present := map[string]bool{}
	var missing []string
	for _, f := range modelFiles() {
		// Stat follows the link, so a dangling link counts as missing.
		if info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.name))); err == nil && info.Mode().IsRegular() {
			present[f.name] = true
			continue
		}
		_, err := os.Stat(c.noExistPath(commit, f.name))
		if f.required || err != nil {
			missing = append(missing, f.name)
		}
	}
	if !present["vocab.txt"] && !present["tokenizer.json"] && len(missing) == 0 {
		missing = append(missing, "vocab.txt or tokenizer.json")
	}
	if len(missing) > 0 {
		return "", c.offlineError(rev, why, strings.Join(missing, ", "))
	}
	return dir, nil
}

// offlineError says what is missing; how to fetch it is for the caller to
// say (a command-line tool has a command for it, a library caller does not).
func (c cache) offlineError(rev, why, missing string) error {
	return fmt.Errorf("hub: %s@%s: %w (%s): cache %s lacks %s",
		c.repoID, rev, ErrOffline, why, c.root, missing)
}

// tempName returns an unused-looking sibling name of path for an atomic
// rename; the random suffix keeps concurrent writers apart.
func tempName(path string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	return path + ".tmp-" + hex.EncodeToString(b[:]), nil
}

// exists reports whether path exists (following links).
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("hub: %w", err)
}
