package ref

import (
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// embed: Out is (T,H); Word is (V,H); Pos is (maxPos,H); Type is
// (typeVocab,H); IDs and TypeIDs are (T); Seqs is (B+1).
//
//	Out[t,:] = Word[IDs[t],:] + Pos[t-Seqs[b],:] + Type[TypeIDs[t],:]
func (be *Backend) embed(op kernels.Embed) error {
	h := op.H
	if h <= 0 {
		return fmt.Errorf("Embed.H = %d, want > 0", h)
	}
	t := len(op.IDs)
	if len(op.TypeIDs) != t {
		return fmt.Errorf("Embed: len(TypeIDs) = %d, want len(IDs) = %d", len(op.TypeIDs), t)
	}
	if _, err := checkSeqs("Embed", op.Seqs, t); err != nil {
		return err
	}
	out, err := be.need("Embed", "Out", op.Out, t*h)
	if err != nil {
		return err
	}
	word, err := be.need("Embed", "Word", op.Word, h)
	if err != nil {
		return err
	}
	pos, err := be.need("Embed", "Pos", op.Pos, h)
	if err != nil {
		return err
	}
	typ, err := be.need("Embed", "Type", op.Type, h)
	if err != nil {
		return err
	}
	if op.Out == op.Word || op.Out == op.Pos || op.Out == op.Type {
		return fmt.Errorf("Embed.Out aliases a table")
	}
	v, maxPos, typeVocab := len(word)/h, len(pos)/h, len(typ)/h
	for b := 0; b+1 < len(op.Seqs); b++ {
		for i := op.Seqs[b]; i < op.Seqs[b+1]; i++ {
			id, tid, p := int(op.IDs[i]), int(op.TypeIDs[i]), int(i-op.Seqs[b])
			if id < 0 || id >= v {
				return fmt.Errorf("Embed.IDs[%d] = %d out of range [0,%d)", i, id, v)
			}
			if tid < 0 || tid >= typeVocab {
				return fmt.Errorf("Embed.TypeIDs[%d] = %d out of range [0,%d)", i, tid, typeVocab)
			}
			if p >= maxPos {
				return fmt.Errorf("Embed: token %d is at position %d, beyond the %d rows of Pos", i, p, maxPos)
			}
			o := out[int(i)*h : int(i+1)*h]
			wr, pr, tr := word[id*h:(id+1)*h], pos[p*h:(p+1)*h], typ[tid*h:(tid+1)*h]
			for c := range o {
				o[c] = float32(float64(wr[c]) + float64(pr[c]) + float64(tr[c]))
			}
		}
	}
	return nil
}
