package ref

import (
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// gatherRows: X is (*,Cols); Out is (len(Rows),Cols).
//
//	Out[i,:] = X[Rows[i],:]
func (be *Backend) gatherRows(op kernels.GatherRows) error {
	cols := op.Cols
	if cols <= 0 {
		return fmt.Errorf("GatherRows.Cols = %d, want > 0", cols)
	}
	if op.Out == op.X {
		return fmt.Errorf("GatherRows.Out aliases X")
	}
	out, err := be.need("GatherRows", "Out", op.Out, len(op.Rows)*cols)
	if err != nil {
		return err
	}
	x, err := be.need("GatherRows", "X", op.X, 0)
	if err != nil {
		return err
	}
	for i, r := range op.Rows {
		if r < 0 || int(r) >= len(x)/cols {
			return fmt.Errorf("GatherRows.Rows[%d] = %d out of range [0,%d)", i, r, len(x)/cols)
		}
		copy(out[i*cols:(i+1)*cols], x[int(r)*cols:int(r+1)*cols])
	}
	return nil
}
