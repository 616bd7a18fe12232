package simd

import "math"

// bfloat16 support: the CPU backend's opt-in bf16 precision stores every
// GEMM weight, and rounds every GEMM input, to bfloat16 (the high half of a
// float32), and accumulates in float32 as VDPBF16PS (AVX512_BF16) does.
//
// VDPBF16PS, per Intel's definition (SDM vol. 2, "VDPBF16PS"), computes for
// each float32 lane j of the accumulator, from the bf16 pairs a[2j], a[2j+1]
// and b[2j], b[2j+1]:
//
//	acc += a[2j+1]·b[2j+1]     one FP32 FMA: DAZ in, FTZ out, RNE
//	acc += a[2j]·b[2j]         again
//
// the odd element first, each step rounded once, input denormals read as
// zero (DAZ) and tiny results flushed to a zero of their sign (FTZ, tininess
// detected after rounding as x86 does), MXCSR ignored. dpBF16Step is one such
// step and DotBF16Twin the whole dot product: the bit-exact reference every
// bf16 kernel is tested against.

// ToBF16 rounds x to bfloat16, to nearest even (NaNs stay NaN, quieted).
func ToBF16(x float32) uint16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// FromBF16 is the float32 whose high half is h (exact).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// daz reads a float32 denormal as a zero of its sign, as VDPBF16PS reads its
// inputs.
func daz(x float32) float32 {
	if b := math.Float32bits(x); b&0x7f800000 == 0 {
		return math.Float32frombits(b & 0x80000000)
	}
	return x
}

// minNormal32 is the smallest normal float32, 2^-126.
const minNormal32 = 0x1p-126

// dpBF16Step is acc + a·b as one step of VDPBF16PS: a and b are bf16 values
// (as float32s), each input read with DAZ, the sum rounded once to nearest
// even and a tiny result flushed to zero (FTZ). Tiny is decided after
// rounding with an unbounded exponent: |x| < 2^-126 − 2^-151 for the exact
// sum x (between 2^-126 − 2^-150 and that, gradual-underflow rounding gives
// 2^-126 while the unbounded one stays below it).
func dpBF16Step(acc, a, b float32) float32 {
	a, b, acc = daz(a), daz(b), daz(acc)
	r := fma32(a, b, acc)
	ar := math.Abs(float64(r))
	switch {
	case r == 0 || ar > minNormal32 || math.IsNaN(ar):
		return r
	case ar < minNormal32:
		return float32(math.Copysign(0, float64(r)))
	}
	// |r| is 2^-126: compare the exact sum with the threshold. p is exact
	// (a bf16 product has 16 bits); s + e == p + acc exactly (TwoSum), and
	// rounding is monotonic, so s decides unless it equals the threshold.
	p, c := float64(a)*float64(b), float64(acc)
	s := p + c
	bb := s - p
	e := (p - (s - bb)) + (c - bb)
	const t = minNormal32 - 0x1p-151
	as := math.Abs(s)
	if as < t || (as == t && e != 0 && (e < 0) == (s > 0)) {
		return float32(math.Copysign(0, s))
	}
	return r
}

// DotBF16Twin is the reference for one output of a bf16 GEMM: starting from
// acc, the VDPBF16PS steps over the pairs (x[2j], x[2j+1]) and (w[2j],
// w[2j+1]), j ascending, odd element first. x and w hold bf16 values as
// float32s; an odd length is padded with a zero element, as the kernels pad
// K.
func DotBF16Twin(acc float32, x, w []float32) float32 {
	n := len(x)
	for j := 0; j < n; j += 2 {
		var x1, w1 float32
		if j+1 < n {
			x1, w1 = x[j+1], w[j+1]
		}
		acc = dpBF16Step(acc, x1, w1)
		acc = dpBF16Step(acc, x[j], w[j])
	}
	return acc
}

// RoundBF16 returns x rounded to bf16 and back, denormals flushed to a zero
// of their sign (DAZ: VDPBF16PS would read them as zero anyway).
func RoundBF16(x float32) float32 { return daz(FromBF16(ToBF16(x))) }

// BF16Pairs writes rows of src rounded as RoundBF16 into dst, each pair of
// elements swapped and the row padded with zeros to kp (even) elements:
//
//	dst[r·kp + 2j] = RoundBF16(src[r·lds + 2j+1]),  dst[r·kp + 2j+1] = RoundBF16(src[r·lds + 2j])
//
// for r < rows. An f32 FMA chain over k ascending on such rows (activations
// and weights both) performs VDPBF16PS's steps in its order, odd element
// first; it is then bit-exact with VDPBF16PS wherever no partial sum is tiny
// (below 2^-126, where VDPBF16PS flushes and FMA does not): the bf16
// emulation the CPU backend runs where AVX512_BF16 is absent.
func BF16Pairs(dst []float32, kp int, src []float32, lds, rows, k int) {
	for r := range rows {
		s := src[r*lds : r*lds+k]
		d := dst[r*kp : r*kp+kp]
		j := 0
		for ; j+1 < k; j += 2 {
			d[j], d[j+1] = RoundBF16(s[j+1]), RoundBF16(s[j])
		}
		if j < k { // odd k: the last element pairs with a zero, which goes first
			d[j], d[j+1] = 0, RoundBF16(s[j])
			j += 2
		}
		clear(d[j:])
	}
}
