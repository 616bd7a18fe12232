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
		{0x00000001, 0x0000}, // denormals are read as zeros of their sign
		{0x807fffff, 0x8000}, // even one that would round to the smallest normal
		{0x00800000, 0x0080}, // the smallest normal stays
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

// TestBF16Words checks every variant's row conversion against PairBF16 on
// values that round every way (ties, carries into the exponent, overflow to
// Inf, NaNs, denormals), with odd and even k and a row stride.
func TestBF16Words(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	special := []uint32{0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0x7f800001, 0xffc00000, 0x7fffffff, 0x00000001, 0x80008000, 0x0000ffff, 0x3f7fffff}
	for _, s := range []struct{ rows, k, lds int }{{1, 1, 1}, {3, 15, 17}, {2, 16, 16}, {5, 33, 40}, {4, 384, 384}, {2, 1537, 1540}} {
		src := make([]float32, (s.rows-1)*s.lds+s.k)
		for i := range src {
			if r.IntN(4) == 0 {
				src[i] = math.Float32frombits(special[r.IntN(len(special))])
			} else {
				src[i] = math.Float32frombits(r.Uint32())
			}
		}
		kw := (s.k + 1) / 2
		for _, im := range helperImpls() {
			v := Variant{im}
			dst := make([]uint32, s.rows*kw)
			v.BF16Words(dst, kw, src, s.lds, s.rows, s.k)
			for row := range s.rows {
				for j := range kw {
					a, b := src[row*s.lds+2*j], float32(0)
					if 2*j+1 < s.k {
						b = src[row*s.lds+2*j+1]
					}
					if got, want := dst[row*kw+j], PairBF16(a, b); got != want {
						t.Fatalf("%s %+v: dst[%d,%d] = %#08x, want %#08x (from %#08x, %#08x)", v.Name(), s, row, j, got, want, math.Float32bits(a), math.Float32bits(b))
					}
				}
			}
		}
	}
}

// TestPackBF16Forms checks the two packers of pre-transposed or pre-rounded
// bf16 weights against PackBF16, on every variant: PackTBF16 of a (k,n)
// matrix is PackBF16 of its transpose, and PackWords of BF16Words' rows is
// PackBF16 of the rows; the values include TestBF16Words' rounding cases.
func TestPackBF16Forms(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	special := []uint32{0x3f808000, 0x3f818000, 0x7f7fffff, 0x7f800001, 0xffc00000, 0x00000001, 0x80008000}
	for _, s := range []struct{ n, k, ld int }{{32, 87, 1152}, {32, 88, 40}, {16, 1, 16}, {17, 5, 20}, {40, 33, 41}, {5, 3, 7}} {
		wt := make([]float32, (s.k-1)*s.ld+s.n) // (k,n), row stride ld
		for i := range wt {
			wt[i] = float32(r.NormFloat64())
			if r.IntN(8) == 0 {
				wt[i] = math.Float32frombits(special[r.IntN(len(special))])
			}
		}
		w := make([]float32, s.n*s.k) // its transpose (n,k)
		for i := range s.n {
			for c := range s.k {
				w[i*s.k+c] = wt[c*s.ld+i]
			}
		}
		want := PackBF16(w, s.n, s.k)
		kw := (s.k + 1) / 2
		words := make([]uint32, s.n*kw)
		Variants()[0].BF16Words(words, kw, w, s.k, s.n, s.k)
		var twin PackedW
		twin.PackTBF16(wt, s.ld, s.n, s.k)
		packs := map[string]*PackedW{"twin PackTBF16": &twin}
		for _, v := range Variants() {
			var pt, pw PackedW
			v.PackTBF16(&pt, wt, s.ld, s.n, s.k)
			v.PackWords(&pw, words, kw, s.n, kw)
			packs[v.Name()+" PackTBF16"], packs[v.Name()+" PackWords"] = &pt, &pw
		}
		for name, p := range packs {
			if p.N() != want.N() || p.K() != want.K() || !p.pairs || len(p.data) != len(want.data) {
				t.Fatalf("%s %+v: (%d,%d) pairs=%v, %d floats; PackBF16 gives (%d,%d), %d", name, s, p.N(), p.K(), p.pairs, len(p.data), want.N(), want.K(), len(want.data))
			}
			for i := range want.data {
				if g, w := math.Float32bits(p.data[i]), math.Float32bits(want.data[i]); g != w {
					t.Fatalf("%s %+v: word %d = %#08x, PackBF16 %#08x", name, s, i, g, w)
				}
			}
		}
	}
}

// gemmBF16Want is one output of GemmBF16 from its definition: the
// VDPBF16PS chain of DotBF16Twin over the bf16 roundings, plus the bias
// (none when nil: -0 + 0 would be +0), then GELU.
func gemmBF16Want(x, w []float32, bias []float32, gelu bool) float32 {
	xr, wr := make([]float32, len(x)), make([]float32, len(w))
	for i := range x {
		xr[i], wr[i] = FromBF16(ToBF16(x[i])), FromBF16(ToBF16(w[i]))
	}
	v := DotBF16Twin(0, xr, wr)
	if bias != nil {
		v += bias[0]
	}
	if gelu {
		v = gelu1(v)
	}
	return v
}

// checkGemmBF16 runs GemmBF16 on variant v for random (m,k)·(n,k)ᵀ operands
// scaled by mag and compares every output bit for bit with gemmBF16Want.
func checkGemmBF16(t *testing.T, v Variant, r *rand.Rand, m, n, k int, mag float32, withBias, gelu bool) {
	t.Helper()
	x, w := randSlice(r, m*k), randSlice(r, n*k)
	for i := range x {
		x[i] *= mag
	}
	var bias []float32
	if withBias {
		bias = randSlice(r, n)
	}
	kw := (k + 1) / 2
	xw := make([]uint32, m*kw)
	v.BF16Words(xw, kw, x, k, m, k)
	pw := PackBF16(w, n, k)
	if !pw.pairs || pw.N() != n || pw.K() != kw {
		t.Fatalf("PackBF16(%d,%d): pairs %v, N %d, K %d", n, k, pw.pairs, pw.N(), pw.K())
	}
	ldo := n + 3
	out := make([]float32, (m-1)*ldo+n)
	// Half the calls also round the result (GemmBF16Words): the words must
	// be BF16Words of out, and the gap between rows of words untouched; a
	// third of those round only the first columns, 2·ldw of them.
	var words []uint32
	ldw, wc := (n+1)/2+1, n
	if (m+n+k)%3 == 0 && n > 2 {
		ldw, wc = n/3, 2*(n/3)
	}
	if (m+n+k)%2 == 0 {
		words = make([]uint32, m*ldw)
		for i := range words {
			words[i] = 0xdeadbeef
		}
	}
	v.GemmBF16Words(out, ldo, words, ldw, xw, kw, m, pw, bias, gelu, pool(2))
	if words != nil {
		want := make([]uint32, m*ldw)
		for i := range want {
			want[i] = 0xdeadbeef
		}
		Variants()[0].BF16Words(want, ldw, out, ldo, m, wc)
		for i := range want {
			if words[i] != want[i] {
				t.Fatalf("%s m=%d n=%d k=%d ldw=%d: words[%d] = %#08x, BF16Words of out %#08x", v.Name(), m, n, k, ldw, i, words[i], want[i])
			}
		}
		if wc == n { // out nil needs words of every column
			// Without out: the same words, the float32s kept nowhere.
			for i := range words {
				words[i] = 0xdeadbeef
			}
			v.GemmBF16Words(nil, 0, words, ldw, xw, kw, m, pw, bias, gelu, pool(2))
			for i := range want {
				if words[i] != want[i] {
					t.Fatalf("%s m=%d n=%d k=%d, out nil: words[%d] = %#08x, BF16Words of out %#08x", v.Name(), m, n, k, i, words[i], want[i])
				}
			}
		}
	}
	for i := range m {
		for j := range n {
			var b []float32
			if bias != nil {
				b = bias[j:]
			}
			want := gemmBF16Want(x[i*k:i*k+k], w[j*k:j*k+k], b, gelu)
			if got := out[i*ldo+j]; math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%s m=%d n=%d k=%d mag=%g bias=%v gelu=%v: out[%d,%d] = %v (%#08x), VDPBF16PS twin %v (%#08x)",
					v.Name(), m, n, k, mag, withBias, gelu, i, j, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// gemmBF16Shapes cover whole and edge row groups and column groups, odd K,
// K past one and two K blocks of pairs (kBlockWide pairs = 2·kBlockWide
// elements on AVX-512, kBlock pairs elsewhere), and N wide enough for a task
// to hold several column groups (the 6×64 kernel's pairs of them, and a
// group left over, whole or at the edge).
var gemmBF16Shapes = []struct{ m, n, k int }{
	{1, 1, 1}, {6, 32, 2}, {7, 33, 65}, {13, 16, 301}, {6, 40, 600}, {12, 64, 1101}, {20, 48, 384},
	{13, 647, 301}, {18, 520, 1600},
}

// TestGemmBF16 checks GemmBF16 on every variant (on AVX512_BF16 CPUs the
// avx512 variant runs VDPBF16PS; elsewhere every variant runs the Go twin
// kernel) against the definition, bit for bit, with and without bias and
// GELU, at magnitudes where partial sums stay normal and where they reach
// the FTZ range below 2^-126.
func TestGemmBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 58))
	for _, v := range Variants() {
		for i, s := range gemmBF16Shapes {
			checkGemmBF16(t, v, r, s.m, s.n, s.k, 1, i%2 == 0, i%3 == 1)
		}
		checkGemmBF16(t, v, r, 7, 33, 65, 0x1p-126, false, false)
		checkGemmBF16(t, v, r, 7, 33, 65, 0x1p-124, false, false)
		checkGemmBF16(t, v, r, 7, 33, 65, 0x1p-120, true, false)
	}
}

// TestGemmBF16VDPBF16PS is the VDPBF16PS kernel against its Go twin on the
// same tiles, where the CPU has the instruction.
func TestGemmBF16VDPBF16PS(t *testing.T) {
	if !HasBF16() {
		t.Skip("this CPU lacks AVX512_BF16: the VDPBF16PS kernel cannot run here (its Go twin is tested by TestGemmBF16)")
	}
	v := Best()
	if !v.im.bf16 {
		t.Fatalf("Best() = %s does not run VDPBF16PS on an AVX512_BF16 CPU", v.Name())
	}
	r := rand.New(rand.NewPCG(59, 60))
	for i, s := range gemmBF16Shapes {
		checkGemmBF16(t, v, r, s.m, s.n, s.k, 1, i%2 == 1, i%3 == 0)
	}
	if testing.Short() {
		return // the fixed shapes only: short mode also serves runs under an emulator
	}
	for range 20 {
		checkGemmBF16(t, v, r, 1+r.IntN(30), 1+r.IntN(100), 1+r.IntN(1200), 1, r.IntN(2) == 0, r.IntN(2) == 0)
	}
}
