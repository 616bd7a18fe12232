package replica

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentifyModel(t *testing.T) {
	tiny, err := IdentifyModel("../testdata/models/tiny")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tiny.Hash, "sha256:") || len(tiny.Hash) != len("sha256:")+64 || tiny.Path != "../testdata/models/tiny" {
		t.Errorf("IdentifyModel = %+v", tiny)
	}
	again, err := IdentifyModel("../testdata/models/tiny/")
	if err != nil || again != tiny {
		t.Errorf("second IdentifyModel = %+v, %v; want %+v", again, err, tiny)
	}
	f16, err := IdentifyModel("../testdata/models/tiny-f16")
	if err != nil || f16.Hash == tiny.Hash {
		t.Errorf("tiny-f16 = %+v, %v; want a hash other than tiny's", f16, err)
	}

	// A copy with one byte of config changed is another model.
	dir := t.TempDir()
	for _, name := range modelFiles {
		data, err := os.ReadFile(filepath.Join("../testdata/models/tiny", name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if name == "config.json" {
			data = append(data, ' ')
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edited, err := IdentifyModel(dir)
	if err != nil || edited.Hash == tiny.Hash {
		t.Errorf("edited copy = %+v, %v; want a hash other than tiny's", edited, err)
	}

	if _, err := IdentifyModel(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty dir: err = %v, want fs.ErrNotExist", err)
	}
}
