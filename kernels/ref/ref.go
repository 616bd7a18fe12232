package ref

import (
	"context"
	"errors"
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

var _ kernels.Backend = (*Backend)(nil)

// Backend is the float64 reference backend. The zero value is not usable;
// call New.
type Backend struct {
	closed bool
}

// buf is a Buf made by Alloc: plain float32 storage.
type buf struct {
	owner *Backend
	data  []float32
}

func (b *buf) Len() int { return len(b.data) }

// weight is a Buf made by Weight: the [N,K] matrix kept as given.
type weight struct {
	buf
	n, k int
}

// New returns a reference backend.
func New() kernels.Backend { return &Backend{} }

// Name implements kernels.Backend.
func (be *Backend) Name() string { return "ref" }

// Alloc implements kernels.Backend.
func (be *Backend) Alloc(n int) (kernels.Buf, error) {
	if be.closed {
		return nil, errClosed
	}
	if n < 0 {
		return nil, fmt.Errorf("ref: alloc %d floats: negative length", n)
	}
	return &buf{owner: be, data: make([]float32, n)}, nil
}

// Weight implements kernels.Backend. The matrix is copied as given.
func (be *Backend) Weight(src []float32, n, k int) (kernels.Buf, error) {
	if be.closed {
		return nil, errClosed
	}
	if n <= 0 || k <= 0 || len(src) != n*k {
		return nil, fmt.Errorf("ref: weight [%d,%d]: got %d floats, want N·K > 0", n, k, len(src))
	}
	w := &weight{buf: buf{owner: be, data: make([]float32, n*k)}, n: n, k: k}
	copy(w.data, src)
	return w, nil
}

// Upload implements kernels.Backend.
func (be *Backend) Upload(dst kernels.Buf, src []float32) error {
	if be.closed {
		return errClosed
	}
	d, err := be.data(dst)
	if err != nil {
		return fmt.Errorf("ref: upload dst: %w", err)
	}
	if len(src) > len(d) {
		return fmt.Errorf("ref: upload %d floats into a buffer of %d", len(src), len(d))
	}
	copy(d, src)
	return nil
}

// Download implements kernels.Backend. A weight reads back as the (N,K)
// matrix it was made from.
func (be *Backend) Download(dst []float32, src kernels.Buf) error {
	if be.closed {
		return errClosed
	}
	var s []float32
	var err error
	if w, ok := src.(*weight); ok && w != nil && w.owner == be {
		s = w.data
	} else if s, err = be.data(src); err != nil {
		return fmt.Errorf("ref: download src: %w", err)
	}
	if len(dst) > len(s) {
		return fmt.Errorf("ref: download %d floats from a buffer of %d", len(dst), len(s))
	}
	copy(dst, s)
	return nil
}

// Close implements kernels.Backend.
func (be *Backend) Close() error {
	be.closed = true
	return nil
}

var errClosed = errors.New("ref: backend is closed")

// data returns the storage behind b, which must come from this backend's
// Alloc.
func (be *Backend) data(b kernels.Buf) ([]float32, error) {
	if be.closed {
		return nil, errClosed
	}
	switch b := b.(type) {
	case *buf:
		if b != nil && b.owner == be {
			return b.data, nil
		}
	case *weight:
		if b != nil && b.owner == be {
			return nil, errors.New("a weight made by Weight can only be MatMul.W")
		}
	case nil:
		return nil, errors.New("nil buffer")
	}
	return nil, fmt.Errorf("buffer %T not made by this backend", b)
}

// operands answers kernels.Check about this backend's buffers.
type operands struct{ be *Backend }

func (o operands) Size(b kernels.Buf, _ bool) (int, error) {
	d, err := o.be.data(b)
	return len(d), err
}

func (o operands) WeightDims(b kernels.Buf) (n, k int, err error) {
	if w, ok := b.(*weight); ok && w != nil && w.owner == o.be {
		return w.n, w.k, nil
	}
	return 0, 0, fmt.Errorf("%T is not a weight made by this backend's Weight", b)
}

// f32 is the storage of a Buf that kernels.Check accepted (nil for an
// absent optional one).
func f32(b kernels.Buf) []float32 {
	if b == nil {
		return nil
	}
	return b.(*buf).data
}

// Run implements kernels.Backend.
func (be *Backend) Run(ctx context.Context, ops ...kernels.Op) error {
	if be.closed {
		return errClosed
	}
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ref: before op %d: %w", i, err)
		}
		if err := kernels.Check(op, operands{be}); err != nil {
			return fmt.Errorf("ref: op %d: %w", i, err)
		}
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
			return fmt.Errorf("ref: op %d: %T: %w", i, op, kernels.ErrUnsupported)
		}
	}
	return nil
}
