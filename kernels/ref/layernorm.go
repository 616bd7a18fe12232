package ref

import (
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// layerNorm: X, Res and Out are (Rows,Cols); Gamma and Beta are (Cols).
//
//	y = X[r,:] + Res[r,:]
//	Out[r,:] = (y - mean(y)) / sqrt(var(y) + Eps) * Gamma + Beta
func (be *Backend) layerNorm(op kernels.LayerNorm) {
	rows, cols := op.Rows, op.Cols
	out, x, res, gamma, beta := f32(op.Out), f32(op.X), f32(op.Res), f32(op.Gamma), f32(op.Beta)
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
}
