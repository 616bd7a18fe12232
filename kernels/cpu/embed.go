package cpu

import (
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
func (be *Backend) embed(op kernels.Embed) {
	h, t := op.H, len(op.IDs)
	out, word, pos, typ := f32(op.Out), f32(op.Word), f32(op.Pos), f32(op.Type)
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
}

// embedRow: out, w, p and t are (H). out = w + p + t.
func embedRow(out, w, p, t []float32) {
	w, p, t = w[:len(out)], p[:len(out)], t[:len(out)]
	for c := range out {
		out[c] = float32(float64(w[c]) + float64(p[c]) + float64(t[c]))
	}
}
