package ref

import (
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// matMul: X is (M,K), W is (N,K), Bias is (N) or nil, Out is (M,N).
//
//	Out[m,n] = act(sum_k X[m,k]·W[n,k] + Bias[n])
func (be *Backend) matMul(op kernels.MatMul) error {
	m, n, k := op.M, op.N, op.K
	if m < 0 || n <= 0 || k <= 0 {
		return fmt.Errorf("MatMul: M = %d, N = %d, K = %d, want M ≥ 0, N > 0, K > 0", m, n, k)
	}
	w, ok := op.W.(*weight)
	if !ok || w.owner != be {
		return fmt.Errorf("MatMul.W is %T, want a buffer made by this backend's Weight", op.W)
	}
	if w.n != n || w.k != k {
		return fmt.Errorf("MatMul.W is [%d,%d], want [N,K] = [%d,%d]", w.n, w.k, n, k)
	}
	if op.Out == op.X {
		return fmt.Errorf("MatMul.Out aliases X")
	}
	out, err := be.need("MatMul", "Out", op.Out, m*n)
	if err != nil {
		return err
	}
	x, err := be.need("MatMul", "X", op.X, m*k)
	if err != nil {
		return err
	}
	var bias []float32
	if op.Bias != nil {
		if bias, err = be.need("MatMul", "Bias", op.Bias, n); err != nil {
			return err
		}
	}
	for i := range m {
		xr := x[i*k : (i+1)*k]
		for j := range n {
			wr := w.data[j*k : (j+1)*k]
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
	return nil
}
