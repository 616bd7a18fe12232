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

// BenchmarkGPUOps times every conformance case on the GPU (GPU time plus
// encoding and the wait, as a caller sees it); it skips off a Mac.
func BenchmarkGPUOps(b *testing.B) {
	be, err := New()
	if errors.Is(err, ErrUnavailable) {
		b.Skipf("skipping the GPU backend: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	optest.Bench(b, be)
}

// TestGPUOpsHalfWeights is TestSimulatedOpsHalfWeights on the real GPU; it
// skips off a Mac.
func TestGPUOpsHalfWeights(t *testing.T) {
	be, err := NewWithOptions(Options{HalfWeights: true})
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("skipping the GPU backend: %v (it runs on macOS with cgo)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	runHalfWeights(t, be)
}
