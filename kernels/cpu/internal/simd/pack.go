package simd

import "fmt"

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
// may always read two panels. The zero value is an empty matrix that Pack and
// PackT fill, reusing its storage when it is large enough (the attention
// kernel repacks K and V this way for every sequence and head).
type PackedW struct {
	data  []float32
	n, k  int
	pairs bool // PackBF16's: data holds bf16 pairs, k counts pairs
}

// PackW repacks w, a row-major (n,k) matrix, into new panels, with the best
// variant's panel transpose (the same values as every variant's). It panics
// if len(w) < n·k or a dimension is negative, like an out-of-range slice.
func PackW(w []float32, n, k int) *PackedW {
	p := new(PackedW)
	Variant{best()}.Pack(p, w, k, n, k)
	return p
}

// Pack makes p the (n,k) matrix W[r,c] = w[r·ldw + c]. It panics if w is too
// short, ldw < k or a dimension is negative. It is the Go twin of
// Variant.Pack.
func (p *PackedW) Pack(w []float32, ldw, n, k int) { p.pack(w, ldw, n, k, packPanelGeneric) }

// Pack is p.Pack(w, ldw, n, k) with the variant's panel transpose (AVX-512:
// 16×16 register transposes, masked gathers for the rest), writing the same
// values.
func (v Variant) Pack(p *PackedW, w []float32, ldw, n, k int) { p.pack(w, ldw, n, k, v.im.packPanel) }

func (p *PackedW) pack(w []float32, ldw, n, k int, panelOf func(panel, w []float32, ldw, nv, k int)) {
	if n < 0 || k < 0 || ldw < k || (n > 0 && len(w) < (n-1)*ldw+k) {
		panic("simd: PackedW.Pack: w too short for (n,k) with stride ldw, or negative dimension")
	}
	p.reset(n, k)
	if k == 0 {
		return
	}
	for r0 := 0; r0 < n; r0 += panelW {
		panelOf(p.data[r0*k:r0*k+panelW*k], w[r0*ldw:], ldw, min(panelW, n-r0), k)
	}
}

// packPanelGeneric writes one panel: panel[c·16 + j] = w[j·ldw + c] for
// j < nv ≤ 16 and c < k, leaving the lanes j ≥ nv as they are (reset zeroed
// them). The nv source rows stay in L1 while every c gathers one value from
// each, and the panel is written in order.
func packPanelGeneric(panel, w []float32, ldw, nv, k int) {
	var rows [panelW][]float32
	for j := range nv {
		rows[j] = w[j*ldw : j*ldw+k]
	}
	for c := range k {
		dst := panel[c*panelW : c*panelW+panelW]
		for j, row := range rows[:nv] {
			dst[j] = row[c]
		}
	}
}

// PackT makes p the (n,k) matrix W[r,c] = wt[c·ldwt + r], i.e. the transpose
// of the (k,n) matrix wt with row stride ldwt. It panics if wt is too short,
// ldwt < n or a dimension is negative. It is the Go twin of Variant.PackT.
func (p *PackedW) PackT(wt []float32, ldwt, n, k int) { p.packT(wt, ldwt, n, k, packTPanelsGeneric) }

// PackT is p.PackT(wt, ldwt, n, k) with the variant's row copies (vector
// loads and stores), writing the same values.
func (v Variant) PackT(p *PackedW, wt []float32, ldwt, n, k int) {
	p.packT(wt, ldwt, n, k, v.im.packTPanels)
}

func (p *PackedW) packT(wt []float32, ldwt, n, k int, panelsOf func(data, wt []float32, ldwt, panels, k int)) {
	if n < 0 || k < 0 || ldwt < n || (k > 0 && len(wt) < (k-1)*ldwt+n) {
		panic("simd: PackedW.PackT: wt too short for (k,n) with stride ldwt, or negative dimension")
	}
	p.reset(n, k)
	if k == 0 {
		return
	}
	full := n / panelW
	if full > 0 {
		panelsOf(p.data, wt, ldwt, full, k)
	}
	if r0 := full * panelW; r0 < n {
		for c := range k {
			copy(p.data[r0*k+c*panelW:], wt[c*ldwt+r0:c*ldwt+n])
		}
	}
}

// packTPanelsGeneric fills the first panels whole panels of data from the k
// rows of wt: rows of wt are rows of a panel, copied 16 columns at a time
// as one array assignment each.
func packTPanelsGeneric(data, wt []float32, ldwt, panels, k int) {
	for c := range k {
		row := wt[c*ldwt : c*ldwt+panels*panelW]
		for pn := range panels {
			*(*[panelW]float32)(data[pn*panelW*k+c*panelW:]) = [panelW]float32(row[pn*panelW:])
		}
	}
}

// reset sizes p for (n,k) and zeroes the panels that hold padding columns
// (rows of W past n must read as 0); Pack and PackT overwrite the rest.
func (p *PackedW) reset(n, k int) {
	size := PackedLen(n, k)
	if cap(p.data) < size {
		p.data = make([]float32, size, max(size, 2*cap(p.data))) // grow geometrically when reused
	} else {
		p.data = p.data[:size]
		clear(p.data[n/panelW*panelW*k:])
	}
	p.n, p.k, p.pairs = n, k, false
}

// Unpack writes the first len(dst) elements of W (N,K) row-major into dst;
// dst must not be longer than N·K.
func (p *PackedW) Unpack(dst []float32) {
	if len(dst) > p.n*p.k {
		panic("simd: PackedW.Unpack: dst longer than N·K")
	}
	for i := range dst {
		r, c := i/p.k, i%p.k
		dst[i] = p.data[r/panelW*panelW*p.k+c*panelW+r%panelW]
	}
}

// N is the number of output columns (rows of W).
func (p *PackedW) N() int { return p.n }

// K is the reduction length (columns of W; pairs of columns for PackBF16).
func (p *PackedW) K() int { return p.k }

// PackedLen is the number of float32s the packed panels of an (n,k) matrix
// hold (the panel count rounded up to an even number).
func PackedLen(n, k int) int { return (n + 2*panelW - 1) / (2 * panelW) * 2 * panelW * k }

// Panels returns the packed panels (PackedLen(N, K) floats), for callers
// that store them (the CPU backend writes them to a file every worker
// process maps). They must not be modified.
func (p *PackedW) Panels() []float32 { return p.data }

// WrapPanels makes a PackedW of an (n,k) matrix whose panels are data, as
// Panels returned them (from a memory-mapped file, say); data is used in
// place and never written.
func WrapPanels(data []float32, n, k int) (*PackedW, error) {
	if n <= 0 || k <= 0 || len(data) != PackedLen(n, k) {
		return nil, fmt.Errorf("simd: WrapPanels: %d floats for an (%d,%d) matrix, want %d", len(data), n, k, PackedLen(n, k))
	}
	return &PackedW{data: data, n: n, k: k}, nil
}

// WrapBF16Panels is WrapPanels for the panels of PackBF16(…, n, 2k) (or
// 2k-1): k counts pairs.
func WrapBF16Panels(data []float32, n, k int) (*PackedW, error) {
	p, err := WrapPanels(data, n, k)
	if err != nil {
		return nil, err
	}
	p.pairs = true
	return p, nil
}
