package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// sameBits reports the first index where a and b differ bit for bit, or -1.
func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestSoftmaxRowsVariants checks every variant of SoftmaxRows against the Go
// twin bit for bit (probabilities and sums), at row lengths straddling the
// 8- and 16-lane vectors, and the twin against a float64 softmax.
func TestSoftmaxRowsVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	twin := Variants()[0]
	for _, l := range []int{1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 40, 87, 200} {
		for _, scale := range []float32{0.17677669, 1, 0, -0.5} {
			const rows = 5
			s := make([]float32, rows*l)
			for i := range s {
				s[i] = float32(r.NormFloat64() * 20)
			}
			if scale > 0 {
				s[r.IntN(len(s))] = float32(math.Inf(-1)) // a masked-out score
			}
			want, wantSums := slices.Clone(s), make([]float32, rows)
			twin.SoftmaxRows(want, rows, l, scale, wantSums)
			lw := (l + 1) / 2
			wantWords := make([]uint32, rows*lw)
			twin.BF16Words(wantWords, lw, want, l, rows, l)
			for _, im := range helperImpls() {
				v := Variant{im}
				got, gotSums := slices.Clone(s), make([]float32, rows)
				v.SoftmaxRows(got, rows, l, scale, gotSums)
				if i := sameBits(want, got); i >= 0 {
					t.Errorf("%s l=%d scale=%v: p[%d] = %v, twin %v", v.Name(), l, scale, i, got[i], want[i])
				}
				if i := sameBits(wantSums, gotSums); i >= 0 {
					t.Errorf("%s l=%d scale=%v: sum[%d] = %v, twin %v", v.Name(), l, scale, i, gotSums[i], wantSums[i])
				}
				// The bf16 form: the same sums, and the new rows rounded.
				words := make([]uint32, rows*lw+1)
				words[rows*lw] = 0xdeadbeef // not to be written
				clear(gotSums)
				v.SoftmaxRowsBF16(slices.Clone(s), rows, l, scale, gotSums, words[:rows*lw])
				if i := sameBits(wantSums, gotSums); i >= 0 {
					t.Errorf("%s SoftmaxRowsBF16 l=%d scale=%v: sum[%d] = %v, twin %v", v.Name(), l, scale, i, gotSums[i], wantSums[i])
				}
				if i := slices.Compare(words[:rows*lw], wantWords); i != 0 || words[rows*lw] != 0xdeadbeef {
					for j := range wantWords {
						if words[j] != wantWords[j] {
							t.Fatalf("%s SoftmaxRowsBF16 l=%d scale=%v: word %d = %#08x, SoftmaxRows then BF16Words %#08x", v.Name(), l, scale, j, words[j], wantWords[j])
						}
					}
					t.Fatalf("%s SoftmaxRowsBF16 l=%d scale=%v: wrote past the last row's words", v.Name(), l, scale)
				}
			}
			for row := range rows {
				x := s[row*l : row*l+l]
				m := math.Inf(-1)
				for _, v := range x {
					if v := float64(scale) * float64(v); !math.IsNaN(v) {
						m = max(m, v)
					}
				}
				var sum float64
				for _, v := range x {
					sum += math.Exp(float64(scale)*float64(v) - m)
				}
				for j, v := range x {
					p := math.Exp(float64(scale)*float64(v)-m) / sum
					if got := float64(want[row*l+j]) / float64(wantSums[row]); math.Abs(got-p) > 1e-6 {
						t.Fatalf("twin l=%d row %d p[%d] = %v, float64 softmax %v", l, row, j, got, p)
					}
				}
			}
		}
	}
}

// TestScaleRowsVariants checks ScaleRows' variants against the twin on a
// strided matrix, and that the columns past n are left alone.
func TestScaleRowsVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, n := range []int{8, 32, 12} {
		const rows, ldo = 4, 40
		o := randSlice(r, rows*ldo)
		sums := randSlice(r, rows)
		want := slices.Clone(o)
		scaleRowsGeneric(want, ldo, rows, n, sums)
		for i := range want {
			if c := i % ldo; c >= n && want[i] != o[i] {
				t.Fatalf("twin wrote column %d past n=%d", c, n)
			}
		}
		for _, v := range Variants()[1:] {
			got := slices.Clone(o)
			v.ScaleRows(got, ldo, rows, n, sums)
			if i := sameBits(want, got); i >= 0 {
				t.Errorf("%s n=%d: o[%d] = %v, twin %v", v.Name(), n, i, got[i], want[i])
			}
		}
	}
}

// layerNorm64 is LayerNorm in float64, the definition.
func layerNorm64(x, res, gamma, beta []float32, eps float64) []float64 {
	n := len(x)
	y := make([]float64, n)
	var mean float64
	for i := range y {
		y[i] = float64(x[i])
		if res != nil {
			y[i] += float64(res[i])
		}
		mean += y[i]
	}
	mean /= float64(n)
	var v float64
	for _, e := range y {
		v += (e - mean) * (e - mean)
	}
	inv := 1 / math.Sqrt(v/float64(n)+eps)
	for i := range y {
		y[i] = (y[i]-mean)*inv*float64(gamma[i]) + float64(beta[i])
	}
	return y
}

// TestLayerNormVariants checks every variant of LayerNorm against the Go
// twin bit for bit, with and without the residual, in place over x and over
// res, at widths that exercise every lane remainder (of 8, 16 and 32), and the twin against
// the float64 definition (within 2e-6: float32 rounding of O(1) outputs).
func TestLayerNormVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	const eps = 1e-12
	modes := []string{"nores", "res", "out=x", "out=res"}
	for _, n := range []int{8, 16, 24, 32, 40, 56, 64, 72, 384, 13} {
		// Several draws each: a partial sum fed to the wrong lane often
		// changes the variance by less than the output's rounding.
		for trial := range 4 * len(modes) {
			mode := modes[trial%len(modes)]
			x, res := randSlice(r, n), randSlice(r, n)
			for i := range x {
				x[i] = x[i]*3 + 5 // an offset mean, as residual streams have
			}
			gamma, beta := randSlice(r, n), randSlice(r, n)
			if mode == "nores" {
				res = nil
			}
			ref := layerNorm64(x, res, gamma, beta, eps)
			run := func(v Variant) []float32 {
				xx, rr := slices.Clone(x), slices.Clone(res)
				out := make([]float32, n)
				switch mode {
				case "out=x":
					out = xx
				case "out=res":
					out = rr
				}
				v.LayerNorm(out, xx, rr, gamma, beta, eps)
				return out
			}
			want := run(Variants()[0])
			for i, w := range want {
				if math.Abs(float64(w)-ref[i]) > 2e-6 {
					t.Fatalf("twin n=%d %s: out[%d] = %v, float64 %v", n, mode, i, w, ref[i])
				}
			}
			for _, im := range helperImpls()[1:] {
				v := Variant{im}
				t.Run(fmt.Sprintf("%s/n=%d/%s/%d", v.Name(), n, mode, trial/len(modes)), func(t *testing.T) {
					if got := run(v); sameBits(want, got) >= 0 {
						i := sameBits(want, got)
						t.Errorf("out[%d] = %v, twin %v", i, got[i], want[i])
					}
				})
			}
		}
	}
}
