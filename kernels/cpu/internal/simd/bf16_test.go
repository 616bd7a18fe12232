package simd

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestToBF16(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // just above the tie
		{0x7f7fffff, 0x7f80}, // max float32 rounds to +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7fc00001, 0x7fc0}, // NaN stays NaN
		{0x7f800001, 0x7fc0}, // signalling NaN is quieted, not turned into Inf
		{0x80000000, 0x8000}, // -0
	}
	for _, c := range cases {
		if got := ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

// stepRef is one VDPBF16PS step from its definition, with math/big: DAZ on
// the inputs, the exact a·b + acc, FTZ when that rounds (24 bits, unbounded
// exponent, to nearest even) below 2^-126 in magnitude, else its float32
// rounding.
func stepRef(acc, a, b float32) float32 {
	a, b, acc = daz(a), daz(b), daz(acc)
	x := new(big.Float).SetPrec(1000).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetPrec(1000).SetFloat64(float64(acc)))
	if x.Sign() == 0 {
		return fma32(a, b, acc) // the sign of an exact zero is IEEE's rule
	}
	r24 := new(big.Float).SetPrec(24).SetMode(big.ToNearestEven).Set(x)
	if new(big.Float).Abs(r24).Cmp(big.NewFloat(minNormal32)) < 0 {
		return float32(math.Copysign(0, float64(x.Sign())))
	}
	f, _ := x.Float32()
	return f
}

// TestDPBF16Step checks the twin's step against the definition on random
// bf16 operands spread over the whole exponent range, and on sums placed
// around 2^-126, where gradual underflow and FTZ part ways.
func TestDPBF16Step(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	bf := func() float32 {
		return FromBF16(uint16(r.Uint32()))
	}
	check := func(acc, a, b float32) {
		if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) || math.IsNaN(float64(acc)) || math.IsInf(float64(a), 0) || math.IsInf(float64(b), 0) || math.IsInf(float64(acc), 0) {
			return
		}
		got, want := dpBF16Step(acc, a, b), stepRef(acc, a, b)
		if math.Float32bits(got) != math.Float32bits(want) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
			t.Fatalf("step(%g, %g, %g) = %g (%#08x), definition %g (%#08x)", acc, a, b, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
	for range 200000 {
		check(math.Float32frombits(r.Uint32()), bf(), bf())
	}
	// Near the FTZ edge: acc just around ±2^-126 and a small product.
	for range 200000 {
		acc := float32(minNormal32) * (1 + float32(r.IntN(64)-32)*0x1p-23)
		if r.IntN(2) == 0 {
			acc = -acc
		}
		a := FromBF16(ToBF16(float32(r.NormFloat64()) * 0x1p-75))
		b := FromBF16(ToBF16(float32(r.NormFloat64()) * 0x1p-75))
		check(acc, a, b)
		check(math.Float32frombits(r.Uint32()&0x807fffff), a, b) // a denormal acc (DAZ)
	}
	// The threshold itself: acc = 2^-126 and products that land the exact
	// sum on, just above and just below 2^-126 − 2^-151.
	for _, p := range []float64{-0x1p-151, -0x1p-151 - 0x1p-170, -0x1p-151 + 0x1p-170, -0x1p-150, -0x1p-152} {
		a := float32(p / 0x1p-75) // exact in bf16 only for the power-of-two cases
		if RoundBF16(a) != a {
			continue
		}
		check(minNormal32, a, 0x1p-75)
	}
}

// TestBF16PairsEmulation checks the bf16 emulation (BF16Pairs + PackW +
// Gemm on every variant) against DotBF16Twin on random operands in the
// normal range, with odd and even K and K past a K block.
func TestBF16PairsEmulation(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	for _, s := range []struct{ m, n, k int }{{7, 33, 64}, {13, 16, 301}, {6, 40, 600}} {
		x, w, bias := randSlice(r, s.m*s.k), randSlice(r, s.n*s.k), randSlice(r, s.n)
		kp := (s.k + 1) &^ 1
		xp, wp := make([]float32, s.m*kp), make([]float32, s.n*kp)
		BF16Pairs(xp, kp, x, s.k, s.m, s.k)
		BF16Pairs(wp, kp, w, s.k, s.n, s.k)
		pw := PackW(wp, s.n, kp)
		xr, wr := make([]float32, s.k), make([]float32, s.k)
		for _, v := range Variants() {
			out := make([]float32, s.m*s.n)
			v.Gemm(out, s.n, xp, kp, s.m, pw, bias, false, nil)
			for i := range s.m {
				for j := range s.n {
					for c := range s.k {
						xr[c], wr[c] = RoundBF16(x[i*s.k+c]), RoundBF16(w[j*s.k+c])
					}
					want := DotBF16Twin(0, xr, wr) + bias[j]
					if got := out[i*s.n+j]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s %v: out[%d,%d] = %v, VDPBF16PS twin %v", v.Name(), s, i, j, got, want)
					}
				}
			}
		}
	}
}
