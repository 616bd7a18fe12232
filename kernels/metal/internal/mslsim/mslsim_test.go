package mslsim

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planted is a library of kernels the executor must run correctly or reject
// the way a GPU would misbehave: one per rule it enforces.
const planted = `#include <metal_stdlib>
using namespace metal;

// neighbour: out[i] = i+1 mod n, read through threadgroup memory. With the
// barrier removed (missing_barrier), threads read poisoned (NaN) slots.
kernel void neighbour(device float* out [[buffer(0)]],
    uint tid [[thread_index_in_threadgroup]], uint n [[threads_per_threadgroup]]) {
    threadgroup float t[64];
    t[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[tid] = t[(tid + 1) % n];
}

kernel void missing_barrier(device float* out [[buffer(0)]],
    uint tid [[thread_index_in_threadgroup]], uint n [[threads_per_threadgroup]]) {
    threadgroup float t[64];
    t[tid] = float(tid);
    out[tid] = t[(tid + 1) % n];
}

kernel void too_much_tg_memory(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float a[4096];
    threadgroup float b[4096];
    threadgroup float c[1];
    a[tid] = 1.0f;
    b[tid] = 1.0f;
    c[0] = 1.0f;
    out[tid] = a[tid] + b[tid];
}

kernel void divergent_barrier(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    if (tid < 16) {
        threadgroup_barrier(mem_flags::mem_threadgroup);
    } else {
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    out[tid] = 1.0f;
}

kernel void early_return(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    if (tid == 3) {
        return;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[tid] = 1.0f;
}

kernel void divergent_simd(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    float v = 1.0f;
    if (tid % 2 == 0) {
        v = simd_sum(v);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[tid] = v;
}

// simd: lanes past 40 return first; the rest sum, take the max, and
// shuffle over the live lanes.
kernel void simd(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]],
    uint lane [[thread_index_in_simdgroup]]) {
    if (tid >= 40) {
        return;
    }
    out[3 * tid] = simd_sum(float(tid));
    out[3 * tid + 1] = simd_max(float(tid));
    out[3 * tid + 2] = simd_shuffle_xor(float(tid), ushort(1));
}

// matmul8: c = a·bᵀ for 8×8 matrices with b stored row-major (n-major), via
// a transposed simdgroup load, as matmul_f32 does.
kernel void matmul8(device const float* a [[buffer(0)]], device const float* b [[buffer(1)]],
    device float* c [[buffer(2)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float as[64];
    threadgroup float bs[64];
    as[tid] = a[tid];
    bs[tid] = b[tid];
    as[tid + 32] = a[tid + 32];
    bs[tid + 32] = b[tid + 32];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    simdgroup_float8x8 x, y, z = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);
    simdgroup_load(x, as, 8);
    simdgroup_load(y, bs, 8, ulong2(0, 0), true);
    simdgroup_multiply_accumulate(z, x, y, z);
    simdgroup_store(z, c, 8);
}

kernel void write_past_end(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]],
    uint n [[threads_per_threadgroup]]) {
    out[tid + n] = 1.0f;
}
`

// build compiles the planted library once per content hash, in the user
// cache directory the metal backend uses too.
func build(t *testing.T) *Program {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = t.TempDir()
	}
	p, err := Build(context.Background(), filepath.Join(dir, "minilm", "mslsim"), []byte(planted))
	if errors.Is(err, ErrNoCompiler) {
		t.Skipf("skipping the MSL simulator: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func floats(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func bytesOf(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

var orders = []Order{RoundRobin, Forward, Reverse, Shuffle}

// run1 runs one kernel on one threadgroup of threads threads with buffers
// bufs bound at indices 0, 1, ...
func run1(p *Program, o Order, kernel string, threads int, bufs ...[]byte) error {
	req := &Request{Order: o, Seed: 3, Bufs: bufs,
		Dispatches: []Dispatch{{Kernel: kernel, Groups: [3]int{1, 1, 1}, Threads: [3]int{threads, 1, 1}}}}
	for i := range bufs {
		req.Dispatches[0].Binds = append(req.Dispatches[0].Binds, Binding{Index: i, Buf: i})
	}
	return p.Run(context.Background(), req)
}

func TestBarrier(t *testing.T) {
	p := build(t)
	for _, o := range orders {
		out := make([]byte, 4*64)
		if err := run1(p, o, "neighbour", 64, out); err != nil {
			t.Fatalf("%v: %v", o, err)
		}
		for i, v := range floats(out) {
			if v != float32((i+1)%64) {
				t.Fatalf("%v: neighbour[%d] = %v, want %d", o, i, v, (i+1)%64)
			}
		}
		// Without the barrier some thread reads a slot not yet written:
		// thread 0 (or 63) runs first in every order and reads NaN.
		out = make([]byte, 4*64)
		if err := run1(p, o, "missing_barrier", 64, out); err != nil {
			t.Fatalf("%v: %v", o, err)
		}
		nan := false
		for _, v := range floats(out) {
			nan = nan || math.IsNaN(float64(v))
		}
		if !nan {
			t.Errorf("%v: a missing barrier read no NaN from poisoned threadgroup memory", o)
		}
	}
}

func TestRejects(t *testing.T) {
	p := build(t)
	for _, c := range []struct {
		kernel  string
		threads int
		want    string
	}{
		{"too_much_tg_memory", 32, "exceeds the 32 KiB limit"},
		{"neighbour", 1025, "Apple GPUs allow 1 to 1024"},
		{"divergent_barrier", 32, "different call sites"},
		{"early_return", 32, "returned while the others wait"},
		{"divergent_simd", 32, "deadlock"},
		{"matmul8", 48, "needs all 32 lanes"},
		{"write_past_end", 32, "wrote past the end"},
		{"no_such_kernel", 32, "no kernel named"},
	} {
		for _, o := range orders {
			bufs := [][]byte{make([]byte, 4*64), make([]byte, 4*64), make([]byte, 4*64)}
			if c.kernel == "write_past_end" {
				bufs = bufs[:1]
				bufs[0] = make([]byte, 4*c.threads)
			}
			err := run1(p, o, c.kernel, c.threads, bufs...)
			if err == nil || !errors.Is(err, ErrKernel) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s under %v: err = %v, want %q", c.kernel, o, err, c.want)
			}
		}
	}
}

func TestSIMD(t *testing.T) {
	p := build(t)
	for _, o := range orders {
		out := make([]byte, 4*3*64)
		if err := run1(p, o, "simd", 64, out); err != nil {
			t.Fatalf("%v: %v", o, err)
		}
		v := floats(out)
		for tid := 0; tid < 40; tid++ {
			// simdgroup 0 has lanes 0..31 live, simdgroup 1 lanes 32..39.
			sum, mx := float32(496), float32(31)
			if tid >= 32 {
				sum, mx = float32(32+33+34+35+36+37+38+39), 39
			}
			if v[3*tid] != sum || v[3*tid+1] != mx || v[3*tid+2] != float32(tid^1) {
				t.Fatalf("%v: lane %d: sum %v max %v xor %v; want %v %v %v", o, tid, v[3*tid], v[3*tid+1], v[3*tid+2], sum, mx, tid^1)
			}
		}
	}
}

func TestSimdgroupMatrix(t *testing.T) {
	p := build(t)
	a, b := make([]float32, 64), make([]float32, 64)
	for i := range a {
		a[i] = float32(i%7) - 3
		b[i] = float32(i%5) - 2
	}
	c := make([]byte, 4*64)
	if err := run1(p, Shuffle, "matmul8", 32, bytesOf(a), bytesOf(b), c); err != nil {
		t.Fatal(err)
	}
	got := floats(c)
	for i := 0; i < 8; i++ {
		for j := 0; j < 8; j++ {
			var want float32
			for k := 0; k < 8; k++ {
				want += a[8*i+k] * b[8*j+k]
			}
			if got[8*i+j] != want {
				t.Fatalf("c[%d,%d] = %v, want %v", i, j, got[8*i+j], want)
			}
		}
	}
}

func TestTranslateRejects(t *testing.T) {
	for _, src := range []string{
		"kernel void f(device float* x [[buffer(0)]]) {\n    threadgroup float s;\n}\n",
		"kernel void f(device float* x [[buffer(0)]], float4 v [[stage_in]]) {}\n",
		"kernel void f(device float* x) {}\n",
		"void f() {}\n",
	} {
		if _, _, err := Translate([]byte(src)); err == nil {
			t.Errorf("Translate accepted %q", src)
		}
	}
}
