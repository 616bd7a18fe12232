package cpu

import (
	"errors"
	"fmt"

	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// Precision is how the backend's MatMuls compute. Everything else
// (LayerNorm, softmax, GELU, residuals, attention's own products) is float32
// in every precision.
type Precision string

const (
	// F32 is float32 weights and inputs, one FMA chain per output.
	F32 Precision = "f32"
	// BF16 stores weights in bfloat16 (rounded to nearest even once, at
	// Weight: half the memory), rounds each MatMul input to bfloat16, and
	// accumulates in float32 with VDPBF16PS (simd.GemmBF16). It needs
	// AVX512_BF16; NewPrecision refuses it elsewhere with ErrNoBF16.
	BF16 Precision = "bf16"
	// BF16Twin is BF16 on any CPU: the same bits as VDPBF16PS (bit-exact
	// while no partial sum falls below 2^-126, which float32 FMA does not
	// flush; see simd.BF16Pairs) computed with float32 FMAs, at float32
	// speed. Tests and the accuracy measurements use it.
	BF16Twin Precision = "bf16-twin"
	// Auto is BF16 where the CPU has AVX512_BF16, else F32.
	Auto Precision = "auto"
)

// ErrNoBF16 is returned by NewPrecision(…, BF16) on a CPU without
// AVX512_BF16.
var ErrNoBF16 = errors.New("cpu: bf16 precision needs a CPU with AVX512_BF16")

// HasBF16 reports whether this CPU runs VDPBF16PS (AVX512_BF16).
func HasBF16() bool { return simd.HasBF16() }

// NewPrecision is New computing MatMuls in precision p.
func NewPrecision(threads int, p Precision) (*Backend, error) {
	if p == Auto {
		p = F32
		if HasBF16() {
			p = BF16
		}
	}
	switch p {
	case "", F32, BF16Twin:
	case BF16:
		if !HasBF16() {
			return nil, ErrNoBF16
		}
	default:
		return nil, fmt.Errorf("cpu: unknown precision %q (want f32, bf16, bf16-twin or auto)", p)
	}
	be, err := New(threads)
	if err != nil {
		return nil, err
	}
	if p != "" {
		be.prec = p
	}
	return be, nil
}

// Precision reports how the backend's MatMuls compute.
func (be *Backend) Precision() Precision {
	if be.prec == "" {
		return F32
	}
	return be.prec
}

// evenK is K rounded up to the pair length of VDPBF16PS.
func evenK(k int) int { return (k + 1) &^ 1 }

// bf16Input rounds the (m,k) rows of x to bf16 pairs for a bf16 MatMul
// (simd.BF16Pairs), in the backend's scratch, split across the workers.
func (be *Backend) bf16Input(x []float32, m, k int) []float32 {
	kp := evenK(k)
	if cap(be.xbf) < m*kp {
		be.xbf = make([]float32, m*kp)
	}
	xb := be.xbf[:m*kp]
	grain := max(1, 16384/kp) // rows per task
	be.pool.parallel(chunks(m, grain), func(_, task int) {
		r0, r1 := task*grain, min(m, (task+1)*grain)
		simd.BF16Pairs(xb[r0*kp:], kp, x[r0*k:], k, r1-r0, k)
	})
	return xb
}

// bf16Words rounds the (m,k) rows of x to the bf16 pairs of a BF16 MatMul
// (simd.BF16Words), in the backend's scratch, split across the workers.
func (be *Backend) bf16Words(x []float32, m, k int) []uint32 {
	kw := (k + 1) / 2
	if cap(be.xbw) < m*kw {
		be.xbw = make([]uint32, m*kw)
	}
	xb := be.xbw[:m*kw]
	grain := max(1, 16384/kw) // rows per task
	be.pool.parallel(chunks(m, grain), func(_, task int) {
		r0, r1 := task*grain, min(m, (task+1)*grain)
		be.simd.BF16Words(xb[r0*kw:], kw, x[r0*k:], k, r1-r0, k)
	})
	return xb
}
