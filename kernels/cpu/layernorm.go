package cpu

import "github.com/minilm-dev/minilm/kernels"

// layerNorm: X, Res and Out are (Rows,Cols); Gamma and Beta are (Cols).
//
//	y = X[r,:] + Res[r,:]
//	Out[r,:] = (y - mean(y)) / sqrt(var(y) + Eps) * Gamma + Beta
//
// Rows are split across workers; each row is one simd.LayerNorm call (the
// residual add, both statistics and the affine step in one vectorised pass
// over the L1-resident row). Out may alias X or Res: each element is written
// only after its own inputs are read.
func (be *Backend) layerNorm(op kernels.LayerNorm) {
	rows, cols := op.Rows, op.Cols
	out, x, res, gamma, beta := f32(op.Out), f32(op.X), f32(op.Res), f32(op.Gamma), f32(op.Beta)
	words, kw := be.pairsFor(op.Out, rows, cols)
	grain := max(1, 4096/cols) // rows per task
	be.pool.parallel(chunks(rows, grain), func(_, task int) {
		r0, r1 := task*grain, min(rows, (task+1)*grain)
		for r := r0; r < r1; r++ {
			row := r * cols
			var rr []float32
			if res != nil {
				rr = res[row : row+cols]
			}
			be.simd.LayerNorm(out[row:row+cols], x[row:row+cols], rr, gamma[:cols], beta[:cols], op.Eps)
		}
		if words != nil { // the task's rows, still in L1
			be.simd.BF16Words(words[r0*kw:], kw, out[r0*cols:], cols, r1-r0, cols)
		}
	})
}
