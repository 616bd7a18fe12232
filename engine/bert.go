package engine

import (
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/loader"
)

// This file is the model: BertForSequenceClassification from Hugging Face
// transformers (models/bert/modeling_bert.py), one struct per module, weight
// names literal, and the forward pass as one list of kernel ops in the order
// the PyTorch module runs them.

// dims are the model's shapes (see the glossary in kernels/backend.go).
type dims struct {
	H, NH, HD, I int // hidden, heads, head dim, intermediate
	V, P, TV     int // vocab, max positions, token types
	eps          float32
	scale        float32 // 1/sqrt(HD)
}

func newDims(c *loader.Config) dims {
	hd := c.HiddenSize / c.NumAttentionHeads
	return dims{
		H: c.HiddenSize, NH: c.NumAttentionHeads, HD: hd, I: c.IntermediateSize,
		V: c.VocabSize, P: c.MaxPositionEmbeddings, TV: c.TypeVocabSize,
		eps:   float32(c.LayerNormEps),
		scale: float32(1 / math.Sqrt(float64(hd))),
	}
}

// embeddings mirrors BertEmbeddings.
type embeddings struct {
	word, position, tokenType kernels.Buf // word_embeddings, position_embeddings, token_type_embeddings
	lnGamma, lnBeta           kernels.Buf // LayerNorm
}

// layer mirrors BertLayer. attention.self.{query,key,value} are fused into
// one [3H,H] weight at load so one GEMM produces Q, K and V.
type layer struct {
	qkvW, qkvB           kernels.Buf // attention.self.{query,key,value}
	attnOutW, attnOutB   kernels.Buf // attention.output.dense
	attnLNGamma, attnLNB kernels.Buf // attention.output.LayerNorm
	interW, interB       kernels.Buf // intermediate.dense
	outW, outB           kernels.Buf // output.dense
	outLNGamma, outLNB   kernels.Buf // output.LayerNorm
}

// bert mirrors BertForSequenceClassification: bert.{embeddings,encoder,pooler}
// and the classifier head.
type bert struct {
	d          dims
	emb        embeddings
	layers     []layer
	poolW      kernels.Buf // bert.pooler.dense
	poolB      kernels.Buf
	classifier kernels.Buf // classifier (N=1)
	classB     kernels.Buf
}

// weightLoader turns named tensors of the model file into backend buffers,
// checking every shape against the config.
type weightLoader struct {
	m  *loader.Model
	be kernels.Backend
}

func (wl weightLoader) tensor(name string, shape ...int) ([]float32, error) {
	data, got, err := wl.m.Float32(name)
	if err != nil {
		return nil, err
	}
	if !equalShape(got, shape) {
		return nil, modelErrorf("engine: weight %s has shape %v, config wants %v", name, got, shape)
	}
	return data, nil
}

// vector and table load constants read in place (shared pages when the
// backend can wrap host memory).
func (wl weightLoader) constant(name string, shape ...int) (kernels.Buf, error) {
	data, err := wl.tensor(name, shape...)
	if err != nil {
		return nil, err
	}
	return hostBuf(wl.be, data)
}

// linear loads a Linear layer's weight [N,K] and bias [N].
func (wl weightLoader) linear(prefix string, n, k int) (w, b kernels.Buf, err error) {
	data, err := wl.tensor(prefix+".weight", n, k)
	if err != nil {
		return nil, nil, err
	}
	if w, err = wl.be.Weight(data, n, k); err != nil {
		return nil, nil, fmt.Errorf("engine: upload %s.weight: %w", prefix, err)
	}
	b, err = wl.constant(prefix+".bias", n)
	return w, b, err
}

// fusedQKV loads attention.self.{query,key,value} as one [3H,H] Linear.
func (wl weightLoader) fusedQKV(prefix string, h int) (w, b kernels.Buf, err error) {
	wAll := make([]float32, 0, 3*h*h)
	bAll := make([]float32, 0, 3*h)
	for _, part := range []string{"query", "key", "value"} {
		pw, err := wl.tensor(prefix+"."+part+".weight", h, h)
		if err != nil {
			return nil, nil, err
		}
		pb, err := wl.tensor(prefix+"."+part+".bias", h)
		if err != nil {
			return nil, nil, err
		}
		wAll = append(wAll, pw...)
		bAll = append(bAll, pb...)
	}
	if w, err = wl.be.Weight(wAll, 3*h, h); err != nil {
		return nil, nil, fmt.Errorf("engine: upload %s qkv: %w", prefix, err)
	}
	b, err = upload(wl.be, bAll)
	return w, b, err
}

func loadBERT(m *loader.Model, be kernels.Backend) (*bert, error) {
	c := m.Config
	d := newDims(c)
	wl := weightLoader{m: m, be: be}
	b := &bert{d: d, layers: make([]layer, c.NumHiddenLayers)}
	var err error
	set := func(dst *kernels.Buf, name string, shape ...int) {
		if err == nil {
			*dst, err = wl.constant(name, shape...)
		}
	}
	setLinear := func(w, bias *kernels.Buf, prefix string, n, k int) {
		if err == nil {
			*w, *bias, err = wl.linear(prefix, n, k)
		}
	}
	set(&b.emb.word, "bert.embeddings.word_embeddings.weight", d.V, d.H)
	set(&b.emb.position, "bert.embeddings.position_embeddings.weight", d.P, d.H)
	set(&b.emb.tokenType, "bert.embeddings.token_type_embeddings.weight", d.TV, d.H)
	set(&b.emb.lnGamma, "bert.embeddings.LayerNorm.weight", d.H)
	set(&b.emb.lnBeta, "bert.embeddings.LayerNorm.bias", d.H)
	for i := range b.layers {
		l := &b.layers[i]
		p := fmt.Sprintf("bert.encoder.layer.%d", i)
		if err == nil {
			l.qkvW, l.qkvB, err = wl.fusedQKV(p+".attention.self", d.H)
		}
		setLinear(&l.attnOutW, &l.attnOutB, p+".attention.output.dense", d.H, d.H)
		set(&l.attnLNGamma, p+".attention.output.LayerNorm.weight", d.H)
		set(&l.attnLNB, p+".attention.output.LayerNorm.bias", d.H)
		setLinear(&l.interW, &l.interB, p+".intermediate.dense", d.I, d.H)
		setLinear(&l.outW, &l.outB, p+".output.dense", d.H, d.I)
		set(&l.outLNGamma, p+".output.LayerNorm.weight", d.H)
		set(&l.outLNB, p+".output.LayerNorm.bias", d.H)
	}
	setLinear(&b.poolW, &b.poolB, "bert.pooler.dense", d.H, d.H)
	setLinear(&b.classifier, &b.classB, "classifier", 1, d.H)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// scratch holds the activations of one packed batch of at most maxT tokens
// and maxB sequences; allocated once per model, reused by every batch.
type scratch struct {
	maxT, maxB            int
	h, emb, ctx, tmp      kernels.Buf // (T,H)
	qkv                   kernels.Buf // (T,3H)
	inter                 kernels.Buf // (T,I)
	cls, pooled           kernels.Buf // (B,H)
	logits                kernels.Buf // (B,1)
	ops                   []kernels.Op
	clsRows               []int32
	host                  []float32 // logits downloaded
	ids, typeIDs, seqsBuf []int32
}

func newScratch(be kernels.Backend, d dims, maxT, maxB int) (*scratch, error) {
	s := &scratch{maxT: maxT, maxB: maxB}
	var err error
	alloc := func(dst *kernels.Buf, n int) {
		if err == nil {
			*dst, err = be.Alloc(n)
		}
	}
	// Buffers never live at the same time share storage, which cuts the
	// activations of a batch by about a third (memory per worker process):
	// the embeddings are dead once normalised into h, before tmp is first
	// written; Q/K/V are dead once attention has written ctx, before the
	// intermediate activations are.
	alloc(&s.h, maxT*d.H)
	alloc(&s.ctx, maxT*d.H)
	alloc(&s.tmp, maxT*d.H)
	alloc(&s.qkv, maxT*max(3*d.H, d.I))
	s.emb, s.inter = s.tmp, s.qkv
	alloc(&s.cls, maxB*d.H)
	alloc(&s.pooled, maxB*d.H)
	alloc(&s.logits, maxB)
	if err != nil {
		return nil, fmt.Errorf("engine: allocate activations for %d tokens: %w", maxT, err)
	}
	s.host = make([]float32, maxB)
	s.clsRows = make([]int32, 0, maxB)
	s.ids = make([]int32, 0, maxT)
	s.typeIDs = make([]int32, 0, maxT)
	s.seqsBuf = make([]int32, 0, maxB+1)
	return s, nil
}

// forward returns the ops that compute the classifier logit of every sequence
// of a packed batch: ids and typeIDs are the T tokens, seqs the B+1 sequence
// offsets (cu_seqlens). The result lands in s.logits[0:B].
func (b *bert) forward(s *scratch, ids, typeIDs, seqs []int32) []kernels.Op {
	d := b.d
	T := int(seqs[len(seqs)-1])
	B := len(seqs) - 1
	s.clsRows = append(s.clsRows[:0], seqs[:B]...) // [CLS] is each sequence's first token
	ops := append(s.ops[:0],
		kernels.Embed{Out: s.emb, Word: b.emb.word, Pos: b.emb.position, Type: b.emb.tokenType, IDs: ids, TypeIDs: typeIDs, Seqs: seqs, H: d.H}, // embeddings.{word,position,token_type}_embeddings
		kernels.LayerNorm{Out: s.h, X: s.emb, Gamma: b.emb.lnGamma, Beta: b.emb.lnBeta, Rows: T, Cols: d.H, Eps: d.eps},                         // embeddings.LayerNorm
	)
	for i := range b.layers {
		l := &b.layers[i]
		ops = append(ops,
			kernels.MatMul{Out: s.qkv, X: s.h, W: l.qkvW, Bias: l.qkvB, M: T, N: 3 * d.H, K: d.H},     // attention.self.{query,key,value}
			kernels.Attention{Out: s.ctx, QKV: s.qkv, Seqs: seqs, NH: d.NH, HD: d.HD, Scale: d.scale}, // attention.self (softmax(QKᵀ/√d)·V)
		)
		// Only [CLS] reaches the pooler, and every step after attention works
		// row by row: past the last layer's attention (which needs every
		// token's K and V), the layer runs on the B [CLS] rows alone, the
		// same numbers as HF's for those rows at a quarter of its FLOPs.
		rows, x, res := T, s.ctx, s.h
		if i == len(b.layers)-1 {
			ops = append(ops,
				kernels.GatherRows{Out: s.cls, X: s.ctx, Rows: s.clsRows, Cols: d.H},  // hidden_states[:, 0] of the attention output
				kernels.GatherRows{Out: s.pooled, X: s.h, Rows: s.clsRows, Cols: d.H}, // and of the layer's input (the residual)
			)
			rows, x, res = B, s.cls, s.pooled
		}
		ops = append(ops,
			kernels.MatMul{Out: s.tmp, X: x, W: l.attnOutW, Bias: l.attnOutB, M: rows, N: d.H, K: d.H},                                // attention.output.dense
			kernels.LayerNorm{Out: s.h, X: s.tmp, Res: res, Gamma: l.attnLNGamma, Beta: l.attnLNB, Rows: rows, Cols: d.H, Eps: d.eps}, // attention.output.LayerNorm(dense + input)
			kernels.MatMul{Out: s.inter, X: s.h, W: l.interW, Bias: l.interB, M: rows, N: d.I, K: d.H, GELU: true, Scratch: true},     // intermediate.dense + intermediate_act_fn
			kernels.MatMul{Out: s.tmp, X: s.inter, W: l.outW, Bias: l.outB, M: rows, N: d.H, K: d.I},                                  // output.dense
			kernels.LayerNorm{Out: s.h, X: s.tmp, Res: s.h, Gamma: l.outLNGamma, Beta: l.outLNB, Rows: rows, Cols: d.H, Eps: d.eps},   // output.LayerNorm(dense + attention_output)
		)
	}
	// s.h now holds the B sequences' [CLS] hidden states, in order.
	ops = append(ops,
		kernels.MatMul{Out: s.pooled, X: s.h, W: b.poolW, Bias: b.poolB, M: B, N: d.H, K: d.H},          // pooler.dense of hidden_states[:, 0]
		kernels.Tanh{Out: s.pooled, X: s.pooled, N: B * d.H},                                            // pooler.activation
		kernels.MatMul{Out: s.logits, X: s.pooled, W: b.classifier, Bias: b.classB, M: B, N: 1, K: d.H}, // classifier
	)
	s.ops = ops
	return ops
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// upload copies host data into a new backend buffer.
func upload(be kernels.Backend, data []float32) (kernels.Buf, error) {
	buf, err := be.Alloc(len(data))
	if err != nil {
		return nil, err
	}
	if err := be.Upload(buf, data); err != nil {
		return nil, err
	}
	return buf, nil
}

// hostBuf uses data in place when the backend can (memory-mapped weights stay
// shared between worker processes), else copies it.
func hostBuf(be kernels.Backend, data []float32) (kernels.Buf, error) {
	if hw, ok := be.(kernels.HostWrapper); ok {
		return hw.Wrap(data)
	}
	return upload(be, data)
}
