package simd

// impl is one kernel variant (Go twins, AVX2, AVX-512, NEON); best() and
// impls(), per architecture, say which ones this CPU runs.
type impl struct {
	name string
	kind implKind
	nr   int  // columns of out per microkernel call: 16 or 32
	bf16 bool // the bf16 GEMM runs VDPBF16PS (kernelBF16)
	zmm  bool // the GELU tile, softmax and LayerNorm run their 512-bit forms (same bits)
}

// xBlockBytes bounds the block of X rows a task keeps hot (about a quarter of
// a 1 MiB L2, leaving room for one or two weight panels and the output).
const xBlockBytes = 256 << 10

// kBlock is the K block of one microkernel call: a 16-wide weight panel
// block (16 KiB) and six X row pieces (6 KiB) stay in a 32 KiB L1. The block
// boundaries are fixed multiples of the variant's block (impl.kBlock),
// whatever M and the tiling, and the sums carry across them exactly (see
// kernelGeneric), so the block size changes no result.
const kBlock = 256

// kBlockWide is the AVX-512 kernels' K block: the hidden size of the MiniLM
// models, so that the Q/K/V, attention-output and FFN-in GEMMs make one call
// per tile with no accumulator store and reload, and K = 1536 four. The
// 32-wide kernels' two-panel block (48 KiB) then streams from L2 at a third
// of its bandwidth rather than staying in L1, and the whole process measured
// 0.935× the time of kBlock's (Zen 5). The 16-wide kernels keep kBlock,
// measured on a 32 KiB-L1 AVX2 machine, where 384 would overflow L1.
const kBlockWide = 384

// kBlock is the variant's K block.
func (im impl) kBlock() int {
	if im.nr == 2*panelW {
		return kBlockWide
	}
	return kBlock
}

// maxMC caps the rows of an M block, so that a small K still gives several
// M blocks to share out.
const maxMC = 240

// minTasks is how many tasks Gemm aims for, so that two to four workers stay
// balanced even when M is small: the task count is a multiple of it while
// the M blocks alone are fewer (9 tasks on 2 workers would leave one idle
// for a ninth of the time).
const minTasks = 8

// Variant is one set of kernels: the Go twins ("generic"), "avx2",
// "avx512" or "neon". The package-level functions use Best(); a backend that
// wants to pin or test a variant holds one. Every variant of Gemm and GELU
// returns the same bits; Dot and Axpy may differ in the last place.
type Variant struct{ im impl }

// Best is the fastest variant this CPU runs.
func Best() Variant { return Variant{best()} }

// Variants lists every variant this CPU runs, the Go twins first.
func Variants() []Variant {
	var vs []Variant
	for _, im := range impls() {
		vs = append(vs, Variant{im})
	}
	return vs
}

// Name is the variant's name, for logs and test names.
func (v Variant) Name() string { return v.im.name }

// Describe is the name with what was chosen at run time, for `minilm info`.
func (v Variant) Describe() string {
	if v.im.kind == kindGeneric {
		return v.im.name + " (Go, no vector kernels for this CPU)"
	}
	if !v.im.wide() {
		return v.im.name
	}
	if v.im.zmm {
		return v.im.name + " (GELU, softmax, LayerNorm 512-bit: measured faster here)"
	}
	return v.im.name + " (GELU, softmax, LayerNorm 256-bit: 512-bit measured no faster here)"
}

// Gemm computes, for m < M and n < N = w.N(),
//
//	out[m·ldo + n] = act(Σ_k x[m·ldx + k]·W[n,k] + bias[n])
//
// with act the exact GELU when gelu is set, the identity otherwise; bias may
// be nil. The work is cut into tasks over M×N tiles and run through par, which
// must call fn(0), …, fn(tasks-1), possibly concurrently, and return when all
// are done; a nil par runs them on the calling goroutine (for callers that
// are themselves one task of a parallel loop). out must not overlap x. Each
// element is computed the same way wherever it lies (see the package
// comment). Gemm panics if a slice is too short for the shapes, like an
// out-of-range index.
func (v Variant) Gemm(out []float32, ldo int, x []float32, ldx int, m int, w *PackedW, bias []float32, gelu bool, par func(tasks int, fn func(task int))) {
	v.im.gemm(out, ldo, x, ldx, m, w, bias, gelu, par)
}

// Dot returns Σ a[i]·b[i] for i < len(a); b must be at least as long.
func (v Variant) Dot(a, b []float32) float32 { return v.im.dot(a, b) }

// Axpy computes y[i] += alpha·x[i] for i < len(x); y must be at least as long.
func (v Variant) Axpy(alpha float32, x, y []float32) { v.im.axpy(alpha, x, y) }

// GELU computes dst[i] = src[i]/2·(1 + erf(src[i]/√2)) for i < len(dst); src
// must be at least as long and may be dst. The float32 erf used is within 7e-8
// of math.Erf (TestGELUAccuracy measures it).
func (v Variant) GELU(dst, src []float32) { v.im.gelu(dst, src) }

// Gemm is Best().Gemm.
func Gemm(out []float32, ldo int, x []float32, ldx int, m int, w *PackedW, bias []float32, gelu bool, par func(tasks int, fn func(task int))) {
	best().gemm(out, ldo, x, ldx, m, w, bias, gelu, par)
}

// Dot is Best().Dot.
func Dot(a, b []float32) float32 { return best().dot(a, b) }

// Axpy is Best().Axpy.
func Axpy(alpha float32, x, y []float32) { best().axpy(alpha, x, y) }

// ExpSum sets x[i] = exp(scale·x[i] - sub), the product and difference
// rounded once (a fused multiply-add), for i < len(x), and returns the sum of
// the new x: softmax's numerators and denominator. exp is within 2 float32
// ulps of math.Exp on [-87, 88] (TestExpAccuracy) and clamps its argument to
// that range. Every variant returns the same bits.
func (v Variant) ExpSum(x []float32, scale, sub float32) float32 { return v.im.expSum(x, scale, sub) }

// Max returns the largest x[i] (NaNs are skipped; -Inf for an empty x). It is
// exact, so every variant returns the same value.
func (v Variant) Max(x []float32) float32 { return v.im.max(x) }

// Max is Best().Max.
func Max(x []float32) float32 { return best().max(x) }

// ExpSum is Best().ExpSum.
func ExpSum(x []float32, scale, sub float32) float32 { return best().expSum(x, scale, sub) }

// GELU is Best().GELU.
func GELU(dst, src []float32) { best().gelu(dst, src) }

// gemmPlan is the tiling of one Gemm call.
type gemmPlan struct {
	m, n, k        int
	mc             int // rows per M block, a multiple of mr
	groups         int // microkernel column groups of nr columns
	gc             int // groups per N block
	mBlocks, nBlks int
}

// plan tiles an (m,n,k) Gemm whose kernel runs span column groups at once
// (2 for the 6×64 bf16 kernel, else 1): the groups per task are a multiple
// of span, or a task would run its odd group on the narrower kernel.
func (im impl) plan(m, n, k, span int) gemmPlan {
	p := gemmPlan{m: m, n: n, k: k}
	p.mc = min(maxMC, max(mr, xBlockBytes/(4*max(k, 1))/mr*mr))
	p.mBlocks = (m + p.mc - 1) / p.mc
	// Spread rows evenly over the blocks, keeping whole row groups.
	p.mc = ((m+p.mBlocks-1)/p.mBlocks + mr - 1) / mr * mr
	p.groups = (n + im.nr - 1) / im.nr
	p.nBlks = 1
	if p.mBlocks < minTasks {
		p.nBlks = minTasks / gcd(p.mBlocks, minTasks)
	}
	p.nBlks = min(p.groups, p.nBlks)
	p.gc = (p.groups + p.nBlks - 1) / p.nBlks
	p.gc = (p.gc + span - 1) / span * span
	p.nBlks = (p.groups + p.gc - 1) / p.gc
	return p
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (im impl) gemm(out []float32, ldo int, x []float32, ldx int, m int, w *PackedW, bias []float32, gelu bool, par func(tasks int, fn func(task int))) {
	im.gemmWords(out, ldo, x, ldx, m, w, bias, gelu, nil, 0, par)
}

// gemmWords is gemm that, where words is not nil, also rounds the result's
// first min(N, 2·ldw) columns into words (GemmBF16Words).
func (im impl) gemmWords(out []float32, ldo int, x []float32, ldx int, m int, w *PackedW, bias []float32, gelu bool, words []uint32, ldw int, par func(tasks int, fn func(task int))) {
	n, k := w.n, w.k
	if m <= 0 || n == 0 {
		return
	}
	wc := min(n, 2*ldw) // columns rounded into words
	if (out != nil && (len(out) < (m-1)*ldo+n || ldo < n)) || (out == nil && (words == nil || wc < n || k == 0)) ||
		len(x) < (m-1)*ldx+k || ldx < k || (bias != nil && len(bias) < n) ||
		(words != nil && (ldw < 1 || len(words) < (m-1)*ldw+(wc+1)/2)) {
		panic("simd: Gemm: slice too short or stride too small for the shapes")
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := out[i*ldo : i*ldo+n]
			clear(row)
			if bias != nil {
				for j, b := range bias[:n] {
					row[j] += b // 0 + b, as the kernels round it
				}
			}
			if gelu {
				im.gelu(row, row)
			}
		}
		if words != nil {
			im.bf16Rows(words, ldw, out, ldo, m, wc)
		}
		return
	}
	span := 1
	if w.pairs && im.bf16 {
		span = 2 // kernelBF16Wide
	}
	if par == nil {
		p := im.plan(m, n, k, span) // stays on the stack: no closure takes it
		for task := range p.mBlocks * p.nBlks {
			im.gemmTask(&p, task, out, ldo, x, ldx, w, bias, gelu, words, ldw, wc)
		}
		return
	}
	p := im.plan(m, n, k, span)
	par(p.mBlocks*p.nBlks, func(task int) {
		im.gemmTask(&p, task, out, ldo, x, ldx, w, bias, gelu, words, ldw, wc)
	})
}

// gemmTask computes the tile of out numbered task: rows of M block
// task/nBlks, column groups of N block task%nBlks. Loops, outer to inner:
// column group (two at once for a 6×64 kernel), K block, row group (all the
// whole ones in one call for a multiRow kernel), so that one K block of a
// group's weight panels stays near while the block's X rows (in L2) stream
// past it. Edge tiles (rows past M or columns past N) go through a one-tile
// scratch, all their K blocks in a row; the order of the K blocks, hence
// every sum, is the same either way.
func (im impl) gemmTask(p *gemmPlan, task int, out []float32, ldo int, x []float32, ldx int, w *PackedW, bias []float32, gelu bool, words []uint32, ldw, wc int) {
	nr := im.nr
	m0 := task / p.nBlks * p.mc
	m1 := min(m0+p.mc, p.m)
	g0 := task % p.nBlks * p.gc
	g1 := min(g0+p.gc, p.groups)
	var (
		t    tileArgs
		tile [mr * 4 * panelW]float32 // an edge tile, ldo = nr; or with out nil a row group's tile
		bscr [2 * panelW]float32      // bias of an edge tile, zero padded
	)
	t.pstep = panelW * p.k
	kbs := im.kBlock()
	for g := g0; g < g1; g++ {
		n0 := g * nr
		nv := min(nr, p.n-n0)
		// Two whole column groups at once where the kernel has a form twice
		// as wide (the same sums); edge rows still go a group at a time.
		span := 1
		if w.pairs && im.bf16 && g+1 < g1 && n0+2*nr <= p.n {
			span = 2
		}
		var b *float32
		if bias != nil {
			if nv == nr {
				b = &bias[n0]
			} else {
				clear(bscr[:])
				copy(bscr[:], bias[n0:p.n])
				b = &bscr[0]
			}
		}
		if out == nil {
			// Only the pairs are wanted: each row group's tile is finished
			// in the scratch, then rounded into words.
			ld, cols := span*nr, nv+(span-1)*nr
			for r0 := m0; r0 < m1; r0 += mr {
				mv := min(mr, m1-r0)
				im.rowGroup(p, w, x, ldx, n0, r0, mv, span, b, tile[:], ld)
				if gelu {
					im.geluTile(tile[:], ld, mv, cols)
				}
				im.bf16Rows(words[r0*ldw+n0/2:], ldw, tile[:], ld, mv, cols)
			}
			g += span - 1
			continue
		}
		// Rows [m0, full) are whole row groups of whole column groups.
		full := m0 + (m1-m0)/mr*mr
		if nv < nr {
			full = m0
		}
		for kb := 0; kb < p.k; kb += kbs {
			setK(&t, p, w, n0, kb, kbs)
			if kb+t.k == p.k {
				t.bias = b
			}
			if im.multiRow(w.pairs) && full > m0 {
				// One call for all the whole row groups.
				for i := range t.x {
					t.x[i] = &x[m0*ldx+i*ldx+kb]
				}
				t.out, t.ldo = &out[m0*ldo+n0], ldo
				t.groups, t.ldx = (full-m0)/mr, ldx
				if span == 2 {
					im.kernelBF16Wide(&t)
				} else {
					im.tile(&t, w.pairs)
				}
				t.groups = 1
				continue
			}
			for r0 := m0; r0 < full; r0 += mr {
				for i := range t.x {
					t.x[i] = &x[r0*ldx+i*ldx+kb]
				}
				t.out, t.ldo = &out[r0*ldo+n0], ldo
				im.tile(&t, w.pairs)
			}
		}
		for gg := g; gg < g+span; gg++ {
			if gg > g {
				n0 = gg * nr // a second group is whole: its bias is in place
				if bias != nil {
					b = &bias[n0]
				}
			}
			for r0 := full; r0 < m1; r0 += mr {
				mv := min(mr, m1-r0)
				im.rowGroup(p, w, x, ldx, n0, r0, mv, 1, b, tile[:], nr)
				for i := 0; i < mv; i++ {
					copy(out[(r0+i)*ldo+n0:(r0+i)*ldo+n0+nv], tile[i*nr:i*nr+nv])
				}
			}
		}
		if gelu {
			// The groups' finished columns for all the block's rows, while
			// they are still in L1/L2: one vector call per call of the kernel.
			im.geluTile(out[m0*ldo+g*nr:], ldo, m1-m0, nv+(span-1)*nr)
		}
		if c0 := g * nr; words != nil && c0 < wc {
			// The same finished block, rounded while it is still near: its
			// first column is even, so its pairs are the whole row's.
			im.bf16Rows(words[m0*ldw+c0/2:], ldw, out[m0*ldo+c0:], ldo, m1-m0, min(nv+(span-1)*nr, wc-c0))
		}
		g += span - 1
	}
}

// rowGroup computes one row group (rows r0 on, mv ≤ mr of them, the last
// repeated past M) of span column groups from n0, all its K blocks, into
// tile (row stride ld), bias b added: gemmTask's edge rows, and every row
// group when only the bf16 pairs of the result are wanted.
func (im impl) rowGroup(p *gemmPlan, w *PackedW, x []float32, ldx, n0, r0, mv, span int, b *float32, tile []float32, ld int) {
	var t tileArgs // its own: what a parameter's fields point at escapes
	t.pstep, t.groups = panelW*p.k, 1
	kbs := im.kBlock()
	for kb := 0; kb < p.k; kb += kbs {
		setK(&t, p, w, n0, kb, kbs)
		if kb+t.k == p.k {
			t.bias = b
		}
		for i := range t.x {
			t.x[i] = &x[(r0+min(i, mv-1))*ldx+kb]
		}
		t.out, t.ldo = &tile[0], ld
		if span == 2 {
			im.kernelBF16Wide(&t)
		} else {
			im.tile(&t, w.pairs)
		}
	}
}

// tile runs the microkernel on t: the bf16 one for a PackBF16 weight.
func (im impl) tile(t *tileArgs, pairs bool) {
	if pairs {
		im.kernelBF16(t)
		return
	}
	im.kernel(t)
}

// setK points t at the K block of kbs starting at kb, in column group n0,
// without the bias (which only the last K block adds; the caller sets it, so
// that an edge tile's padded bias can stay on the stack).
func setK(t *tileArgs, p *gemmPlan, w *PackedW, n0, kb, kbs int) {
	t.k = min(kbs, p.k-kb)
	t.w = &w.data[n0*p.k+kb*panelW]
	t.accum = min(kb, 1)
	t.bias = nil
}
