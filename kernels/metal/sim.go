package metal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minilm-dev/minilm/kernels/metal/internal/mslsim"
)

// ErrNoCompiler is returned by NewSimulated when no clang++ ≥ 15 is installed.
var ErrNoCompiler = mslsim.ErrNoCompiler

// SimConfig configures NewSimulated. The zero value is the default.
type SimConfig struct {
	// Options are the backend's, as for the GPU.
	Options
	// Order is how the simulator interleaves a threadgroup's threads:
	// "rr" (default; simdgroups in lockstep), "forward" or "reverse" (the
	// lowest or highest ready thread always runs first, so one simdgroup
	// runs ahead of the others) or "shuffle" (a random ready thread).
	Order string
	// Seed drives the "shuffle" order.
	Seed uint64
	// CacheDir keeps compiled simulators, keyed by the hash of their
	// sources; default <os.UserCacheDir>/minilm/mslsim (or under
	// os.TempDir when there is no user cache directory).
	CacheDir string
}

// NewSimulated returns a Backend that runs the same dispatch plans as the
// GPU backend, with the same shaders, on the CPU: the library source is
// compiled with clang++ against a shim of the Metal standard library and run
// by a fiber executor with Metal's threadgroup and SIMD-group semantics (see
// internal/mslsim). It is slow and meant for tests on machines without Metal.
func NewSimulated(ctx context.Context, cfg SimConfig) (*Backend, error) {
	src, err := librarySource()
	if err != nil {
		return nil, err
	}
	return newSimulated(ctx, cfg, src)
}

// newSimulated is NewSimulated for the library source src.
func newSimulated(ctx context.Context, cfg SimConfig, src []byte) (*Backend, error) {
	var order mslsim.Order
	switch cfg.Order {
	case "", "rr":
		order = mslsim.RoundRobin
	case "reverse":
		order = mslsim.Reverse
	case "shuffle":
		order = mslsim.Shuffle
	case "forward":
		order = mslsim.Forward
	default:
		return nil, fmt.Errorf("metal: simulator order %q: want rr, forward, reverse or shuffle", cfg.Order)
	}
	dir := cfg.CacheDir
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			// No $HOME (some CI sandboxes): binaries are content-addressed,
			// so a shared temporary directory is as good.
			c = os.TempDir()
		}
		dir = filepath.Join(c, "minilm", "mslsim")
	}
	prog, err := mslsim.Build(ctx, dir, src)
	if err != nil {
		return nil, fmt.Errorf("metal: %w", err)
	}
	return newBackend("metal-sim", &simDevice{prog: prog, order: order, seed: cfg.Seed}, cfg.Options), nil
}

// simDevice keeps buffers in Go memory and replays each plan in one run of
// the simulator process.
type simDevice struct {
	prog  *mslsim.Program
	order mslsim.Order
	seed  uint64
	last  time.Duration
}

type hostMemory []byte

func (m hostMemory) bytes() []byte { return m }

func (d *simDevice) alloc(size int) (memory, error) { return hostMemory(make([]byte, size)), nil }

func (d *simDevice) close() error { return nil }

func (d *simDevice) run(ctx context.Context, plan []dispatch) error {
	req := &mslsim.Request{Order: d.order, Seed: d.seed}
	index := map[*buffer]int{}
	for _, ds := range plan {
		sd := mslsim.Dispatch{Kernel: ds.kernel, Groups: ds.groups, Threads: ds.threads}
		for _, b := range ds.binds {
			i, ok := index[b.buf]
			switch {
			case b.buf == nil:
				i = len(req.Bufs)
				req.Bufs = append(req.Bufs, b.data)
			case !ok:
				i = len(req.Bufs)
				index[b.buf] = i
				// The simulator writes results straight back into this slice.
				req.Bufs = append(req.Bufs, b.buf.mem.bytes())
			}
			sd.Binds = append(sd.Binds, mslsim.Binding{Index: b.index, Buf: i})
		}
		req.Dispatches = append(req.Dispatches, sd)
	}
	start := time.Now()
	err := d.prog.Run(ctx, req)
	d.last = time.Since(start)
	return err
}

func (d *simDevice) lastRunTime() time.Duration { return d.last }
