package cpu

import (
	"errors"
	"fmt"

	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// Precision is how the backend's MatMuls and attention's two products
// (Q·Kᵀ and P·V) compute. Everything else (LayerNorm, softmax, GELU,
// residuals, attention's 1/sum scaling) is float32 in every precision.
type Precision string

const (
	// F32 is float32 weights and inputs, one FMA chain per output.
	F32 Precision = "f32"
	// BF16 stores weights in bfloat16 (rounded once, at Weight, as
	// simd.ToBF16: half the memory), rounds each MatMul input to bfloat16, and
	// accumulates in float32 with VDPBF16PS (simd.GemmBF16); attention
	// rounds Q, K, V and the unnormalised probabilities alike. It needs
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

// bf16Input rounds the (m,k) rows of x to the swapped bf16 pairs of a
// BF16Twin MatMul (simd.BF16Pairs), in the backend's scratch.
func (be *Backend) bf16Input(x []float32, m, k int) []float32 {
	kp := evenK(k)
	return roundRows(be, &be.xbf, x, m, k, kp, func(dst, src []float32, rows int) {
		simd.BF16Pairs(dst, kp, src, k, rows, k)
	})
}

// bf16Words rounds the (m,k) rows of x to the bf16 pairs of a BF16 MatMul
// (simd.BF16Words), in the backend's scratch.
func (be *Backend) bf16Words(x []float32, m, k int) []uint32 {
	kw := (k + 1) / 2
	return roundRows(be, &be.xbw, x, m, k, kw, func(dst []uint32, src []float32, rows int) {
		be.simd.BF16Words(dst, kw, src, k, rows, k)
	})
}

// roundRows converts the (m,k) rows of x into (m,kout) rows of *scratch
// (grown as needed) with round, split across the workers by row blocks.
func roundRows[T any](be *Backend, scratch *[]T, x []float32, m, k, kout int, round func(dst []T, src []float32, rows int)) []T {
	if cap(*scratch) < m*kout {
		*scratch = make([]T, m*kout)
	}
	xb := (*scratch)[:m*kout]
	grain := max(1, 16384/kout) // rows per task
	be.pool.parallel(chunks(m, grain), func(_, task int) {
		r0, r1 := task*grain, min(m, (task+1)*grain)
		round(xb[r0*kout:], x[r0*k:], r1-r0)
	})
	return xb
}
