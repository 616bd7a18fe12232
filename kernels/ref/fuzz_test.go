package ref

import (
	"context"
	"errors"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
)

// fuzzReader hands out small values from fuzz input, zeros once it runs out.
type fuzzReader []byte

func (r *fuzzReader) next() int8 {
	if len(*r) == 0 {
		return 0
	}
	v := int8((*r)[0])
	*r = (*r)[1:]
	return v
}

// dim is a small dimension, now and then negative.
func (r *fuzzReader) dim() int { return int(r.next()) % 9 }

// int32s is n small indices, now and then negative.
func (r *fuzzReader) int32s(n int) []int32 {
	v := make([]int32, max(n, 0))
	for i := range v {
		v[i] = int32(r.next()) % 12
	}
	return v
}

// seqs is a short cu_seqlens array, usually valid, and the T it ends at.
func (r *fuzzReader) seqs() ([]int32, int) {
	s := make([]int32, int(uint8(r.next()))%4+1)
	s[0] = int32(r.next()) % 2
	for i := 1; i < len(s); i++ {
		s[i] = s[i-1] + int32(r.next())%4
	}
	return s, int(s[len(s)-1])
}

// count is n, or now and then one off.
func (r *fuzzReader) count(n int) int { return n + int(r.next())%7/5 }

// FuzzRun builds arbitrary small ops over a pool of buffers (aliases, nil and
// weights included) and runs them: kernels.Check must stop every op that
// would make a kernel index out of range, so Run either succeeds or returns
// kernels.ErrInvalidOp, and never panics.
func FuzzRun(f *testing.F) {
	f.Add([]byte{0, 2, 3, 1, 1, 1, 1, 2, 1, 0, 2, 0, 1, 2, 0, 2})
	f.Add([]byte{2, 1, 2, 4, 0, 3, 0, 5})
	f.Add([]byte{4, 2, 1, 0, 1, 3, 0, 1, 3})
	f.Add([]byte{5, 4, 1, 0, 2, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		be := New()
		r := fuzzReader(data)
		kind := uint8(r.next()) % 7
		pool := make([]kernels.Buf, 0, 7)
		for range 4 {
			b, err := be.Alloc(int(uint8(r.next())) % 40)
			if err != nil {
				t.Fatal(err)
			}
			pool = append(pool, b)
		}
		wn, wk := int(uint8(r.next()))%4+1, int(uint8(r.next()))%4+1
		w, err := be.Weight(make([]float32, wn*wk), wn, wk)
		if err != nil {
			t.Fatal(err)
		}
		pool = append(pool, w, nil)
		pick := func() kernels.Buf { return pool[int(uint8(r.next()))%len(pool)] }
		var op kernels.Op
		switch kind {
		case 0:
			seqs, t := r.seqs()
			op = kernels.Embed{Out: pick(), Word: pick(), Pos: pick(), Type: pick(),
				IDs: r.int32s(r.count(t)), TypeIDs: r.int32s(r.count(t)), Seqs: seqs, H: r.dim()}
		case 1:
			op = kernels.LayerNorm{Out: pick(), X: pick(), Res: pick(), Gamma: pick(), Beta: pick(),
				Rows: r.dim(), Cols: r.dim(), Eps: float32(r.next())}
		case 2:
			op = kernels.MatMul{Out: pick(), X: pick(), W: pick(), Bias: pick(),
				M: r.dim(), N: r.dim(), K: r.dim(), GELU: r.next()%2 == 0}
		case 3:
			op = kernels.GELU{Out: pick(), X: pick(), N: r.dim() * 4}
		case 4:
			seqs, _ := r.seqs()
			op = kernels.Attention{Out: pick(), QKV: pick(), Seqs: seqs, NH: r.dim(), HD: r.dim(), Scale: float32(r.next())}
		case 5:
			op = kernels.GatherRows{Out: pick(), X: pick(), Rows: r.int32s(r.dim()), Cols: r.dim()}
		default:
			op = kernels.Tanh{Out: pick(), X: pick(), N: r.dim() * 4}
		}
		if err := be.Run(context.Background(), op); err != nil && !errors.Is(err, kernels.ErrInvalidOp) {
			t.Fatalf("Run(%+v): %v, want nil or kernels.ErrInvalidOp", op, err)
		}
	})
}
