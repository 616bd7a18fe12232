package cpu

import (
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// Attention layout. QKV is (T, 3·NH·HD): Q in columns [0,H), K in [H,2H), V in
// [2H,3H), head h at offset h·HD in each; Out is (T, NH·HD); Seqs is (B+1).
//
//	for each sequence b, head h, query i in [Seqs[b], Seqs[b+1]):
//	  s[j] = Scale · Σ_d Q[i,h,d]·K[j,h,d]   for j in the same sequence
//	  p = softmax(s)                          (max-subtracted)
//	  Out[i,h·HD+d] = Σ_j p[j]·V[j,h,d]
//
// A task is one (sequence, head, block of qb queries). It copies the
// sequence's K and V rows of that head into contiguous (L,HD) scratch, then
// runs attentionRow per query: one row of L scores, two passes (max, then
// exp and sum), so no more than one score row per worker ever exists.
const qb = 32 // queries per attention task

func (be *Backend) attention(op kernels.Attention) error {
	nh, hd := op.NH, op.HD
	if nh <= 0 || hd <= 0 {
		return fmt.Errorf("Attention: NH = %d, HD = %d, want > 0", nh, hd)
	}
	if math.IsNaN(float64(op.Scale)) || math.IsInf(float64(op.Scale), 0) {
		return fmt.Errorf("Attention.Scale = %v, want finite", op.Scale)
	}
	t, err := checkSeqs("Attention", op.Seqs, -1)
	if err != nil {
		return err
	}
	if op.Out == op.QKV {
		return fmt.Errorf("Attention.Out aliases QKV")
	}
	h := nh * hd
	out, err := be.need("Attention", "Out", op.Out, t*h)
	if err != nil {
		return err
	}
	qkv, err := be.need("Attention", "QKV", op.QKV, t*3*h)
	if err != nil {
		return err
	}
	// firstBlock[b] is the index of sequence b's first query block.
	seqs := op.Seqs
	nb := len(seqs) - 1
	firstBlock := make([]int, nb+1)
	maxL := 0
	for b := range nb {
		l := int(seqs[b+1] - seqs[b])
		firstBlock[b+1] = firstBlock[b] + chunks(l, qb)
		maxL = max(maxL, l)
	}
	blocks := firstBlock[nb]
	scratch := be.scratchFor(2*maxL*hd + maxL + hd)
	be.pool.parallel(blocks*nh, func(worker, task int) {
		head, blk := task/blocks, task%blocks
		b := searchBlock(firstBlock, blk)
		lo, hi := int(seqs[b]), int(seqs[b+1])
		l := hi - lo
		s := scratch[worker]
		kp, vp, sc, o := s[:l*hd], s[l*hd:2*l*hd], s[2*l*hd:2*l*hd+l], s[2*l*hd+l:2*l*hd+l+hd]
		for j := range l {
			row := qkv[(lo+j)*3*h:]
			copy(kp[j*hd:(j+1)*hd], row[h+head*hd:h+head*hd+hd])
			copy(vp[j*hd:(j+1)*hd], row[2*h+head*hd:2*h+head*hd+hd])
		}
		q0 := lo + (blk-firstBlock[b])*qb
		for i := q0; i < min(hi, q0+qb); i++ {
			q := qkv[i*3*h+head*hd : i*3*h+head*hd+hd]
			attentionRow(out[i*h+head*hd:i*h+head*hd+hd], q, kp, vp, sc, o, op.Scale)
		}
	})
	return nil
}

// searchBlock returns the sequence b with firstBlock[b] ≤ blk < firstBlock[b+1].
func searchBlock(firstBlock []int, blk int) int {
	lo, hi := 0, len(firstBlock)-1
	for lo < hi { // invariant: the answer is in [lo, hi)
		mid := (lo + hi) / 2
		if firstBlock[mid+1] <= blk {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// attentionRow: q and out are (HD); kp and vp are (L,HD); s is (L) and o is
// (HD) scratch.
//
//	s[j] = scale·q·kp[j]; p = softmax(s); out = Σ_j p[j]·vp[j]
//
// Four keys are scored at a time for independent accumulator chains; each
// score is still a float32 sum over d in order.
func attentionRow(out, q, kp, vp, s, o []float32, scale float32) {
	hd, l := len(q), len(s)
	kp, vp = kp[:l*hd], vp[:l*hd]
	smax := float32(math.Inf(-1))
	j := 0
	for ; j+4 <= l; j += 4 {
		k0, k1, k2, k3 := kp[j*hd:(j+1)*hd], kp[(j+1)*hd:(j+2)*hd], kp[(j+2)*hd:(j+3)*hd], kp[(j+3)*hd:(j+4)*hd]
		k0, k1, k2, k3 = k0[:len(q)], k1[:len(q)], k2[:len(q)], k3[:len(q)]
		var d0, d1, d2, d3 float32
		for d, qv := range q {
			d0 += qv * k0[d]
			d1 += qv * k1[d]
			d2 += qv * k2[d]
			d3 += qv * k3[d]
		}
		s[j], s[j+1], s[j+2], s[j+3] = scale*d0, scale*d1, scale*d2, scale*d3
		smax = max(smax, s[j], s[j+1], s[j+2], s[j+3])
	}
	for ; j < l; j++ {
		kr := kp[j*hd : (j+1)*hd]
		kr = kr[:len(q)]
		var d0 float32
		for d, qv := range q {
			d0 += qv * kr[d]
		}
		s[j] = scale * d0
		smax = max(smax, s[j])
	}
	var sum float32
	for j, v := range s {
		e := float32(math.Exp(float64(v - smax)))
		s[j] = e
		sum += e
	}
	o = o[:hd]
	clear(o)
	for j, p := range s {
		vr := vp[j*hd : (j+1)*hd]
		vr = vr[:len(o)]
		for d, v := range vr {
			o[d] += p * v
		}
	}
	inv := 1 / sum
	out = out[:len(o)]
	for d, v := range o {
		out[d] = v * inv
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
