package simd

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// pool runs a Gemm's tasks on `workers` goroutines (workers ≤ 1: inline).
func pool(workers int) func(tasks int, fn func(task int)) {
	return func(tasks int, fn func(task int)) {
		if workers <= 1 {
			for t := range tasks {
				fn(t)
			}
			return
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for t := int(next.Add(1) - 1); t < tasks; t = int(next.Add(1) - 1) {
					fn(t)
				}
			})
		}
		wg.Wait()
	}
}

// reversed runs the tasks last to first, to show the result does not depend
// on the order.
func reversed(tasks int, fn func(task int)) {
	for t := tasks - 1; t >= 0; t-- {
		fn(t)
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

func gelu64(x float64) float64 { return x / 2 * (1 + math.Erf(x/math.Sqrt2)) }

// refFMA32 is a·b + c rounded once to float32, computed exactly.
func refFMA32(a, b, c float32) float32 {
	p := new(big.Float).SetPrec(400).Mul(big.NewFloat(float64(a)).SetPrec(400), big.NewFloat(float64(b)))
	p.Add(p, big.NewFloat(float64(c)))
	f, _ := p.Float32()
	return f
}

func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(a, b, c float32) {
		t.Helper()
		if got, want := fma32(a, b, c), refFMA32(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
	n := 200000
	if testing.Short() {
		n = 40000
	}
	for range n {
		a := float32(r.NormFloat64())
		b := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
		c := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(60)-30)))
		check(a, b, c)
	}
	// Halfway cases: c + a·b sits on a float32 tie in float64 but not exactly.
	one := float32(1)
	tiny := math.Float32frombits(0x33800001) // 2^-24·(1+2^-23)
	check(one, tiny, one)
	check(-one, tiny, -one)
	check(one+math.Nextafter32(1, 2)-1, 0x1p-25, 1)
	for range 100000 {
		c := float32(r.Float64() + 1)
		// a·b ≈ half an ulp of c, with a low bit beyond float64's reach.
		a := float32(0x1p-24) * (1 + float32(r.IntN(1<<10))*0x1p-23)
		b := float32(1) + float32(r.IntN(1<<10))*0x1p-23
		check(a, b, c)
		check(-a, b, -c)
	}
	// Subnormal results.
	for range 100000 {
		a := float32(r.NormFloat64()) * 0x1p-70
		b := float32(r.NormFloat64()) * 0x1p-70
		c := float32(r.NormFloat64()) * 0x1p-135
		check(a, b, c)
	}
}

func TestPackW(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 15, 16, 17, 33} {
		for _, k := range []int{0, 1, 5} {
			w := randSlice(r, n*k)
			p := PackW(w, n, k)
			if p.N() != n || p.K() != k {
				t.Fatalf("N,K = %d,%d want %d,%d", p.N(), p.K(), n, k)
			}
			panels := (n + 31) / 32 * 2
			if len(p.data) != panels*16*k {
				t.Fatalf("n=%d k=%d: %d packed floats, want %d", n, k, len(p.data), panels*16*k)
			}
			for i, v := range p.data {
				pn, kk, j := i/(16*k), i%(16*k)/16, i%16
				want := float32(0)
				if row := pn*16 + j; row < n {
					want = w[row*k+kk]
				}
				if v != want {
					t.Fatalf("n=%d k=%d: data[%d] = %g, want %g", n, k, i, v, want)
				}
			}
		}
	}
}

// gemmCase is one Gemm problem with strides and an optional bias.
type gemmCase struct {
	m, n, k, ldx, ldo int
	bias, gelu        bool
}

func (c gemmCase) String() string {
	return fmt.Sprintf("M=%d,N=%d,K=%d,ldx=%d,ldo=%d,bias=%v,gelu=%v", c.m, c.n, c.k, c.ldx, c.ldo, c.bias, c.gelu)
}

// checkGemm runs c on im and compares with a float64 reference: each element
// must be within 4·2^-24·√K·(Σ_k|x·w| + |bias|) of it (rounding errors of a
// K-term float32 sum grow like √K for random signs; the factor 4 covers the
// tail), and after GELU within 1.13× that (GELU' ≤ 1.13) plus GELU's own
// 2e-7·|v| + 1e-7. It returns out.
func checkGemm(t *testing.T, im impl, c gemmCase, r *rand.Rand, par func(int, func(int))) []float32 {
	t.Helper()
	x := randSlice(r, max(0, (c.m-1)*c.ldx+c.k))
	w := randSlice(r, c.n*c.k)
	var bias []float32
	if c.bias {
		bias = randSlice(r, c.n)
	}
	const sentinel = -12345
	out := make([]float32, max(0, (c.m-1)*c.ldo+c.n)+c.ldo)
	for i := range out {
		out[i] = sentinel
	}
	im.gemm(out, c.ldo, x, c.ldx, c.m, PackW(w, c.n, c.k), bias, c.gelu, par)
	for i := 0; i < c.m; i++ {
		for j := 0; j < c.ldo; j++ {
			got := out[i*c.ldo+j]
			if j >= c.n {
				if got != sentinel {
					t.Fatalf("%s %v: out[%d,%d] (past N) written: %g", im.name, c, i, j, got)
				}
				continue
			}
			var s, mag float64
			for kk := 0; kk < c.k; kk++ {
				p := float64(x[i*c.ldx+kk]) * float64(w[j*c.k+kk])
				s += p
				mag += math.Abs(p)
			}
			if bias != nil {
				s += float64(bias[j])
				mag += math.Abs(float64(bias[j]))
			}
			tol := 4 * 0x1p-24 * math.Sqrt(float64(max(c.k, 1))) * mag
			if c.gelu {
				tol = 1.13*tol + 2e-7*math.Abs(s) + 1e-7
				s = gelu64(s)
			}
			if d := math.Abs(float64(got) - s); !(d <= tol) {
				t.Fatalf("%s %v: out[%d,%d] = %g, want %g (|Δ| %.3g > tol %.3g)", im.name, c, i, j, got, s, d, tol)
			}
		}
	}
	if tail := out[c.m*c.ldo:]; c.m > 0 {
		for _, v := range tail {
			if v != sentinel {
				t.Fatalf("%s %v: wrote past the last row", im.name, c)
			}
		}
	}
	return out
}

var sizes = []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 130}

func TestGemmAgainstReference(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			// Every size for each dimension with the others at awkward values.
			for _, s := range sizes {
				for _, o := range []int{1, 7, 33} {
					checkGemm(t, im, gemmCase{m: s, n: o, k: o + 2, ldx: o + 2, ldo: o, bias: true}, r, pool(1))
					checkGemm(t, im, gemmCase{m: o, n: s, k: 9, ldx: 9, ldo: s, gelu: true}, r, pool(2))
					checkGemm(t, im, gemmCase{m: o + 1, n: 17, k: s, ldx: s, ldo: 17, bias: true, gelu: true}, r, reversed)
				}
			}
			// Strides wider than the rows, K = 0, and the model's shapes with few rows.
			checkGemm(t, im, gemmCase{m: 13, n: 40, k: 21, ldx: 30, ldo: 45, bias: true, gelu: true}, r, pool(2))
			checkGemm(t, im, gemmCase{m: 5, n: 20, k: 0, ldx: 0, ldo: 20, bias: true, gelu: true}, r, pool(1))
			checkGemm(t, im, gemmCase{m: 4, n: 20, k: 0, ldx: 0, ldo: 20}, r, pool(1))
			for _, nk := range [][2]int{{1152, 384}, {384, 384}, {1536, 384}, {384, 1536}} {
				for _, m := range []int{1, 7, 13} {
					checkGemm(t, im, gemmCase{m: m, n: nk[0], k: nk[1], ldx: nk[1], ldo: nk[0], bias: true, gelu: nk[0] == 1536}, r, pool(2))
				}
			}
		})
	}
}

// TestGemmVariantsAgree checks that every variant returns the Go twin's bits.
func TestGemmVariantsAgree(t *testing.T) {
	cases := []gemmCase{}
	for _, s := range sizes {
		cases = append(cases,
			gemmCase{m: s, n: 49, k: 65, ldx: 70, ldo: 50, bias: true},
			gemmCase{m: 9, n: s, k: 33, ldx: 33, ldo: s, gelu: true, bias: true},
			gemmCase{m: 7, n: 35, k: s, ldx: s, ldo: 35, gelu: true},
		)
	}
	cases = append(cases, gemmCase{m: 13, n: 1152, k: 384, ldx: 384, ldo: 1152, bias: true},
		gemmCase{m: 8, n: 384, k: 1536, ldx: 1536, ldo: 384, bias: true},
		gemmCase{m: 7, n: 1536, k: 384, ldx: 384, ldo: 1536, bias: true, gelu: true})
	all := impls()
	for _, c := range cases {
		var want []float32
		for i, im := range all {
			// The same seed gives every variant the same inputs.
			got := runCase(im, c, rand.New(rand.NewPCG(7, 8)), pool(2))
			if i == 0 {
				want = got
				continue
			}
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("%s %v: out[%d] = %g, %s gives %g", im.name, c, j, got[j], all[0].name, want[j])
				}
			}
		}
	}
}

func runCase(im impl, c gemmCase, r *rand.Rand, par func(int, func(int))) []float32 {
	x := randSlice(r, (c.m-1)*c.ldx+c.k)
	w := randSlice(r, c.n*c.k)
	var bias []float32
	if c.bias {
		bias = randSlice(r, c.n)
	}
	out := make([]float32, (c.m-1)*c.ldo+c.n)
	im.gemm(out, c.ldo, x, c.ldx, c.m, PackW(w, c.n, c.k), bias, c.gelu, par)
	return out
}

// TestGemmRowInvariance computes rows inside batches of different sizes and
// offsets, with different task counts and orders, and requires bit-identical
// rows: a pair's logits must not depend on what it is batched with.
func TestGemmRowInvariance(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(9, 10))
			for _, nk := range [][2]int{{100, 384}, {40, 1536}, {50, 37}} {
				n, k := nk[0], nk[1]
				const m = 200
				x := randSlice(r, m*k)
				w := PackW(randSlice(r, n*k), n, k)
				bias := randSlice(r, n)
				full := make([]float32, m*n)
				im.gemm(full, n, x, k, m, w, bias, true, pool(2))
				for _, win := range [][2]int{{0, 1}, {5, 6}, {3, 10}, {13, 100}, {100, 200}, {199, 200}, {1, 198}} {
					r0, r1 := win[0], win[1]
					part := make([]float32, (r1-r0)*n)
					im.gemm(part, n, x[r0*k:], k, r1-r0, w, bias, true, reversed)
					for i := range part {
						if math.Float32bits(part[i]) != math.Float32bits(full[r0*n+i]) {
							t.Fatalf("N=%d K=%d rows [%d,%d): element %d = %g alone, %g in the full batch", n, k, r0, r1, i, part[i], full[r0*n+i])
						}
					}
				}
			}
		})
	}
}

func TestGemmPlanCoversOnce(t *testing.T) {
	for _, im := range impls() {
		for i, c := range [][3]int{{1, 1, 1}, {5568, 1152, 384}, {5568, 384, 1536}, {87, 384, 384}, {7, 1536, 384}, {1000, 40, 3000}, {998, 1152, 192}, {64, 384, 192}} {
			span := 1 + i%2
			p := im.plan(c[0], c[1], c[2], span)
			seen := make([]int, p.mBlocks*p.nBlks)
			for task := range seen {
				seen[task]++
			}
			rows := 0
			for b := 0; b < p.mBlocks; b++ {
				rows += min(p.mc, c[0]-b*p.mc)
			}
			if rows != c[0] || p.mc%mr != 0 || (p.mBlocks-1)*p.mc >= c[0] || (p.nBlks-1)*p.gc >= p.groups || p.nBlks*p.gc < p.groups || p.gc%span != 0 {
				t.Fatalf("%s %v span %d: bad plan %+v", im.name, c, span, p)
			}
		}
	}
}

func TestGELUAccuracy(t *testing.T) {
	var maxErf, maxRatio float64
	step := 1
	if testing.Short() {
		step = 7 // still every residue of i%11 (the arm64 run under qemu is short)
	}
	for i := -2_400_000; i <= 2_400_000; i += step {
		x := float32(i)*5e-6 + float32(i%11)*3.7e-7
		e := float64(erfScaled(x))
		if d := math.Abs(e - math.Erf(float64(x)/math.Sqrt2)); d > maxErf {
			maxErf = d
		}
		g, want := float64(gelu1(x)), gelu64(float64(x))
		if r := math.Abs(g-want) / (2e-7*math.Abs(float64(x)) + 1e-7); r > maxRatio {
			maxRatio = r
		}
	}
	t.Logf("max |erf32(x/√2) - math.Erf(x/√2)| = %.3g; max |ΔGELU| / (2e-7·|x| + 1e-7) = %.3f", maxErf, maxRatio)
	if maxErf > 1e-7 || maxRatio > 1 {
		t.Fatalf("erf error %.3g (limit 1e-7), GELU error ratio %.3f (limit 1)", maxErf, maxRatio)
	}
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 6, -6, 100, -100, 1e30, -1e30, float32(math.Inf(1))} {
		g, want := gelu1(x), gelu64(float64(x))
		if math.Abs(float64(g)-want) > 2e-7*math.Abs(float64(x))+1e-7 || math.Signbit(float64(g)) != math.Signbit(float64(x)) && g != 0 {
			t.Errorf("GELU(%g) = %g, want %g", x, g, want)
		}
	}
}

func TestGELUVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	src := make([]float32, 300)
	for i := range src {
		src[i] = float32(r.NormFloat64() * 4)
	}
	for _, im := range impls() {
		for n := 0; n <= 70; n++ {
			for _, off := range []int{0, 1, 3} {
				want := make([]float32, n)
				geluGeneric(want, src[off:off+n])
				got := make([]float32, n)
				im.gelu(got, src[off:off+n])
				inplace := append([]float32(nil), src[off:off+n]...)
				im.gelu(inplace, inplace)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(inplace[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s n=%d off=%d: [%d] = %g (in place %g), twin %g", im.name, n, off, i, got[i], inplace[i], want[i])
					}
				}
			}
		}
	}
}

// TestGELUTileVariants holds every variant's in-place GELU of a strided
// block (the GEMM's epilogue) to the twin bit for bit, at widths with every
// 8- and 16-lane remainder, and checks it leaves the columns past the block
// alone.
func TestGELUTileVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const rows, ldo = 5, 72
	src := make([]float32, rows*ldo)
	for i := range src {
		src[i] = float32(r.NormFloat64() * 4)
	}
	for _, im := range helperImpls() {
		for _, cols := range []int{8, 16, 24, 32, 40, 48, 56, 64, 5, 19} {
			want := slices.Clone(src)
			for row := range rows {
				geluGeneric(want[row*ldo:row*ldo+cols], want[row*ldo:row*ldo+cols])
			}
			got := slices.Clone(src)
			im.geluTile(got, ldo, rows, cols)
			if i := sameBits(want, got); i >= 0 {
				t.Errorf("%s cols=%d: [%d,%d] = %g, twin %g (input %g)", im.name, cols, i/ldo, i%ldo, got[i], want[i], src[i])
			}
		}
	}
}

func TestDotAxpy(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, im := range impls() {
		for n := 0; n <= 140; n++ {
			a, b := randSlice(r, n+1)[1:], randSlice(r, n)
			var want, mag float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
			}
			// Float32 sums of n terms, each partial sum rounded once: |Δ| ≤ n·2^-24·Σ|ab|.
			if got := im.dot(a, b); math.Abs(float64(got)-want) > float64(n)*0x1p-24*mag {
				t.Fatalf("%s n=%d: Dot = %g, want %g", im.name, n, got, want)
			}
			alpha := float32(r.Float64()*2 - 1)
			y := randSlice(r, n+5)
			y0 := append([]float32(nil), y...)
			im.axpy(alpha, a, y)
			for i := range y {
				want, term := float64(y0[i]), 0.0
				if i < n {
					term = float64(alpha) * float64(a[i])
					want += term
				}
				// One product and one sum, each rounded at most once.
				if math.Abs(float64(y[i])-want) > 0x1p-23*(math.Abs(want)+math.Abs(term)) {
					t.Fatalf("%s n=%d: y[%d] = %g, want %g", im.name, n, i, y[i], want)
				}
			}
		}
	}
}

func TestPublicAPI(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	x, w, bias := randSlice(r, 10*20), randSlice(r, 30*20), randSlice(r, 30)
	got := make([]float32, 10*30)
	Gemm(got, 30, x, 20, 10, PackW(w, 30, 20), bias, true, pool(2))
	want := make([]float32, 10*30)
	best().gemm(want, 30, x, 20, 10, PackW(w, 30, 20), bias, true, pool(1))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Gemm[%d] = %g, want %g", i, got[i], want[i])
		}
	}
	a := randSlice(r, 37)
	if got, want := Dot(a, a), best().dot(a, a); got != want {
		t.Fatalf("Dot = %g, want %g", got, want)
	}
	g := make([]float32, 37)
	GELU(g, a)
	for i := range g {
		if g[i] != gelu1(a[i]) {
			t.Fatalf("GELU[%d] = %g, want %g", i, g[i], gelu1(a[i]))
		}
	}
	Axpy(2, a, g)
	for i := range g {
		if want := fma32(2, a[i], gelu1(a[i])); math.Abs(float64(g[i]-want)) > 1e-6 {
			t.Fatalf("Axpy[%d] = %g, want %g", i, g[i], want)
		}
	}
}

// TestGemmIsOneFMAChain checks the claim behind the K blocking: every element
// equals one unbroken float32 FMA chain over k = 0..K-1, plus the bias, for K
// below, at and across block boundaries.
func TestGemmIsOneFMAChain(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, im := range impls() {
		for _, k := range []int{1, kBlock - 1, kBlock, kBlock + 1, kBlockWide - 1, kBlockWide, kBlockWide + 1, 2*kBlockWide + 37} {
			const m, n = 8, 35
			x, wf, bias := randSlice(r, m*k), randSlice(r, n*k), randSlice(r, n)
			out := make([]float32, m*n)
			im.gemm(out, n, x, k, m, PackW(wf, n, k), bias, false, pool(2))
			for i := range m {
				for j := range n {
					var acc float32
					for kk := range k {
						acc = fma32(x[i*k+kk], wf[j*k+kk], acc)
					}
					acc += bias[j]
					if math.Float32bits(out[i*n+j]) != math.Float32bits(acc) {
						t.Fatalf("%s K=%d: out[%d,%d] = %g, FMA chain %g", im.name, k, i, j, out[i*n+j], acc)
					}
				}
			}
		}
	}
}

func TestVariants(t *testing.T) {
	vs := Variants()
	if len(vs) == 0 || vs[0].Name() != "generic" {
		t.Fatalf("Variants() = %v, want the Go twins first", vs)
	}
	found := false
	for _, v := range vs {
		found = found || v.Name() == Best().Name()
	}
	if !found {
		t.Fatalf("Best() = %s is not among Variants()", Best().Name())
	}
	for _, v := range vs {
		if d := v.Describe(); !strings.HasPrefix(d, v.Name()) {
			t.Errorf("%s: Describe() = %q, want it to start with the name", v.Name(), d)
		}
	}
	r := rand.New(rand.NewPCG(19, 20))
	x, w := randSlice(r, 9*40), PackW(randSlice(r, 20*40), 20, 40)
	want := make([]float32, 9*20)
	vs[0].Gemm(want, 20, x, 40, 9, w, nil, true, pool(1))
	for _, v := range vs {
		got := make([]float32, 9*20)
		v.Gemm(got, 20, x, 40, 9, w, nil, true, pool(2))
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: Gemm[%d] = %g, generic %g", v.Name(), i, got[i], want[i])
			}
		}
		g := make([]float32, 37)
		v.GELU(g, x[:37])
		if d := v.Dot(g, g); math.Abs(float64(d-vs[0].Dot(g, g))) > 1e-5*float64(d) {
			t.Fatalf("%s: Dot = %g, generic %g", v.Name(), d, vs[0].Dot(g, g))
		}
		y := make([]float32, 37)
		v.Axpy(0.5, g, y)
		for i := range y {
			if y[i] != 0.5*g[i] {
				t.Fatalf("%s: Axpy[%d] = %g, want %g", v.Name(), i, y[i], 0.5*g[i])
			}
		}
	}
}

// TestPackStrided checks Pack with a row stride and PackT from the transpose
// against PackW, reusing one PackedW whose old contents must not leak into
// the padding, and Unpack back to the matrix.
func TestPackStrided(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	var p, q PackedW
	for _, s := range [][2]int{{40, 33}, {17, 5}, {1, 1}, {33, 16}, {16, 40}} {
		n, k := s[0], s[1]
		w := randSlice(r, n*k)
		want := PackW(w, n, k)
		const ld = 50
		strided := make([]float32, n*ld)
		wt := make([]float32, k*ld)
		for i := range n {
			for c := range k {
				strided[i*ld+c] = w[i*k+c]
				wt[c*ld+i] = w[i*k+c]
			}
		}
		p.Pack(strided, ld, n, k)
		q.PackT(wt, ld, n, k)
		for _, got := range []*PackedW{&p, &q} {
			if got.N() != n || got.K() != k || len(got.data) != len(want.data) {
				t.Fatalf("(%d,%d): packed as (%d,%d) with %d floats, want %d", n, k, got.N(), got.K(), len(got.data), len(want.data))
			}
			for i := range want.data {
				if got.data[i] != want.data[i] {
					t.Fatalf("(%d,%d): data[%d] = %v, want %v", n, k, i, got.data[i], want.data[i])
				}
			}
		}
		back := make([]float32, n*k)
		p.Unpack(back)
		for i := range w {
			if back[i] != w[i] {
				t.Fatalf("(%d,%d): Unpack [%d] = %v, want %v", n, k, i, back[i], w[i])
			}
		}
	}
}

// TestPackVariants checks every variant's Pack and PackT against the Go
// twins' bits, on the attention kernel's shapes (K of one head: L rows of 32,
// and Vᵀ: 32 columns of L rows, both with row stride 3·384) and ragged ones,
// the source ending exactly where its last row does, each into a PackedW
// that held a larger matrix before.
func TestPackVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, c := range []struct {
		name   string
		twin   func(p *PackedW, src []float32, ld, n, k int)
		packed func(v Variant, p *PackedW, src []float32, ld, n, k int)
		srcLen func(ld, n, k int) int
		shapes [][3]int // n, k, ld
	}{
		{"Pack", (*PackedW).Pack, Variant.Pack, func(ld, n, k int) int { return (n-1)*ld + k },
			[][3]int{{87, 32, 1152}, {512, 32, 1152}, {1, 32, 1152}, {17, 5, 9}, {16, 1, 1}, {33, 40, 40}, {3, 0, 7}, {0, 4, 4}}},
		{"PackT", (*PackedW).PackT, Variant.PackT, func(ld, n, k int) int { return (k-1)*ld + n },
			[][3]int{{32, 87, 1152}, {32, 512, 1152}, {32, 1, 1152}, {17, 5, 20}, {16, 1, 16}, {40, 33, 40}, {5, 3, 7}, {0, 4, 4}, {3, 0, 3}}},
		{"PackTBF16", (*PackedW).PackTBF16, Variant.PackTBF16, func(ld, n, k int) int { return (k-1)*ld + n },
			[][3]int{{32, 87, 1152}, {32, 88, 1152}, {32, 1, 1152}, {32, 2, 32}, {17, 5, 20}, {16, 1, 16}, {40, 33, 40}, {5, 3, 7}, {0, 4, 4}, {3, 0, 3}}},
	} {
		for _, v := range Variants() {
			t.Run(c.name+"/"+v.Name(), func(t *testing.T) {
				var got, want PackedW
				for _, s := range c.shapes {
					n, k, ld := s[0], s[1], s[2]
					big := randSlice(r, 48*48)
					got.Pack(big, 48, 48, 48)
					src := randSlice(r, max(0, c.srcLen(ld, n, k)))
					c.twin(&want, src, ld, n, k)
					c.packed(v, &got, src, ld, n, k)
					if got.N() != want.N() || got.K() != want.K() || got.pairs != want.pairs || len(got.data) != len(want.data) {
						t.Fatalf("(%d,%d,ld %d): packed as (%d,%d) with %d floats, want (%d,%d) with %d", n, k, ld, got.N(), got.K(), len(got.data), want.N(), want.K(), len(want.data))
					}
					for i := range want.data {
						if math.Float32bits(got.data[i]) != math.Float32bits(want.data[i]) {
							t.Fatalf("(%d,%d,ld %d): data[%d] = %v, want %v", n, k, ld, i, got.data[i], want.data[i])
						}
					}
				}
			})
		}
	}
}
