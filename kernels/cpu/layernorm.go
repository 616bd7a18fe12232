package cpu

import (
	"math"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// layerNorm: X, Res and Out are (Rows,Cols); Gamma and Beta are (Cols).
//
//	y = X[r,:] + Res[r,:]
//	Out[r,:] = (y - mean(y)) / sqrt(var(y) + Eps) * Gamma + Beta
//
// Rows are split across workers. Out may alias X or Res: each element is
// written only after the row's statistics are known and after its own inputs
// are read.
func (be *Backend) layerNorm(op kernels.LayerNorm) {
	rows, cols := op.Rows, op.Cols
	out, x, res, gamma, beta := f32(op.Out), f32(op.X), f32(op.Res), f32(op.Gamma), f32(op.Beta)
	grain := max(1, 4096/cols) // rows per task
	be.pool.parallel(chunks(rows, grain), func(_, task int) {
		for r := task * grain; r < min(rows, (task+1)*grain); r++ {
			row := r * cols
			var rr []float32
			if res != nil {
				rr = res[row : row+cols]
			}
			layerNormRow(be.simd, out[row:row+cols], x[row:row+cols], rr, gamma[:cols], beta[:cols], float64(op.Eps))
		}
	})
}

// layerNormRow: out, x, gamma, beta are (Cols); res is (Cols) or nil; out
// may be x or res. y = x + res is formed in out (a vector add: Axpy with
// alpha 1 rounds x + res once); its mean is summed in float64 (four chains,
// so the adds overlap); the deviations d = y - mean are formed in place and
// their squares summed by a vector dot product (a float32 sum of squares
// loses nothing that matters: no cancellation is left once the mean is
// off); the affine step is float32.
func layerNormRow(v simd.Variant, out, x, res, gamma, beta []float32, eps float64) {
	n := len(out)
	x, gamma, beta = x[:n], gamma[:n], beta[:n]
	switch {
	case res == nil:
		copy(out, x)
	case &out[0] == &res[0]:
		v.Axpy(1, x, out)
	default:
		copy(out, x)
		v.Axpy(1, res[:n], out)
	}
	var s0, s1, s2, s3 float64
	c := 0
	for ; c+4 <= n; c += 4 {
		s0 += float64(out[c])
		s1 += float64(out[c+1])
		s2 += float64(out[c+2])
		s3 += float64(out[c+3])
	}
	for ; c < n; c++ {
		s0 += float64(out[c])
	}
	m := float32((s0 + s1 + s2 + s3) / float64(n))
	for c := range out {
		out[c] -= m
	}
	inv := float32(1 / math.Sqrt(float64(v.Dot(out, out))/float64(n)+eps))
	for c, d := range out {
		out[c] = d*inv*gamma[c] + beta[c]
	}
}
