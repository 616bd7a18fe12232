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
	{"matmul_f16w_f32", matMulThreads},
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

// add plans op after kernels.Check has accepted it, so that the planners
// below only check the kernels' own limits.
func (p *planner) add(op kernels.Op) error {
	if err := kernels.Check(op, operands{p.be}); err != nil {
		return err
	}
	switch op := op.(type) {
	case kernels.Embed:
		p.embed(op)
	case kernels.LayerNorm:
		p.layerNorm(op)
	case kernels.MatMul:
		p.matMul(op)
	case kernels.GELU:
		p.unary("gelu_f32", op.Out, op.X, op.N)
	case kernels.Attention:
		return p.attention(op)
	case kernels.GatherRows:
		p.gatherRows(op)
	case kernels.Tanh:
		p.unary("tanh_f32", op.Out, op.X, op.N)
	default:
		return fmt.Errorf("%T: %w", op, kernels.ErrUnsupported)
	}
	return nil
}

// mem is a Buf that kernels.Check accepted as this backend's (nil for an
// absent optional one).
func mem(b kernels.Buf) *buffer {
	mb, _ := b.(*buffer)
	return mb
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

// matMul: a 2-D grid of 32×32 output tiles; the kernel variant follows how
// W is stored.
func (p *planner) matMul(op kernels.MatMul) {
	x, w, out := mem(op.X), mem(op.W), mem(op.Out)
	bias := w // bound but unread without a bias: Metal wants every argument bound
	if op.Bias != nil {
		bias = mem(op.Bias)
	}
	if op.M == 0 {
		return
	}
	kernel := "matmul_f32"
	if w.half {
		kernel = "matmul_f16w_f32"
	}
	a := matMulArgs{M: int32(op.M), N: int32(op.N), K: int32(op.K), HasBias: bools(op.Bias != nil), GELU: bools(op.GELU)}
	p.emit(dispatch{
		kernel:  kernel,
		groups:  [3]int{ceilDiv(op.N, matMulTile), ceilDiv(op.M, matMulTile), 1},
		threads: [3]int{matMulThreads, 1, 1},
		binds:   []binding{{index: 0, data: args(a)}, {index: 1, buf: x}, {index: 2, buf: w}, {index: 3, buf: bias}, {index: 4, buf: out}},
	})
}

// layerNorm: one threadgroup per row, 32 to 256 threads.
func (p *planner) layerNorm(op kernels.LayerNorm) {
	x, gamma, beta, out := mem(op.X), mem(op.Gamma), mem(op.Beta), mem(op.Out)
	res := x // bound but unread without a residual
	if op.Res != nil {
		res = mem(op.Res)
	}
	if op.Rows == 0 {
		return
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
}

// unary: GELU and Tanh, one thread per element.
func (p *planner) unary(kernel string, outB, xB kernels.Buf, n int) {
	x, out := mem(xB), mem(outB)
	if n == 0 {
		return
	}
	p.emit(dispatch{
		kernel:  kernel,
		groups:  [3]int{ceilDiv(n, eltThreads), 1, 1},
		threads: [3]int{eltThreads, 1, 1},
		binds:   []binding{{index: 0, data: args(unaryArgs{N: int32(n)})}, {index: 1, buf: x}, {index: 2, buf: out}},
	})
}

// embed: one thread per output element; the host turns Seqs into position
// ids. kernels.Check has put every index in range: the GPU would not.
func (p *planner) embed(op kernels.Embed) {
	t := len(op.IDs)
	word, pos, typ, out := mem(op.Word), mem(op.Pos), mem(op.Type), mem(op.Out)
	posIDs := make([]int32, t)
	for b := 0; b+1 < len(op.Seqs); b++ {
		for i := op.Seqs[b]; i < op.Seqs[b+1]; i++ {
			posIDs[i] = i - op.Seqs[b]
		}
	}
	if t == 0 {
		return
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
}

// gatherRows: one thread per output element.
func (p *planner) gatherRows(op kernels.GatherRows) {
	x, out := mem(op.X), mem(op.Out)
	n := len(op.Rows) * op.Cols
	if n == 0 {
		return
	}
	p.emit(dispatch{
		kernel:  "gather_rows_f32",
		groups:  [3]int{ceilDiv(n, eltThreads), 1, 1},
		threads: [3]int{eltThreads, 1, 1},
		binds: []binding{{index: 0, data: args(gatherArgs{Rows: int32(len(op.Rows)), Cols: int32(op.Cols)})},
			{index: 1, buf: x}, {index: 2, data: int32s(op.Rows)}, {index: 3, buf: out}},
	})
}

// attention: a (query blocks × heads) grid of 32-thread threadgroups. The
// host splits each sequence into blocks of 32 queries (a block never spans
// two sequences) and hands the kernel the table.
func (p *planner) attention(op kernels.Attention) error {
	if op.HD > attnMaxHD {
		return fmt.Errorf("Attention.HD = %d, the kernel handles HD ≤ %d: %w", op.HD, attnMaxHD, kernels.ErrUnsupported)
	}
	h := op.NH * op.HD
	qkv, out := mem(op.QKV), mem(op.Out)
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
