package cpu

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
)

// straddle are sizes on both sides of the register tile (4) and of common
// SIMD widths (8, 16) and task blocks (32).
var straddle = []int{1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 129}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*r.Float64() - 1) * scale)
	}
	return v
}

// ulps returns how many float32 steps apart a and b are.
func ulps(a, b float32) int64 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia < 0x80000000 != (ib < 0x80000000) { // opposite signs: count through zero
		return (ia & 0x7fffffff) + (ib & 0x7fffffff)
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return d
}

// TestErf32 checks erf32 against math.Erf rounded to float32 on a grid of
// 2^22 points over [-5,5] plus 64 points per binade down to 2^-126: at most 1
// ulp apart (the fits are good to ~2e-9, so only results near a rounding
// boundary may round the other way).
func TestErf32(t *testing.T) {
	var worst int64
	var worstX float32
	var maxAbs float64
	check := func(x float32) {
		want := float32(math.Erf(float64(x)))
		got := erf32(x)
		if u := ulps(got, want); u > worst {
			worst, worstX = u, x
		}
		maxAbs = max(maxAbs, math.Abs(erf64(float64(x))-math.Erf(float64(x))))
	}
	const n = 1 << 22
	for i := range n + 1 {
		check(float32(-5 + 10*float64(i)/n))
	}
	for e := -126; e < 0; e++ {
		for f := range 64 {
			x := float32(math.Ldexp(1+float64(f)/64, e))
			check(x)
			check(-x)
		}
	}
	t.Logf("erf32: max %d ulp (at x=%v); erf64 max abs error %.3g", worst, worstX, maxAbs)
	if worst > 1 {
		t.Errorf("erf32 is %d ulps from math.Erf at x=%v, want ≤ 1", worst, worstX)
	}
	for _, x := range []float32{0, float32(math.Inf(1)), float32(math.Inf(-1)), 4, -4} {
		if got, want := erf32(x), float32(math.Erf(float64(x))); got != want {
			t.Errorf("erf32(%v) = %v, want %v", x, got, want)
		}
	}
	if !math.IsNaN(float64(erf32(float32(math.NaN())))) {
		t.Error("erf32(NaN) is not NaN")
	}
}

// TestErfc64 checks the tail used by gelu against math.Erfc over [1,11):
// relative error under 1e-8.
func TestErfc64(t *testing.T) {
	var worst float64
	for i := range 1<<18 + 1 {
		a := 1 + 10*float64(i)/(1<<18+1)
		want := math.Erfc(a)
		worst = max(worst, math.Abs(erfc64(a)-want)/want)
	}
	t.Logf("erfc64: max relative error %.3g", worst)
	if worst > 1e-8 {
		t.Errorf("erfc64 relative error %.3g, want ≤ 1e-8", worst)
	}
}

// TestGELUTwin checks gelu against geluSlow (math.Erfc) over [-16,10], down
// to where the result underflows: within 1 ulp (denormal ulps included).
func TestGELUTwin(t *testing.T) {
	const n = 1 << 20
	x := make([]float32, n+1)
	for i := range x {
		x[i] = float32(-16 + 26*float64(i)/n)
	}
	got := make([]float32, len(x))
	geluSlice(got, x)
	var worst int64
	for i, v := range x {
		want := geluSlow(v)
		if u := ulps(got[i], want); u > worst {
			worst = u
			if u > 1 {
				t.Errorf("gelu(%v) = %v, geluSlow = %v: %d ulps", v, got[i], want, u)
			}
		}
	}
	t.Logf("gelu vs geluSlow: max %d ulp", worst)
}

// TestMatMulKernelTwin checks the register-tiled kernel against its loop twin
// bit for bit: both are float32 sums in k order.
func TestMatMulKernelTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range straddle {
		xp, wp := randSlice(r, k*mr, 1), randSlice(r, k*nr, 1)
		var got, want [mr * nr]float32
		matMulKernel(&got, xp, wp)
		matMulKernelGeneric(&want, xp, wp)
		if got != want {
			t.Errorf("K=%d: kernel %v, generic %v", k, got, want)
		}
	}
}

// TestMatMulTwin checks the whole tiled, packed, threaded MatMul against
// matMulSlow bit for bit at sizes straddling the tiles (mr, nr, mc, nc).
func TestMatMulTwin(t *testing.T) {
	be := newBackend(t, 3)
	r := rand.New(rand.NewPCG(3, 4))
	ms := []int{1, 3, 4, 5, 7, 8, 9, 17, 63, 64, 65, 130}
	ns := []int{1, 3, 4, 5, 9, 15, 16, 17, 33, 127, 128, 129, 257}
	ks := []int{1, 3, 4, 5, 8, 17, 31, 33}
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
			want := make([]float32, m*n)
			matMulSlow(want, x, w, b, m, n, k, act)
			got := runMatMul(t, be, x, w, b, m, n, k, act)
			for e := range want {
				if got[e] != want[e] {
					t.Fatalf("%s: [%d] = %v, slow twin %v", name, e, got[e], want[e])
				}
			}
		}
	}
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

// TestAttentionTwin checks attentionRow (through the op, with query blocks
// and packed K/V) against attentionSlow per (sequence, head) at lengths and
// head dims straddling the 4-key step and the 32-query block.
func TestAttentionTwin(t *testing.T) {
	be := newBackend(t, 3)
	r := rand.New(rand.NewPCG(7, 8))
	for _, hd := range []int{1, 3, 8, 32, 33} {
		const nh = 2
		h := nh * hd
		lens := straddle
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
				want := make([]float32, l*hd)
				attentionSlow(want, q, k, v, l, hd, scale)
				for i := range l {
					for d := range hd {
						g, w := got[(int(cu[b])+i)*h+head*hd+d], want[i*hd+d]
						// float32 scores of |s| ≲ 10 and a float32 weighted sum of
						// values ≤ 2: a few 1e-7.
						if math.Abs(float64(g-w)) > 2e-6 {
							t.Fatalf("HD=%d L=%d head %d query %d d %d: %v, slow twin %v", hd, l, head, i, d, g, w)
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
