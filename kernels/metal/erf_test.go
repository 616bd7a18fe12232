package metal

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestErfcCoefficients evaluates shaders/common.h's erfc_pos in float32, step
// by step as the shader does, with the coefficients read from the header,
// and checks its relative error against math.Erfc over the range GELU uses
// and beyond. exp is correctly rounded here; Metal's exp may add a few ulps.
func TestErfcCoefficients(t *testing.T) {
	src, err := os.ReadFile("shaders/common.h")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)constant float erfc_p\[10\] = \{(.*?)\};`).FindSubmatch(src)
	if block == nil {
		t.Fatal("erfc_p not found in shaders/common.h")
	}
	var p []float32
	for _, m := range regexp.MustCompile(`[-+0-9.e]+f`).FindAll(block[1], -1) {
		v, err := strconv.ParseFloat(string(m[:len(m)-1]), 32)
		if err != nil {
			t.Fatal(err)
		}
		p = append(p, float32(v))
	}
	if len(p) != 10 {
		t.Fatalf("read %d coefficients, want 10", len(p))
	}
	fma := func(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }
	exp := func(x float32) float32 { return float32(math.Exp(float64(x))) }
	worst, at := 0.0, float32(0)
	for i := 0; i <= 90000; i++ {
		z := float32(i) / 10000 // [0, 9]
		tt := 2 / (2 + z)
		s := p[9]
		for j := 8; j >= 0; j-- {
			s = fma(s, tt, p[j])
		}
		hi := z * z
		lo := fma(z, z, -hi)
		got := tt * exp(-hi) * exp(s-lo)
		want := math.Erfc(float64(z))
		if rel := math.Abs(float64(got)-want) / want; rel > worst || math.IsNaN(rel) {
			worst, at = rel, z
		}
	}
	t.Logf("erfc_pos: max relative error %.3g at z=%g", worst, at)
	if !(worst <= 5e-7) {
		t.Errorf("erfc_pos: max relative error %.3g at z=%g, want ≤ 5e-7", worst, at)
	}
}
