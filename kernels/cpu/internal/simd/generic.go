package simd

import (
	"math"
	"unsafe"
)

// mr is the number of rows of out one microkernel call computes.
const mr = 6

// tileArgs is the argument block of one microkernel call. The assembly reads
// its fields at fixed offsets (see the tileArgs* constants in the .s files and
// TestTileArgsLayout).
type tileArgs struct {
	k     int          // reduction length of this K block
	x     [mr]*float32 // row starts of X in this K block; rows past M repeat the last row
	w     *float32     // first packed panel at this K block; a 32-wide kernel also reads the next one
	pstep int          // distance from one panel to the next, in elements (16·K)
	accum int          // nonzero: the sums start from out (an earlier K block), else from 0
	bias  *float32     // nr values added after the sums, or nil
	out   *float32     // out[i·ldo + j] for i < mr, j < nr
	ldo   int          // row stride of out, in elements

	// groups > 1: the kernel then does that many row groups one after the
	// other, each mr rows (mr·ldx elements of X, mr·ldo of out) below the
	// last, with the same panels, K block and bias. gemmTask passes more
	// than one only to the AVX-512 kernels (impl.multiRow); the Go twins
	// honour it too, so that they are twins of every call.
	groups int
	ldx    int // row stride of X, in elements (with groups > 1)
}

// kernelGeneric computes one mr×nr tile (nr = 16 or 32, i.e. one or two
// panels) over one K block:
//
//	out[i·ldo+j] = (accum ? out[i·ldo+j] : 0) + Σ_k x[i][k]·panel_{j/16}[k·16 + j%16] (+ bias[j])
//
// with one fused multiply-add per k, k ascending, then the bias added once:
// exactly what the assembly kernels do in each vector lane. Carrying the sum
// through out between K blocks rounds nothing (it is a float32 either way), so
// the result equals one unbroken chain over all of K.
func kernelGeneric(t *tileArgs, nr int) { kernelLoop(t, nr, false) }

// kernelLoop is kernelGeneric, or with bf16 set kernelBF16Generic: x and the
// panels hold bf16 pairs and dpBF16Pair replaces fma32.
func kernelLoop(t *tileArgs, nr int, bf16 bool) {
	g := *t
	kernelGroup(&g, nr, bf16)
	for range t.groups - 1 { // not past the last: Go pointers stay inside their object
		for i := range g.x {
			g.x[i] = (*float32)(unsafe.Add(unsafe.Pointer(g.x[i]), 4*mr*t.ldx))
		}
		g.out = (*float32)(unsafe.Add(unsafe.Pointer(g.out), 4*mr*t.ldo))
		kernelGroup(&g, nr, bf16)
	}
}

// kernelGroup is kernelLoop on one row group.
func kernelGroup(t *tileArgs, nr int, bf16 bool) {
	k := t.k
	w := unsafe.Slice(t.w, (nr/panelW-1)*t.pstep+panelW*k)
	out := unsafe.Slice(t.out, (mr-1)*t.ldo+nr)
	var bias []float32
	if t.bias != nil {
		bias = unsafe.Slice(t.bias, nr)
	}
	var acc [2 * panelW]float32
	for i := 0; i < mr; i++ {
		x := unsafe.Slice(t.x[i], k)
		for p := 0; p < nr/panelW; p++ {
			a := acc[:panelW]
			if t.accum != 0 {
				copy(a, out[i*t.ldo+p*panelW:])
			} else {
				clear(a)
			}
			panel := w[p*t.pstep : p*t.pstep+panelW*k]
			for kk, xv := range x {
				wk := panel[kk*panelW : kk*panelW+panelW]
				if bf16 {
					for j := range a {
						a[j] = dpBF16Pair(xv, wk[j], a[j])
					}
					continue
				}
				for j := range a {
					a[j] = fma32(xv, wk[j], a[j])
				}
			}
			row := out[i*t.ldo+p*panelW : i*t.ldo+p*panelW+panelW]
			for j, v := range a {
				if bias != nil {
					v += bias[p*panelW+j]
				}
				row[j] = v
			}
		}
	}
}

// erfCenter[i] is the centre of interval i = [0.75i, 0.75i+0.75) of |x| on
// which erfPoly[·][i] approximates erf(|x|/√2).
var erfCenter = [8]float32{0.375, 1.125, 1.875, 2.625, 3.375, 4.125, 4.875, 5.625}

// erfPoly[q][i] is the coefficient of u^q, u = |x| - erfCenter[i], of a
// degree-7 polynomial for erf(|x|/√2) on interval i (Chebyshev interpolation,
// rounded to float32; max |error| 7e-8 after float32 evaluation, and exactly 1
// at |x| = 6). Stored coefficient-major so that a vector permute picks one
// coefficient for eight lanes. The assembly holds the same numbers.
var erfPoly = [8][8]float32{
	{0.29233953, 0.73941094, 0.93920726, 0.9913351, 0.99926186, 0.9999629, 0.9999989, 1},
	{0.74371016, 0.4237533, 0.13757256, 0.025448363, 0.002682238, 0.0001610809, 5.5118826e-06, 1.07464324e-07},
	{-0.13944523, -0.2383612, -0.12897448, -0.03340092, -0.004526251, -0.00033223533, -1.343711e-05, -3.0239804e-07},
	{-0.10652092, 0.018759795, 0.0576802, 0.024984475, 0.004645011, 0.00042996838, 2.0914144e-05, 5.488664e-07},
	{0.033211995, 0.034449454, -0.0055342857, -0.010831271, -0.0031657421, -0.00038782146, -2.3182476e-05, -7.1595895e-07},
	{0.013483581, -0.010561246, -0.006575293, 0.0019371813, 0.0014398869, 0.00025563818, 1.9511233e-05, 7.268269e-07},
	{-0.0050991327, -0.002599167, 0.0027072104, 0.000619558, -0.00037776606, -0.00012642347, -1.3521947e-05, -6.4813423e-07},
	{-0.0012943607, 0.0016306305, 5.1151408e-05, -0.00044869728, 1.1478767e-05, 4.2583604e-05, 6.7906394e-06, 4.120424e-07},
}

// gelu1 is GELU(x) = x/2·(1 + erf(x/√2)) in float32, step for step as the
// vector kernels compute it: a = min(|x|, 6) (erf(6/√2) rounds to 1), pick the
// interval i = min(trunc(a·4/3), 7), Horner in u = a - centre with fused
// multiply-adds, give erf the sign of x, and return fma(x/2, erf, x/2).
func gelu1(x float32) float32 {
	e := erfScaled(x)
	h := x * 0.5
	return fma32(h, e, h)
}

// erfScaled is erf(x/√2) as gelu1 computes it.
func erfScaled(x float32) float32 {
	a := math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
	if !(a < 6) {
		a = 6
	}
	i := min(int32(a*float32(4.0/3.0)), 7)
	u := a - erfCenter[i]
	p := erfPoly[7][i]
	for q := 6; q >= 0; q-- {
		p = fma32(p, u, erfPoly[q][i])
	}
	return math.Float32frombits(math.Float32bits(p) ^ math.Float32bits(x)&(1<<31))
}

// geluGeneric is the twin of the GELU kernels: dst[i] = gelu1(src[i]) for
// i < len(dst).
func geluGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = gelu1(x)
	}
}

// geluTileRows applies im.gelu in place to each row of a (rows,cols) block
// of out with row stride ldo: GELU8's tile form, for variants without one.
func geluTileRows(im impl, out []float32, ldo, rows, cols int) {
	for r := range rows {
		row := out[r*ldo : r*ldo+cols]
		im.gelu(row, row)
	}
}

// dotGeneric is the twin of the Dot kernels: Σ a[i]·b[i] for i < len(a).
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// axpyGeneric is the twin of the Axpy kernels: y[i] += alpha·x[i] for
// i < len(x).
func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}
