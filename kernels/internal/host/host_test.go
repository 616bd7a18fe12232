package host

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
)

func noWeights(kernels.Buf) (int, int, bool) { return 0, 0, false }

// TestArena checks the bookkeeping both host backends rely on: ownership,
// read-only wrapped memory, the closed state and Run's error wrapping.
func TestArena(t *testing.T) {
	ctx := context.Background()
	a, other := NewArena("test", noWeights), NewArena("other", noWeights)
	x, err := a.Alloc(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Upload(x, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 2)
	if err := a.Download(got, x); err != nil || got[0] != 1 || got[1] != 2 {
		t.Fatalf("Download = %v, %v; want [1 2]", got, err)
	}
	if err := a.Upload(x, []float32{1, 2, 3}); err == nil {
		t.Error("Upload past the end succeeded")
	}
	foreign, _ := other.Alloc(2)
	if err := a.Download(got, foreign); err == nil {
		t.Error("Download of another arena's buffer succeeded")
	}

	mem := []float32{3, 4}
	w, _ := a.Wrap(mem)
	if err := a.Upload(w, []float32{0}); err == nil {
		t.Error("Upload into wrapped memory succeeded")
	}
	if err := a.Run(ctx, []kernels.Op{kernels.GELU{Out: w, X: x, N: 2}}, func(kernels.Op) error { return nil }); !errors.Is(err, kernels.ErrInvalidOp) {
		t.Errorf("Run writing wrapped memory: err = %v, want kernels.ErrInvalidOp", err)
	}

	ran := 0
	err = a.Run(ctx, []kernels.Op{kernels.GELU{Out: x, X: w, N: 2}, kernels.Tanh{Out: x, X: x, N: 2}}, func(op kernels.Op) error {
		ran++
		if _, ok := op.(kernels.Tanh); ok {
			return kernels.ErrUnsupported
		}
		if F32(op.(kernels.GELU).X)[1] != 4 {
			t.Error("F32 does not read the wrapped memory")
		}
		return nil
	})
	if ran != 2 || !errors.Is(err, kernels.ErrUnsupported) || !strings.HasPrefix(err.Error(), "test: op 1: kernels.Tanh: ") {
		t.Errorf("Run: %d ops ran, err = %v; want 2 and test: op 1: kernels.Tanh: ...ErrUnsupported", ran, err)
	}

	a.Close()
	if _, err := a.Alloc(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Alloc after Close: err = %v, want ErrClosed", err)
	}
	if err := a.Run(ctx, nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: err = %v, want ErrClosed", err)
	}
}
