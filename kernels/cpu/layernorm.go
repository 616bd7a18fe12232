package cpu

import (
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// layerNorm: X, Res and Out are (Rows,Cols); Gamma and Beta are (Cols).
//
//	y = X[r,:] + Res[r,:]
//	Out[r,:] = (y - mean(y)) / sqrt(var(y) + Eps) * Gamma + Beta
//
// Rows are split across workers. Out may alias X or Res: each element is
// written only after the row's statistics are known and after its own inputs
// are read.
func (be *Backend) layerNorm(op kernels.LayerNorm) error {
	rows, cols := op.Rows, op.Cols
	if rows < 0 || cols <= 0 {
		return fmt.Errorf("LayerNorm: Rows = %d, Cols = %d, want Rows ≥ 0, Cols > 0", rows, cols)
	}
	if !(op.Eps >= 0) || math.IsInf(float64(op.Eps), 0) {
		return fmt.Errorf("LayerNorm.Eps = %v, want finite and ≥ 0", op.Eps)
	}
	out, err := be.need("LayerNorm", "Out", op.Out, rows*cols)
	if err != nil {
		return err
	}
	x, err := be.need("LayerNorm", "X", op.X, rows*cols)
	if err != nil {
		return err
	}
	var res []float32
	if op.Res != nil {
		if res, err = be.need("LayerNorm", "Res", op.Res, rows*cols); err != nil {
			return err
		}
	}
	gamma, err := be.need("LayerNorm", "Gamma", op.Gamma, cols)
	if err != nil {
		return err
	}
	beta, err := be.need("LayerNorm", "Beta", op.Beta, cols)
	if err != nil {
		return err
	}
	grain := max(1, 4096/cols) // rows per task
	be.pool.parallel(chunks(rows, grain), func(_, task int) {
		for r := task * grain; r < min(rows, (task+1)*grain); r++ {
			row := r * cols
			var rr []float32
			if res != nil {
				rr = res[row : row+cols]
			}
			layerNormRow(out[row:row+cols], x[row:row+cols], rr, gamma[:cols], beta[:cols], float64(op.Eps))
		}
	})
	return nil
}

// layerNormRow: out, x, gamma, beta are (Cols); res is (Cols) or nil.
// Statistics are accumulated in float64 over y = x + res (two passes: the
// mean, then the mean squared deviation), so cancellation in var costs nothing.
func layerNormRow(out, x, res, gamma, beta []float32, eps float64) {
	n := len(out)
	x, gamma, beta = x[:n], gamma[:n], beta[:n]
	if res != nil {
		res = res[:n]
	}
	y := func(c int) float64 {
		if res != nil {
			return float64(x[c]) + float64(res[c])
		}
		return float64(x[c])
	}
	var mean float64
	for c := range n {
		mean += y(c)
	}
	mean /= float64(n)
	var variance float64
	for c := range n {
		d := y(c) - mean
		variance += d * d
	}
	variance /= float64(n)
	inv := 1 / math.Sqrt(variance+eps)
	for c := range n {
		out[c] = float32((y(c)-mean)*inv*float64(gamma[c]) + float64(beta[c]))
	}
}
