//go:build purego || !(amd64 || arm64)

package simd

type implKind uint8

const kindGeneric implKind = 0

// best is the only variant here: the Go twins.
func best() impl { return impl{name: "generic", kind: kindGeneric, nr: panelW} }

// impls lists every variant this build runs.
func impls() []impl { return []impl{best()} }

func (im impl) kernel(t *tileArgs)                 { kernelGeneric(t, im.nr) }
func (im impl) gelu(dst, src []float32)            { geluGeneric(dst, src) }
func (im impl) dot(a, b []float32) float32         { return dotGeneric(a, b) }
func (im impl) axpy(alpha float32, x, y []float32) { axpyGeneric(alpha, x, y) }

func (im impl) expSum(x []float32, scale, sub float32) float32 { return expSumGeneric(x, scale, sub) }
func (im impl) max(x []float32) float32                        { return maxGeneric(x) }

func (im impl) softmaxRows(s []float32, rows, l int, scale float32, sums []float32) {
	softmaxRowsGeneric(s, rows, l, scale, sums)
}
func (im impl) scaleRows(o []float32, ldo, rows, n int, sums []float32) {
	scaleRowsGeneric(o, ldo, rows, n, sums)
}
func (im impl) layerNorm(out, x, res, gamma, beta []float32, eps float32) {
	layerNormGeneric(out, x, res, gamma, beta, eps)
}

func (im impl) geluTile(out []float32, ldo, rows, cols int) { geluTileRows(im, out, ldo, rows, cols) }

// HasBF16 reports whether the CPU has AVX512_BF16: the Go twins never use it.
func HasBF16() bool { return false }

// wide reports whether the variant has both 256- and 512-bit vector helpers:
// the Go twins have neither.
func (im impl) wide() bool { return false }

func (im impl) packPanel(panel, w []float32, ldw, nv, k int) { packPanelGeneric(panel, w, ldw, nv, k) }

func (im impl) packTPanels(data, wt []float32, ldwt, panels, k int) {
	packTPanelsGeneric(data, wt, ldwt, panels, k)
}

// multiRow reports whether a kernel does tileArgs.groups row groups in one
// call: the Go twins do one.
func (im impl) multiRow(pairs bool) bool { return false }
