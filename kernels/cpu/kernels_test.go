package cpu

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// straddle are sizes on both sides of the GEMM register tile (6 rows, 16
// columns), of SIMD widths (8, 16, 32) and of the 64-query block.
var straddle = []int{1, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 129}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*r.Float64() - 1) * scale)
	}
	return v
}

// TestMatMulTwin checks the threaded MatMul on the fastest vector kernels
// against the same op on simd's Go twins on one thread, bit for bit, at sizes
// straddling the microkernel tiles (6 rows, 16 and 32 columns), the K block
// (256) and the task split.
func TestMatMulTwin(t *testing.T) {
	fast, slow := newBackend(t, 3), slowBackend(t)
	r := rand.New(rand.NewPCG(3, 4))
	ms := []int{1, 5, 6, 7, 12, 13, 65, 130}
	ns := []int{1, 15, 16, 17, 31, 32, 33, 129, 257}
	ks := []int{1, 3, 8, 17, 255, 256, 257, 600}
	for i, m := range ms {
		for j, n := range ns {
			k := ks[(i+j)%len(ks)]
			bias, act := (i+j)%2 == 0, (i*j)%3 == 0
			name := fmt.Sprintf("M=%d,N=%d,K=%d,bias=%t,gelu=%t", m, n, k, bias, act)
			x, w := randSlice(r, m*k, 1), randSlice(r, n*k, 1)
			var b []float32
			if bias {
				b = randSlice(r, n, 1)
			}
			want := runMatMul(t, slow, x, w, b, m, n, k, act)
			got := runMatMul(t, fast, x, w, b, m, n, k, act)
			for e := range want {
				if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
					t.Fatalf("%s: [%d] = %v, Go twins %v", name, e, got[e], want[e])
				}
			}
		}
	}
}

// slowBackend runs simd's Go twins on one thread.
func slowBackend(tb testing.TB) *Backend {
	be := newVariant(1, simd.Variants()[0])
	tb.Cleanup(func() { be.Close() })
	return be
}

func runMatMul(t *testing.T, be *Backend, x, w, bias []float32, m, n, k int, act bool) []float32 {
	t.Helper()
	xb, _ := be.Alloc(len(x))
	out, _ := be.Alloc(m * n)
	wb, err := be.Weight(w, n, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Upload(xb, x); err != nil {
		t.Fatal(err)
	}
	op := kernels.MatMul{Out: out, X: xb, W: wb, M: m, N: n, K: k, GELU: act}
	if bias != nil {
		bb, _ := be.Alloc(n)
		if err := be.Upload(bb, bias); err != nil {
			t.Fatal(err)
		}
		op.Bias = bb
	}
	if err := be.Run(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, m*n)
	if err := be.Download(got, out); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestMatMulBatchInvariance: each output row is bit-identical whether its row
// runs alone on one thread or at any position of a larger batch on three, so
// the engine's per-pair results do not depend on batching.
func TestMatMulBatchInvariance(t *testing.T) {
	one, three := newBackend(t, 1), newBackend(t, 3)
	r := rand.New(rand.NewPCG(5, 6))
	const m, n, k = 133, 1152, 384
	x, w, b := randSlice(r, m*k, 1), randSlice(r, n*k, 1), randSlice(r, n, 1)
	batch := runMatMul(t, three, x, w, b, m, n, k, true)
	for _, row := range []int{0, 1, 3, 4, 63, 64, 65, 130, 132} {
		alone := runMatMul(t, one, x[row*k:(row+1)*k], w, b, 1, n, k, true)
		for j := range n {
			if alone[j] != batch[row*n+j] {
				t.Fatalf("row %d col %d: alone %v, in batch %v", row, j, alone[j], batch[row*n+j])
			}
		}
	}
	// Rows 5..11 as their own batch of 7.
	sub := runMatMul(t, one, x[5*k:12*k], w, b, 7, n, k, true)
	for e := range sub {
		if sub[e] != batch[5*n+e] {
			t.Fatalf("sub-batch [%d]: %v, in batch %v", e, sub[e], batch[5*n+e])
		}
	}
}

// TestAttentionTwin checks the attention op (packed K and Vᵀ, GEMMs, query
// blocks) against attentionSlow per (sequence, head) at lengths and head dims
// straddling the GEMM tiles (6 rows, 16 columns), the bf16 pairs (odd L and
// HD) and the query blocks (one block up to 96 queries, then even blocks: 97
// and 193 split in 2 and 3), in every precision.
func TestAttentionTwin(t *testing.T) {
	for _, p := range []Precision{F32, BF16Twin, BF16} {
		t.Run(string(p), func(t *testing.T) {
			be := newBackend(t, 3)
			be.prec = p // BF16 on a CPU without AVX512_BF16 runs simd's Go twin kernel
			checkAttention(t, be)
		})
	}
}

func checkAttention(t *testing.T, be *Backend) {
	bf16 := be.prec != F32
	r := rand.New(rand.NewPCG(7, 8))
	for i, hd := range []int{1, 3, 8, 32, 33} {
		const nh = 2
		h := nh * hd
		lens := append(slices.Clone(straddle), 96, 97, 193)
		tot := 0
		for _, l := range lens {
			tot += l
		}
		qkv := randSlice(r, tot*3*h, 2)
		cu := make([]int32, len(lens)+1)
		for i, l := range lens {
			cu[i+1] = cu[i] + int32(l)
		}
		scale := float32(1 / math.Sqrt(float64(hd)))
		if i%2 == 1 {
			scale = -scale // the softmax's max is then at the smallest dot product
		}
		qb, _ := be.Alloc(len(qkv))
		ob, _ := be.Alloc(tot * h)
		if err := be.Upload(qb, qkv); err != nil {
			t.Fatal(err)
		}
		if err := be.Run(context.Background(), kernels.Attention{Out: ob, QKV: qb, Seqs: cu, NH: nh, HD: hd, Scale: scale}); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, tot*h)
		if err := be.Download(got, ob); err != nil {
			t.Fatal(err)
		}
		for b, l := range lens {
			for head := range nh {
				q, k, v := make([]float32, l*hd), make([]float32, l*hd), make([]float32, l*hd)
				for i := range l {
					row := qkv[(int(cu[b])+i)*3*h:]
					copy(q[i*hd:], row[head*hd:head*hd+hd])
					copy(k[i*hd:], row[h+head*hd:h+head*hd+hd])
					copy(v[i*hd:], row[2*h+head*hd:2*h+head*hd+hd])
				}
				// float32 scores of |s| ≲ 10 and a float32 weighted sum of
				// values ≤ 2: a few 1e-7.
				tol := 2e-6
				if bf16 {
					// Q, K and V are rounded as the op rounds them, and the
					// products of bf16 values are exact; the probabilities are
					// rounded too, each by a relative 2^-9 at most, which moves
					// the weighted mean of V by at most 2^-9·max|V|.
					var vmax float64
					for _, x := range [][]float32{q, k, v} {
						for i := range x {
							x[i] = simd.RoundBF16(x[i])
						}
					}
					for _, x := range v {
						vmax = max(vmax, math.Abs(float64(x)))
					}
					tol += 0x1p-9 * vmax
				}
				want := make([]float32, l*hd)
				attentionSlow(want, q, k, v, l, hd, scale)
				for i := range l {
					for d := range hd {
						g, w := got[(int(cu[b])+i)*h+head*hd+d], want[i*hd+d]
						if math.Abs(float64(g-w)) > tol {
							t.Fatalf("%s HD=%d L=%d head %d query %d d %d: %v, slow twin %v", be.prec, hd, l, head, i, d, g, w)
						}
					}
				}
			}
		}
	}
}

// TestAttentionBatchInvariance: a sequence's output is bit-identical alone
// or packed among others, on any thread count.
func TestAttentionBatchInvariance(t *testing.T) {
	one, three := newBackend(t, 1), newBackend(t, 3)
	r := rand.New(rand.NewPCG(9, 10))
	const nh, hd = 12, 32
	const h = nh * hd
	lens := []int{1, 7, 130, 33}
	cu := []int32{0, 1, 8, 138, 171}
	qkv := randSlice(r, 171*3*h, 1)
	run := func(be *Backend, qkv []float32, seqs []int32) []float32 {
		qb, _ := be.Alloc(len(qkv))
		ob, _ := be.Alloc(len(qkv) / 3)
		if err := be.Upload(qb, qkv); err != nil {
			t.Fatal(err)
		}
		if err := be.Run(context.Background(), kernels.Attention{Out: ob, QKV: qb, Seqs: seqs, NH: nh, HD: hd, Scale: 0.17677669}); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(qkv)/3)
		if err := be.Download(out, ob); err != nil {
			t.Fatal(err)
		}
		return out
	}
	batch := run(three, qkv, cu)
	for b, l := range lens {
		lo := int(cu[b])
		alone := run(one, qkv[lo*3*h:(lo+l)*3*h], []int32{0, int32(l)})
		for e := range alone {
			if alone[e] != batch[lo*h+e] {
				t.Fatalf("sequence %d [%d]: alone %v, in batch %v", b, e, alone[e], batch[lo*h+e])
			}
		}
	}
}

// TestWeightDownload: a weight reads back as the (N,K) matrix it was made from.
func TestWeightDownload(t *testing.T) {
	be := newBackend(t, 1)
	w := randSlice(rand.New(rand.NewPCG(11, 12)), 7*5, 1)
	wb, err := be.Weight(w, 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(w))
	if err := be.Download(got, wb); err != nil {
		t.Fatal(err)
	}
	for i := range w {
		if got[i] != w[i] {
			t.Fatalf("[%d] = %v, want %v", i, got[i], w[i])
		}
	}
}
