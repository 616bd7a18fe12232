package optest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/ref"
)

// Run checks every op of be against kernels/ref over the case table, one
// subtest per case named like "MatMul/M=130,N=1152,K=384,bias,gelu", then
// checks that be rejects malformed ops and honours a cancelled context.
func Run(t *testing.T, be kernels.Backend) {
	oracle := ref.New()
	defer oracle.Close()
	RunAgainst(t, be, oracle)
}

// RunAgainst is Run with another oracle in place of kernels/ref, for a
// backend that is exact only to a transformed reference: one that stores
// weights in half precision is checked against the reference whose Weight
// rounds to half first, under the same tolerances.
func RunAgainst(t *testing.T, be, oracle kernels.Backend) {
	for _, c := range cases() {
		t.Run(c.name(), func(t *testing.T) {
			want, n, err := runCase(oracle, c)
			if err != nil {
				t.Fatalf("ref: %v", err)
			}
			got, _, err := runCase(be, c)
			if err != nil {
				t.Fatalf("%s: %v", be.Name(), err)
			}
			if err := check(got, want, n, c.tol); err != nil {
				t.Errorf("%s %s %s: %v", be.Name(), c.op, c.vars, err)
			}
		})
	}
	t.Run("Invalid", func(t *testing.T) { runInvalid(t, be) })
}

// runCase builds c on be, runs it, and returns the n output values followed
// by the guard floats after them (none when the output is an aliased input).
func runCase(be kernels.Backend, c testCase) (res []float32, n int, err error) {
	g := newGen(be, c.name())
	op, out, n := c.build(g)
	if g.err != nil {
		return nil, 0, fmt.Errorf("build: %w", g.err)
	}
	if err := be.Run(context.Background(), op); err != nil {
		return nil, 0, err
	}
	res = make([]float32, min(out.Len(), n+guard))
	if err := be.Download(res, out); err != nil {
		return nil, 0, err
	}
	return res, n, nil
}

// check compares a backend's output with the reference's: the first n values
// within tol, and the guard floats after them untouched.
func check(got, want []float32, n int, tol Tol) error {
	if len(got) != len(want) || n > len(got) {
		return fmt.Errorf("got %d values, want %d (output %d)", len(got), len(want), n)
	}
	for i := n; i < len(got); i++ {
		if got[i] != guardValue {
			return fmt.Errorf("wrote past the output: [%d] = %v", i, got[i])
		}
	}
	return compare(got[:n], want[:n], tol)
}

// runInvalid checks that be returns an error, without panicking, for ops
// that break their documented contract.
func runInvalid(t *testing.T, be kernels.Backend) {
	g := newGen(be, "Invalid")
	x := g.rand(16, 1)
	out := g.rand(16, 1)
	w := g.weight(2, 4)
	if g.err != nil {
		t.Fatal(g.err)
	}
	bad := []struct {
		name string
		op   kernels.Op
	}{
		{"GELU/short", kernels.GELU{Out: out, X: x, N: 17}},
		{"MatMul/W-not-weight", kernels.MatMul{Out: out, X: x, W: x, M: 2, N: 2, K: 4}},
		{"MatMul/W-shape", kernels.MatMul{Out: out, X: x, W: w, M: 2, N: 4, K: 2}},
		{"MatMul/alias", kernels.MatMul{Out: x, X: x, W: w, M: 2, N: 2, K: 4}},
		{"Attention/seqs-end", kernels.Attention{Out: out, QKV: x, Seqs: []int32{0, 9}, NH: 1, HD: 1, Scale: 1}},
		{"Attention/seqs-decrease", kernels.Attention{Out: out, QKV: x, Seqs: []int32{0, 2, 1}, NH: 1, HD: 1, Scale: 1}},
		{"Embed/seqs-T", kernels.Embed{Out: out, Word: x, Pos: x, Type: x, IDs: []int32{0, 1}, TypeIDs: []int32{0, 0}, Seqs: []int32{0, 1}, H: 4}},
		{"Embed/id-range", kernels.Embed{Out: out, Word: x, Pos: x, Type: x, IDs: []int32{4}, TypeIDs: []int32{0}, Seqs: []int32{0, 1}, H: 4}},
		{"GatherRows/range", kernels.GatherRows{Out: out, X: x, Rows: []int32{-1}, Cols: 4}},
		{"LayerNorm/cols", kernels.LayerNorm{Out: out, X: x, Gamma: x, Beta: x, Rows: 1, Cols: 0}},
	}
	for _, c := range bad {
		if err := be.Run(context.Background(), c.op); err == nil {
			t.Errorf("%s: Run(%s) succeeded, want an error", be.Name(), c.name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := be.Run(ctx, kernels.GELU{Out: out, X: x, N: 16}); !errors.Is(err, context.Canceled) {
		t.Errorf("%s: Run with a cancelled context: err = %v, want context.Canceled", be.Name(), err)
	}
}

// Bench times every case on be as a sub-benchmark named like the Run
// subtests ("MatMul/M=130,N=1152,K=384,bias,gelu"), reporting bytes moved
// (SetBytes) and, for ops counted in multiply-adds, GFLOP/s.
func Bench(b *testing.B, be kernels.Backend) {
	for _, c := range cases() {
		b.Run(c.name(), func(b *testing.B) {
			g := newGen(be, c.name())
			op, _, _ := c.build(g)
			if g.err != nil {
				b.Fatal(g.err)
			}
			ctx := context.Background()
			b.SetBytes(c.bytes)
			runs := 0
			for b.Loop() {
				if err := be.Run(ctx, op); err != nil {
					b.Fatal(err)
				}
				runs++
			}
			if c.flops > 0 {
				b.ReportMetric(c.flops*float64(runs)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}
		})
	}
}
