package metal

import (
	"encoding/binary"
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// dispatch is one dispatchThreadgroups call: everything the darwin layer or
// the simulator needs to replay it, decided here in platform-neutral Go.
type dispatch struct {
	kernel  string
	groups  [3]int // threadgroups per grid
	threads [3]int // threads per threadgroup
	binds   []binding
}

// binding is one [[buffer(index)]]: a device buffer, or bytes the host
// builds (argument structs, index tables) that go with the dispatch.
type binding struct {
	index int
	buf   *buffer
	data  []byte
}

// Kernel geometry, matching the #defines in shaders/.
const (
	matMulTile    = 32  // MM_BM = MM_BN
	matMulThreads = 128 // MM_THREADS
	attnBlock     = 32  // ATT_QB
	attnMaxHD     = 64  // ATT_MAXHD
	eltThreads    = 256
	maxNormGroup  = 256
	simdWidth     = 32
)

// kernelTable lists every kernel the planner dispatches with the most threads
// per threadgroup it asks of each; the darwin layer makes one pipeline per
// entry and checks the device allows that many threads.
var kernelTable = []kernelInfo{
	{"matmul_f32", matMulThreads},
	{"layernorm_f32", maxNormGroup},
	{"gelu_f32", eltThreads},
	{"tanh_f32", eltThreads},
	{"embed_f32", eltThreads},
	{"gather_rows_f32", eltThreads},
	{"attention_f32", attnBlock},
}

type kernelInfo struct {
	name       string
	maxThreads int
}

// planner turns ops into dispatches for one Run.
type planner struct {
	be   *Backend
	plan []dispatch
}

func (p *planner) add(op kernels.Op) error {
	switch op := op.(type) {
	case kernels.Embed:
		return p.embed(op)
	case kernels.LayerNorm:
		return p.layerNorm(op)
	case kernels.MatMul:
		return p.matMul(op)
	case kernels.GELU:
		return p.unary("gelu_f32", "GELU", op.Out, op.X, op.N)
	case kernels.Attention:
		return p.attention(op)
	case kernels.GatherRows:
		return p.gatherRows(op)
	case kernels.Tanh:
		return p.unary("tanh_f32", "Tanh", op.Out, op.X, op.N)
	}
	return fmt.Errorf("%T: %w", op, kernels.ErrUnsupported)
}

func args(v any) []byte {
	b, err := binary.Append(nil, binary.LittleEndian, v)
	if err != nil {
		// Only the fixed-size structs of args.go come here.
		panic("metal: encoding kernel arguments: " + err.Error())
	}
	return b
}

func int32s(v []int32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

func bools(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (p *planner) emit(d dispatch) { p.plan = append(p.plan, d) }

// matMul: a 2-D grid of 32×32 output tiles.
func (p *planner) matMul(op kernels.MatMul) error {
	if op.M < 0 || op.N < 1 || op.K < 1 {
		return fmt.Errorf("MatMul: M=%d N=%d K=%d out of range", op.M, op.N, op.K)
	}
	w, err := p.be.buf("MatMul.W", op.W, 0)
	if err != nil {
		return err
	}
	if w.wn != op.N || w.wk != op.K {
		return fmt.Errorf("MatMul.W: weight is [%d,%d], op wants [%d,%d] (W must come from Weight)", w.wn, w.wk, op.N, op.K)
	}
	x, err := p.be.buf("MatMul.X", op.X, op.M*op.K)
	if err != nil {
		return err
	}
	out, err := p.be.buf("MatMul.Out", op.Out, op.M*op.N)
	if err != nil {
		return err
	}
	if out == x {
		return fmt.Errorf("MatMul: Out aliases X")
	}
	bias := w // bound but unread without a bias: Metal wants every argument bound
	if op.Bias != nil {
		if bias, err = p.be.buf("MatMul.Bias", op.Bias, op.N); err != nil {
			return err
		}
	}
	if op.M == 0 {
		return nil
	}
	a := matMulArgs{M: int32(op.M), N: int32(op.N), K: int32(op.K), HasBias: bools(op.Bias != nil), GELU: bools(op.GELU)}
	p.emit(dispatch{
		kernel:  "matmul_f32",
		groups:  [3]int{ceilDiv(op.N, matMulTile), ceilDiv(op.M, matMulTile), 1},
		threads: [3]int{matMulThreads, 1, 1},
		binds:   []binding{{index: 0, data: args(a)}, {index: 1, buf: x}, {index: 2, buf: w}, {index: 3, buf: bias}, {index: 4, buf: out}},
	})
	return nil
}

// layerNorm: one threadgroup per row, 32 to 256 threads.
func (p *planner) layerNorm(op kernels.LayerNorm) error {
	if op.Rows < 0 || op.Cols < 1 {
		return fmt.Errorf("LayerNorm: Rows=%d Cols=%d out of range", op.Rows, op.Cols)
	}
	n := op.Rows * op.Cols
	x, err := p.be.buf("LayerNorm.X", op.X, n)
	if err != nil {
		return err
	}
	res := x // bound but unread without a residual
	if op.Res != nil {
		if res, err = p.be.buf("LayerNorm.Res", op.Res, n); err != nil {
			return err
		}
	}
	gamma, err := p.be.buf("LayerNorm.Gamma", op.Gamma, op.Cols)
	if err != nil {
		return err
	}
	beta, err := p.be.buf("LayerNorm.Beta", op.Beta, op.Cols)
	if err != nil {
		return err
	}
	out, err := p.be.buf("LayerNorm.Out", op.Out, n)
	if err != nil {
		return err
	}
	if op.Rows == 0 {
		return nil
	}
	threads := min(maxNormGroup, ceilDiv(op.Cols, simdWidth)*simdWidth)
	a := layerNormArgs{Rows: int32(op.Rows), Cols: int32(op.Cols), HasRes: bools(op.Res != nil), Eps: op.Eps}
	p.emit(dispatch{
		kernel:  "layernorm_f32",
		groups:  [3]int{op.Rows, 1, 1},
		threads: [3]int{threads, 1, 1},
		binds: []binding{{index: 0, data: args(a)}, {index: 1, buf: x}, {index: 2, buf: res},
			{index: 3, buf: gamma}, {index: 4, buf: beta}, {index: 5, buf: out}},
	})
	return nil
}

// unary: GELU and Tanh, one thread per element.
func (p *planner) unary(kernel, name string, outB, xB kernels.Buf, n int) error {
	if n < 0 {
		return fmt.Errorf("%s: N=%d out of range", name, n)
	}
	x, err := p.be.buf(name+".X", xB, n)
	if err != nil {
		return err
	}
	out, err := p.be.buf(name+".Out", outB, n)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	p.emit(dispatch{
		kernel:  kernel,
		groups:  [3]int{ceilDiv(n, eltThreads), 1, 1},
		threads: [3]int{eltThreads, 1, 1},
		binds:   []binding{{index: 0, data: args(unaryArgs{N: int32(n)})}, {index: 1, buf: x}, {index: 2, buf: out}},
	})
	return nil
}

// checkSeqs validates cu_seqlens and returns T.
func checkSeqs(name string, seqs []int32) (int, error) {
	if len(seqs) == 0 || seqs[0] != 0 {
		return 0, fmt.Errorf("%s.Seqs: must start with 0", name)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] < seqs[i-1] {
			return 0, fmt.Errorf("%s.Seqs[%d]=%d < Seqs[%d]=%d", name, i, seqs[i], i-1, seqs[i-1])
		}
	}
	return int(seqs[len(seqs)-1]), nil
}

// embed: one thread per output element; the host turns Seqs into position
// ids and checks every index, since the GPU would read out of bounds.
func (p *planner) embed(op kernels.Embed) error {
	t, err := checkSeqs("Embed", op.Seqs)
	if err != nil {
		return err
	}
	if op.H < 1 || len(op.IDs) != t || len(op.TypeIDs) != t {
		return fmt.Errorf("Embed: H=%d, %d IDs, %d TypeIDs, want H ≥ 1 and T=%d of each", op.H, len(op.IDs), len(op.TypeIDs), t)
	}
	word, err := p.be.buf("Embed.Word", op.Word, 0)
	if err != nil {
		return err
	}
	pos, err := p.be.buf("Embed.Pos", op.Pos, 0)
	if err != nil {
		return err
	}
	typ, err := p.be.buf("Embed.Type", op.Type, 0)
	if err != nil {
		return err
	}
	out, err := p.be.buf("Embed.Out", op.Out, t*op.H)
	if err != nil {
		return err
	}
	posIDs := make([]int32, t)
	for b := 0; b+1 < len(op.Seqs); b++ {
		for i := op.Seqs[b]; i < op.Seqs[b+1]; i++ {
			posIDs[i] = i - op.Seqs[b]
		}
	}
	for _, c := range []struct {
		name string
		ids  []int32
		buf  *buffer
	}{{"IDs", op.IDs, word}, {"TypeIDs", op.TypeIDs, typ}, {"positions", posIDs, pos}} {
		rows := c.buf.n / op.H
		for i, id := range c.ids {
			if id < 0 || int(id) >= rows {
				return fmt.Errorf("Embed.%s[%d]=%d out of range [0,%d)", c.name, i, id, rows)
			}
		}
	}
	if t == 0 {
		return nil
	}
	p.emit(dispatch{
		kernel:  "embed_f32",
		groups:  [3]int{ceilDiv(t*op.H, eltThreads), 1, 1},
		threads: [3]int{eltThreads, 1, 1},
		binds: []binding{{index: 0, data: args(embedArgs{T: int32(t), H: int32(op.H)})},
			{index: 1, buf: word}, {index: 2, buf: pos}, {index: 3, buf: typ},
			{index: 4, data: int32s(op.IDs)}, {index: 5, data: int32s(op.TypeIDs)}, {index: 6, data: int32s(posIDs)},
			{index: 7, buf: out}},
	})
	return nil
}

// gatherRows: one thread per output element.
func (p *planner) gatherRows(op kernels.GatherRows) error {
	if op.Cols < 1 {
		return fmt.Errorf("GatherRows: Cols=%d out of range", op.Cols)
	}
	x, err := p.be.buf("GatherRows.X", op.X, 0)
	if err != nil {
		return err
	}
	n := len(op.Rows) * op.Cols
	out, err := p.be.buf("GatherRows.Out", op.Out, n)
	if err != nil {
		return err
	}
	if out == x {
		return fmt.Errorf("GatherRows: Out aliases X")
	}
	rows := x.n / op.Cols
	for i, r := range op.Rows {
		if r < 0 || int(r) >= rows {
			return fmt.Errorf("GatherRows.Rows[%d]=%d out of range [0,%d)", i, r, rows)
		}
	}
	if n == 0 {
		return nil
	}
	p.emit(dispatch{
		kernel:  "gather_rows_f32",
		groups:  [3]int{ceilDiv(n, eltThreads), 1, 1},
		threads: [3]int{eltThreads, 1, 1},
		binds: []binding{{index: 0, data: args(gatherArgs{Rows: int32(len(op.Rows)), Cols: int32(op.Cols)})},
			{index: 1, buf: x}, {index: 2, data: int32s(op.Rows)}, {index: 3, buf: out}},
	})
	return nil
}

// attention: a (query blocks × heads) grid of 32-thread threadgroups. The
// host splits each sequence into blocks of 32 queries (a block never spans
// two sequences) and hands the kernel the table.
func (p *planner) attention(op kernels.Attention) error {
	t, err := checkSeqs("Attention", op.Seqs)
	if err != nil {
		return err
	}
	if op.NH < 1 || op.HD < 1 || op.HD > attnMaxHD {
		return fmt.Errorf("Attention: NH=%d HD=%d out of range (HD ≤ %d)", op.NH, op.HD, attnMaxHD)
	}
	h := op.NH * op.HD
	qkv, err := p.be.buf("Attention.QKV", op.QKV, t*3*h)
	if err != nil {
		return err
	}
	out, err := p.be.buf("Attention.Out", op.Out, t*h)
	if err != nil {
		return err
	}
	if out == qkv {
		return fmt.Errorf("Attention: Out aliases QKV")
	}
	var blocks []int32
	for b := 0; b+1 < len(op.Seqs); b++ {
		for q := op.Seqs[b]; q < op.Seqs[b+1]; q += attnBlock {
			blocks = append(blocks, q, op.Seqs[b], op.Seqs[b+1])
		}
	}
	nb := len(blocks) / 3
	if nb == 0 {
		return nil
	}
	a := attentionArgs{NH: int32(op.NH), HD: int32(op.HD), Blocks: int32(nb),
		QKVStride: int32(3 * h), OutStride: int32(h), Scale: op.Scale}
	p.emit(dispatch{
		kernel:  "attention_f32",
		groups:  [3]int{nb, op.NH, 1},
		threads: [3]int{attnBlock, 1, 1},
		binds:   []binding{{index: 0, data: args(a)}, {index: 1, buf: qkv}, {index: 2, data: int32s(blocks)}, {index: 3, buf: out}},
	})
	return nil
}
