package pairfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAtomicFile: the target keeps its old content and mode until Commit,
// Abort leaves it untouched, and no temporary file is left behind.
func TestAtomicFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(target, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := CreateAtomic(target)
	if err != nil {
		t.Fatal(err)
	}
	a.WriteString("new\n")
	if b, _ := os.ReadFile(target); string(b) != "old\n" {
		t.Errorf("target %q before Commit", b)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(target)
	if b, _ := os.ReadFile(target); err != nil || string(b) != "new\n" || st.Mode().Perm() != 0o600 {
		t.Errorf("after Commit: %q, mode %v, %v; want new, 0600", b, st.Mode().Perm(), err)
	}
	a, err = CreateAtomic(target)
	if err != nil {
		t.Fatal(err)
	}
	a.WriteString("torn")
	a.Abort()
	if b, _ := os.ReadFile(target); string(b) != "new\n" {
		t.Errorf("after Abort: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
	if _, err := CreateAtomic(filepath.Join(dir, "no-such-dir", "x")); err == nil {
		t.Error("created an output in a missing directory")
	}
}
