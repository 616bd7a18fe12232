//go:build !purego

package simd

import (
	"math"
	"sync"
	"time"
)

// zmmFaster reports whether this CPU runs the 512-bit forms of the vector
// helpers faster than the 256-bit ones. They give the same bits, so only
// speed is at stake, and that depends on the core, not on the instruction
// set: Zen 4 splits each ZMM instruction into two YMM halves (no gain), Zen 5
// and Intel's server cores run it whole (about twice the rate). So it is
// measured, once per process: the GELU tile, compute bound like softmax's
// exponentials, timed both ways on the same values (about 0.2 ms in all).
var zmmFaster = sync.OnceValue(func() bool {
	if !hasAVX512() {
		return false
	}
	ymm, zmm := timeGELUTiles()
	return preferZMM(ymm, zmm)
})

// preferZMM is the decision on the two best times: the 512-bit form only
// when it is clearly faster, so that a tie (Zen 4) keeps the narrower one.
func preferZMM(ymm, zmm time.Duration) bool { return zmm*10 < ymm*9 }

// timeGELUTiles returns the best of several timings of geluTileAVX2 and
// geluTileAVX512 on one (32,384) tile, interleaved, after a warm-up of each
// (Intel cores run the first ZMM instructions of a burst at reduced rate).
func timeGELUTiles() (ymm, zmm time.Duration) {
	const rows, cols, trials = 32, 384, 7
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = float32(i%97-48) / 16 // [-3, 3]: every interval of the erf table
	}
	buf := make([]float32, len(src))
	run := func(f func(out *float32, ldo, rows, cols int)) time.Duration {
		copy(buf, src)
		start := time.Now()
		f(&buf[0], cols, rows, cols)
		return time.Since(start)
	}
	run(geluTileAVX2)
	run(geluTileAVX512)
	ymm, zmm = math.MaxInt64, math.MaxInt64
	for range trials {
		ymm = min(ymm, run(geluTileAVX2))
		zmm = min(zmm, run(geluTileAVX512))
	}
	return ymm, zmm
}
