package ref

import (
	"context"
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/internal/host"
)

var _ kernels.Backend = (*Backend)(nil)

// Backend is the float64 reference backend. The zero value is not usable;
// call New.
type Backend struct {
	host *host.Arena
}

// weight is a Buf made by Weight: the [N,K] matrix kept as given.
type weight struct {
	owner *Backend
	data  []float32
	n, k  int
}

func (w *weight) Len() int { return len(w.data) }

// New returns a reference backend.
func New() kernels.Backend {
	be := &Backend{}
	be.host = host.NewArena("ref", be.weightDims)
	return be
}

// Name implements kernels.Backend.
func (be *Backend) Name() string { return "ref" }

// Alloc implements kernels.Backend.
func (be *Backend) Alloc(n int) (kernels.Buf, error) { return be.host.Alloc(n) }

// Weight implements kernels.Backend. The matrix is copied as given.
func (be *Backend) Weight(src []float32, n, k int) (kernels.Buf, error) {
	if err := be.host.Err(); err != nil {
		return nil, err
	}
	if n <= 0 || k <= 0 || len(src) != n*k {
		return nil, fmt.Errorf("ref: weight [%d,%d]: got %d floats, want N·K > 0", n, k, len(src))
	}
	w := &weight{owner: be, data: make([]float32, n*k), n: n, k: k}
	copy(w.data, src)
	return w, nil
}

// weightDims is the host.WeightDims of this backend's weights.
func (be *Backend) weightDims(b kernels.Buf) (n, k int, ok bool) {
	if w, ok := b.(*weight); ok && w != nil && w.owner == be {
		return w.n, w.k, true
	}
	return 0, 0, false
}

// Upload implements kernels.Backend.
func (be *Backend) Upload(dst kernels.Buf, src []float32) error { return be.host.Upload(dst, src) }

// Download implements kernels.Backend. A weight reads back as the (N,K)
// matrix it was made from.
func (be *Backend) Download(dst []float32, src kernels.Buf) error {
	if err := be.host.Err(); err != nil {
		return err
	}
	if w, ok := src.(*weight); ok && w != nil && w.owner == be {
		if len(dst) > len(w.data) {
			return fmt.Errorf("ref: download %d floats from a buffer of %d", len(dst), len(w.data))
		}
		copy(dst, w.data)
		return nil
	}
	return be.host.Download(dst, src)
}

// Close implements kernels.Backend.
func (be *Backend) Close() error {
	be.host.Close()
	return nil
}

// f32 is the storage of a Buf that kernels.Check accepted (nil for an
// absent optional one).
func f32(b kernels.Buf) []float32 { return host.F32(b) }

// Run implements kernels.Backend.
func (be *Backend) Run(ctx context.Context, ops ...kernels.Op) error {
	return be.host.Run(ctx, ops, be.run)
}

// run computes one op that kernels.Check accepted.
func (be *Backend) run(op kernels.Op) error {
	switch op := op.(type) {
	case kernels.Embed:
		be.embed(op)
	case kernels.LayerNorm:
		be.layerNorm(op)
	case kernels.MatMul:
		be.matMul(op)
	case kernels.GELU:
		be.gelu(op)
	case kernels.Attention:
		be.attention(op)
	case kernels.GatherRows:
		be.gatherRows(op)
	case kernels.Tanh:
		be.tanh(op)
	default:
		return kernels.ErrUnsupported
	}
	return nil
}
