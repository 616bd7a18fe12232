package engine

import (
	"errors"
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu"
)

// ErrPrecision means the requested Options.Precision cannot run here (bf16
// on a CPU without AVX512_BF16, or on a GPU backend).
var ErrPrecision = errors.New("engine: precision not available")

// precision is Options.Precision resolved for the CPU backend.
type precision struct {
	cpu  cpu.Precision
	note string // why "auto" chose, for Info
}

func resolvePrecision(opts Options) (precision, error) {
	switch opts.Precision {
	case "", "f32":
		return precision{cpu: cpu.F32}, nil
	case "bf16":
		if !cpu.HasBF16() {
			return precision{}, fmt.Errorf("engine: precision bf16 needs a CPU with AVX512_BF16 (this one has none; use f32, or auto to fall back): %w", ErrPrecision)
		}
		return precision{cpu: cpu.BF16}, nil
	case "bf16-twin":
		// Not advertised: bf16's exact results at f32 speed on any CPU, for
		// accuracy measurements where AVX512_BF16 is missing.
		return precision{cpu: cpu.BF16Twin}, nil
	case "auto":
		if cpu.HasBF16() {
			return precision{cpu: cpu.BF16, note: "auto: the CPU has AVX512_BF16"}, nil
		}
		return precision{cpu: cpu.F32, note: "auto: the CPU lacks AVX512_BF16, so f32"}, nil
	}
	return precision{}, fmt.Errorf("engine: unknown precision %q (want f32, bf16 or auto): %w", opts.Precision, ErrPrecision)
}

// name is the precision the backend runs.
func (p precision) name(be kernels.Backend) string {
	if c, ok := be.(*cpu.Backend); ok {
		return string(c.Precision())
	}
	return string(cpu.F32)
}

func newCPU(threads int, p cpu.Precision) (kernels.Backend, error) {
	be, err := cpu.NewPrecision(threads, p)
	if err != nil {
		return nil, fmt.Errorf("engine: cpu backend: %w", err)
	}
	return be, nil
}
