//go:build !purego

package simd

import (
	"math"

	"golang.org/x/sys/cpu"
)

type implKind uint8

const (
	kindGeneric implKind = iota
	kindAVX2
	kindAVX512
)

func makeImpl(k implKind) impl {
	switch k {
	case kindAVX512:
		return impl{name: "avx512", kind: k, nr: 2 * panelW, bf16: cpu.X86.HasAVX512BF16, zmm: zmmFaster()}
	case kindAVX2:
		return impl{name: "avx2", kind: k, nr: panelW}
	}
	return impl{name: "generic", kind: kindGeneric, nr: panelW}
}

func hasAVX2() bool   { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }
func hasAVX512() bool { return hasAVX2() && cpu.X86.HasAVX512F }

// best is the fastest variant this CPU runs.
func best() impl {
	switch {
	case hasAVX512():
		return makeImpl(kindAVX512)
	case hasAVX2():
		return makeImpl(kindAVX2)
	}
	return makeImpl(kindGeneric)
}

// impls lists every variant this CPU runs, the Go twins first.
func impls() []impl {
	list := []impl{makeImpl(kindGeneric)}
	if hasAVX2() {
		list = append(list, makeImpl(kindAVX2))
	}
	if hasAVX512() {
		list = append(list, makeImpl(kindAVX512))
	}
	return list
}

// gemm6x16AVX2 is kernelGeneric(t, 16) with 12 YMM accumulators.
//
//go:noescape
func gemm6x16AVX2(t *tileArgs)

// gemm6x32AVX512 is kernelGeneric(t, 32) with 12 ZMM accumulators.
//
//go:noescape
func gemm6x32AVX512(t *tileArgs)

// gemm6x32BF16 is kernelBF16Generic(t, 32): gemm6x32AVX512 with VDPBF16PS
// in place of the FMA (AVX512_BF16).
//
//go:noescape
func gemm6x32BF16(t *tileArgs)

// geluAVX2 is `for i := range n { dst[i] = gelu1(src[i]) }`; n is a multiple
// of 8.
//
//go:noescape
func geluAVX2(dst, src *float32, n int)

// dotAVX2 is `for i := range n { s += a[i]*b[i] }` summed in 8 lanes (fused,
// four accumulators while 32 remain); n is a multiple of 8.
//
//go:noescape
func dotAVX2(a, b *float32, n int) float32

// axpyAVX2 is `for i := range n { y[i] += alpha*x[i] }` with fused
// multiply-adds; n is a multiple of 8.
//
//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

// expLanesAVX2 is expLanesGeneric(x[:n], scale, neg, lanes); n is a
// multiple of 8.
//
//go:noescape
func expLanesAVX2(x *float32, n int, scale, neg float32, lanes *[8]float32)

// maxLanesAVX2 is maxLanesGeneric(x[:n], lanes); n is a multiple of 8.
//
//go:noescape
func maxLanesAVX2(x *float32, n int, lanes *[8]float32)

func (im impl) kernel(t *tileArgs) {
	switch im.kind {
	case kindAVX512:
		gemm6x32AVX512(t)
	case kindAVX2:
		gemm6x16AVX2(t)
	default:
		kernelGeneric(t, im.nr)
	}
}

func (im impl) kernelBF16(t *tileArgs) {
	if im.bf16 {
		gemm6x32BF16(t)
		return
	}
	kernelBF16Generic(t, im.nr)
}

// kernelBF16Wide is kernelBF16 twice as wide (four panels), which gemmTask
// runs on pairs of whole column groups where the variant has VDPBF16PS: the
// 6×32 form has too few accumulators to cover the instruction's latency.
func (im impl) kernelBF16Wide(t *tileArgs) {
	if im.bf16 {
		gemm6x64BF16(t)
		return
	}
	kernelBF16Generic(t, 2*im.nr)
}

// bf16RowsAVX512 is BF16Words(dst, ldd, src, lds, rows, k) for rows, k ≥ 1
// in one call, with AVX512_BF16's VCVTNE2PS2BF16 (ToBF16 is its rounding):
// the last k%16 floats of a row through a masked load and store (the
// attention kernel rounds many short rows, whose tails and calls would cost
// as much as their bulk).
//
//go:noescape
func bf16RowsAVX512(dst *uint32, ldd int, src *float32, lds, rows, k int)

// bf16Rows rounds with the instruction where the CPU has it; elsewhere the
// bf16 precision is refused and only tests and the load-time packing round,
// with the Go twin.
func (im impl) bf16Rows(dst []uint32, ldd int, src []float32, lds, rows, k int) {
	if im.bf16 {
		bf16RowsAVX512(&dst[0], ldd, &src[0], lds, rows, k)
		return
	}
	bf16RowsEach(dst, ldd, src, lds, rows, k)
}

// The AVX-512 variant runs the 512-bit GELU tile, softmax, LayerNorm and bf16
// rounding where they are measured faster (zmmFaster); the other vector
// helpers are AVX2's: they load once per arithmetic instruction, or are off
// the hot path.

func (im impl) gelu(dst, src []float32) {
	src = src[:len(dst)]
	n := 0
	if im.kind != kindGeneric {
		if n = len(dst) &^ 7; n > 0 {
			geluAVX2(&dst[0], &src[0], n)
		}
	}
	geluGeneric(dst[n:], src[n:])
}

func (im impl) dot(a, b []float32) float32 {
	b = b[:len(a)]
	n := 0
	var s float32
	if im.kind != kindGeneric {
		if n = len(a) &^ 7; n > 0 {
			s = dotAVX2(&a[0], &b[0], n)
		}
	}
	return s + dotGeneric(a[n:], b[n:])
}

func (im impl) axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	n := 0
	if im.kind != kindGeneric {
		if n = len(x) &^ 7; n > 0 {
			axpyAVX2(alpha, &x[0], &y[0], n)
		}
	}
	axpyGeneric(alpha, x[n:], y[n:])
}

func (im impl) expSum(x []float32, scale, sub float32) float32 {
	if im.kind == kindGeneric {
		return expSumGeneric(x, scale, sub)
	}
	var lanes [8]float32
	n := len(x) &^ 7
	if n > 0 {
		expLanesAVX2(&x[0], n, scale, -sub, &lanes)
	}
	if tail := len(x) - n; tail > 0 {
		// The last 1..7 values go through the vector kernel too, padded,
		// with their own lanes: lanes[j] + (0 + e) is lanes[j] + e.
		var buf, tl [8]float32
		copy(buf[:], x[n:])
		expLanesAVX2(&buf[0], 8, scale, -sub, &tl)
		copy(x[n:], buf[:tail])
		for j := range tail {
			lanes[j] += tl[j]
		}
	}
	return laneSum(&lanes)
}

func (im impl) max(x []float32) float32 {
	lanes := negInf8
	n := 0
	if im.kind != kindGeneric {
		if n = len(x) &^ 7; n > 0 {
			maxLanesAVX2(&x[0], n, &lanes)
		}
	}
	maxLanesGeneric(x[n:], &lanes) // i%8 is the same lane: n is a multiple of 8
	return laneMax(&lanes)
}

// softmaxRowsAVX2 is softmaxRowsGeneric(s[:rows·l], rows, l, scale, sums).
//
//go:noescape
func softmaxRowsAVX2(s *float32, rows, l int, scale float32, sums *float32)

// scaleRowsAVX2 is scaleRowsGeneric; n is a multiple of 8.
//
//go:noescape
func scaleRowsAVX2(o *float32, ldo, rows, n int, sums *float32)

// layerNormAVX2 is layerNormGeneric over n values (a multiple of 8); res may
// be nil.
//
//go:noescape
func layerNormAVX2(out, x, res, gamma, beta *float32, n int, eps float32)

// softmaxRowsAVX512 is softmaxRowsAVX2 with 16-lane exponentials: the same
// bits. With pw not nil (AVX512_BF16 CPUs only) the exponentials go to pw
// instead of s, rounded as BF16Words rounds them ((l+1)/2 words a row), and
// s is not written.
//
//go:noescape
func softmaxRowsAVX512(s *float32, rows, l int, scale float32, sums *float32, pw *uint32)

// layerNormAVX512 is layerNormAVX2 in 16-lane steps: the same bits.
//
//go:noescape
func layerNormAVX512(out, x, res, gamma, beta *float32, n int, eps float32)

// geluTileAVX512 is geluTileAVX2 in 16-lane steps: the same bits.
//
//go:noescape
func geluTileAVX512(out *float32, ldo, rows, cols int)

func (im impl) softmaxRows(s []float32, rows, l int, scale float32, sums []float32) {
	if im.kind == kindGeneric || !(scale >= 0) {
		softmaxRowsGeneric(s, rows, l, scale, sums)
		return
	}
	if im.zmm {
		softmaxRowsAVX512(&s[0], rows, l, scale, &sums[0], nil)
		return
	}
	softmaxRowsAVX2(&s[0], rows, l, scale, &sums[0])
}

// softmaxRowsBF16 is SoftmaxRowsBF16 in one pass where the variant has one
// (the 512-bit softmax, rounding with VCVTNEPS2BF16), reporting whether it
// ran.
func (im impl) softmaxRowsBF16(s []float32, rows, l int, scale float32, sums []float32, pw []uint32) bool {
	if !im.zmm || !im.bf16 || !(scale >= 0) {
		return false
	}
	softmaxRowsAVX512(&s[0], rows, l, scale, &sums[0], &pw[0])
	return true
}

func (im impl) scaleRows(o []float32, ldo, rows, n int, sums []float32) {
	if im.kind == kindGeneric || n%8 != 0 {
		scaleRowsGeneric(o, ldo, rows, n, sums)
		return
	}
	scaleRowsAVX2(&o[0], ldo, rows, n, &sums[0])
}

func (im impl) layerNorm(out, x, res, gamma, beta []float32, eps float32) {
	n := len(out)
	if im.kind == kindGeneric || n%8 != 0 {
		layerNormGeneric(out, x, res, gamma, beta, eps)
		return
	}
	var r *float32
	if res != nil {
		r = &res[0]
	}
	if im.zmm {
		layerNormAVX512(&out[0], &x[0], r, &gamma[0], &beta[0], n, eps)
		return
	}
	layerNormAVX2(&out[0], &x[0], r, &gamma[0], &beta[0], n, eps)
}

// geluTileAVX2 applies gelu1 in place to a (rows,cols) block of out with row
// stride ldo; cols is a multiple of 8.
//
//go:noescape
func geluTileAVX2(out *float32, ldo, rows, cols int)

func (im impl) geluTile(out []float32, ldo, rows, cols int) {
	if im.kind == kindGeneric || cols%8 != 0 {
		geluTileRows(im, out, ldo, rows, cols)
		return
	}
	if im.zmm {
		geluTileAVX512(&out[0], ldo, rows, cols)
		return
	}
	geluTileAVX2(&out[0], ldo, rows, cols)
}

// HasBF16 reports whether the CPU has AVX512_BF16 (VDPBF16PS).
func HasBF16() bool { return hasAVX512() && cpu.X86.HasAVX512BF16 }

// wide reports whether the variant has both 256- and 512-bit vector helpers.
func (im impl) wide() bool { return im.kind == kindAVX512 }

// packPanelAVX512 is packPanelGeneric with one masked gather per c: idx
// holds j·ldw for the 16 lanes, and lanes j ≥ nv are written as 0.
//
//go:noescape
func packPanelAVX512(panel, w *float32, idx *[panelW]int32, nv, k int)

// packPanel16AVX512 is packPanelGeneric for nv = 16 and k = 16·blocks, by
// 16×16 transposes in registers.
//
//go:noescape
func packPanel16AVX512(panel, w *float32, ldw, blocks int)

// packPanel transposes whole 16×16 blocks in registers, several times
// faster than gathering them, and gathers the rest (a last panel of fewer
// than 16 rows, columns past the last multiple of 16).
func (im impl) packPanel(panel, w []float32, ldw, nv, k int) {
	// The gather's indices are int32 element offsets.
	if im.kind != kindAVX512 || (panelW-1)*ldw > math.MaxInt32 {
		packPanelGeneric(panel, w, ldw, nv, k)
		return
	}
	c := 0
	if nv == panelW && k >= panelW {
		packPanel16AVX512(&panel[0], &w[0], ldw, k/panelW)
		c = k &^ (panelW - 1)
	}
	if c == k {
		return
	}
	var idx [panelW]int32
	for j := range idx {
		idx[j] = int32(j * ldw)
	}
	packPanelAVX512(&panel[c*panelW], &w[c], &idx, nv, k-c)
}

// packTPanelsAVX2 is packTPanelsGeneric for wt with row stride ldwt, two
// YMM loads and stores per 16 floats (as fast here as one ZMM pair).
//
//go:noescape
func packTPanelsAVX2(data, wt *float32, ldwt, panels, k int)

// packTBF16PanelsAVX512 is packTBF16PanelsGeneric for wt with row stride
// ldwt on AVX512_BF16 CPUs: per pair of rows and panel, two ZMM loads, one
// VCVTNE2PS2BF16, one VPERMW and one store.
//
//go:noescape
func packTBF16PanelsAVX512(data *uint32, wt *float32, ldwt, panels, k int)

func (im impl) packTBF16Panels(data []uint32, wt []float32, ldwt, panels, k int) {
	if !im.bf16 {
		packTBF16PanelsGeneric(data, wt, ldwt, panels, k)
		return
	}
	packTBF16PanelsAVX512(&data[0], &wt[0], ldwt, panels, k)
}

func (im impl) packTPanels(data, wt []float32, ldwt, panels, k int) {
	if im.kind == kindGeneric {
		packTPanelsGeneric(data, wt, ldwt, panels, k)
		return
	}
	packTPanelsAVX2(&data[0], &wt[0], ldwt, panels, k)
}

// multiRow reports whether the kernel for a weight (pairs: the bf16 one)
// does tileArgs.groups row groups in one call: the AVX-512 assembly kernels.
func (im impl) multiRow(pairs bool) bool { return im.kind == kindAVX512 && (!pairs || im.bf16) }

// gemm6x64BF16 is kernelBF16Generic(t, 64) on AVX512_BF16 CPUs, over
// t.groups row groups: four panels at once (impl.kernelBF16Wide).
//
//go:noescape
func gemm6x64BF16(t *tileArgs)
