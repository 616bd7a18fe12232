package cpu

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
	"github.com/minilm-dev/minilm/kernels/optest"
)

func newBackend(tb testing.TB, threads int) *Backend {
	tb.Helper()
	be, err := New(threads)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { be.Close() })
	return be
}

// TestOps runs the conformance suite on every vector-kernel variant this CPU
// has (simd's Go twins included) with thread counts that split work evenly,
// unevenly, and not at all.
func TestOps(t *testing.T) {
	for _, v := range simd.Variants() {
		for _, threads := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", v.Name(), threads), func(t *testing.T) {
				be := newVariant(threads, v)
				t.Cleanup(func() { be.Close() })
				optest.Run(t, be)
			})
		}
	}
}

func BenchmarkOps(b *testing.B) {
	b.Run("cpu", func(b *testing.B) { optest.Bench(b, newBackend(b, 0)) })
}

// BenchmarkMatMul times the model's four GEMMs for a batch of 5568 tokens
// (64 pairs of 87 tokens, the bench set's mean), with their bias and, for the
// FFN up-projection, the fused GELU, on 1 and 2 threads, in GFLOP/s
// (2·M·N·K per op). The single-core ceiling is simd's BenchmarkKernelPeak;
// run both side by side:
//
//	go test -run '^$' -bench 'MatMul|KernelPeak' ./kernels/cpu/ ./kernels/cpu/internal/simd/
func BenchmarkMatMul(b *testing.B) {
	const m = 5568
	for _, threads := range []int{1, 2} {
		be := newBackend(b, threads)
		for _, s := range []struct {
			n, k int
			act  bool
		}{{1152, 384, false}, {384, 384, false}, {1536, 384, true}, {384, 1536, false}} {
			name := fmt.Sprintf("threads=%d/M=%d,K=%d,N=%d,bias", threads, m, s.k, s.n)
			if s.act {
				name += ",gelu"
			}
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				x, _ := be.Alloc(m * s.k)
				out, _ := be.Alloc(m * s.n)
				bias, _ := be.Alloc(s.n)
				w, err := be.Weight(randSlice(r, s.n*s.k, 1), s.n, s.k)
				if err != nil {
					b.Fatal(err)
				}
				if err := be.Upload(x, randSlice(r, m*s.k, 1)); err != nil {
					b.Fatal(err)
				}
				op := kernels.MatMul{Out: out, X: x, W: w, Bias: bias, M: m, N: s.n, K: s.k, GELU: s.act}
				for b.Loop() {
					if err := be.Run(context.Background(), op); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(2*float64(m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkAttention times the attention op of MiniLM-L6 (12 heads of 32)
// for one pair and for 64 pairs of 87 tokens (the bench set's mean) and for
// one 512-token sequence, on 1 and 2 threads, in GFLOP/s of its two
// products (4·L²·HD per head).
//
//	go test -run '^$' -bench Attention ./kernels/cpu/
func BenchmarkAttention(b *testing.B) {
	const nh, hd = 12, 32
	for _, threads := range []int{1, 2} {
		be := newBackend(b, threads)
		for _, s := range []struct{ seqs, l int }{{1, 87}, {64, 87}, {1, 512}} {
			b.Run(fmt.Sprintf("threads=%d/seqs=%d,L=%d", threads, s.seqs, s.l), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				t := s.seqs * s.l
				qkv, _ := be.Alloc(t * 3 * nh * hd)
				out, _ := be.Alloc(t * nh * hd)
				if err := be.Upload(qkv, randSlice(r, t*3*nh*hd, 1)); err != nil {
					b.Fatal(err)
				}
				cu := make([]int32, s.seqs+1)
				for i := range cu {
					cu[i] = int32(i * s.l)
				}
				op := kernels.Attention{Out: out, QKV: qkv, Seqs: cu, NH: nh, HD: hd, Scale: 0.17677669}
				for b.Loop() {
					if err := be.Run(context.Background(), op); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(4*float64(s.seqs*s.l*s.l*hd*nh)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestNewClose: threads ≤ 0 means one per CPU, and a closed backend refuses
// work instead of sending to its stopped workers.
func TestNewClose(t *testing.T) {
	be, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	if be.Threads() != runtime.NumCPU() {
		t.Errorf("New(0).Threads() = %d, want runtime.NumCPU() = %d", be.Threads(), runtime.NumCPU())
	}
	x, _ := be.Alloc(4)
	if err := be.Close(); err != nil {
		t.Fatal(err)
	}
	if err := be.Run(context.Background(), kernels.GELU{Out: x, X: x, N: 4}); err == nil {
		t.Error("Run after Close succeeded")
	}
	if _, err := be.Weight([]float32{1}, 1, 1); err == nil {
		t.Error("Weight after Close succeeded")
	}
	if err := be.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestWrap(t *testing.T) {
	be, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	host := []float32{1, 2, 3}
	w, err := be.Wrap(host)
	if err != nil {
		t.Fatal(err)
	}
	host[1] = 5 // the Buf reads host in place, not a copy
	got := make([]float32, 3)
	if err := be.Download(got, w); err != nil {
		t.Fatal(err)
	}
	if got[1] != 5 {
		t.Fatalf("Wrap copied its input: got %v", got)
	}
	if err := be.Upload(w, []float32{0}); err == nil {
		t.Fatal("Upload into a wrapped buffer succeeded")
	}
	// An op may read a wrapped buffer but not write it: it may be a
	// read-only mapping, where the write would fault.
	x, err := be.Alloc(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Run(context.Background(), kernels.GELU{Out: x, X: w, N: 3}); err != nil {
		t.Errorf("GELU reading a wrapped buffer: %v", err)
	}
	if err := be.Run(context.Background(), kernels.GELU{Out: w, X: x, N: 3}); !errors.Is(err, kernels.ErrInvalidOp) {
		t.Errorf("GELU writing a wrapped buffer: err = %v, want kernels.ErrInvalidOp", err)
	}
}
