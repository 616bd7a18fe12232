package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// ulps is how many float32 steps apart a and b are (both finite, same sign).
func ulps(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	return max(d, -d)
}

// TestExpAccuracy checks exp1 against math.Exp rounded to float32 on a grid
// of 2^20 points over [-87, 88] plus the clamp and the edges.
func TestExpAccuracy(t *testing.T) {
	var worst int64
	var worstT float32
	const n = 1 << 20
	for i := range n + 1 {
		x := float32(-87 + 175*float64(i)/n)
		if u := ulps(exp1(x), float32(math.Exp(float64(x)))); u > worst {
			worst, worstT = u, x
		}
	}
	t.Logf("exp1: max %d ulp from math.Exp (at %v)", worst, worstT)
	if worst > 2 {
		t.Errorf("exp1(%v) is %d ulps from math.Exp, want ≤ 2", worstT, worst)
	}
	if got := exp1(0); got != 1 {
		t.Errorf("exp1(0) = %v, want 1", got)
	}
	if got, want := exp1(-1000), exp1(-87); got != want {
		t.Errorf("exp1(-1000) = %v, want the clamp exp1(-87) = %v", got, want)
	}
	if got := exp1(1000); math.IsInf(float64(got), 0) || got != exp1(88) {
		t.Errorf("exp1(1000) = %v, want the clamp exp1(88) = %v", got, exp1(88))
	}
}

// TestExpSumVariants checks every variant of ExpSum against the Go twins bit
// for bit, values and sum, at lengths straddling the 8-lane vector, with
// arguments spread over and beyond the clamp range.
func TestExpSumVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	twin := Variants()[0]
	for _, v := range Variants()[1:] {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 300} {
			for _, scale := range []float32{0.17677669, 1, -3} {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64() * 40)
				}
				sub := float32(r.NormFloat64() * 10)
				want := append([]float32(nil), x...)
				wantSum := twin.ExpSum(want, scale, sub)
				got := append([]float32(nil), x...)
				gotSum := v.ExpSum(got, scale, sub)
				name := fmt.Sprintf("%s/n=%d/scale=%v", v.Name(), n, scale)
				if math.Float32bits(gotSum) != math.Float32bits(wantSum) {
					t.Fatalf("%s: sum %v, twin %v", name, gotSum, wantSum)
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: [%d] = exp(%v·%v - %v) = %v, twin %v", name, i, scale, x[i], sub, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestExpSumDefinition checks the twin itself: each value is exp1 of the
// fused argument and the sum is their sum up to float32 rounding.
func TestExpSumDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	x := make([]float32, 77)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
	}
	y := append([]float32(nil), x...)
	sum := Variants()[0].ExpSum(y, 0.5, 1)
	var want float64
	for i, v := range x {
		e := exp1(float32(math.FMA(0.5, float64(v), -1)))
		if y[i] != e {
			t.Fatalf("[%d] = %v, want exp1(0.5·%v - 1) = %v", i, y[i], v, e)
		}
		want += float64(e)
	}
	if math.Abs(float64(sum)-want) > 1e-5*want {
		t.Fatalf("sum %v, want %v", sum, want)
	}
}

// TestMaxVariants checks every variant of Max against the Go twin and
// against a plain loop, at lengths straddling the 8-lane vector.
func TestMaxVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 100} {
		x := make([]float32, n)
		want := float32(math.Inf(-1))
		for i := range x {
			x[i] = float32(r.NormFloat64() * 100)
			want = max(want, x[i])
		}
		for _, v := range Variants() {
			if got := v.Max(x); got != want {
				t.Fatalf("%s n=%d: Max = %v, want %v", v.Name(), n, got, want)
			}
		}
	}
	nan := []float32{1, float32(math.NaN()), 3, 2, 0, 0, 0, 0, float32(math.NaN())}
	for _, v := range Variants() {
		if got := v.Max(nan); got != 3 {
			t.Errorf("%s: Max skips NaNs: got %v, want 3", v.Name(), got)
		}
	}
}
