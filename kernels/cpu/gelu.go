package cpu

import (
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// gelu: X and Out are (N); Out may alias X.
//
//	Out[i] = X[i]/2 · (1 + erf(X[i]/√2))
//
// with simd's GELU (the same bits as the one MatMul fuses), split across
// workers in chunks.
func (be *Backend) gelu(op kernels.GELU) error {
	if op.N < 0 {
		return fmt.Errorf("GELU.N = %d, want ≥ 0", op.N)
	}
	out, err := be.need("GELU", "Out", op.Out, op.N)
	if err != nil {
		return err
	}
	x, err := be.need("GELU", "X", op.X, op.N)
	if err != nil {
		return err
	}
	const grain = 1 << 14
	n := op.N
	be.pool.parallel(chunks(n, grain), func(_, task int) {
		lo, hi := task*grain, min(n, (task+1)*grain)
		be.simd.GELU(out[lo:hi], x[lo:hi])
	})
	return nil
}
