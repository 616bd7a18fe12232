package cpu

import "github.com/minilm-dev/minilm/kernels"

// gelu: X and Out are (N); Out may alias X.
//
//	Out[i] = X[i]/2 · (1 + erf(X[i]/√2))
//
// with simd's GELU (the same bits as the one MatMul fuses), split across
// workers in chunks.
func (be *Backend) gelu(op kernels.GELU) {
	out, x := f32(op.Out), f32(op.X)
	const grain = 1 << 14
	n := op.N
	be.pool.parallel(chunks(n, grain), func(_, task int) {
		lo, hi := task*grain, min(n, (task+1)*grain)
		be.simd.GELU(out[lo:hi], x[lo:hi])
	})
}
