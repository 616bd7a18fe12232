//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestReadList reads lists written the way run.sh writes them: printf
// '%s\0' per entry, so empty entries survive and an empty file is no list.
func TestReadList(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, data string
		want       []string
	}{
		{"empty", "", nil},
		{"one", "-test.v\x00", []string{"-test.v"}},
		{"one empty entry", "\x00", []string{""}},
		{"empty last", "a b\x00\x00", []string{"a b", ""}},
		{"several", "-test.run\x00A|B\x00-test.short\x00", []string{"-test.run", "A|B", "-test.short"}},
	} {
		p := filepath.Join(dir, "list")
		if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readList(p)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: readList = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if got, err := readList(filepath.Join(dir, "missing")); got != nil || err != nil {
		t.Errorf("missing file: readList = %q, %v; want nil, nil", got, err)
	}
	if _, err := readList(dir); err == nil {
		t.Error("a directory: readList returned no error")
	}
}

// TestStatus checks the shell-style statuses that end up in the exit marker.
func TestStatus(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	console, err := os.CreateTemp(t.TempDir(), "console")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = console.Close() }() // a temporary file read by no one
	g := guest{console: console}
	for _, c := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -KILL $$", 128 + 9},
	} {
		if got := g.status(exec.Command(sh, "-c", c.script).Run()); got != c.want {
			t.Errorf("sh -c %q: status %d, want %d", c.script, got, c.want)
		}
	}
	if got := g.status(exec.Command(filepath.Join(t.TempDir(), "absent")).Run()); got != statusNoStart {
		t.Errorf("missing program: status %d, want %d", got, statusNoStart)
	}
}
