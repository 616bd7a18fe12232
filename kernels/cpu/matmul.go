package cpu

import (
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// MatMul layout. X is (M,K) row-major, W is (N,K) as given to Weight, Bias is
// (N), Out is (M,N):
//
//	Out[m,n] = act(sum_k X[m,k]·W[n,k] + Bias[n])
//
// Weight packs W once into simd's panels; simd.Gemm tiles M×N into tasks that
// the worker pool shares out. Each element is one fused multiply-add chain
// over k = 0..K-1, then the bias, then the activation, whatever M, its row,
// its tile or the thread count (see package simd).

// weight is a Buf made by Weight.
type weight struct {
	owner *Backend
	w     *simd.PackedW
	k     int       // K of the source; w.K() is evenK(k) for BF16Twin, (k+1)/2 pairs for BF16
	prec  Precision // BF16Twin: w holds simd.BF16Pairs of the source rows; BF16: simd.PackBF16's pairs
}

func (w *weight) Len() int { return w.w.N() * w.k }

// unpack writes the first len(dst) elements of the weight's (N,K) values
// (rounded to bf16 for a bf16 weight) row-major into dst.
func (w *weight) unpack(dst []float32) {
	if w.prec != BF16 && w.prec != BF16Twin {
		w.w.Unpack(dst)
		return
	}
	kp := w.w.K()
	all := make([]float32, w.w.N()*kp)
	w.w.Unpack(all)
	for i := range dst {
		r, c := i/w.k, i%w.k
		if w.prec == BF16Twin {
			dst[i] = all[r*kp+c^1] // pairs are stored swapped
			continue
		}
		pair := math.Float32bits(all[r*kp+c/2]) // element c in the low half when even
		dst[i] = simd.FromBF16(uint16(pair >> (16 * (c % 2))))
	}
}

// Weight implements kernels.Backend: src is (N,K) row-major, kept packed.
func (be *Backend) Weight(src []float32, n, k int) (kernels.Buf, error) {
	if err := be.host.Err(); err != nil {
		return nil, err
	}
	if n <= 0 || k <= 0 || len(src) != n*k {
		return nil, fmt.Errorf("cpu: weight [%d,%d]: got %d floats, want N·K > 0", n, k, len(src))
	}
	var crc uint32
	if be.shared != nil || be.recording {
		crc = srcCRC(src)
	}
	prec := be.Precision()
	kp := k
	switch prec {
	case BF16Twin:
		kp = evenK(k)
	case BF16:
		kp = (k + 1) / 2
	}
	if be.shared != nil {
		if w := be.shared.take(n, kp, crc, prec); w != nil {
			return &weight{owner: be, w: w, k: k, prec: prec}, nil
		}
	}
	var w *simd.PackedW
	switch prec {
	case BF16Twin:
		// Rounded to bf16 once, here; pairs swapped so that the FMA chain
		// runs in VDPBF16PS's order (simd.BF16Pairs).
		rows := make([]float32, n*kp)
		simd.BF16Pairs(rows, kp, src, k, n, k)
		w = simd.PackW(rows, n, kp)
	case BF16:
		w = simd.PackBF16(src, n, k)
	default:
		w = simd.PackW(src, n, k)
	}
	be.local++
	if be.recording {
		be.recorded = append(be.recorded, recorded{crc: crc, w: w})
	}
	return &weight{owner: be, w: w, k: k, prec: prec}, nil
}

// weightDims is the host.WeightDims of this backend's weights.
func (be *Backend) weightDims(b kernels.Buf) (n, k int, ok bool) {
	if w, ok := b.(*weight); ok && w != nil && w.owner == be {
		return w.w.N(), w.k, true
	}
	return 0, 0, false
}

func (be *Backend) matMul(op kernels.MatMul) {
	m, n, k := op.M, op.N, op.K
	out, x, w, bias := f32(op.Out), f32(op.X), op.W.(*weight), f32(op.Bias)
	switch w.prec {
	case BF16:
		xw := be.pairsOf(op.X, m, k)
		if xw == nil {
			xw = be.bf16Words(x, m, k)
		}
		words, ldw := be.pairsFor(op.Out, m, n)
		if words != nil && op.Scratch {
			out = nil // the next MatMul reads the pairs; Out is left unwritten
		}
		be.simd.GemmBF16Words(out, n, words, ldw, xw, w.w.K(), m, w.w, bias, op.GELU, be.pool.tasks)
		return
	case BF16Twin:
		x, k = be.bf16Input(x, m, k), w.w.K()
	}
	be.simd.Gemm(out, n, x, k, m, w.w, bias, op.GELU, be.pool.tasks)
}
