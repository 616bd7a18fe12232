package cpu

import "github.com/minilm-dev/minilm/kernels"

// In BF16 every MatMul reads its input as bf16 pairs. Rounding that input
// in a pass of its own reads the whole activation back from far memory
// (T rows × up to 1536 floats, written by the op before), so where the op
// that writes it is the one just before, that op also writes the pairs, block
// by block while each is still in cache, and hands them over: a LayerNorm or
// a MatMul to the MatMul that reads its Out, a QKV MatMul to the Attention,
// an Attention to the output projection. The pairs are the same words the
// MatMul would round (simd.BF16Words of the finished rows), so nothing
// changes but the time.

// handoff is one op's Out rounded to bf16 pairs for the next op: the first
// k columns of the first m rows of buf, (k+1)/2 words a row, in words[idx].
type handoff struct {
	buf  kernels.Buf
	m, k int
	idx  int
}

// pairsFor returns, when the op about to run (next, see Run) is a BF16
// MatMul reading the (m,k) rows of out as X, or (for a MatMul's QKV and
// even head dims) an Attention reading them as QKV, a buffer for the pairs
// it reads and its row stride in words, recorded as this op's handoff; nil
// otherwise. The Attention reads the pairs of Q and K, the first 2/3 of the
// columns (V it packs from float32s).
func (be *Backend) pairsFor(out kernels.Buf, m, k int) ([]uint32, int) {
	if be.prec != BF16 {
		return nil, 0
	}
	switch next := be.next.(type) {
	case kernels.MatMul:
		if next.X != out || next.M != m || next.K != k {
			return nil, 0
		}
	case kernels.Attention:
		if next.QKV != out || next.HD%2 != 0 || k != 3*next.NH*next.HD || m != int(next.Seqs[len(next.Seqs)-1]) {
			return nil, 0
		}
		k = 2 * next.NH * next.HD
	default:
		return nil, 0
	}
	idx := 1 - be.in.idx // not the buffer this op may be reading
	be.words[idx] = grow(be.words[idx], m*((k+1)/2))
	be.out = handoff{buf: out, m: m, k: k, idx: idx}
	return be.words[idx], (k + 1) / 2
}

// pairsOf returns the pairs the previous op handed over for the (m,k) rows
// of x, or nil.
func (be *Backend) pairsOf(x kernels.Buf, m, k int) []uint32 {
	if h := be.in; h.buf != nil && h.buf == x && h.m == m && h.k == k {
		return be.words[h.idx][:m*((k+1)/2)]
	}
	return nil
}
