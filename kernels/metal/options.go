package metal

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
)

// Options configures a Backend (New, NewWithOptions, NewSimulated). The zero
// value keeps everything in f32, exact to the reference.
type Options struct {
	// HalfWeights stores every MatMul weight made by Weight as IEEE half
	// (rounded to nearest, ties to even, once on the host), halving its
	// memory and the bandwidth the GEMM spends on it; MatMul then runs
	// matmul_f16w_f32, which widens each weight to f32 on load and keeps
	// f32 activations and accumulation. Results are those of the f32 GEMM
	// of the half-rounded weights, and Download of such a weight returns
	// them widened (Upload into one rounds the same way). Activations,
	// embeddings, LayerNorm parameters and biases stay f32.
	HalfWeights bool
}

// putHalves stores src as IEEE half, two bytes each. It fails on a finite
// value that rounds to infinity (|v| ≥ 65520), which the weight would
// otherwise silently become.
func putHalves(dst []byte, src []float32) error {
	for i, v := range src {
		h := float16.Fromfloat32(v)
		if h.IsInf(0) && !math.IsInf(float64(v), 0) {
			return fmt.Errorf("element %d = %g overflows half precision", i, v)
		}
		binary.LittleEndian.PutUint16(dst[2*i:], h.Bits())
	}
	return nil
}

// getHalves widens the IEEE halves in src into dst (exact).
func getHalves(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float16.Frombits(binary.LittleEndian.Uint16(src[2*i:])).Float32()
	}
}
