package cpu

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

var (
	_ kernels.Backend     = (*Backend)(nil)
	_ kernels.HostWrapper = (*Backend)(nil)
)

// Backend runs ops on the CPU with a fixed pool of worker goroutines. It is
// not safe for concurrent use (see kernels.Backend); Close stops the workers.
type Backend struct {
	pool *pool
	simd simd.Variant
	attn []attnScratch // per worker, grown by the calling goroutine only
	// seqOrder is the attention's task order, reused by every call.
	seqOrder []int32
	closed   bool
}

// buf is a Buf made by Alloc, or by Wrap (readOnly: it may be memory-mapped
// from a read-only file, where a write would fault).
type buf struct {
	owner    *Backend
	data     []float32
	readOnly bool
}

func (b *buf) Len() int { return len(b.data) }

// New returns a CPU backend running on threads goroutines (the caller's
// included); threads ≤ 0 means runtime.NumCPU().
func New(threads int) (*Backend, error) {
	return newVariant(threads, simd.Best()), nil
}

// newVariant is New with the vector kernels pinned to v (tests run every
// variant the CPU has).
func newVariant(threads int, v simd.Variant) *Backend {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	return &Backend{pool: newPool(threads), simd: v, attn: make([]attnScratch, threads)}
}

// Threads reports how many goroutines run each op.
func (be *Backend) Threads() int { return be.pool.n }

// Name implements kernels.Backend.
func (be *Backend) Name() string { return "cpu" }

// Alloc implements kernels.Backend.
func (be *Backend) Alloc(n int) (kernels.Buf, error) {
	if be.closed {
		return nil, errClosed
	}
	if n < 0 {
		return nil, fmt.Errorf("cpu: alloc %d floats: negative length", n)
	}
	return &buf{owner: be, data: make([]float32, n)}, nil
}

// Wrap implements kernels.HostWrapper: the Buf reads host in place.
func (be *Backend) Wrap(host []float32) (kernels.Buf, error) {
	if be.closed {
		return nil, errClosed
	}
	return &buf{owner: be, data: host, readOnly: true}, nil
}

// Upload implements kernels.Backend.
func (be *Backend) Upload(dst kernels.Buf, src []float32) error {
	if be.closed {
		return errClosed
	}
	d, err := be.data(dst)
	if err != nil {
		return fmt.Errorf("cpu: upload dst: %w", err)
	}
	if b, ok := dst.(*buf); ok && b.readOnly {
		return errors.New("cpu: upload into a buffer made by Wrap (read-only host memory)")
	}
	if len(src) > len(d) {
		return fmt.Errorf("cpu: upload %d floats into a buffer of %d", len(src), len(d))
	}
	copy(d, src)
	return nil
}

// Download implements kernels.Backend.
func (be *Backend) Download(dst []float32, src kernels.Buf) error {
	if be.closed {
		return errClosed
	}
	if w, ok := src.(*weight); ok && w != nil && w.owner == be {
		if len(dst) > w.Len() {
			return fmt.Errorf("cpu: download %d floats from a weight of %d", len(dst), w.Len())
		}
		w.w.Unpack(dst)
		return nil
	}
	s, err := be.data(src)
	if err != nil {
		return fmt.Errorf("cpu: download src: %w", err)
	}
	if len(dst) > len(s) {
		return fmt.Errorf("cpu: download %d floats from a buffer of %d", len(dst), len(s))
	}
	copy(dst, s)
	return nil
}

// Close implements kernels.Backend: it stops the workers.
func (be *Backend) Close() error {
	if !be.closed {
		be.closed = true
		be.pool.close()
	}
	return nil
}

var errClosed = errors.New("cpu: backend is closed")

// data returns the storage of a Buf made by this backend's Alloc or Wrap.
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

func (o operands) Size(b kernels.Buf, write bool) (int, error) {
	d, err := o.be.data(b)
	if err != nil {
		return 0, err
	}
	if write && b.(*buf).readOnly {
		return 0, errors.New("a buffer made by Wrap (read-only host memory) cannot be written")
	}
	return len(d), nil
}

func (o operands) WeightDims(b kernels.Buf) (n, k int, err error) {
	if w, ok := b.(*weight); ok && w != nil && w.owner == o.be {
		return w.w.N(), w.w.K(), nil
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
