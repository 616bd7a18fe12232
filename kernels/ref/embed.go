package ref

import "github.com/minilm-dev/minilm/kernels"

// embed: Out is (T,H); Word is (V,H); Pos is (maxPos,H); Type is
// (typeVocab,H); IDs and TypeIDs are (T); Seqs is (B+1).
//
//	Out[t,:] = Word[IDs[t],:] + Pos[t-Seqs[b],:] + Type[TypeIDs[t],:]
func (be *Backend) embed(op kernels.Embed) {
	h := op.H
	out, word, pos, typ := f32(op.Out), f32(op.Word), f32(op.Pos), f32(op.Type)
	for b := 0; b+1 < len(op.Seqs); b++ {
		for i := op.Seqs[b]; i < op.Seqs[b+1]; i++ {
			id, tid, p := int(op.IDs[i]), int(op.TypeIDs[i]), int(i-op.Seqs[b])
			o := out[int(i)*h : int(i+1)*h]
			wr, pr, tr := word[id*h:(id+1)*h], pos[p*h:(p+1)*h], typ[tid*h:(tid+1)*h]
			for c := range o {
				o[c] = float32(float64(wr[c]) + float64(pr[c]) + float64(tr[c]))
			}
		}
	}
}
