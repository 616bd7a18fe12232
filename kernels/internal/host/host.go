package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// ErrClosed is wrapped by every call on a closed backend.
var ErrClosed = errors.New("backend is closed")

// Buf is a Buf made by Arena.Alloc, or by Arena.Wrap (readOnly: it may be
// memory-mapped from a read-only file, where a write would fault).
type Buf struct {
	owner    *Arena
	data     []float32
	readOnly bool
}

// Len implements kernels.Buf.
func (b *Buf) Len() int { return len(b.data) }

// F32 is the storage of a Buf that kernels.Check accepted through an Arena
// (nil for an absent optional one).
func F32(b kernels.Buf) []float32 {
	if b == nil {
		return nil
	}
	return b.(*Buf).data
}

// WeightDims reports the [N,K] of b when b is a weight made by the backend's
// own Weight; ok is false for any other Buf. Weights are the backends' own
// types (kept as given by ref, packed by cpu), so the Arena asks about them.
type WeightDims func(b kernels.Buf) (n, k int, ok bool)

// Arena makes and vets one backend's Bufs. Errors are prefixed by the
// backend's name, as if the backend had written them.
type Arena struct {
	name   string
	weight WeightDims
	closed bool
}

// NewArena returns the Arena of the backend called name, whose weights
// weight recognises.
func NewArena(name string, weight WeightDims) *Arena {
	return &Arena{name: name, weight: weight}
}

// Err is nil until Close, then an error wrapping ErrClosed.
func (a *Arena) Err() error {
	if a.closed {
		return fmt.Errorf("%s: %w", a.name, ErrClosed)
	}
	return nil
}

// Close makes every later call fail; the Bufs' memory goes to the garbage
// collector.
func (a *Arena) Close() { a.closed = true }

// Alloc implements kernels.Backend.Alloc.
func (a *Arena) Alloc(n int) (kernels.Buf, error) {
	if err := a.Err(); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("%s: alloc %d floats: negative length", a.name, n)
	}
	return &Buf{owner: a, data: make([]float32, n)}, nil
}

// Wrap implements kernels.HostWrapper: the Buf reads mem in place and
// refuses writes.
func (a *Arena) Wrap(mem []float32) (kernels.Buf, error) {
	if err := a.Err(); err != nil {
		return nil, err
	}
	return &Buf{owner: a, data: mem, readOnly: true}, nil
}

// Upload implements kernels.Backend.Upload.
func (a *Arena) Upload(dst kernels.Buf, src []float32) error {
	d, err := a.data(dst)
	if err != nil {
		return fmt.Errorf("%s: upload dst: %w", a.name, err)
	}
	if dst.(*Buf).readOnly {
		return fmt.Errorf("%s: upload into a buffer made by Wrap (read-only host memory)", a.name)
	}
	if len(src) > len(d) {
		return fmt.Errorf("%s: upload %d floats into a buffer of %d", a.name, len(src), len(d))
	}
	copy(d, src)
	return nil
}

// Download implements kernels.Backend.Download for every Buf but a weight,
// whose layout only its backend knows.
func (a *Arena) Download(dst []float32, src kernels.Buf) error {
	s, err := a.data(src)
	if err != nil {
		return fmt.Errorf("%s: download src: %w", a.name, err)
	}
	if len(dst) > len(s) {
		return fmt.Errorf("%s: download %d floats from a buffer of %d", a.name, len(dst), len(s))
	}
	copy(dst, s)
	return nil
}

// data returns the storage of a Buf made by this Arena.
func (a *Arena) data(b kernels.Buf) ([]float32, error) {
	if err := a.Err(); err != nil {
		return nil, err
	}
	switch b := b.(type) {
	case *Buf:
		if b != nil && b.owner == a {
			return b.data, nil
		}
	case nil:
		return nil, errors.New("nil buffer")
	default:
		if _, _, ok := a.weight(b); ok {
			return nil, errors.New("a weight made by Weight can only be MatMul.W")
		}
	}
	return nil, fmt.Errorf("buffer %T not made by this backend", b)
}

// Run implements kernels.Backend.Run around exec, which computes one op
// that kernels.Check accepted (its Bufs read with F32) or returns
// kernels.ErrUnsupported. Run stops between ops when ctx is cancelled.
func (a *Arena) Run(ctx context.Context, ops []kernels.Op, exec func(kernels.Op) error) error {
	if err := a.Err(); err != nil {
		return err
	}
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: before op %d: %w", a.name, i, err)
		}
		if err := kernels.Check(op, operands{a}); err != nil {
			return fmt.Errorf("%s: op %d: %w", a.name, i, err)
		}
		if err := exec(op); err != nil {
			return fmt.Errorf("%s: op %d: %T: %w", a.name, i, op, err)
		}
	}
	return nil
}

// operands answers kernels.Check about an Arena's Bufs.
type operands struct{ a *Arena }

func (o operands) Size(b kernels.Buf, write bool) (int, error) {
	d, err := o.a.data(b)
	if err != nil {
		return 0, err
	}
	if write && b.(*Buf).readOnly {
		return 0, errors.New("a buffer made by Wrap (read-only host memory) cannot be written")
	}
	return len(d), nil
}

func (o operands) WeightDims(b kernels.Buf) (n, k int, err error) {
	if n, k, ok := o.a.weight(b); ok {
		return n, k, nil
	}
	return 0, 0, fmt.Errorf("%T is not a weight made by this backend's Weight", b)
}
