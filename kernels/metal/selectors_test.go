package metal

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// darwinkitDir returns darwinkit's source directory in the module cache.
func darwinkitDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/progrium/darwinkit").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/progrium/darwinkit: %v", err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.Dir == "" {
		t.Fatalf("darwinkit %s is not in the module cache (run go mod download)", m.Version)
	}
	return m.Dir
}

// TestSelectors checks every selector sent by name against darwinkit's
// generated wrapper that declares it, and that the wrapper really goes
// through objc.WrapAsProtocol (the reason we send it ourselves).
func TestSelectors(t *testing.T) {
	dir := darwinkitDir(t)
	funcRe := regexp.MustCompile(`(?s)\nfunc \([^)]*\) \w+\([^\n]*\{\n(.*?)\n\}\n`)
	for sel, file := range selectorOwners {
		src, err := os.ReadFile(filepath.Join(dir, "macos", "metal", file))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range funcRe.FindAllStringSubmatch(string(src), -1) {
			body := m[1]
			if !strings.Contains(body, `objc.Sel("`+sel+`")`) || strings.Contains(body, "RespondsToSelector") {
				continue
			}
			found = true
			if !strings.Contains(body, "objc.WrapAsProtocol(") {
				t.Errorf("%s: the darwinkit wrapper for %q does not use WrapAsProtocol; call the wrapper instead", file, sel)
			}
		}
		if !found {
			t.Errorf("selector %q: no darwinkit wrapper in macos/metal/%s sends it", sel, file)
		}
	}
}
