package cpu

import (
	"context"
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// Run implements kernels.Backend: it checks each op's arguments, then runs it
// across the worker pool, stopping between ops when ctx is cancelled.
func (be *Backend) Run(ctx context.Context, ops ...kernels.Op) error {
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cpu: before op %d: %w", i, err)
		}
		var err error
		switch op := op.(type) {
		case kernels.Embed:
			err = be.embed(op)
		case kernels.LayerNorm:
			err = be.layerNorm(op)
		case kernels.MatMul:
			err = be.matMul(op)
		case kernels.GELU:
			err = be.gelu(op)
		case kernels.Attention:
			err = be.attention(op)
		case kernels.GatherRows:
			err = be.gatherRows(op)
		case kernels.Tanh:
			err = be.tanh(op)
		default:
			err = fmt.Errorf("%T: %w", op, kernels.ErrUnsupported)
		}
		if err != nil {
			return fmt.Errorf("cpu: op %d: %w", i, err)
		}
	}
	return nil
}

// need returns b's storage after checking it holds at least n floats.
func (be *Backend) need(op, name string, b kernels.Buf, n int) ([]float32, error) {
	d, err := be.data(op+"."+name, b)
	if err != nil {
		return nil, err
	}
	if len(d) < n {
		return nil, fmt.Errorf("%s.%s has %d floats, want at least %d", op, name, len(d), n)
	}
	return d, nil
}

// checkSeqs checks that seqs is a cu_seqlens array (starts at 0, never
// decreases) ending at t, or at any total when t < 0. It returns the total.
func checkSeqs(op string, seqs []int32, t int) (int, error) {
	if len(seqs) == 0 || seqs[0] != 0 {
		return 0, fmt.Errorf("%s.Seqs must start with 0 (len %d)", op, len(seqs))
	}
	for b := 1; b < len(seqs); b++ {
		if seqs[b] < seqs[b-1] {
			return 0, fmt.Errorf("%s.Seqs decreases at %d: %d < %d", op, b, seqs[b], seqs[b-1])
		}
	}
	total := int(seqs[len(seqs)-1])
	if t >= 0 && total != t {
		return 0, fmt.Errorf("%s.Seqs ends at %d, want T = %d", op, total, t)
	}
	return total, nil
}

// chunks splits n items into tasks of about grain items each.
func chunks(n, grain int) int { return (n + grain - 1) / grain }

// gatherRows: X is (*,Cols); Out is (len(Rows),Cols). Out[i,:] = X[Rows[i],:].
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
	}
	// A handful of [CLS] rows: copying them is cheaper than a fan-out.
	for i, r := range op.Rows {
		copy(out[i*cols:(i+1)*cols], x[int(r)*cols:int(r+1)*cols])
	}
	return nil
}

// tanh: X and Out are (N). Out[i] = tanh(X[i]); only the pooler uses it, on
// B·H values, so it runs on the calling goroutine.
func (be *Backend) tanh(op kernels.Tanh) error {
	if op.N < 0 {
		return fmt.Errorf("Tanh.N = %d, want ≥ 0", op.N)
	}
	out, err := be.need("Tanh", "Out", op.Out, op.N)
	if err != nil {
		return err
	}
	x, err := be.need("Tanh", "X", op.X, op.N)
	if err != nil {
		return err
	}
	for i, v := range x[:op.N] {
		out[i] = float32(math.Tanh(float64(v)))
	}
	return nil
}
