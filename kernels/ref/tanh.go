package ref

import (
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// tanh: X and Out are (N). Out[i] = tanh(X[i]).
func (be *Backend) tanh(op kernels.Tanh) {
	out, x := f32(op.Out), f32(op.X)
	for i := range op.N {
		out[i] = float32(math.Tanh(float64(x[i])))
	}
}
