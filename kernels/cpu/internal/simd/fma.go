package simd

import "math"

// fma32 is a·b + c rounded once to float32, as the FMA instructions compute
// it. The product of two float32s is exact in float64, so s = p + c is the
// float64 FMA; rounding s to float32 is then right except when s lies exactly
// halfway between two float32s (or in the float32 subnormal range) while the
// float64 addition was inexact: fma32Slow settles those.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	if bits := math.Float64bits(s); bits&(1<<29-1) == 1<<28 || bits&(0x7ff<<52) < (1023-126)<<52 {
		return fma32Slow(p, float64(c), s)
	}
	return float32(s)
}

// fma32Slow rounds p + c to float32 given s, its float64 rounding.
func fma32Slow(p, c, s float64) float32 {
	if s == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	// TwoSum: s + e == p + c exactly.
	bb := s - p
	e := (p - (s - bb)) + (c - bb)
	if e == 0 {
		return float32(s)
	}
	var tie bool
	if math.Abs(s) >= 0x1p-126 {
		tie = math.Float64bits(s)&(1<<29-1) == 1<<28
	} else {
		t := s * 0x1p149 // float32 subnormals are multiples of 2^-149
		tie = math.Abs(t-math.Trunc(t)) == 0.5
	}
	if tie {
		// The exact value is off the tie on e's side: move s one float64
		// ulp that way, which cannot cross a float32 rounding boundary.
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}
