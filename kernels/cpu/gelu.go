package cpu

import (
	"fmt"
	"math"

	"github.com/minilm-dev/minilm/kernels"
)

// gelu: X and Out are (N); Out may alias X.
//
//	Out[i] = X[i]/2 · (1 + erf(X[i]/√2))
//
// split across workers in chunks.
func (be *Backend) gelu(op kernels.GELU) error {
	if op.N < 0 {
		return fmt.Errorf("GELU.N = %d, want ≥ 0", op.N)
	}
	out, err := be.need("GELU", "Out", op.Out, op.N)
	if err != nil {
		return err
	}
	x, err := be.need("GELU", "X", op.X, op.N)
	if err != nil {
		return err
	}
	const grain = 1 << 14
	n := op.N
	be.pool.parallel(chunks(n, grain), func(_, task int) {
		lo, hi := task*grain, min(n, (task+1)*grain)
		geluSlice(out[lo:hi], x[lo:hi])
	})
	return nil
}

// geluSlice: out and x are (N); out may alias x. out[i] = gelu(x[i]).
func geluSlice(out, x []float32) {
	x = x[:len(out)]
	for i, v := range x {
		out[i] = gelu(v)
	}
}

// gelu is x/2·(1 + erf(x/√2)), evaluated in float64 and rounded once. Below
// x = -√2 it uses the equal x/2·erfc(-x/√2), which keeps full relative
// accuracy in the negative tail where 1 + erf cancels.
func gelu(x float32) float32 {
	xd := float64(x)
	z := xd * (1 / math.Sqrt2)
	if z < -1 {
		return float32(xd * 0.5 * erfc64(-z))
	}
	return float32(xd * 0.5 * (1 + erf64(z)))
}

// geluSlow is the twin of gelu, with math.Erfc: x/2·erfc(-x/√2) is
// x/2·(1 + erf(x/√2)) without the cancellation.
func geluSlow(x float32) float32 {
	xd := float64(x)
	return float32(xd / 2 * math.Erfc(-xd/math.Sqrt2))
}

// erf32 is erf for float32 arguments: erf64 rounded once. TestErf32 measures
// it against math.Erf.
func erf32(x float32) float32 { return float32(erf64(float64(x))) }

// erf64 is erf to about 2e-9 absolute error (enough for a float32 result) and
// much cheaper than math.Erf:
//
//	|x| < 1:  erf(x) = x·P(x²), P: 7 terms fit to erf(√t)/√t on t ∈ [0,1]
//	|x| ≥ 1:  erf(x) = ±(1 - erfc64(|x|))
//
// P is a Chebyshev fit (mpmath chebyfit, max error 1.2e-9) written in the
// power basis for Horner's rule.
func erf64(x float64) float64 {
	if math.Abs(x) < 1 {
		t := x * x
		p := 7.8758750626854883e-05
		p = p*t - 0.00080168642871658699
		p = p*t + 0.0051890874234339739
		p = p*t - 0.026854212010626412
		p = p*t + 0.11283594715160218
		p = p*t - 0.37612626666720334
		p = p*t + 1.1283791658483509
		return x * p
	}
	if math.IsNaN(x) {
		return x
	}
	return math.Copysign(1-erfc64(math.Abs(x)), x)
}

// erfc64 is erfc(a) for a ≥ 1 to about 2e-9 relative error:
//
//	erfc(a) = e^(-a²)·R(1/a)/a, R: 13 terms fit to erfc(a)·e^(a²)·a on 1/a ∈ [1/11,1]
//
// and 0 for a ≥ 11, where erfc(a) < 1.5e-54: gelu's result there is below
// half the smallest float32 denormal.
func erfc64(a float64) float64 {
	if a >= 11 {
		return 0
	}
	u := 1 / a
	r := -0.15428909338982769
	r = r*u + 1.1395878378620969
	r = r*u - 3.7689977408484552
	r = r*u + 7.3198128830223954
	r = r*u - 9.1382262793954272
	r = r*u + 7.4210821272155743
	r = r*u - 3.5815037037116153
	r = r*u + 0.55944911201734893
	r = r*u + 0.34138900684561646
	r = r*u + 0.0075782367698736209
	r = r*u - 0.28249786373736963
	r = r*u + 9.4830875628609508e-06
	r = r*u + 0.56418956956259259
	return math.Exp(-a*a) * r * u
}
