package simd

// panelW is the width, in columns of out (rows of W), of one packed panel.
// Every kernel variant reads the same packed layout; the 32-wide kernels take
// two adjacent panels at once.
const panelW = 16

// PackedW is a Linear weight W (N,K) repacked for the GEMM microkernels: panel
// p holds columns [16p, 16p+16) of out, stored k-major,
//
//	data[p·16·K + k·16 + j] = W[16p+j, k]     (0 where 16p+j ≥ N)
//
// The panel count is rounded up to an even number so that the 32-wide kernels
// may always read two panels.
type PackedW struct {
	data []float32
	n, k int
}

// PackW repacks w, a row-major (n,k) matrix, into panels. It panics if
// len(w) < n·k or a dimension is negative, like an out-of-range slice.
func PackW(w []float32, n, k int) *PackedW {
	if n < 0 || k < 0 || len(w) < n*k {
		panic("simd: PackW: w shorter than n·k or negative dimension")
	}
	panels := (n + 2*panelW - 1) / (2 * panelW) * 2
	p := &PackedW{data: make([]float32, panels*panelW*k), n: n, k: k}
	for r := 0; r < n; r++ {
		panel := p.data[r/panelW*panelW*k:]
		j := r % panelW
		for c, v := range w[r*k : r*k+k] {
			panel[c*panelW+j] = v
		}
	}
	return p
}

// N is the number of output columns (rows of W).
func (p *PackedW) N() int { return p.n }

// K is the reduction length (columns of W).
func (p *PackedW) K() int { return p.k }
