package simd

import "math"

// The exp kernels (softmax's exponentials): Cody–Waite reduction t = n·ln2 + r
// with n = round(t·log2 e) and ln 2 split in two, exp(r) by a degree-7
// polynomial (Cephes expf's coefficients) in Horner form with fused
// multiply-adds, then the product with 2^n built in the exponent field. t is
// clamped to [-87, 88] first so that 2^n is a normal float32: exp(-87) is
// 1.6e-38, which a softmax cannot tell from 0 next to its largest term, 1.
// The constants are given as bits so that the assembly holds the same ones.
var (
	expHi    = math.Float32frombits(0x42b00000) // 88
	expLo    = math.Float32frombits(0xc2ae0000) // -87
	expLog2e = math.Float32frombits(0x3fb8aa3b) // log2(e)
	expNLn2H = math.Float32frombits(0xbf318000) // -0.693359375, -ln 2 to 12 bits
	expNLn2L = math.Float32frombits(0x395e8083) // 2.1219444e-4, the rest of -ln 2
	expPoly  = [6]float32{                      // highest degree first; then 1, 1
		math.Float32frombits(0x39506967), // 1.9875691e-4
		math.Float32frombits(0x3ab743ce), // 1.3981999e-3
		math.Float32frombits(0x3c088908), // 8.333452e-3
		math.Float32frombits(0x3d2aa9c1), // 4.1665796e-2
		math.Float32frombits(0x3e2aaaaa), // 0.16666666
		math.Float32frombits(0x3f000000), // 0.5
	}
)

// exp1 is exp(t) in float32, step for step as the vector kernels compute it.
func exp1(t float32) float32 {
	if !(t < expHi) { // NaN too, as VMINPS
		t = expHi
	}
	if !(t > expLo) {
		t = expLo
	}
	z := t * expLog2e
	n := float32(math.RoundToEven(float64(z)))
	r := fma32(n, expNLn2H, t)
	r = fma32(n, expNLn2L, r)
	p := expPoly[0]
	for _, c := range expPoly[1:] {
		p = fma32(p, r, c)
	}
	p = fma32(p, r, 1)
	p = fma32(p, r, 1)
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// expLanesGeneric is the twin of the exp kernels: for i < len(x),
// x[i] = exp1(fma(scale, x[i], neg)) and lanes[i%8] += x[i].
func expLanesGeneric(x []float32, scale, neg float32, lanes *[8]float32) {
	for i, v := range x {
		e := exp1(fma32(scale, v, neg))
		x[i] = e
		lanes[i%8] += e
	}
}

// laneSum adds the eight lanes in a fixed order.
func laneSum(l *[8]float32) float32 {
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

// maxLanesGeneric is the twin of the max kernels: lanes[i%8] becomes
// x[i] when x[i] > lanes[i%8] (VMAXPS's rule: a NaN x[i] is skipped).
func maxLanesGeneric(x []float32, lanes *[8]float32) {
	for i, v := range x {
		if v > lanes[i%8] {
			lanes[i%8] = v
		}
	}
}

// laneMax is the largest lane, by the same rule.
func laneMax(l *[8]float32) float32 {
	m := l[0]
	for _, v := range l[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

// negInf8 starts a max.
var negInf8 = [8]float32{
	float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)),
	float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)),
}

// expSumGeneric is the Go twin of Variant.ExpSum: x[i] = exp(scale·x[i] -
// sub), returning their sum in the kernels' lane order.
func expSumGeneric(x []float32, scale, sub float32) float32 {
	var lanes [8]float32
	expLanesGeneric(x, scale, -sub, &lanes)
	return laneSum(&lanes)
}

// maxGeneric is the Go twin of Variant.Max.
func maxGeneric(x []float32) float32 {
	lanes := negInf8
	maxLanesGeneric(x, &lanes)
	return laneMax(&lanes)
}
