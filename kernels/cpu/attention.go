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
			b := order[task]
			lo, hi := int(seqs[b]), int(seqs[b+1])
			for head := range nh {
				be.attentionHead(&be.attn[worker], out[lo*h+head*hd:], qkv[lo*3*h+head*hd:], hi-lo, h, hd, op.Scale)
			}
		})
		return
	}
	be.pool.parallel(nb*nh, func(worker, task int) {
		b, head := order[task/nh], task%nh
		lo, hi := int(seqs[b]), int(seqs[b+1])
		be.attentionHead(&be.attn[worker], out[lo*h+head*hd:], qkv[lo*3*h+head*hd:], hi-lo, h, hd, op.Scale)
	})
}

// attentionHead computes one head of one sequence of L tokens: qkv starts at
// the head's Q columns of the sequence's first row (row stride 3H, K at +H,
// V at +2H) and out at its output columns (row stride H).
func (be *Backend) attentionHead(a *attnScratch, out, qkv []float32, l, h, hd int, scale float32) {
	if l == 0 {
		return
	}
	be.simd.Pack(&a.k, qkv[h:], 3*h, l, hd)
	be.simd.PackT(&a.vt, qkv[2*h:], 3*h, hd, l)
	step := queryBlock(l)
	for q0 := 0; q0 < l; q0 += step {
		nq := min(step, l-q0)
		s := a.s[:nq*l]
		be.simd.Gemm(s, l, qkv[q0*3*h:], 3*h, nq, &a.k, nil, false, nil)
		be.simd.SoftmaxRows(s, nq, l, scale, a.sums[:nq])
		o := out[q0*h:]
		be.simd.Gemm(o, h, s, l, nq, &a.vt, nil, false, nil)
		be.simd.ScaleRows(o, h, nq, hd, a.sums[:nq])
	}
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
