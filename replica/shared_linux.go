package replica

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/minilm-dev/minilm/engine"
	"github.com/minilm-dev/minilm/internal/backendhook"
	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
)

// shareWeights packs the model's GEMM weights once, in this process, into a
// memory file (memfd) that every CPU worker maps read-only (see
// cpu.SharedWeightsEnv): the workers then share one copy of the panels, as
// they already share the memory-mapped model file. It returns nil, nil when
// the workers will not run on the CPU backend.
func shareWeights(ctx context.Context, dir string, opts engine.Options, backend string) (*os.File, error) {
	if backend != "auto" && backend != "cpu" {
		return nil, nil // auto is the CPU on Linux: there is no Metal here
	}
	f, err := packShared(ctx, dir, opts)
	// The recording copy of the panels is garbage now; hand its pages back
	// so the supervisor does not hold a second copy.
	debug.FreeOSMemory()
	return f, err
}

// packShared loads the model on a recording CPU backend and writes its
// packed weights into a new memfd.
func packShared(ctx context.Context, dir string, opts engine.Options) (*os.File, error) {
	rec, err := cpu.NewPrecision(1, cpu.Precision(opts.Precision))
	if err != nil {
		return nil, fmt.Errorf("replica: pack shared weights: %w", err)
	}
	rec.RecordWeights()
	lo := engine.Options{Offline: true, Threads: 1, MaxTokensPerBatch: 1, Precision: opts.Precision}
	m, err := engine.Load(backendhook.With(ctx, func(int) (kernels.Backend, error) { return rec, nil }), dir, lo)
	if err != nil {
		rec.Close()
		return nil, fmt.Errorf("replica: pack shared weights: %w", err)
	}
	defer m.Close()
	fd, err := unix.MemfdCreate("minilm-packed-weights", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("replica: pack shared weights: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:minilm-packed-weights")
	if err := rec.WriteSharedWeights(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("replica: pack shared weights: %w", err)
	}
	return f, nil
}
