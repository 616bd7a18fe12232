package ref

import "github.com/minilm-dev/minilm/kernels"

// matMul: X is (M,K), W is (N,K), Bias is (N) or nil, Out is (M,N).
//
//	Out[m,n] = act(sum_k X[m,k]·W[n,k] + Bias[n])
func (be *Backend) matMul(op kernels.MatMul) {
	m, n, k := op.M, op.N, op.K
	out, x, w, bias := f32(op.Out), f32(op.X), op.W.(*weight).data, f32(op.Bias)
	for i := range m {
		xr := x[i*k : (i+1)*k]
		for j := range n {
			wr := w[j*k : (j+1)*k]
			var s float64
			for c, xv := range xr {
				s += float64(xv) * float64(wr[c])
			}
			if bias != nil {
				s += float64(bias[j])
			}
			if op.GELU {
				s = gelu(s)
			}
			out[i*n+j] = float32(s)
		}
	}
}
