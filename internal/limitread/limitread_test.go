package limitread

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("12345"), 0o644)
	if data, err := ReadFile(small, 5); err != nil || string(data) != "12345" {
		t.Errorf("at the limit: %q, %v", data, err)
	}
	var tl *TooLargeError
	if _, err := ReadFile(small, 4); !errors.As(err, &tl) || tl.Size != 5 || tl.Limit != 4 {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), 1); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A stream of unknown size (a pipe) is cut off just past the limit.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write(make([]byte, 100))
		w.Close()
	}()
	fdPath := "/dev/fd/" + strconv.Itoa(int(r.Fd()))
	if _, err := os.Stat(fdPath); err != nil {
		t.Skipf("no %s to name a pipe by", fdPath)
	}
	if _, err := ReadFile(fdPath, 10); !errors.As(err, &tl) || tl.Size != -1 {
		t.Errorf("stream over the limit: %v", err)
	}
}
