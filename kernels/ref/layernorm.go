package ref

import (
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// layerNorm: X, Res and Out are (Rows,Cols); Gamma and Beta are (Cols).
//
//	y = X[r,:] + Res[r,:]
//	Out[r,:] = (y - mean(y)) / sqrt(var(y) + Eps) * Gamma + Beta
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
	y := make([]float64, cols)
	for r := range rows {
		xr := x[r*cols : (r+1)*cols]
		var mean float64
		for c := range y {
			y[c] = float64(xr[c])
			if res != nil {
				y[c] += float64(res[r*cols+c])
			}
			mean += y[c]
		}
		mean /= float64(cols)
		var variance float64
		for _, v := range y {
			variance += (v - mean) * (v - mean)
		}
		variance /= float64(cols)
		inv := 1 / math.Sqrt(variance+float64(op.Eps))
		or := out[r*cols : (r+1)*cols]
		for c, v := range y {
			or[c] = float32((v-mean)*inv*float64(gamma[c]) + float64(beta[c]))
		}
	}
	return nil
}
