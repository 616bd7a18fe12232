package metal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/minilm-dev/minilm/kernels"
)

// ErrUnavailable is returned by New where there is no Metal device: on other
// platforms, in builds without cgo, or on a Mac without a GPU.
var ErrUnavailable = errors.New("metal: no Metal device available")

var errClosed = errors.New("metal: backend is closed")

// device is what a Backend runs on: the GPU (metal_darwin.go) or the CPU
// simulator (sim.go). It owns memory and replays dispatch plans in order.
type device interface {
	alloc(size int) (memory, error)
	run(ctx context.Context, plan []dispatch) error
	// lastRunTime is how long the last run took on the device: GPU time
	// from the command buffer's timestamps, or the simulator's wall time.
	lastRunTime() time.Duration
	close() error
}

// memory is one device buffer; bytes is a host view of it (unified memory on
// a Mac, plain Go memory in the simulator).
type memory interface {
	bytes() []byte
}

// Backend implements kernels.Backend by turning each op into dispatches of
// the kernels in shaders/ (plan.go) and replaying them on a device. A whole
// Run is one plan: one command buffer on the GPU.
type Backend struct {
	name   string
	dev    device
	opts   Options
	closed bool
}

// buffer is a Buf made by Alloc or Weight.
type buffer struct {
	owner *Backend
	mem   memory
	n     int
	// wn, wk are the [N,K] shape of a buffer made by Weight; 0 otherwise.
	wn, wk int
	// half: mem holds n IEEE halves (a weight under Options.HalfWeights),
	// not n floats.
	half bool
}

func (b *buffer) Len() int { return b.n }

func newBackend(name string, dev device, opts Options) *Backend {
	return &Backend{name: name, dev: dev, opts: opts}
}

// Name implements kernels.Backend.
func (be *Backend) Name() string { return be.name }

// Alloc implements kernels.Backend.
func (be *Backend) Alloc(n int) (kernels.Buf, error) {
	if be.closed {
		return nil, errClosed
	}
	if n < 0 || n > math.MaxInt32 {
		return nil, fmt.Errorf("metal: alloc %d floats: out of range", n)
	}
	m, err := be.dev.alloc(4 * n)
	if err != nil {
		return nil, fmt.Errorf("metal: alloc %d floats: %w", n, err)
	}
	clear(m.bytes())
	return &buffer{owner: be, mem: m, n: n}, nil
}

// Weight implements kernels.Backend. Weights are kept [N,K] row-major, as
// f32, or as IEEE half under Options.HalfWeights.
func (be *Backend) Weight(src []float32, n, k int) (kernels.Buf, error) {
	if n <= 0 || k <= 0 || len(src) != n*k {
		return nil, fmt.Errorf("metal: weight [%d,%d]: got %d floats, want N·K > 0", n, k, len(src))
	}
	if !be.opts.HalfWeights {
		b, err := be.Alloc(n * k)
		if err != nil {
			return nil, err
		}
		w := b.(*buffer)
		w.wn, w.wk = n, k
		putFloats(w.mem.bytes(), src)
		return w, nil
	}
	if be.closed {
		return nil, errClosed
	}
	if n*k > math.MaxInt32 {
		return nil, fmt.Errorf("metal: weight [%d,%d]: out of range", n, k)
	}
	m, err := be.dev.alloc(2 * n * k)
	if err != nil {
		return nil, fmt.Errorf("metal: weight [%d,%d]: %w", n, k, err)
	}
	if err := putHalves(m.bytes(), src); err != nil {
		return nil, fmt.Errorf("metal: weight [%d,%d]: %w", n, k, err)
	}
	return &buffer{owner: be, mem: m, n: n * k, wn: n, wk: k, half: true}, nil
}

// Upload implements kernels.Backend.
func (be *Backend) Upload(dst kernels.Buf, src []float32) error {
	d, err := be.buf("upload dst", dst, len(src))
	if err != nil {
		return err
	}
	if d.half {
		if err := putHalves(d.mem.bytes(), src); err != nil {
			return fmt.Errorf("metal: upload dst: %w", err)
		}
		return nil
	}
	putFloats(d.mem.bytes(), src)
	return nil
}

// Download implements kernels.Backend.
func (be *Backend) Download(dst []float32, src kernels.Buf) error {
	s, err := be.buf("download src", src, len(dst))
	if err != nil {
		return err
	}
	b := s.mem.bytes()
	if s.half {
		getHalves(dst, b)
		return nil
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return nil
}

// Run implements kernels.Backend: all ops go into one plan, replayed at once.
func (be *Backend) Run(ctx context.Context, ops ...kernels.Op) error {
	if be.closed {
		return errClosed
	}
	var p planner
	p.be = be
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("metal: before op %d: %w", i, err)
		}
		if err := p.add(op); err != nil {
			return fmt.Errorf("metal: op %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metal: %w", err)
	}
	if len(p.plan) == 0 {
		return nil
	}
	if err := checkPlan(p.plan); err != nil {
		return err
	}
	if err := be.dev.run(ctx, p.plan); err != nil {
		return fmt.Errorf("metal: %w", err)
	}
	return nil
}

// LastRunTime is how long the last Run's plan took on the device: GPU time
// from the command buffer's timestamps on a Mac, the executor's wall time in
// the simulator.
func (be *Backend) LastRunTime() time.Duration { return be.dev.lastRunTime() }

// Close implements kernels.Backend.
func (be *Backend) Close() error {
	if be.closed {
		return nil
	}
	be.closed = true
	return be.dev.close()
}

// buf returns b as this backend's buffer after checking it holds at least
// need floats.
func (be *Backend) buf(what string, b kernels.Buf, need int) (*buffer, error) {
	if be.closed {
		return nil, errClosed
	}
	mb, err := be.own(b)
	if err != nil {
		return nil, fmt.Errorf("metal: %s: %w", what, err)
	}
	if need < 0 || need > mb.n {
		return nil, fmt.Errorf("metal: %s: needs %d floats, buffer has %d", what, need, mb.n)
	}
	return mb, nil
}

// own returns b as a buffer made by this backend.
func (be *Backend) own(b kernels.Buf) (*buffer, error) {
	if be.closed {
		return nil, errClosed
	}
	mb, ok := b.(*buffer)
	if !ok || mb == nil {
		return nil, fmt.Errorf("buffer %T not made by this backend", b)
	}
	if mb.owner != be {
		return nil, errors.New("buffer made by another backend")
	}
	return mb, nil
}

// operands answers kernels.Check about this backend's buffers.
type operands struct{ be *Backend }

func (o operands) Size(b kernels.Buf, _ bool) (int, error) {
	mb, err := o.be.own(b)
	if err != nil {
		return 0, err
	}
	if mb.wn != 0 {
		return 0, errors.New("a weight made by Weight can only be MatMul.W")
	}
	return mb.n, nil
}

func (o operands) WeightDims(b kernels.Buf) (n, k int, err error) {
	mb, err := o.be.own(b)
	if err != nil {
		return 0, 0, err
	}
	if mb.wn == 0 {
		return 0, 0, errors.New("not a weight made by Weight")
	}
	return mb.wn, mb.wk, nil
}

func putFloats(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

// checkPlan checks every dispatch against kernelTable, whose thread counts
// the darwin layer verified against each pipeline's limit.
func checkPlan(plan []dispatch) error {
	for _, d := range plan {
		i := slices.IndexFunc(kernelTable, func(k kernelInfo) bool { return k.name == d.kernel })
		if i < 0 {
			return fmt.Errorf("metal: plan dispatches unknown kernel %s", d.kernel)
		}
		if n := d.threads[0] * d.threads[1] * d.threads[2]; n < 1 || n > kernelTable[i].maxThreads {
			return fmt.Errorf("metal: plan gives %s %d threads per threadgroup, its pipeline allows %d", d.kernel, n, kernelTable[i].maxThreads)
		}
	}
	return nil
}
