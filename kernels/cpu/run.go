package cpu

import (
	"context"
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// Run implements kernels.Backend: kernels.Check vets each op, then it runs
// across the worker pool, stopping between ops when ctx is cancelled.
func (be *Backend) Run(ctx context.Context, ops ...kernels.Op) error {
	i := 0
	err := be.host.Run(ctx, ops, func(op kernels.Op) error {
		i++
		be.next = nil
		if i < len(ops) {
			be.next = ops[i]
		}
		be.in, be.out = be.out, handoff{}
		return be.run(op)
	})
	be.next, be.in, be.out = nil, handoff{}, handoff{}
	return err
}

// run computes one op that kernels.Check accepted.
func (be *Backend) run(op kernels.Op) error {
	switch op := op.(type) {
	case kernels.Embed:
		be.embed(op)
	case kernels.LayerNorm:
		be.layerNorm(op)
	case kernels.MatMul:
		be.matMul(op)
	case kernels.GELU:
		be.gelu(op)
	case kernels.Attention:
		be.attention(op)
	case kernels.GatherRows:
		be.gatherRows(op)
	case kernels.Tanh:
		be.tanh(op)
	default:
		return kernels.ErrUnsupported
	}
	return nil
}

// chunks splits n items into tasks of about grain items each.
func chunks(n, grain int) int { return (n + grain - 1) / grain }

// gatherRows: X is (*,Cols); Out is (len(Rows),Cols). Out[i,:] = X[Rows[i],:].
func (be *Backend) gatherRows(op kernels.GatherRows) {
	cols, out, x := op.Cols, f32(op.Out), f32(op.X)
	// A handful of [CLS] rows: copying them is cheaper than a fan-out.
	for i, r := range op.Rows {
		copy(out[i*cols:(i+1)*cols], x[int(r)*cols:int(r+1)*cols])
	}
}

// tanh: X and Out are (N). Out[i] = tanh(X[i]); only the pooler uses it, on
// B·H values, so it runs on the calling goroutine.
func (be *Backend) tanh(op kernels.Tanh) {
	out, x := f32(op.Out), f32(op.X)
	for i, v := range x[:op.N] {
		out[i] = float32(math.Tanh(float64(v)))
	}
}
