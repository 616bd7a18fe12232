package hub

import (
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 5-9/*", "bytes 9-5/10", "bytes -1-3/4", "bytes 0-9/9", "", "bytes 1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, total, ok := parseContentRange(s)
		if ok && (start < 0 || (total != -1 && total <= start)) {
			t.Errorf("parseContentRange(%q) = %d, %d, ok", s, start, total)
		}
	})
}

// FuzzBlobName checks that whatever a server sends as an ETag either is
// refused or names a file directly inside blobs/.
func FuzzBlobName(f *testing.F) {
	for _, s := range []string{`"abc"`, `W/"abc"`, `"../x"`, `".."`, `"a/b"`, `"a\b"`, "\"\x00\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		name := normalizeETag(header)
		if !validBlobName(name) {
			return
		}
		if filepath.Base(name) != name || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			t.Errorf("ETag %q gives unsafe blob name %q", header, name)
		}
	})
}

// FuzzRepoID checks that an accepted repo id maps to one directory name.
func FuzzRepoID(f *testing.F) {
	for _, s := range []string{"org/model", "name", "../x", "a/b/c", "a--b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if validateRepoID(id) != nil {
			return
		}
		dir := repoFolder(id)
		if filepath.Base(dir) != dir || strings.Contains(dir, "..") || strings.Count(dir, "--") != 1+strings.Count(id, "/") {
			t.Errorf("repo id %q gives cache folder %q", id, dir)
		}
	})
}
