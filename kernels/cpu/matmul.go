package cpu

import (
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// MatMul layout. X is (M,K) row-major, W is (N,K) as given to Weight, Bias is
// (N), Out is (M,N):
//
//	Out[m,n] = act(sum_k X[m,k]·W[n,k] + Bias[n])
//
// Weight packs W into panels of nr columns, K-major: panel p holds
// W[p·nr+j, k] at [k·nr + j], zero-padded past N. Each task packs a block of
// mc rows of X the same way (mr rows per block, zero-padded past M) and runs
// matMulKernel over every (row block, column panel) pair of its tile. Padding
// instead of edge kernels means every output element goes through the same
// instructions: a float32 sum over k = 0..K-1 in order, then bias, then the
// activation, whatever M, its row, its tile or the thread count.
const (
	mr = 2   // rows of X per register tile
	nr = 4   // columns of W per register tile (panel width)
	mc = 64  // rows of X per task (at most; see matMul)
	nc = 128 // columns of W per task (at most)
)

// weight is a Buf made by Weight: W in column panels (see above).
type weight struct {
	owner  *Backend
	n, k   int
	panels []float32 // ceil(N/nr) panels of K·nr floats
}

func (w *weight) Len() int { return w.n * w.k }

// Weight implements kernels.Backend: src is (N,K) row-major, kept as packed
// column panels.
func (be *Backend) Weight(src []float32, n, k int) (kernels.Buf, error) {
	if be.closed {
		return nil, errClosed
	}
	if n <= 0 || k <= 0 || len(src) != n*k {
		return nil, fmt.Errorf("cpu: weight [%d,%d]: got %d floats, want N·K > 0", n, k, len(src))
	}
	np := (n + nr - 1) / nr
	w := &weight{owner: be, n: n, k: k, panels: make([]float32, np*k*nr)}
	for row := range n {
		p, j := row/nr, row%nr
		panel := w.panels[p*k*nr : (p+1)*k*nr]
		for kk, v := range src[row*k : (row+1)*k] {
			panel[kk*nr+j] = v
		}
	}
	return w, nil
}

// unpack writes the first len(dst) floats of W (N,K) row-major into dst.
func (w *weight) unpack(dst []float32) {
	for i := range dst {
		row, kk := i/w.k, i%w.k
		dst[i] = w.panels[(row/nr)*w.k*nr+kk*nr+row%nr]
	}
}

func (be *Backend) matMul(op kernels.MatMul) error {
	m, n, k := op.M, op.N, op.K
	if m < 0 || n <= 0 || k <= 0 {
		return fmt.Errorf("MatMul: M = %d, N = %d, K = %d, want M ≥ 0, N > 0, K > 0", m, n, k)
	}
	w, ok := op.W.(*weight)
	if !ok || w.owner != be {
		return fmt.Errorf("MatMul.W is %T, want a buffer made by this backend's Weight", op.W)
	}
	if w.n != n || w.k != k {
		return fmt.Errorf("MatMul.W is [%d,%d], want [N,K] = [%d,%d]", w.n, w.k, n, k)
	}
	if op.Out == op.X {
		return fmt.Errorf("MatMul.Out aliases X")
	}
	out, err := be.need("MatMul", "Out", op.Out, m*n)
	if err != nil {
		return err
	}
	x, err := be.need("MatMul", "X", op.X, m*k)
	if err != nil {
		return err
	}
	var bias []float32
	if op.Bias != nil {
		if bias, err = be.need("MatMul", "Bias", op.Bias, n); err != nil {
			return err
		}
	}
	scratch := be.scratchFor(mc * k)
	// Shrink the tiles until every thread has a few tasks (small batches);
	// tiling changes which worker computes an element, never how.
	tm, tn := mc, nc
	for chunks(m, tm)*chunks(n, tn) < 4*be.pool.n {
		if tn > 4*nr {
			tn /= 2
		} else if tm > 4*mr {
			tm /= 2
		} else {
			break
		}
	}
	mTiles, nTiles := chunks(m, tm), chunks(n, tn)
	be.pool.parallel(mTiles*nTiles, func(worker, task int) {
		// Column tiles vary fastest, so neighbouring tasks share the X block
		// in the shared cache.
		m0, n0 := (task/nTiles)*tm, (task%nTiles)*tn
		matMulTile(out, x, w, bias, op.GELU, m0, min(m, m0+tm), n0, min(n, n0+tn), scratch[worker])
	})
	return nil
}

// matMulTile computes Out[m0:m1, n0:n1] (n0 a multiple of nr, m1-m0 ≤ mc);
// xp is scratch of at least mc·K floats for the packed rows of X.
func matMulTile(out, x []float32, w *weight, bias []float32, act bool, m0, m1, n0, n1 int, xp []float32) {
	k, n := w.k, w.n
	blocks := (m1 - m0 + mr - 1) / mr
	xp = xp[:blocks*mr*k]
	packRows(xp, x, k, m0, m1)
	var c [mr * nr]float32
	for p := n0 / nr; p*nr < n1; p++ {
		panel := w.panels[p*k*nr : (p+1)*k*nr]
		for blk := range blocks {
			matMulKernel(&c, xp[blk*mr*k:(blk+1)*mr*k], panel)
			for i := range mr {
				row := m0 + blk*mr + i
				if row >= m1 {
					break
				}
				for j := range nr {
					col := p*nr + j
					if col >= n1 {
						break
					}
					v := c[i*nr+j]
					if bias != nil {
						v += bias[col]
					}
					if act {
						v = gelu(v)
					}
					out[row*n+col] = v
				}
			}
		}
	}
}

// packRows writes rows [m0,m1) of X (·,K) into xp as blocks of mr rows,
// K-major within a block (row i of block b, column k at b·mr·K + k·mr + i),
// zero-padding the last block.
func packRows(xp, x []float32, k, m0, m1 int) {
	for b := 0; b*mr < m1-m0; b++ {
		blk := xp[b*mr*k : (b+1)*mr*k]
		for i := range mr {
			row := m0 + b*mr + i
			if row >= m1 {
				for kk := range k {
					blk[kk*mr+i] = 0
				}
				continue
			}
			for kk, v := range x[row*k : (row+1)*k] {
				blk[kk*mr+i] = v
			}
		}
	}
}

// matMulKernel: xp is (K, mr) packed rows of X, wp is (K, nr) a packed panel
// of W; c is (mr, nr).
//
//	c[i·nr+j] = sum_k xp[k·mr+i]·wp[k·nr+j]   (float32, k in increasing order)
//
// The 2×4 tile keeps its 8 sums, 2 x and 4 w values in the 16 SSE registers
// Go allocates on amd64 (a 4×4 tile spills); two k steps per iteration halve
// the loop overhead without reordering any sum.
func matMulKernel(c *[mr * nr]float32, xp, wp []float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	for len(xp) >= 2*mr && len(wp) >= 2*nr {
		x := xp[: 2*mr : 2*mr]
		w := wp[: 2*nr : 2*nr]
		c00 += x[0] * w[0]
		c01 += x[0] * w[1]
		c02 += x[0] * w[2]
		c03 += x[0] * w[3]
		c10 += x[1] * w[0]
		c11 += x[1] * w[1]
		c12 += x[1] * w[2]
		c13 += x[1] * w[3]
		c00 += x[2] * w[4]
		c01 += x[2] * w[5]
		c02 += x[2] * w[6]
		c03 += x[2] * w[7]
		c10 += x[3] * w[4]
		c11 += x[3] * w[5]
		c12 += x[3] * w[6]
		c13 += x[3] * w[7]
		xp, wp = xp[2*mr:], wp[2*nr:]
	}
	if len(xp) >= mr && len(wp) >= nr {
		x0, x1 := xp[0], xp[1]
		w0, w1, w2, w3 := wp[0], wp[1], wp[2], wp[3]
		c00 += x0 * w0
		c01 += x0 * w1
		c02 += x0 * w2
		c03 += x0 * w3
		c10 += x1 * w0
		c11 += x1 * w1
		c12 += x1 * w2
		c13 += x1 * w3
	}
	*c = [mr * nr]float32{
		c00, c01, c02, c03,
		c10, c11, c12, c13,
	}
}

// matMulKernelGeneric is the twin of matMulKernel: the same sums as plain
// loops.
func matMulKernelGeneric(c *[mr * nr]float32, xp, wp []float32) {
	k := len(xp) / mr
	for i := range mr {
		for j := range nr {
			var s float32
			for kk := range k {
				s += xp[kk*mr+i] * wp[kk*nr+j]
			}
			c[i*nr+j] = s
		}
	}
}

// matMulSlow is the twin of the whole tiled MatMul: X is (M,K), W is (N,K)
// unpacked, Bias is (N) or nil, Out is (M,N); float32 sums in k order, as the
// tiled kernel promises.
func matMulSlow(out, x, w, bias []float32, m, n, k int, act bool) {
	for i := range m {
		for j := range n {
			var s float32
			for kk := range k {
				s += x[i*k+kk] * w[j*k+kk]
			}
			if bias != nil {
				s += bias[j]
			}
			if act {
				s = gelu(s)
			}
			out[i*n+j] = s
		}
	}
}
