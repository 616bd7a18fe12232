//go:build darwin && cgo

package metal

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/progrium/darwinkit/macos/foundation"
	mtl "github.com/progrium/darwinkit/macos/metal"
	"github.com/progrium/darwinkit/objc"
)

// New returns the GPU backend on the system default Metal device with the
// default Options (f32 throughout): the shaders are compiled from source
// once (fast math off, so exp, tanh and division keep full precision) and a
// pipeline is made per kernel. It returns ErrUnavailable when the Mac has no
// Metal device.
func New() (*Backend, error) { return NewWithOptions(Options{}) }

// NewWithOptions is New with opts.
func NewWithOptions(opts Options) (*Backend, error) {
	p := systemDefaultDevice()
	if p == nil {
		return nil, ErrUnavailable
	}
	g := &gpuDevice{dev: mtl.DeviceObject{Object: objc.ObjectFrom(p)}, pipelines: map[string]objc.Object{}}
	var err error
	objc.WithAutoreleasePool(func() { err = g.setup() })
	if err != nil {
		g.close()
		return nil, err
	}
	return newBackend("metal", g, opts), nil
}

// gpuDevice replays plans on a Metal device: one command buffer and one
// serial compute encoder per Run, so each dispatch sees the previous one's
// writes.
type gpuDevice struct {
	dev       mtl.DeviceObject
	queue     mtl.CommandQueueObject
	pipelines map[string]objc.Object // id<MTLComputePipelineState> by kernel
	bufs      []mtl.BufferObject     // every buffer Alloc made, released by close
	gpu       time.Duration
}

func (g *gpuDevice) setup() error {
	src, err := librarySource()
	if err != nil {
		return err
	}
	opts := mtl.NewCompileOptions()
	opts.SetFastMathEnabled(false)
	var nserr unsafe.Pointer
	lib := g.dev.NewLibraryWithSourceOptionsError(string(src), opts, unsafe.Pointer(&nserr))
	if lib.IsNil() {
		return fmt.Errorf("metal: compiling shaders: %s", nsErrorText(nserr))
	}
	defer lib.Release()
	for _, k := range kernelTable {
		fn := lib.NewFunctionWithName(k.name)
		if fn.IsNil() {
			return fmt.Errorf("metal: shader library has no function %s", k.name)
		}
		ps := objc.Call[objc.Object](g.dev, objc.Sel(selNewComputePipelineState), fn, unsafe.Pointer(&nserr))
		fn.Release()
		if ps.IsNil() {
			return fmt.Errorf("metal: pipeline %s: %s", k.name, nsErrorText(nserr))
		}
		g.pipelines[k.name] = ps
		lim := mtl.ComputePipelineStateObject{Object: ps}.MaxTotalThreadsPerThreadgroup()
		if lim < uint(k.maxThreads) {
			return fmt.Errorf("metal: pipeline %s allows %d threads per threadgroup, the plan uses up to %d", k.name, lim, k.maxThreads)
		}
	}
	g.queue = g.dev.NewCommandQueue()
	if g.queue.IsNil() {
		return fmt.Errorf("metal: newCommandQueue returned nil")
	}
	return nil
}

func nsErrorText(p unsafe.Pointer) string {
	if p == nil {
		return "unknown error"
	}
	return foundation.ErrorFrom(p).LocalizedDescription()
}

// gpuMemory is a shared-storage MTLBuffer; on unified memory its contents
// are the bytes the CPU sees, with no copies.
type gpuMemory struct {
	buf  mtl.BufferObject
	view []byte
}

func (m *gpuMemory) bytes() []byte { return m.view }

func (g *gpuDevice) alloc(size int) (memory, error) {
	// Metal has no empty buffers.
	b := g.dev.NewBufferWithLengthOptions(uint(max(size, 4)), mtl.ResourceStorageModeShared)
	if b.IsNil() {
		return nil, fmt.Errorf("newBufferWithLength %d bytes returned nil", size)
	}
	g.bufs = append(g.bufs, b)
	return &gpuMemory{buf: b, view: unsafe.Slice((*byte)(b.Contents()), size)}, nil
}

func (g *gpuDevice) run(ctx context.Context, plan []dispatch) error {
	var err error
	objc.WithAutoreleasePool(func() { err = g.replay(plan) })
	return err
}

// replay encodes the plan into one command buffer, commits it and waits.
func (g *gpuDevice) replay(plan []dispatch) error {
	cb := g.queue.CommandBuffer()
	enc := cb.ComputeCommandEncoder()
	var temps []mtl.BufferObject
	defer func() {
		for _, t := range temps {
			t.Release()
		}
	}()
	for _, d := range plan {
		ps, ok := g.pipelines[d.kernel]
		if !ok {
			mtl.CommandEncoderObject{Object: enc.Object}.EndEncoding()
			return fmt.Errorf("no pipeline for kernel %s", d.kernel)
		}
		objc.Call[objc.Void](enc, objc.Sel(selSetComputePipelineState), ps)
		for _, b := range d.binds {
			switch {
			case b.buf != nil:
				objc.Call[objc.Void](enc, objc.Sel(selSetBuffer), b.buf.mem.(*gpuMemory).buf, uint(0), uint(b.index))
			case len(b.data) == 0:
				mtl.CommandEncoderObject{Object: enc.Object}.EndEncoding()
				return fmt.Errorf("%s: empty host data at buffer %d", d.kernel, b.index)
			case len(b.data) <= 4096: // setBytes' documented limit
				enc.SetBytesLengthAtIndex(unsafe.Pointer(&b.data[0]), uint(len(b.data)), uint(b.index))
			default:
				t := g.dev.NewBufferWithBytesLengthOptions(unsafe.Pointer(&b.data[0]), uint(len(b.data)), mtl.ResourceStorageModeShared)
				if t.IsNil() {
					mtl.CommandEncoderObject{Object: enc.Object}.EndEncoding()
					return fmt.Errorf("%s: newBufferWithBytes %d bytes returned nil", d.kernel, len(b.data))
				}
				temps = append(temps, t)
				objc.Call[objc.Void](enc, objc.Sel(selSetBuffer), t, uint(0), uint(b.index))
			}
		}
		enc.DispatchThreadgroupsThreadsPerThreadgroup(
			mtl.Size{Width: uint64(d.groups[0]), Height: uint64(d.groups[1]), Depth: uint64(d.groups[2])},
			mtl.Size{Width: uint64(d.threads[0]), Height: uint64(d.threads[1]), Depth: uint64(d.threads[2])})
	}
	mtl.CommandEncoderObject{Object: enc.Object}.EndEncoding()
	cb.Commit()
	cb.WaitUntilCompleted()
	if cb.Status() == mtl.CommandBufferStatusError {
		return fmt.Errorf("command buffer failed: %s", cb.Error().LocalizedDescription())
	}
	g.gpu = time.Duration(float64(cb.GPUEndTime()-cb.GPUStartTime()) * float64(time.Second))
	return nil
}

func (g *gpuDevice) lastRunTime() time.Duration { return g.gpu }

func (g *gpuDevice) close() error {
	for _, b := range g.bufs {
		b.Release()
	}
	g.bufs = nil
	for _, ps := range g.pipelines {
		ps.Release()
	}
	clear(g.pipelines)
	if !g.queue.IsNil() {
		g.queue.Release()
	}
	g.dev.Release()
	return nil
}
