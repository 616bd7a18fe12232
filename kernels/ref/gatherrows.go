package ref

import "github.com/minilm-dev/minilm/kernels"

// gatherRows: X is (*,Cols); Out is (len(Rows),Cols).
//
//	Out[i,:] = X[Rows[i],:]
func (be *Backend) gatherRows(op kernels.GatherRows) {
	cols, out, x := op.Cols, f32(op.Out), f32(op.X)
	for i, r := range op.Rows {
		copy(out[i*cols:(i+1)*cols], x[int(r)*cols:int(r+1)*cols])
	}
}
