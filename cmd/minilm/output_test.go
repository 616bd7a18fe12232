//go:build unix

package main

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// writeOutput writes data to path through -o's createAtomic and commit.
func writeOutput(t *testing.T, path, data string) {
	t.Helper()
	a, err := createAtomic(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(a, data); err != nil {
		t.Fatal(err)
	}
	if err := a.commit(); err != nil {
		t.Fatal(err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOutputRegularFile: a regular file is replaced by rename, keeping its
// mode (set-id bits included), and no temporary file is left.
func TestOutputRegularFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(target, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640|fs.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	writeOutput(t, target, "new\n")
	st, err := os.Stat(target)
	if err != nil || readString(t, target) != "new\n" || st.Mode() != 0o640|fs.ModeSetgid {
		t.Errorf("target %q mode %v (%v), want \"new\\n\" and g+s 0640 kept", readString(t, target), st.Mode(), err)
	}
	writeOutput(t, filepath.Join(dir, "fresh.tsv"), "x\n")
	if st, _ := os.Stat(filepath.Join(dir, "fresh.tsv")); st.Mode() != 0o644 {
		t.Errorf("new file mode %v, want 0644", st.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left: %v", entries)
	}
}

// TestOutputSymlink is the reproducer of -o replacing a symbolic link with
// a regular file (its target untouched): the link must stay, and the file
// it names (in another directory) get the output.
func TestOutputSymlink(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	real := filepath.Join(other, "real.jsonl")
	os.WriteFile(real, []byte("old\n"), 0o644)
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(filepath.Join("..", filepath.Base(other), "real.jsonl"), link); err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(dir, "chain.jsonl")
	os.Symlink("link.jsonl", chain)
	writeOutput(t, chain, "new\n")
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link is no longer a link: %v %v", st.Mode(), err)
	}
	if st, err := os.Lstat(chain); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the chained link is no longer a link: %v %v", st.Mode(), err)
	}
	if got := readString(t, real); got != "new\n" {
		t.Errorf("the link's target holds %q, want the output", got)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Errorf("files left beside the target: %v", entries)
	}
	// A dangling link names the file to create.
	dangling := filepath.Join(dir, "dangling.jsonl")
	os.Symlink(filepath.Join(other, "later.jsonl"), dangling)
	writeOutput(t, dangling, "x\n")
	if got := readString(t, filepath.Join(other, "later.jsonl")); got != "x\n" {
		t.Errorf("dangling link's file holds %q", got)
	}
	loop := filepath.Join(dir, "loop")
	os.Symlink("loop", loop)
	if _, err := createAtomic(loop); err == nil {
		t.Error("a symlink loop: no error")
	}
}

// TestOutputFIFO is the reproducer of -o onto a named pipe replacing it
// with a regular file (its reader got 0 bytes): the pipe must be written in
// place and stay a pipe.
func TestOutputFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan string)
	go func() {
		b, _ := os.ReadFile(fifo) // blocks until the writer opens, ends when it closes
		got <- string(b)
	}()
	writeOutput(t, fifo, "through the pipe\n")
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		// The reader never gets a writer then; it is left blocked.
		t.Fatalf("the FIFO became %v (%v)", st.Mode(), err)
	}
	if s := <-got; s != "through the pipe\n" {
		t.Errorf("reader got %q", s)
	}
}

// TestOutputDevice is the reproducer of -o /dev/full (as root) and -o onto
// a character device turning the device into a regular file: a device is
// written in place. /dev/null is safe to write as any user; a device node
// of one's own (mknod) needs root.
func TestOutputDevice(t *testing.T) {
	writeOutput(t, os.DevNull, "discarded\n")
	if st, err := os.Stat(os.DevNull); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("%s is now %v (%v)", os.DevNull, st.Mode(), err)
	}
	if os.Geteuid() != 0 {
		t.Skip("making a device node (mynull) needs root; /dev/null was checked")
	}
	mynull := filepath.Join(t.TempDir(), "mynull")
	var null syscall.Stat_t
	if err := syscall.Stat(os.DevNull, &null); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(mynull, syscall.S_IFCHR|0o666, int(null.Rdev)); err != nil {
		t.Skipf("mknod: %v", err)
	}
	writeOutput(t, mynull, "discarded\n")
	if st, err := os.Stat(mynull); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("mynull is now %v (%v), want a character device", st.Mode(), err)
	}
}

// TestOutputKeepsOwner: as root, the replaced file keeps its owner.
func TestOutputKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	target := filepath.Join(t.TempDir(), "owned.tsv")
	os.WriteFile(target, []byte("old\n"), 0o644)
	if err := os.Chown(target, 12345, 23456); err != nil {
		t.Fatal(err)
	}
	writeOutput(t, target, "new\n")
	st, _ := os.Stat(target)
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 12345 || s.Gid != 23456 {
		t.Errorf("owner %d:%d, want 12345:23456 kept", s.Uid, s.Gid)
	}
}

// TestOutputStaleTemps: the temporary files of a killed run (its process
// gone) are removed by the next run; a running one's are kept.
func TestOutputStaleTemps(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("true: %v", err)
	}
	stale := filepath.Join(dir, ".out.jsonl.tmp-"+strconv.Itoa(dead.Process.Pid)+"-123")
	live := filepath.Join(dir, ".out.jsonl.tmp-"+strconv.Itoa(os.Getppid())+"-456")
	other := filepath.Join(dir, ".other.jsonl.tmp-"+strconv.Itoa(dead.Process.Pid)+"-789")
	for _, p := range []string{stale, live, other} {
		os.WriteFile(p, []byte("partial"), 0o644)
	}
	writeOutput(t, filepath.Join(dir, "out.jsonl"), "x\n")
	for p, want := range map[string]bool{stale: false, live: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
