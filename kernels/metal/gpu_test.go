package metal

import (
	"errors"
	"testing"

	"github.com/minilm-dev/minilm/kernels/optest"
)

// TestGPUOps runs the conformance suite on the real GPU. It runs on a Mac
// (darwin with cgo) and skips elsewhere, where New returns ErrUnavailable.
func TestGPUOps(t *testing.T) {
	be, err := New()
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("skipping the GPU backend: %v (it runs on macOS with cgo; the simulator tests cover the shaders here)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	optest.Run(t, be)
}
