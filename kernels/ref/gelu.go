package ref

import (
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// gelu is the exact (erf) GELU in float64, written with 1 + erf(z) =
// erfc(-z) so that the negative tail keeps its relative accuracy.
func gelu(x float64) float64 { return x / 2 * math.Erfc(-x/math.Sqrt2) }

// geluOp: X and Out are (N).
//
//	Out[i] = X[i]/2 · (1 + erf(X[i]/√2))
func (be *Backend) gelu(op kernels.GELU) {
	out, x := f32(op.Out), f32(op.X)
	for i := range op.N {
		out[i] = float32(gelu(float64(x[i])))
	}
}
