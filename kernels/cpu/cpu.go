package cpu

import (
	"fmt"
	"runtime"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
	"github.com/minilm-dev/minilm/kernels/internal/host"
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
	host     *host.Arena
	// shared is the mapping of SharedWeightsEnv's file, or nil; local
	// counts the weights packed in this process.
	shared    *sharedWeights
	local     int
	recording bool
	recorded  []recorded
	// prec is how MatMuls compute (see Precision; "" is F32); xbf and xbw
	// hold the rounded input of a BF16Twin or a BF16 MatMul, qkw a BF16
	// attention's rounded Q and K.
	prec Precision
	xbf  []float32
	xbw  []uint32
	qkw  []uint32
	// next is the op after the running one (nil for the last); in and out
	// are the pairs handed to the running op and by it (see handoff.go),
	// kept in words.
	next    kernels.Op
	in, out handoff
	words   [2][]uint32
}

// New returns a CPU backend running on threads goroutines (the caller's
// included); threads ≤ 0 means runtime.NumCPU(). When SharedWeightsEnv is
// set, Weight reads packed panels from the file it names (an error here
// means that file cannot be mapped or is not a shared weights file).
func New(threads int) (*Backend, error) {
	sh, err := openShared()
	if err != nil {
		return nil, err
	}
	be := newVariant(threads, simd.Best())
	be.shared = sh
	return be, nil
}

// newVariant is New with the vector kernels pinned to v (tests run every
// variant the CPU has).
func newVariant(threads int, v simd.Variant) *Backend {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	be := &Backend{pool: newPool(threads), simd: v, attn: make([]attnScratch, threads)}
	be.host = host.NewArena("cpu", be.weightDims)
	return be
}

// Threads reports how many goroutines run each op.
func (be *Backend) Threads() int { return be.pool.n }

// Name implements kernels.Backend.
func (be *Backend) Name() string { return "cpu" }

// Kernels names the kernel variant this backend runs (chosen for the CPU at
// run time), for `minilm info`.
func (be *Backend) Kernels() string { return be.simd.Describe() }

// Alloc implements kernels.Backend.
func (be *Backend) Alloc(n int) (kernels.Buf, error) { return be.host.Alloc(n) }

// Wrap implements kernels.HostWrapper: the Buf reads mem in place.
func (be *Backend) Wrap(mem []float32) (kernels.Buf, error) { return be.host.Wrap(mem) }

// Upload implements kernels.Backend.
func (be *Backend) Upload(dst kernels.Buf, src []float32) error { return be.host.Upload(dst, src) }

// Download implements kernels.Backend.
func (be *Backend) Download(dst []float32, src kernels.Buf) error {
	if err := be.host.Err(); err != nil {
		return err
	}
	if w, ok := src.(*weight); ok && w != nil && w.owner == be {
		if len(dst) > w.Len() {
			return fmt.Errorf("cpu: download %d floats from a weight of %d", len(dst), w.Len())
		}
		w.unpack(dst)
		return nil
	}
	return be.host.Download(dst, src)
}

// Close implements kernels.Backend: it stops the workers.
func (be *Backend) Close() error {
	if be.host.Err() == nil {
		be.host.Close()
		be.pool.close()
		if be.shared != nil {
			unmap(be.shared.mem)
			be.shared = nil
		}
		be.recorded = nil
	}
	return nil
}

// f32 is the storage of a Buf that kernels.Check accepted (nil for an
// absent optional one).
func f32(b kernels.Buf) []float32 { return host.F32(b) }
