//go:build purego || !amd64

package simd

// Without AVX512_BF16 (every variant but amd64's AVX-512 one on such CPUs)
// the bf16 precision is refused, and the bf16 kernels are the Go twins:
// tests and the load-time packing are all that run them.

func (im impl) kernelBF16(t *tileArgs)     { kernelBF16Generic(t, im.nr) }
func (im impl) kernelBF16Wide(t *tileArgs) { kernelBF16Generic(t, 2*im.nr) }

func (im impl) bf16Rows(dst []uint32, ldd int, src []float32, lds, rows, k int) {
	bf16RowsEach(dst, ldd, src, lds, rows, k)
}

func (im impl) packTBF16Panels(data []uint32, wt []float32, ldwt, panels, k int) {
	packTBF16PanelsGeneric(data, wt, ldwt, panels, k)
}

// softmaxRowsBF16 reports that the variant has no one-pass SoftmaxRowsBF16.
func (im impl) softmaxRowsBF16(s []float32, rows, l int, scale float32, sums []float32, pw []uint32) bool {
	return false
}
