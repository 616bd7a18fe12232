package simd

import "math"

// SoftmaxRows, for each of the rows rows of s (row r is s[r·l : r·l+l]),
// sets s[r·l+j] = exp(scale·s[r·l+j] − m_r) with m_r = scale·max_j s[r·l+j],
// and sums[r] to the sum of the new row: the numerators and denominator of
// one block of attention probabilities, in one call instead of two per row.
// For scale < 0 the largest scale·x is at the smallest x. Every variant
// returns the same bits: the lane order is softmaxRowsGeneric's.
func (v Variant) SoftmaxRows(s []float32, rows, l int, scale float32, sums []float32) {
	if rows <= 0 || l <= 0 {
		return
	}
	if len(s) < rows*l || len(sums) < rows {
		panic("simd: SoftmaxRows: s or sums too short for the shapes")
	}
	v.im.softmaxRows(s, rows, l, scale, sums)
}

// SoftmaxRowsBF16 is SoftmaxRows with the new rows written to pw as bf16
// pairs, as BF16Words(pw, (l+1)/2, s, l, rows, l) would round them after
// SoftmaxRows (sums are the float32 ones); the contents of s afterwards are
// unspecified (the 512-bit variant never writes them back). The bf16
// attention feeds pw to GemmBF16.
func (v Variant) SoftmaxRowsBF16(s []float32, rows, l int, scale float32, sums []float32, pw []uint32) {
	if rows <= 0 || l <= 0 {
		return
	}
	if len(s) < rows*l || len(sums) < rows || len(pw) < rows*((l+1)/2) {
		panic("simd: SoftmaxRowsBF16: s, sums or pw too short for the shapes")
	}
	if !v.im.softmaxRowsBF16(s, rows, l, scale, sums, pw) {
		v.im.softmaxRows(s, rows, l, scale, sums)
		v.im.bf16Rows(pw, (l+1)/2, s, l, rows, l)
	}
}

// ScaleRows multiplies row r of the (rows,n) matrix o (row stride ldo) by
// 1/sums[r] (the reciprocal rounded once, then one product per element):
// attention's normalisation, after the probabilities met V.
func (v Variant) ScaleRows(o []float32, ldo, rows, n int, sums []float32) {
	if rows <= 0 || n <= 0 {
		return
	}
	if ldo < n || len(o) < (rows-1)*ldo+n || len(sums) < rows {
		panic("simd: ScaleRows: o or sums too short for the shapes")
	}
	v.im.scaleRows(o, ldo, rows, n, sums)
}

// LayerNorm sets, for i < n = len(out),
//
//	y = x[i] + res[i]          (res may be nil: y = x[i])
//	out[i] = (y − mean(y)) · inv · gamma[i] + beta[i],   inv = 1/√(var(y) + eps)
//
// with the biased variance, in one call over the row (it stays in L1 between
// the three sweeps: sum, squared deviations, affine step). out may be x or
// res. The mean is summed in float64 over 16 lanes, the squares in float32
// fused multiply-adds over 32 lanes, both reduced in a fixed tree, so every
// variant returns the same bits as layerNormGeneric.
func (v Variant) LayerNorm(out, x, res, gamma, beta []float32, eps float32) {
	n := len(out)
	if n == 0 {
		return
	}
	if len(x) < n || len(gamma) < n || len(beta) < n || (res != nil && len(res) < n) {
		panic("simd: LayerNorm: x, res, gamma or beta shorter than out")
	}
	v.im.layerNorm(out, x, res, gamma, beta, eps)
}

// vmax is (V)MAXPS's rule for one lane: a > b ? a : b.
func vmax(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

// maxTree8 reduces eight max lanes the way the vector kernels do: halves,
// then quarters, then the last pair, always keeping the low lane on a tie.
func maxTree8(l *[8]float32) float32 {
	var a [4]float32
	for i := range a {
		a[i] = vmax(l[i], l[i+4])
	}
	c0, c1 := vmax(a[0], a[2]), vmax(a[1], a[3])
	return vmax(c0, c1)
}

// softmaxRowsGeneric is the twin of the SoftmaxRows kernels: per row, lane
// maxima (lane j%8, NaNs skipped), maxTree8, m = scale·max, then
// expLanesGeneric's exponentials and laneSum.
func softmaxRowsGeneric(s []float32, rows, l int, scale float32, sums []float32) {
	for r := range rows {
		row := s[r*l : r*l+l]
		var m float32
		if scale >= 0 {
			lanes := negInf8
			maxLanesGeneric(row, &lanes)
			m = scale * maxTree8(&lanes)
		} else {
			lo := float32(math.Inf(1))
			for _, v := range row {
				lo = min(lo, v)
			}
			m = scale * lo
		}
		var sl [8]float32
		expLanesGeneric(row, scale, -m, &sl)
		sums[r] = laneSum(&sl)
	}
}

// scaleRowsGeneric is the twin of the ScaleRows kernels.
func scaleRowsGeneric(o []float32, ldo, rows, n int, sums []float32) {
	for r := range rows {
		inv := 1 / sums[r]
		row := o[r*ldo : r*ldo+n]
		for j, v := range row {
			row[j] = v * inv
		}
	}
}

// layerNormGeneric is the twin of the LayerNorm kernels, step for step:
//
//	y[i] = x[i] + res[i], stored in out; s[i%16] += float64(y[i])
//	mean = float32(tree16(s) / n)
//	d[i] = y[i] − mean, stored in out; q[i%32] = fma(d[i], d[i], q[i%32])
//	inv = float32(1 / √(float64(tree32(q))/n + eps))
//	out[i] = fma(d[i]·inv, gamma[i], beta[i])
func layerNormGeneric(out, x, res, gamma, beta []float32, eps float32) {
	layerNormPasses(out, x, res, gamma, beta, eps, lnKernels{})
}

// lnKernels are vector kernels for the leading elements of layerNormGeneric's
// three passes, for variants that vectorise them in pieces (NEON): each does
// its pass over the first elements, feeding the same lanes in the same order,
// and returns how many it did; the Go loops do the rest. A nil one does none.
type lnKernels struct {
	sum func(out, x, res []float32, s *[16]float64) int       // y = x + res into out; s[i%16] += float64(y)
	sq  func(out []float32, mean float32, q *[32]float32) int // d = y − mean into out; q[i%32] = fma(d, d, q[i%32])
	aff func(out, gamma, beta []float32, inv float32) int     // out = fma(d·inv, gamma, beta)
}

func layerNormPasses(out, x, res, gamma, beta []float32, eps float32, k lnKernels) {
	n := len(out)
	x, gamma, beta = x[:n], gamma[:n], beta[:n]
	var s [16]float64
	i := 0
	if k.sum != nil {
		i = k.sum(out, x, res, &s)
	}
	for ; i < n; i++ {
		y := x[i]
		if res != nil {
			y += res[i]
		}
		out[i] = y
		s[i%16] += float64(y)
	}
	mean := float32(tree16(&s) / float64(n))
	var q [32]float32
	i = 0
	if k.sq != nil {
		i = k.sq(out, mean, &q)
	}
	for ; i < n; i++ {
		d := out[i] - mean
		out[i] = d
		q[i%32] = fma32(d, d, q[i%32])
	}
	inv := float32(1 / math.Sqrt(float64(tree32(&q))/float64(n)+float64(eps)))
	i = 0
	if k.aff != nil {
		i = k.aff(out, gamma, beta, inv)
	}
	for ; i < n; i++ {
		out[i] = fma32(out[i]*inv, gamma[i], beta[i])
	}
}

// tree16 adds 16 float64 lanes as the AVX2 kernel holds them (four YMM of
// four): the registers pairwise, then the halves, then the last pair.
func tree16(s *[16]float64) float64 {
	var a [4]float64
	for i := range a {
		a[i] = (s[i] + s[i+4]) + (s[i+8] + s[i+12])
	}
	return (a[0] + a[2]) + (a[1] + a[3])
}

// tree32 adds 32 float32 lanes as the AVX2 kernel holds them (four YMM of
// eight): the registers pairwise, then halves, quarters and the last pair.
func tree32(q *[32]float32) float32 {
	var a [8]float32
	for i := range a {
		a[i] = (q[i] + q[i+8]) + (q[i+16] + q[i+24])
	}
	var b [4]float32
	for i := range b {
		b[i] = a[i] + a[i+4]
	}
	return (b[0] + b[2]) + (b[1] + b[3])
}
