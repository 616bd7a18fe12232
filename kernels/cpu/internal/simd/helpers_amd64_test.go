//go:build !purego

package simd

import (
	"testing"
	"time"
)

// helperImpls is impls() with the AVX-512 variant twice, its vector helpers
// in 256-bit and in 512-bit form, whichever zmmFaster picked on this CPU:
// both must give the twins' bits.
func helperImpls() []impl {
	var list []impl
	for _, im := range impls() {
		if im.kind != kindAVX512 {
			list = append(list, im)
			continue
		}
		y, z := im, im
		y.zmm, z.zmm = false, true
		y.name, z.name = im.name+"/ymm", im.name+"/zmm"
		list = append(list, y, z)
	}
	return list
}

func TestPreferZMM(t *testing.T) {
	for _, c := range []struct {
		ymm, zmm time.Duration
		want     bool
	}{
		{1000, 500, true},   // Zen 5, Intel server cores: twice the rate
		{1000, 890, true},   // just past the margin
		{1000, 900, false},  // within it: keep the narrower form
		{1000, 1000, false}, // Zen 4: ZMM split in two halves
		{1000, 1300, false}, // slower
	} {
		if got := preferZMM(c.ymm, c.zmm); got != c.want {
			t.Errorf("preferZMM(%v, %v) = %v, want %v", c.ymm, c.zmm, got, c.want)
		}
	}
	if !hasAVX512() {
		if zmmFaster() {
			t.Error("zmmFaster is true on a CPU without AVX-512F")
		}
		return
	}
	ymm, zmm := timeGELUTiles()
	t.Logf("GELU tile (32,384): ymm %v, zmm %v: 512-bit helpers %v", ymm, zmm, zmmFaster())
	if ymm <= 0 || zmm <= 0 {
		t.Errorf("timeGELUTiles = %v, %v: want positive times", ymm, zmm)
	}
}
