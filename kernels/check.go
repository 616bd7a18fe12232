package kernels

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidOp is wrapped by the error Check returns, and so by a backend's
// Run, for an op that breaks the contract its type documents.
var ErrInvalidOp = errors.New("kernels: invalid op")

// Buffers is what Check asks a backend about the buffers of an op. Check never
// passes a nil Buf.
type Buffers interface {
	// Size returns how many floats b holds, or an error when the backend
	// cannot use b as an op's operand, written by the op when write is set:
	// b was made by another backend or by Weight, the backend is closed, or b
	// is read-only host memory (HostWrapper) and write is set.
	Size(b Buf, write bool) (int, error)
	// WeightDims returns the [N,K] shape b was given to the backend's Weight,
	// or an error when b was not made by that Weight.
	WeightDims(b Buf) (n, k int, err error)
}

// Check reports whether op keeps its documented contract, asking bufs about
// its buffers. Every backend's Run calls it before running an op, so that a
// kernel may index its buffers and tables without checks of its own. The
// error wraps ErrInvalidOp (ErrUnsupported for an Op type this package does
// not define) and names the op, the field and the values at fault.
//
// Besides each op's shapes, Check enforces what the docs imply: dims are
// positive (M, Rows and N of GELU and Tanh may be 0); buffers are not nil
// (LayerNorm.Res and MatMul.Bias may be) and hold at least what their shape
// needs; MatMul.W was made by Weight as [N,K] with Len N·K and no other field
// was; Out aliases no input except where the doc allows it (LayerNorm's X and
// Res, GELU's and Tanh's X); Seqs is cu_seqlens (0 first, never decreasing,
// ending at T); IDs, TypeIDs, each token's position and Rows are rows of
// their tables; LayerNorm.Eps is finite and ≥ 0 and Attention.Scale finite.
func Check(op Op, bufs Buffers) error {
	switch op := op.(type) {
	case Embed:
		return checkEmbed(op, bufs)
	case LayerNorm:
		return checkLayerNorm(op, bufs)
	case MatMul:
		return checkMatMul(op, bufs)
	case GELU:
		return checkElementwise("GELU", op.Out, op.X, op.N, bufs)
	case Attention:
		return checkAttention(op, bufs)
	case GatherRows:
		return checkGatherRows(op, bufs)
	case Tanh:
		return checkElementwise("Tanh", op.Out, op.X, op.N, bufs)
	case nil:
		return fmt.Errorf("%w: nil op", ErrInvalidOp)
	}
	return fmt.Errorf("kernels: %T: %w", op, ErrUnsupported)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOp, fmt.Sprintf(format, args...))
}

// operand is one buffer field of an op.
type operand struct {
	field    string // "Out", "X"...
	buf      Buf
	need     int  // floats it must hold
	optional bool // nil means absent (LayerNorm.Res, MatMul.Bias)
	aliasOK  bool // Out may be this same buffer
}

// maxOperands is the most buffers an op has (LayerNorm).
const maxOperands = 5

// checkOperands checks an op's buffers, its output first: present, usable by
// the backend, long enough, and aliased only where allowed. It returns their
// sizes, in order (0 for an absent optional input).
func checkOperands(op string, bufs Buffers, ops ...operand) (sizes [maxOperands]int, err error) {
	out := ops[0]
	for i, o := range ops {
		if o.buf == nil {
			if !o.optional {
				return sizes, invalid("%s.%s is nil", op, o.field)
			}
			continue
		}
		n, err := bufs.Size(o.buf, i == 0)
		if err != nil {
			return sizes, fmt.Errorf("%w: %s.%s: %w", ErrInvalidOp, op, o.field, err)
		}
		if n < o.need {
			return sizes, invalid("%s.%s has %d floats, want at least %d", op, o.field, n, o.need)
		}
		sizes[i] = n
	}
	// Both sides were accepted by the backend, so they are of its Buf types,
	// which must be comparable.
	for _, in := range ops[1:] {
		if in.buf != nil && in.buf == out.buf && !in.aliasOK {
			return sizes, invalid("%s.%s aliases %s", op, out.field, in.field)
		}
	}
	return sizes, nil
}

// product multiplies non-negative dims, saturating at math.MaxInt so that
// absurd shapes fail the size checks instead of wrapping around.
func product(dims ...int) int {
	p := 1
	for _, d := range dims {
		if d != 0 && p > math.MaxInt/d {
			return math.MaxInt
		}
		p *= d
	}
	return p
}

// checkSeqs checks that seqs is cu_seqlens (starts at 0, never decreases)
// ending at t, or at any total when t < 0. It returns the total and the
// longest sequence.
func checkSeqs(op string, seqs []int32, t int) (total, longest int, err error) {
	if len(seqs) == 0 || seqs[0] != 0 {
		return 0, 0, invalid("%s.Seqs = %v, want cu_seqlens starting at 0", op, head(seqs))
	}
	for b := 1; b < len(seqs); b++ {
		if seqs[b] < seqs[b-1] {
			return 0, 0, invalid("%s.Seqs decreases at %d: %d < %d", op, b, seqs[b], seqs[b-1])
		}
		longest = max(longest, int(seqs[b]-seqs[b-1]))
	}
	total = int(seqs[len(seqs)-1])
	if t >= 0 && total != t {
		return 0, 0, invalid("%s.Seqs ends at %d, want T = %d", op, total, t)
	}
	return total, longest, nil
}

// head is the start of a long slice, for error messages.
func head(s []int32) []int32 { return s[:min(len(s), 8)] }

// checkRows checks that every index is a row of a table of rows rows.
func checkRows(op, field string, idx []int32, rows int, table string) error {
	for i, r := range idx {
		if r < 0 || int(r) >= rows {
			return invalid("%s.%s[%d] = %d, out of range [0,%d) (rows of %s)", op, field, i, r, rows, table)
		}
	}
	return nil
}

func checkEmbed(op Embed, bufs Buffers) error {
	h, t := op.H, len(op.IDs)
	if h <= 0 {
		return invalid("Embed.H = %d, want > 0", h)
	}
	if len(op.TypeIDs) != t {
		return invalid("Embed: len(TypeIDs) = %d, want len(IDs) = %d", len(op.TypeIDs), t)
	}
	_, longest, err := checkSeqs("Embed", op.Seqs, t)
	if err != nil {
		return err
	}
	sizes, err := checkOperands("Embed", bufs,
		operand{field: "Out", buf: op.Out, need: product(t, h)},
		operand{field: "Word", buf: op.Word, need: h},
		operand{field: "Pos", buf: op.Pos, need: h},
		operand{field: "Type", buf: op.Type, need: h})
	if err != nil {
		return err
	}
	if err := checkRows("Embed", "IDs", op.IDs, sizes[1]/h, "Word"); err != nil {
		return err
	}
	if err := checkRows("Embed", "TypeIDs", op.TypeIDs, sizes[3]/h, "Type"); err != nil {
		return err
	}
	// Positions restart at 0 in each sequence: the longest needs the most.
	if maxPos := sizes[2] / h; longest > maxPos {
		return invalid("Embed: a sequence has %d tokens, Pos only %d rows", longest, maxPos)
	}
	return nil
}

func checkLayerNorm(op LayerNorm, bufs Buffers) error {
	if op.Rows < 0 || op.Cols <= 0 {
		return invalid("LayerNorm: Rows = %d, Cols = %d, want Rows ≥ 0, Cols > 0", op.Rows, op.Cols)
	}
	if !(op.Eps >= 0) || math.IsInf(float64(op.Eps), 0) {
		return invalid("LayerNorm.Eps = %v, want finite and ≥ 0", op.Eps)
	}
	n := product(op.Rows, op.Cols)
	_, err := checkOperands("LayerNorm", bufs,
		operand{field: "Out", buf: op.Out, need: n},
		operand{field: "X", buf: op.X, need: n, aliasOK: true},
		operand{field: "Res", buf: op.Res, need: n, optional: true, aliasOK: true},
		operand{field: "Gamma", buf: op.Gamma, need: op.Cols},
		operand{field: "Beta", buf: op.Beta, need: op.Cols})
	return err
}

func checkMatMul(op MatMul, bufs Buffers) error {
	m, n, k := op.M, op.N, op.K
	if m < 0 || n <= 0 || k <= 0 {
		return invalid("MatMul: M = %d, N = %d, K = %d, want M ≥ 0, N > 0, K > 0", m, n, k)
	}
	if op.W == nil {
		return invalid("MatMul.W is nil")
	}
	wn, wk, err := bufs.WeightDims(op.W)
	if err != nil {
		return fmt.Errorf("%w: MatMul.W: %w", ErrInvalidOp, err)
	}
	if wn != n || wk != k {
		return invalid("MatMul.W is [%d,%d], want [N,K] = [%d,%d]", wn, wk, n, k)
	}
	if l := op.W.Len(); l != product(n, k) {
		return invalid("MatMul.W has Len %d, want N·K = %d", l, product(n, k))
	}
	_, err = checkOperands("MatMul", bufs,
		operand{field: "Out", buf: op.Out, need: product(m, n)},
		operand{field: "X", buf: op.X, need: product(m, k)},
		operand{field: "Bias", buf: op.Bias, need: n, optional: true})
	return err
}

// checkElementwise checks GELU and Tanh: Out and X hold N floats and may alias.
func checkElementwise(op string, out, x Buf, n int, bufs Buffers) error {
	if n < 0 {
		return invalid("%s.N = %d, want ≥ 0", op, n)
	}
	_, err := checkOperands(op, bufs,
		operand{field: "Out", buf: out, need: n},
		operand{field: "X", buf: x, need: n, aliasOK: true})
	return err
}

func checkAttention(op Attention, bufs Buffers) error {
	if op.NH <= 0 || op.HD <= 0 {
		return invalid("Attention: NH = %d, HD = %d, want > 0", op.NH, op.HD)
	}
	if math.IsNaN(float64(op.Scale)) || math.IsInf(float64(op.Scale), 0) {
		return invalid("Attention.Scale = %v, want finite", op.Scale)
	}
	t, _, err := checkSeqs("Attention", op.Seqs, -1)
	if err != nil {
		return err
	}
	h := product(op.NH, op.HD)
	_, err = checkOperands("Attention", bufs,
		operand{field: "Out", buf: op.Out, need: product(t, h)},
		operand{field: "QKV", buf: op.QKV, need: product(t, 3, h)})
	return err
}

func checkGatherRows(op GatherRows, bufs Buffers) error {
	if op.Cols <= 0 {
		return invalid("GatherRows.Cols = %d, want > 0", op.Cols)
	}
	sizes, err := checkOperands("GatherRows", bufs,
		operand{field: "Out", buf: op.Out, need: product(len(op.Rows), op.Cols)},
		operand{field: "X", buf: op.X})
	if err != nil {
		return err
	}
	return checkRows("GatherRows", "Rows", op.Rows, sizes[1]/op.Cols, "X")
}
