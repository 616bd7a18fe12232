package simd

import (
	"math"
	"unsafe"
)

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

// ToBF16 rounds x to bfloat16 as VCVTNEPS2BF16 does (Intel's
// convert_fp32_to_bfloat16): to nearest even, NaNs kept and quieted, and a
// denormal read as a zero of its sign (VDPBF16PS would read the bf16
// denormal it rounds to as zero anyway, all but the few that round up to
// 2^-126), so that the instruction itself can do the rounding.
func ToBF16(x float32) uint16 {
	b := math.Float32bits(x)
	switch {
	case b&0x7f800000 == 0:
		return uint16(b>>16) & 0x8000
	case b&0x7fffffff > 0x7f800000:
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

// RoundBF16 returns x rounded to bf16 and back (never a denormal: ToBF16
// flushes them).
func RoundBF16(x float32) float32 { return FromBF16(ToBF16(x)) }

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

// The VDPBF16PS GEMM (GemmBF16) reads bf16 pairs, one uint32 per pair of
// consecutive elements of a row: element 2j in the low half, 2j+1 in the
// high half, as VDPBF16PS wants them and as a bf16 row lies in memory.

// PairBF16 is the uint32 holding the bf16 roundings (ToBF16) of a and b, a in
// the low half: the pair (a, b) = (x[2j], x[2j+1]) of a row.
func PairBF16(a, b float32) uint32 { return uint32(ToBF16(a)) | uint32(ToBF16(b))<<16 }

// BF16Words writes the rows of src as bf16 pairs into dst:
//
//	dst[r·ldd + j] = PairBF16(src[r·lds + 2j], src[r·lds + 2j+1])
//
// for r < rows, j < kw = (k+1)/2, the last pair of an odd k completed with a
// zero; ldd ≥ kw, and the words of a row past kw are not written. This is
// the input of GemmBF16; v's vector kernel does the same.
func (v Variant) BF16Words(dst []uint32, ldd int, src []float32, lds, rows, k int) {
	kw := (k + 1) / 2
	if ldd < kw || rows < 0 || (rows > 0 && (len(dst) < (rows-1)*ldd+kw || len(src) < (rows-1)*lds+k)) {
		panic("simd: BF16Words: slice too short or ldd < (k+1)/2")
	}
	if rows == 0 || k == 0 {
		return
	}
	v.im.bf16Rows(dst, ldd, src, lds, rows, k)
}

// bf16RowsEach is BF16Words with the Go twin, a row at a time.
func bf16RowsEach(dst []uint32, ldd int, src []float32, lds, rows, k int) {
	kw := (k + 1) / 2
	for r := range rows {
		bf16WordsGeneric(dst[r*ldd:r*ldd+kw], src[r*lds:r*lds+k])
	}
}

// bf16WordsGeneric is one row of BF16Words: len(dst) = (len(src)+1)/2.
func bf16WordsGeneric(dst []uint32, src []float32) {
	j := 0
	for ; 2*j+1 < len(src); j++ {
		dst[j] = PairBF16(src[2*j], src[2*j+1])
	}
	if 2*j < len(src) {
		dst[j] = PairBF16(src[2*j], 0)
	}
}

// PackBF16 packs w, a row-major (n,k) float32 matrix, for GemmBF16: each row
// rounded to bf16 pairs (BF16Words) and the (n,(k+1)/2) matrix of pairs
// packed into panels like any PackedW, one uint32 pair where a float32 goes.
func PackBF16(w []float32, n, k int) *PackedW {
	if n < 0 || k < 0 || len(w) < n*k {
		panic("simd: PackBF16: w too short for (n,k), or negative dimension")
	}
	kw := (k + 1) / 2
	words := make([]uint32, n*kw)
	Variant{best()}.BF16Words(words, kw, w, k, n, k)
	p := PackW(wordsAsFloats(words), n, kw)
	p.pairs = true
	return p
}

// wordsAsFloats is the same memory as float32s: the GEMM moves pairs about
// as 32-bit values and never computes on them as floats.
func wordsAsFloats(w []uint32) []float32 {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&w[0])), len(w))
}

// PackWords makes p the bf16 weight whose (n,kw) pairs are the words
// w[r·ldw + c], as BF16Words writes them: PackBF16 for rows already rounded
// (the attention kernel rounds each head's K with BF16Words, then packs
// it), with the variant's panel transpose.
func (v Variant) PackWords(p *PackedW, w []uint32, ldw, n, kw int) {
	v.Pack(p, wordsAsFloats(w), ldw, n, kw)
	p.pairs = true
}

// PackTBF16 makes p the bf16 weight of the (n,k) matrix W[r,c] =
// wt[c·ldwt + r]: PackBF16 of the transpose of the (k,n) matrix wt, read
// straight from wt's rows (pair c of column r is rows 2c and 2c+1 of wt, an
// odd k's last pair ending in 0), as PackT is PackW of a transpose. It
// panics as PackT does. It is the Go twin of Variant.PackTBF16.
func (p *PackedW) PackTBF16(wt []float32, ldwt, n, k int) {
	p.packTBF16(wt, ldwt, n, k, packTBF16PanelsGeneric)
}

// PackTBF16 is p.PackTBF16(wt, ldwt, n, k) with the variant's vector
// rounding (AVX-512: 16 pairs per step), writing the same words.
func (v Variant) PackTBF16(p *PackedW, wt []float32, ldwt, n, k int) {
	p.packTBF16(wt, ldwt, n, k, v.im.packTBF16Panels)
}

func (p *PackedW) packTBF16(wt []float32, ldwt, n, k int, panelsOf func(data []uint32, wt []float32, ldwt, panels, k int)) {
	if n < 0 || k < 0 || ldwt < n || (k > 0 && len(wt) < (k-1)*ldwt+n) {
		panic("simd: PackedW.PackTBF16: wt too short for (k,n) with stride ldwt, or negative dimension")
	}
	kw := (k + 1) / 2
	p.reset(n, kw)
	p.pairs = true
	if n == 0 || kw == 0 {
		return
	}
	data := unsafe.Slice((*uint32)(unsafe.Pointer(&p.data[0])), len(p.data))
	full := n / panelW
	if full > 0 {
		panelsOf(data, wt, ldwt, full, k)
	}
	for r := full * panelW; r < n; r++ {
		for c := range kw {
			data[full*panelW*kw+c*panelW+r%panelW] = pairOfRows(wt, ldwt, r, c, k)
		}
	}
}

// pairOfRows is the bf16 pair of column r of wt in rows 2c and 2c+1 (0
// past row k).
func pairOfRows(wt []float32, ldwt, r, c, k int) uint32 {
	var b float32
	if 2*c+1 < k {
		b = wt[(2*c+1)*ldwt+r]
	}
	return PairBF16(wt[2*c*ldwt+r], b)
}

// packTBF16PanelsGeneric fills the first panels whole panels of a PackTBF16
// weight's words from the k rows of wt.
func packTBF16PanelsGeneric(data []uint32, wt []float32, ldwt, panels, k int) {
	kw := (k + 1) / 2
	for pn := range panels {
		for c := range kw {
			for j := range panelW {
				data[pn*panelW*kw+c*panelW+j] = pairOfRows(wt, ldwt, pn*panelW+j, c, k)
			}
		}
	}
}

// GemmBF16 is Gemm in bf16: for m < M and n < N = w.N(),
//
//	out[m·ldo + n] = act(DotBF16(x row m, W row n) + bias[n])
//
// where x holds (M, K/2) bf16 pairs (BF16Words; ldx in pairs), w is
// PackBF16's, and each dot product is VDPBF16PS's chain over the pairs,
// ascending, from 0 (DotBF16Twin of the two rows' bf16 values). The AVX-512
// variant runs VDPBF16PS where the CPU has AVX512_BF16; every other variant
// runs the bit-exact Go twin (slow: for tests). Tiling, tasks and par are as
// in Gemm.
func (v Variant) GemmBF16(out []float32, ldo int, x []uint32, ldx int, m int, w *PackedW, bias []float32, gelu bool, par func(tasks int, fn func(task int))) {
	v.GemmBF16Words(out, ldo, nil, 0, x, ldx, m, w, bias, gelu, par)
}

// GemmBF16Words is GemmBF16 that, where words is not nil, also rounds the
// first min(N, 2·ldw) columns of its result into the input of a next
// GemmBF16: the same words as BF16Words(words, ldw, out, ldo, M, min(N,
// 2·ldw)) after it, each task's block rounded as soon as it is final, while
// it is still in cache. With out nil (words then covering all N columns)
// only the words are written: each row group's tile is finished in a
// scratch on the stack and rounded from there, so that the float32 result
// never goes to memory.
func (v Variant) GemmBF16Words(out []float32, ldo int, words []uint32, ldw int, x []uint32, ldx int, m int, w *PackedW, bias []float32, gelu bool, par func(tasks int, fn func(task int))) {
	if !w.pairs {
		panic("simd: GemmBF16: w is not from PackBF16")
	}
	v.im.gemmWords(out, ldo, wordsAsFloats(x), ldx, m, w, bias, gelu, words, ldw, par)
}

// kernelBF16Generic is kernelGeneric with VDPBF16PS's pair steps in place of
// the FMA: x and the panels hold bf16 pairs, t.k counts pairs. It is the
// twin of the VDPBF16PS kernel, lane for lane.
func kernelBF16Generic(t *tileArgs, nr int) { kernelLoop(t, nr, true) }

// dpBF16Pair is one VDPBF16PS lane: acc plus the products of the bf16 pairs
// x and w (held as float32 bits), the odd (high) element first.
func dpBF16Pair(x, w, acc float32) float32 {
	xb, wb := math.Float32bits(x), math.Float32bits(w)
	acc = dpBF16Step(acc, FromBF16(uint16(xb>>16)), FromBF16(uint16(wb>>16)))
	return dpBF16Step(acc, FromBF16(uint16(xb)), FromBF16(uint16(wb)))
}
