package deploy

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDistrolessRoot proves the static binary needs nothing from the system:
// it runs `minilm serve` chrooted into a root holding only /minilm, the tiny
// model and /tmp (no libc, no /etc, no /dev, no /proc), as the distroless
// nonroot user 65532 with an empty environment, and answers /rerank over
// loopback with minilm score's logits.
func TestDistrolessRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root (CI runs as root); skipping the distroless-like root test")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(filepath.Join(root, "minilm"), binary, 0o755); err != nil {
		t.Fatal(err)
	}
	models, _ := filepath.Glob("../testdata/models/tiny/*")
	for _, f := range models {
		if err := copyFile(filepath.Join(root, "model", filepath.Base(f)), f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil { // past the umask
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 3 {
		t.Fatalf("root holds %d entries, want minilm, model, tmp", len(entries))
	}

	attr := &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := startServe(ctx, t, "/minilm", serveArgs("/model", "127.0.0.1:0"), []string{}, attr)
	g := scoreAll(t)
	if err := rerank(ctx, http.DefaultClient, in.url("/rerank"), g, g.queries[0], g.passages); err != nil {
		t.Fatalf("/rerank from the chrooted server: %v\n%s", err, in.stderr())
	}
	if err := in.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: exit %v, want 0\n%s", err, in.stderr())
	}
}
