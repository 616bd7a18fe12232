package metal

import (
	"math"
	"testing"
)

// TestHalfWeightStorage checks Weight under Options.HalfWeights rounds to the
// nearest half with ties to even, and that Download and Upload see halves.
// The expected values are worked out by hand: half has 10 fraction bits, so
// next to 1 its spacing is 2⁻¹⁰, and its smallest subnormal is 2⁻²⁴.
func TestHalfWeightStorage(t *testing.T) {
	be := newBackend("test", &simDevice{}, Options{HalfWeights: true})
	p := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	cases := []struct{ in, want float32 }{
		{1 + p(-11), 1},                   // tie: to the even 1
		{1 + 3*p(-11), 1 + p(-9)},         // tie: up to the even 1+2⁻⁹
		{1 + p(-11) + p(-20), 1 + p(-10)}, // just past the tie
		{-0.1, -1638 * p(-14)},            // nearest half to 0.1 is 1638·2⁻¹⁴
		{p(-24), p(-24)},                  // smallest subnormal
		{p(-26), 0},                       // under half of it
		{65519, 65504},                    // below the overflow threshold
		{float32(math.Inf(-1)), float32(math.Inf(-1))},
	}
	src := make([]float32, len(cases))
	for i, c := range cases {
		src[i] = c.in
	}
	w, err := be.Weight(src, 2, len(cases)/2)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(w.(*buffer).mem.bytes()); got != 2*len(cases) {
		t.Errorf("weight of %d values takes %d bytes, want %d", len(cases), got, 2*len(cases))
	}
	got := make([]float32, len(cases))
	if err := be.Download(got, w); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got[i] != c.want || math.Signbit(float64(got[i])) != math.Signbit(float64(c.want)) {
			t.Errorf("%v stored as %v, want %v", c.in, got[i], c.want)
		}
	}

	if err := be.Upload(w, []float32{1 + p(-11) + p(-20)}); err != nil {
		t.Fatal(err)
	}
	if err := be.Download(got[:2], w); err != nil {
		t.Fatal(err)
	}
	if got[0] != 1+p(-10) || got[1] != 1+p(-9) {
		t.Errorf("after Upload: %v, want [%v %v]", got[:2], 1+p(-10), 1+p(-9))
	}

	for _, v := range []float32{65520, -1e6} {
		if _, err := be.Weight([]float32{v}, 1, 1); err == nil {
			t.Errorf("Weight(%v) succeeded; it overflows half and should fail", v)
		}
	}
}
