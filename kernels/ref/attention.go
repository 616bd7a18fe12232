package ref

import (
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// attention: QKV is (T,3·NH·HD) holding Q|K|V; Out is (T,NH·HD); Seqs is (B+1).
//
//	for each sequence b, head h, query i in [Seqs[b], Seqs[b+1]):
//	  s[j] = Scale · Σ_d Q[i,h,d]·K[j,h,d]   for j in the same sequence
//	  p = softmax(s)                          (max-subtracted)
//	  Out[i,h·HD+d] = Σ_j p[j]·V[j,h,d]
func (be *Backend) attention(op kernels.Attention) {
	nh, hd := op.NH, op.HD
	h := nh * hd
	out, qkv := f32(op.Out), f32(op.QKV)
	scale := float64(op.Scale)
	for b := 0; b+1 < len(op.Seqs); b++ {
		lo, hi := int(op.Seqs[b]), int(op.Seqs[b+1])
		s := make([]float64, hi-lo)
		acc := make([]float64, hd)
		for head := range nh {
			for i := lo; i < hi; i++ {
				q := qkv[i*3*h+head*hd:]
				smax := math.Inf(-1)
				for j := lo; j < hi; j++ {
					k := qkv[j*3*h+h+head*hd:]
					var dot float64
					for d := range hd {
						dot += float64(q[d]) * float64(k[d])
					}
					s[j-lo] = scale * dot
					smax = max(smax, s[j-lo])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - smax)
					sum += s[j]
				}
				clear(acc)
				for j := lo; j < hi; j++ {
					v := qkv[j*3*h+2*h+head*hd:]
					p := s[j-lo] / sum
					for d := range hd {
						acc[d] += p * float64(v[d])
					}
				}
				for d := range hd {
					out[i*h+head*hd+d] = float32(acc[d])
				}
			}
		}
	}
}
