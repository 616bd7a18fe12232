package cpu

import (
	"math"
	"slices"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// Attention layout. QKV is (T, 3·NH·HD): Q in columns [0,H), K in [H,2H), V in
// [2H,3H), head h at offset h·HD in each; Out is (T, NH·HD); Seqs is (B+1).
//
//	for each sequence b, head h, query i in [Seqs[b], Seqs[b+1]):
//	  s[j] = Scale · Σ_d Q[i,h,d]·K[j,h,d]   for j in the same sequence
//	  p = softmax(s)                          (max-subtracted)
//	  Out[i,h·HD+d] = Σ_j p[j]·V[j,h,d]
//
// A task is one sequence, longest first (so that a long one does not finish
// alone at the end): its rows of QKV are brought into cache once and serve
// all its heads. When there are fewer sequences than a few per worker (a
// single pair, a small rerank call) a task is one (sequence, head) instead,
// so that every worker has work. For each head it packs K (L,HD) and Vᵀ
// (HD,L) as GEMM weights, then for each block of at most qb queries computes
// the (qb,L) scores with one GEMM against K, the block's softmax in one vector
// call (simd.SoftmaxRows), and the outputs with one GEMM against Vᵀ written
// straight into Out, scaled by 1/sum in one more (simd.ScaleRows): no more
// than one block of scores per worker ever exists. Every value depends only
// on its own sequence and head, and the GEMMs' sums do not depend on the
// block (see package simd), so a sequence gets the same bits alone or in any
// batch, in any task order or split.
const qb = 96 // most queries per block of scores

// queryBlock is the number of queries per block for L tokens: L split evenly
// into blocks of at most qb, rounded up to the GEMM's 6-row groups, so that
// a short sequence is one block and a long one has no ragged last block.
func queryBlock(l int) int {
	blocks := (l + qb - 1) / qb
	return min(qb, ((l+blocks-1)/blocks+5)/6*6)
}

// attnScratch is one worker's attention storage, reused across calls.
type attnScratch struct {
	k, vt simd.PackedW
	s     []float32 // (qb,L) scores, then probabilities
	sums  [qb]float32

	// In bf16 precisions, the products' inputs rounded: BF16 keeps a
	// block's probabilities as bf16 pairs (simd.SoftmaxRowsBF16; Q and K
	// come as pairs for the whole batch, see attention), BF16Twin K's rows,
	// V's rows and a block's queries or probabilities (xf, see product) as
	// float32s in swapped pairs (simd.BF16Pairs).
	pw         []uint32
	kf, vf, xf []float32
}

// seqsPerWorker is how many sequences each worker needs for per-sequence
// tasks to keep all of them busy; with fewer, tasks are split by head.
const seqsPerWorker = 4

func (be *Backend) attention(op kernels.Attention) {
	nh, hd := op.NH, op.HD
	h := nh * hd
	out, qkv := f32(op.Out), f32(op.QKV)
	seqs := op.Seqs
	nb := len(seqs) - 1
	// BF16 reads Q and K as bf16 pairs: those the QKV MatMul handed over
	// (H words a row, Q's then K's), or else each head's Q and K columns of all T rows
	// rounded in one call apiece, into (T, ⌈HD/2⌉) pairs, Q's heads then
	// K's (a call per block of queries would cost as much as the rounding).
	// It hands its Out on as pairs when the output projection reads it next.
	t, kw := int(seqs[nb]), (hd+1)/2
	var qkw, ow []uint32
	ldq := h
	qOff := func(lo, head int) int { return lo*ldq + head*hd/2 }
	kOff := func(lo, head int) int { return lo*ldq + h/2 + head*hd/2 }
	if be.prec == BF16 {
		if qkw = be.pairsOf(op.QKV, t, 2*h); qkw == nil {
			be.qkw = grow(be.qkw, 2*nh*t*kw)
			qkw, ldq = be.qkw, kw
			qOff = func(lo, head int) int { return (head*t + lo) * kw }
			kOff = func(lo, head int) int { return ((nh+head)*t + lo) * kw }
			be.pool.parallel(2*nh, func(_, task int) {
				be.simd.BF16Words(qkw[task*t*kw:], kw, qkv[task/nh*h+task%nh*hd:], 3*h, t, hd)
			})
		}
		if hd%2 == 0 {
			ow, _ = be.pairsFor(op.Out, t, h)
		}
	}
	head := func(a *attnScratch, b int32, head int) {
		lo, hi := int(seqs[b]), int(seqs[b+1])
		var p bf16Pairs
		if qkw != nil {
			p = bf16Pairs{q: qkw[qOff(lo, head):], k: qkw[kOff(lo, head):], ld: ldq}
		}
		if ow != nil {
			p.out = ow[lo*h/2+head*hd/2:]
		}
		be.attentionHead(a, out[lo*h+head*hd:], qkv[lo*3*h+head*hd:], p, hi-lo, h, hd, op.Scale)
	}
	maxL := 0
	for b := range nb {
		maxL = max(maxL, int(seqs[b+1]-seqs[b]))
	}
	for w := range be.attn {
		if a := &be.attn[w]; len(a.s) < qb*maxL {
			a.s = make([]float32, qb*maxL)
		}
	}
	order := be.seqOrder[:0]
	for b := range nb {
		order = append(order, int32(b))
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		return int(seqs[b+1]-seqs[b]) - int(seqs[a+1]-seqs[a])
	})
	be.seqOrder = order
	if nb >= seqsPerWorker*be.pool.n {
		be.pool.parallel(nb, func(worker, task int) {
			for h := range nh {
				head(&be.attn[worker], order[task], h)
			}
		})
		return
	}
	be.pool.parallel(nb*nh, func(worker, task int) {
		head(&be.attn[worker], order[task/nh], task%nh)
	})
}

// attentionHead computes one head of one sequence of L tokens: qkv starts at
// the head's Q columns of the sequence's first row (row stride 3H, K at +H,
// V at +2H) and out at its output columns (row stride H). In BF16, p has
// the head's Q and K as pairs from that row on, and maybe where its output
// pairs go.
func (be *Backend) attentionHead(a *attnScratch, out, qkv []float32, p bf16Pairs, l, h, hd int, scale float32) {
	if l == 0 {
		return
	}
	be.packKV(a, qkv[h:], p.k, p.ld, qkv[2*h:], 3*h, l, hd)
	step := queryBlock(l)
	for q0 := 0; q0 < l; q0 += step {
		nq := min(step, l-q0)
		s := a.s[:nq*l]
		var qw []uint32
		if p.q != nil {
			qw = p.q[q0*p.ld:]
		}
		be.product(s, l, &a.k, qkv[q0*3*h:], 3*h, hd, qw, p.ld, &a.xf, nq) // Q·Kᵀ
		if be.prec == BF16 {
			// The probabilities straight to bf16 pairs, in the same pass.
			a.pw = grow(a.pw, nq*((l+1)/2))
			be.simd.SoftmaxRowsBF16(s, nq, l, scale, a.sums[:nq], a.pw)
		} else {
			be.simd.SoftmaxRows(s, nq, l, scale, a.sums[:nq])
		}
		o := out[q0*h:]
		be.product(o, h, &a.vt, s, l, l, a.pw, (l+1)/2, &a.xf, nq) // P·V
		be.simd.ScaleRows(o, h, nq, hd, a.sums[:nq])
		if p.out != nil {
			be.simd.BF16Words(p.out[q0*h/2:], h/2, o, h, nq, hd)
		}
	}
}

// bf16Pairs is where one head of one sequence finds its Q and K as bf16
// pairs (row stride ld words) in BF16, and where its output pairs go (row
// stride H/2; nil when not handed on).
type bf16Pairs struct {
	q, k, out []uint32
	ld        int
}

// The two products of attention in the backend's precision. In f32 they are
// plain GEMMs; in BF16 (and its twin) their inputs are rounded to bf16 as
// every MatMul's are: K and V once per head, a block's queries and its
// probabilities (the unnormalised exponentials, before the 1/sum scaling)
// once per block.

// packKV packs the head's K (L,HD) and V (L,HD), rows of stride ld, as the
// weights of the scores (N=L, K=HD) and the context (N=HD, K=L) GEMMs; in
// BF16, K from its pairs kw (row stride ldw words).
func (be *Backend) packKV(a *attnScratch, k []float32, kw []uint32, ldw int, v []float32, ld, l, hd int) {
	switch be.prec {
	case BF16:
		be.simd.PackWords(&a.k, kw, ldw, l, (hd+1)/2)
		be.simd.PackTBF16(&a.vt, v, ld, hd, l)
	case BF16Twin:
		kp, lp := evenK(hd), evenK(l)
		a.kf = grow(a.kf, l*kp)
		simd.BF16Pairs(a.kf, kp, k, ld, l, hd)
		be.simd.Pack(&a.k, a.kf, kp, l, kp)
		// V's rows in the order of simd.BF16Pairs' swapped pairs (an odd
		// L's zero row first in the last pair), then transposed.
		a.vf = grow(a.vf, lp*hd)
		for c := range l {
			row := a.vf[(c^1)*hd : (c^1)*hd+hd]
			for d, x := range v[c*ld : c*ld+hd] {
				row[d] = simd.RoundBF16(x)
			}
		}
		if l < lp {
			clear(a.vf[(l^1)*hd : (l^1)*hd+hd])
		}
		be.simd.PackT(&a.vt, a.vf, hd, hd, lp)
	default:
		be.simd.Pack(&a.k, k, ld, l, hd)
		be.simd.PackT(&a.vt, v, ld, hd, l)
	}
}

// product sets the nq rows of out (stride ldo) to x·Wᵀ for a packed head
// weight w (K of a head, or its Vᵀ) and the (nq,k) rows of x (stride ldx):
// in BF16 from their pairs xw (stride ldw), in BF16Twin from their swapped
// pairs, rounded into the scratch xf.
func (be *Backend) product(out []float32, ldo int, w *simd.PackedW, x []float32, ldx, k int, xw []uint32, ldw int, xf *[]float32, nq int) {
	switch be.prec {
	case BF16:
		be.simd.GemmBF16(out, ldo, xw, ldw, nq, w, nil, false, nil)
	case BF16Twin:
		kp := evenK(k)
		*xf = grow(*xf, nq*kp)
		simd.BF16Pairs(*xf, kp, x, ldx, nq, k)
		be.simd.Gemm(out, ldo, *xf, kp, nq, w, nil, false, nil)
	default:
		be.simd.Gemm(out, ldo, x, ldx, nq, w, nil, false, nil)
	}
}

// grow returns b resized to n, reallocated only when too small.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n, max(n, 2*cap(b)))
	}
	return b[:n]
}

// attentionSlow is the twin of the attention kernel for one (sequence, head):
// q, k, v are (L,HD) and out is (L,HD). It materialises the whole (L,L) score
// matrix and works in float64.
func attentionSlow(out, q, k, v []float32, l, hd int, scale float32) {
	s := make([]float64, l*l)
	for i := range l {
		smax := math.Inf(-1)
		for j := range l {
			var d float64
			for t := range hd {
				d += float64(q[i*hd+t]) * float64(k[j*hd+t])
			}
			s[i*l+j] = float64(scale) * d
			smax = max(smax, s[i*l+j])
		}
		var sum float64
		for j := range l {
			s[i*l+j] = math.Exp(s[i*l+j] - smax)
			sum += s[i*l+j]
		}
		for t := range hd {
			var acc float64
			for j := range l {
				acc += s[i*l+j] / sum * float64(v[j*hd+t])
			}
			out[i*hd+t] = float32(acc)
		}
	}
}
