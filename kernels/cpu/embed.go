package cpu

import (
	"fmt"
	"sort"

	"github.com/minilm-dev/minilm/kernels"
)

// embed: Out is (T,H); Word is (V,H); Pos is (maxPos,H); Type is
// (typeVocab,H); IDs and TypeIDs are (T); Seqs is (B+1). For t in sequence b:
//
//	Out[t,:] = Word[IDs[t],:] + Pos[t-Seqs[b],:] + Type[TypeIDs[t],:]
//
// summed in float64 and rounded once, like the reference. Tokens are split
// across workers in chunks.
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
	for i := range t {
		if id := op.IDs[i]; id < 0 || int(id) >= v {
			return fmt.Errorf("Embed.IDs[%d] = %d out of range [0,%d)", i, id, v)
		}
		if tid := op.TypeIDs[i]; tid < 0 || int(tid) >= typeVocab {
			return fmt.Errorf("Embed.TypeIDs[%d] = %d out of range [0,%d)", i, tid, typeVocab)
		}
	}
	for b := 0; b+1 < len(op.Seqs); b++ {
		if n := int(op.Seqs[b+1] - op.Seqs[b]); n > maxPos {
			return fmt.Errorf("Embed: sequence %d has %d tokens, beyond the %d rows of Pos", b, n, maxPos)
		}
	}
	const grain = 16 // tokens per task
	be.pool.parallel(chunks(t, grain), func(_, task int) {
		lo, hi := task*grain, min(t, (task+1)*grain)
		// b is the sequence holding token lo: the last b with Seqs[b] ≤ lo.
		b := sort.Search(len(op.Seqs), func(b int) bool { return int(op.Seqs[b]) > lo }) - 1
		for i := lo; i < hi; i++ {
			for int(op.Seqs[b+1]) <= i {
				b++
			}
			p := i - int(op.Seqs[b])
			id, tid := int(op.IDs[i]), int(op.TypeIDs[i])
			embedRow(out[i*h:(i+1)*h], word[id*h:(id+1)*h], pos[p*h:(p+1)*h], typ[tid*h:(tid+1)*h])
		}
	})
	return nil
}

// embedRow: out, w, p and t are (H). out = w + p + t.
func embedRow(out, w, p, t []float32) {
	w, p, t = w[:len(out)], p[:len(out)], t[:len(out)]
	for c := range out {
		out[c] = float32(float64(w[c]) + float64(p[c]) + float64(t[c]))
	}
}
