package ref

import (
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// tanh: X and Out are (N). Out[i] = tanh(X[i]).
func (be *Backend) tanh(op kernels.Tanh) error {
	if op.N < 0 {
		return fmt.Errorf("Tanh.N = %d, want ≥ 0", op.N)
	}
	out, err := be.need("Tanh", "Out", op.Out, op.N)
	if err != nil {
		return err
	}
	x, err := be.need("Tanh", "X", op.X, op.N)
	if err != nil {
		return err
	}
	for i := range op.N {
		out[i] = float32(math.Tanh(float64(x[i])))
	}
	return nil
}
