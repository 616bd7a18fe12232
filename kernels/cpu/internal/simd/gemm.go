package simd

// impl is one kernel variant (Go twins, AVX2, AVX-512, NEON). The public
// functions use best(); tests build every variant the machine can run with
// impls() and call its methods directly.
type impl struct {
	name string
	kind implKind
	nr   int // columns of out per microkernel call: 16 or 32
}

// xBlockBytes bounds the block of X rows a task keeps hot (about a quarter of
// a 1 MiB L2, leaving room for one or two weight panels and the output).
const xBlockBytes = 256 << 10

// kBlock is the K block of one microkernel call: a 16-wide weight panel
// block (16 KiB) and six X row pieces (6 KiB) stay in a 32 KiB L1. The block
// boundaries are fixed multiples of kBlock, whatever M and the tiling, and
// the sums carry across them exactly (see kernelGeneric).
const kBlock = 256

// maxMC caps the rows of an M block, which bounds the stack scratch that
// holds its edge tiles across K blocks.
const maxMC = 240

// minTasks is how many tasks Gemm aims for, so that two to four workers stay
// balanced even when M is small.
const minTasks = 8

// Gemm computes, for m < M and n < N = w.N(),
//
//	out[m·ldo + n] = act(Σ_k x[m·ldx + k]·W[n,k] + bias[n])
//
// with act the exact GELU when gelu is set, the identity otherwise; bias may
// be nil. The work is cut into tasks over M×N tiles and run through par, which
// must call fn(0), …, fn(tasks-1), possibly concurrently, and return when all
// are done. out must not overlap x. Each element is computed the same way
// wherever it lies (see the package comment). Gemm panics if a slice is too
// short for the shapes, like an out-of-range index.
func Gemm(out []float32, ldo int, x []float32, ldx int, m int, w *PackedW, bias []float32, gelu bool, par func(tasks int, fn func(task int))) {
	best().gemm(out, ldo, x, ldx, m, w, bias, gelu, par)
}

// Dot returns Σ a[i]·b[i] for i < len(a); b must be at least as long.
func Dot(a, b []float32) float32 { return best().dot(a, b) }

// Axpy computes y[i] += alpha·x[i] for i < len(x); y must be at least as long.
func Axpy(alpha float32, x, y []float32) { best().axpy(alpha, x, y) }

// GELU computes dst[i] = src[i]/2·(1 + erf(src[i]/√2)) for i < len(dst); src
// must be at least as long and may be dst. The float32 erf used is within 7e-8
// of math.Erf (TestGELUAccuracy measures it) and every variant returns the
// same bits.
func GELU(dst, src []float32) { best().gelu(dst, src) }

// gemmPlan is the tiling of one Gemm call.
type gemmPlan struct {
	m, n, k        int
	mc             int // rows per M block, a multiple of mr
	groups         int // microkernel column groups of nr columns
	gc             int // groups per N block
	mBlocks, nBlks int
}

func (im impl) plan(m, n, k int) gemmPlan {
	p := gemmPlan{m: m, n: n, k: k}
	p.mc = min(maxMC, max(mr, xBlockBytes/(4*max(k, 1))/mr*mr))
	p.mBlocks = (m + p.mc - 1) / p.mc
	// Spread rows evenly over the blocks, keeping whole row groups.
	p.mc = ((m+p.mBlocks-1)/p.mBlocks + mr - 1) / mr * mr
	p.groups = (n + im.nr - 1) / im.nr
	p.nBlks = min(p.groups, (minTasks+p.mBlocks-1)/p.mBlocks)
	p.gc = (p.groups + p.nBlks - 1) / p.nBlks
	p.nBlks = (p.groups + p.gc - 1) / p.gc
	return p
}

func (im impl) gemm(out []float32, ldo int, x []float32, ldx int, m int, w *PackedW, bias []float32, gelu bool, par func(tasks int, fn func(task int))) {
	n, k := w.n, w.k
	if m <= 0 || n == 0 {
		return
	}
	if len(out) < (m-1)*ldo+n || ldo < n || len(x) < (m-1)*ldx+k || ldx < k || (bias != nil && len(bias) < n) {
		panic("simd: Gemm: slice too short or stride too small for the shapes")
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := out[i*ldo : i*ldo+n]
			if bias != nil {
				copy(row, bias[:n])
			} else {
				clear(row)
			}
			if gelu {
				im.gelu(row, row)
			}
		}
		return
	}
	p := im.plan(m, n, k)
	par(p.mBlocks*p.nBlks, func(task int) {
		im.gemmTask(&p, task, out, ldo, x, ldx, w, bias, gelu)
	})
}

// gemmTask computes the tile of out numbered task: rows of M block
// task/nBlks, column groups of N block task%nBlks. Loops, outer to inner:
// column group, K block, row group, so that one K block of a group's weight
// panels stays in L1 while the block's X rows (in L2) stream past it.
func (im impl) gemmTask(p *gemmPlan, task int, out []float32, ldo int, x []float32, ldx int, w *PackedW, bias []float32, gelu bool) {
	nr := im.nr
	m0 := task / p.nBlks * p.mc
	m1 := min(m0+p.mc, p.m)
	g0 := task % p.nBlks * p.gc
	g1 := min(g0+p.gc, p.groups)
	var (
		t tileArgs
		// Edge tiles (rows past M or columns past N) of the M block, ldo =
		// nr; they hold the partial sums between K blocks.
		scratch [maxMC * 2 * panelW]float32
		bscr    [2 * panelW]float32 // bias of an edge tile, zero padded
	)
	t.pstep = panelW * p.k
	for g := g0; g < g1; g++ {
		n0 := g * nr
		nv := min(nr, p.n-n0)
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
		for kb := 0; kb < p.k; kb += kBlock {
			t.k = min(kBlock, p.k-kb)
			t.w = &w.data[n0*p.k+kb*panelW]
			t.accum = min(kb, 1)
			t.bias = nil
			if kb+t.k == p.k {
				t.bias = b
			}
			for r0 := m0; r0 < m1; r0 += mr {
				mv := min(mr, m1-r0)
				for i := range t.x {
					t.x[i] = &x[(r0+min(i, mv-1))*ldx+kb]
				}
				if mv < mr || nv < nr {
					t.out, t.ldo = &scratch[(r0-m0)*nr], nr
				} else {
					t.out, t.ldo = &out[r0*ldo+n0], ldo
				}
				im.kernel(&t)
			}
		}
		for r0 := m0; r0 < m1; r0 += mr {
			if mv := min(mr, m1-r0); mv < mr || nv < nr {
				for i := 0; i < mv; i++ {
					copy(out[(r0+i)*ldo+n0:(r0+i)*ldo+n0+nv], scratch[(r0-m0+i)*nr:(r0-m0+i)*nr+nv])
				}
			}
		}
	}
	if gelu {
		// Once per row of the task's tile rather than per microkernel tile:
		// the call overhead of 16-wide pieces would cost more than the
		// tile staying in L1 saves.
		n0, n1 := g0*nr, min(g1*nr, p.n)
		for r := m0; r < m1; r++ {
			row := out[r*ldo+n0 : r*ldo+n1]
			im.gelu(row, row)
		}
	}
}
