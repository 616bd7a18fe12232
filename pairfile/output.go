package pairfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// AtomicFile is an output file (minilm's -o) written under a temporary name in the
// target's directory and renamed over the target by Commit, so the target
// never holds a torn file: it has its old content (or does not exist) until
// Commit.
type AtomicFile struct {
	*os.File
	target string
}

// CreateAtomic starts writing target atomically.
func CreateAtomic(target string) (*AtomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create output %s: %w", target, err)
	}
	return &AtomicFile{File: f, target: target}, nil
}

// Commit puts the written file in place of the target, keeping the
// target's permissions when it exists (0644 otherwise).
func (a *AtomicFile) Commit() error {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(a.target); err == nil {
		mode = st.Mode().Perm()
	}
	err := a.Sync()
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(a.Name(), mode)
	}
	if err == nil {
		err = os.Rename(a.Name(), a.target)
	}
	if err != nil {
		os.Remove(a.Name())
		return fmt.Errorf("write output %s: %w", a.target, err)
	}
	return nil
}

// Abort removes the temporary file; the target is left as it was.
func (a *AtomicFile) Abort() {
	a.Close() // the file is thrown away; a close error changes nothing
	os.Remove(a.Name())
}
