package simd

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestARM64UnderQEMU covers the NEON kernels on an amd64 machine: it builds
// this package's arm64 test binary and runs it (short mode) under
// qemu-user, which CI installs (Debian's qemu-user-static). It skips where
// qemu-aarch64-static is not on PATH, and on arm64 itself, where the NEON
// kernels run natively.
func TestARM64UnderQEMU(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("GOARCH is %s: the arm64 kernels are tested natively or not at all", runtime.GOARCH)
	}
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		t.Skip("qemu-aarch64-static not on PATH (apt-get install qemu-user-static): NEON kernels not tested")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the arm64 test binary")
	}
	bin := filepath.Join(t.TempDir(), "simd.arm64.test")
	build := exec.Command(goTool, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c for arm64: %v\n%s", err, out)
	}
	run := exec.Command(qemu, bin, "-test.short", "-test.v")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("arm64 tests under %s: %v\n%s", qemu, err, out)
	}
	t.Logf("arm64 tests under qemu passed:\n%s", out)
}
