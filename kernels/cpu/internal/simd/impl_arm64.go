//go:build !purego

package simd

type implKind uint8

const (
	kindGeneric implKind = iota
	kindNEON
)

func makeImpl(k implKind) impl {
	if k == kindNEON {
		return impl{name: "neon", kind: k, nr: panelW}
	}
	return impl{name: "generic", kind: kindGeneric, nr: panelW}
}

// best is the fastest variant: NEON is part of every arm64 CPU.
func best() impl { return makeImpl(kindNEON) }

// impls lists every variant this CPU runs, the Go twins first.
func impls() []impl { return []impl{makeImpl(kindGeneric), makeImpl(kindNEON)} }

// gemm6x16NEON is kernelGeneric(t, 16) with 24 Q-register accumulators.
//
//go:noescape
func gemm6x16NEON(t *tileArgs)

func (im impl) kernel(t *tileArgs) {
	if im.kind == kindNEON {
		gemm6x16NEON(t)
		return
	}
	kernelGeneric(t, im.nr)
}

// dotNEON is `for i := range n { s += a[i]*b[i] }` summed in 16 lanes
// (fused); n is a multiple of 16.
//
//go:noescape
func dotNEON(a, b *float32, n int) float32

// axpyNEON is `for i := range n { y[i] += alpha*x[i] }` with fused
// multiply-adds; n is a multiple of 16.
//
//go:noescape
func axpyNEON(alpha float32, x, y *float32, n int)

// geluNEON is `for i := range n { dst[i] = gelu1(src[i]) }`; n is a
// multiple of 4.
//
//go:noescape
func geluNEON(dst, src *float32, n int)

func (im impl) gelu(dst, src []float32) {
	src = src[:len(dst)]
	n := 0
	if im.kind == kindNEON {
		if n = len(dst) &^ 3; n > 0 {
			geluNEON(&dst[0], &src[0], n)
		}
	}
	geluGeneric(dst[n:], src[n:])
}

func (im impl) dot(a, b []float32) float32 {
	b = b[:len(a)]
	n := 0
	var s float32
	if im.kind == kindNEON {
		if n = len(a) &^ 15; n > 0 {
			s = dotNEON(&a[0], &b[0], n)
		}
	}
	return s + dotGeneric(a[n:], b[n:])
}

func (im impl) axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	n := 0
	if im.kind == kindNEON {
		if n = len(x) &^ 15; n > 0 {
			axpyNEON(alpha, &x[0], &y[0], n)
		}
	}
	axpyGeneric(alpha, x[n:], y[n:])
}

// expSum and max have no NEON kernels yet: the Go twins serve every variant.
func (im impl) expSum(x []float32, scale, sub float32) float32 { return expSumGeneric(x, scale, sub) }
func (im impl) max(x []float32) float32                        { return maxGeneric(x) }

// softmaxRows and scaleRows have no NEON kernels yet: the Go twins serve
// every variant.
func (im impl) softmaxRows(s []float32, rows, l int, scale float32, sums []float32) {
	softmaxRowsGeneric(s, rows, l, scale, sums)
}
func (im impl) scaleRows(o []float32, ldo, rows, n int, sums []float32) {
	scaleRowsGeneric(o, ldo, rows, n, sums)
}

// lnSumNEON is layerNormGeneric's first pass over n values, a multiple of
// 16; res may be nil.
//
//go:noescape
func lnSumNEON(out, x, res *float32, n int, s *[16]float64)

// lnSqNEON is its second pass over n values, a multiple of 32.
//
//go:noescape
func lnSqNEON(out *float32, mean float32, n int, q *[32]float32)

// lnAffNEON is its third pass over n values, a multiple of 16.
//
//go:noescape
func lnAffNEON(out, gamma, beta *float32, inv float32, n int)

func (im impl) layerNorm(out, x, res, gamma, beta []float32, eps float32) {
	if im.kind != kindNEON {
		layerNormGeneric(out, x, res, gamma, beta, eps)
		return
	}
	layerNormPasses(out, x, res, gamma, beta, eps, lnKernels{
		sum: func(out, x, res []float32, s *[16]float64) int {
			n := len(out) &^ 15
			if n > 0 {
				var r *float32
				if res != nil {
					r = &res[0]
				}
				lnSumNEON(&out[0], &x[0], r, n, s)
			}
			return n
		},
		sq: func(out []float32, mean float32, q *[32]float32) int {
			n := len(out) &^ 31
			if n > 0 {
				lnSqNEON(&out[0], mean, n, q)
			}
			return n
		},
		aff: func(out, gamma, beta []float32, inv float32) int {
			n := len(out) &^ 15
			if n > 0 {
				lnAffNEON(&out[0], &gamma[0], &beta[0], inv, n)
			}
			return n
		},
	})
}

func (im impl) geluTile(out []float32, ldo, rows, cols int) { geluTileRows(im, out, ldo, rows, cols) }

// HasBF16 reports whether the CPU has AVX512_BF16: never on arm64.
func HasBF16() bool { return false }

// wide reports whether the variant has both 256- and 512-bit vector helpers:
// never on arm64.
func (im impl) wide() bool { return false }

func (im impl) packPanel(panel, w []float32, ldw, nv, k int) { packPanelGeneric(panel, w, ldw, nv, k) }

func (im impl) packTPanels(data, wt []float32, ldwt, panels, k int) {
	packTPanelsGeneric(data, wt, ldwt, panels, k)
}

// multiRow reports whether a kernel does tileArgs.groups row groups in one
// call: none here.
func (im impl) multiRow(pairs bool) bool { return false }
