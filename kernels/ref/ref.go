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
	d, err := be.data("upload dst", dst)
	if err != nil {
		return err
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
	var s []float32
	var err error
	if w, ok := src.(*weight); ok && w.owner == be && !be.closed {
		s = w.data
	} else if s, err = be.data("download src", src); err != nil {
		return err
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

// data returns the storage behind b, which must come from this backend.
func (be *Backend) data(what string, b kernels.Buf) ([]float32, error) {
	if be.closed {
		return nil, errClosed
	}
	switch b := b.(type) {
	case *buf:
		if b.owner == be {
			return b.data, nil
		}
	case *weight:
		if b.owner == be {
			return nil, fmt.Errorf("ref: %s: a weight made by Weight can only be MatMul.W", what)
		}
	case nil:
		return nil, fmt.Errorf("ref: %s: nil buffer", what)
	}
	return nil, fmt.Errorf("ref: %s: buffer %T not made by this backend", what, b)
}

// Run implements kernels.Backend.
func (be *Backend) Run(ctx context.Context, ops ...kernels.Op) error {
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ref: before op %d: %w", i, err)
		}
		var err error
		switch op := op.(type) {
		case kernels.Embed:
			err = be.embed(op)
		case kernels.LayerNorm:
			err = be.layerNorm(op)
		case kernels.MatMul:
			err = be.matMul(op)
		case kernels.GELU:
			err = be.gelu(op)
		case kernels.Attention:
			err = be.attention(op)
		case kernels.GatherRows:
			err = be.gatherRows(op)
		case kernels.Tanh:
			err = be.tanh(op)
		default:
			err = fmt.Errorf("%T: %w", op, kernels.ErrUnsupported)
		}
		if err != nil {
			return fmt.Errorf("ref: op %d: %w", i, err)
		}
	}
	return nil
}

// need returns b's storage after checking it holds at least n floats.
func (be *Backend) need(op, name string, b kernels.Buf, n int) ([]float32, error) {
	d, err := be.data(op+"."+name, b)
	if err != nil {
		return nil, err
	}
	if len(d) < n {
		return nil, fmt.Errorf("%s.%s has %d floats, want at least %d", op, name, len(d), n)
	}
	return d, nil
}

// checkSeqs checks that seqs is a cu_seqlens array (starts at 0, never
// decreases) ending at t, or at any total when t < 0. It returns the total.
func checkSeqs(op string, seqs []int32, t int) (int, error) {
	if len(seqs) == 0 || seqs[0] != 0 {
		return 0, fmt.Errorf("%s.Seqs must start with 0 (len %d)", op, len(seqs))
	}
	for b := 1; b < len(seqs); b++ {
		if seqs[b] < seqs[b-1] {
			return 0, fmt.Errorf("%s.Seqs decreases at %d: %d < %d", op, b, seqs[b], seqs[b-1])
		}
	}
	total := int(seqs[len(seqs)-1])
	if t >= 0 && total != t {
		return 0, fmt.Errorf("%s.Seqs ends at %d, want T = %d", op, total, t)
	}
	return total, nil
}
