//go:build !purego

package simd

type implKind uint8

const (
	kindGeneric implKind = iota
	kindNEON
)

func makeImpl(k implKind) impl {
	if k == kindNEON {
		return impl{name: "neon", kind: k, nr: panelW}
	}
	return impl{name: "generic", kind: kindGeneric, nr: panelW}
}

// best is the fastest variant: NEON is part of every arm64 CPU.
func best() impl { return makeImpl(kindNEON) }

// impls lists every variant this CPU runs, the Go twins first.
func impls() []impl { return []impl{makeImpl(kindGeneric), makeImpl(kindNEON)} }

// gemm6x16NEON is kernelGeneric(t, 16) with 24 Q-register accumulators.
//
//go:noescape
func gemm6x16NEON(t *tileArgs)

func (im impl) kernel(t *tileArgs) {
	if im.kind == kindNEON {
		gemm6x16NEON(t)
		return
	}
	kernelGeneric(t, im.nr)
}

// The element-wise helpers have no NEON version yet; every arm64 variant uses
// the Go twins for them.

func (im impl) gelu(dst, src []float32)            { geluGeneric(dst, src) }
func (im impl) dot(a, b []float32) float32         { return dotGeneric(a, b) }
func (im impl) axpy(alpha float32, x, y []float32) { axpyGeneric(alpha, x, y) }
