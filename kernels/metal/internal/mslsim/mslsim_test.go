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
// barrier removed (missing_barrier) or publishing no threadgroup memory
// (barrier_no_tg_flag), a thread reads a slot another wrote since the last
// qualifying barrier, or writes one another read.
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

kernel void barrier_no_tg_flag(device float* out [[buffer(0)]],
    uint tid [[thread_index_in_threadgroup]], uint n [[threads_per_threadgroup]]) {
    threadgroup float t[64];
    t[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_device);
    out[tid] = t[(tid + 1) % n];
}

// device_neighbour: like neighbour through device memory, which needs
// mem_device (device_no_flag has only mem_threadgroup).
kernel void device_neighbour(device float* out [[buffer(0)]],
    uint tid [[thread_index_in_threadgroup]], uint n [[threads_per_threadgroup]]) {
    out[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_device);
    const float v = out[(tid + 1) % n];
    threadgroup_barrier(mem_flags::mem_device);
    out[tid] = v;
}

kernel void device_no_flag(device float* out [[buffer(0)]],
    uint tid [[thread_index_in_threadgroup]], uint n [[threads_per_threadgroup]]) {
    out[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[n + tid] = out[(tid + 1) % n];
}

// tg_overrun reads one float past a threadgroup array.
kernel void tg_overrun(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float t[32];
    t[tid] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[tid] = t[tid + 1];
}

// Out-of-bounds device reads, at each end.
kernel void read_past_end(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
    uint tid [[thread_index_in_threadgroup]]) {
    out[tid] = in[tid + 1];
}

kernel void read_before_start(device const float* in [[buffer(0)]], device float* out [[buffer(1)]],
    uint tid [[thread_index_in_threadgroup]]) {
    out[tid] = *(in + tid - 1);
}

// Threadgroups of one dispatch sharing memory: both write out[tid], or
// one reads what the other writes.
kernel void groups_write(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    out[tid] = 1.0f;
}

kernel void groups_read(device float* out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]],
    uint g [[threadgroup_position_in_grid]]) {
    if (g == 0) {
        out[tid] = 1.0f;
    } else {
        out[32 + tid] = out[tid];
    }
}

// lane_pointers gives each lane its own pointer to simdgroup_load.
kernel void lane_pointers(device float* c [[buffer(0)]], uint tid [[thread_index_in_threadgroup]]) {
    threadgroup float as[128];
    as[tid] = 1.0f;
    as[tid + 32] = 1.0f;
    as[tid + 64] = 1.0f;
    as[tid + 96] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    simdgroup_float8x8 x;
    simdgroup_load(x, as + (tid % 2) * 64, 8);
    simdgroup_store(x, c, 8);
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
    if (tid < 32) {
        as[tid] = a[tid];
        bs[tid] = b[tid];
        as[tid + 32] = a[tid + 32];
        bs[tid + 32] = b[tid + 32];
    }
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
		out = make([]byte, 4*2*64)
		if err := run1(p, o, "device_neighbour", 64, out); err != nil {
			t.Fatalf("%v: %v", o, err)
		}
		for i, v := range floats(out)[:64] {
			if v != float32((i+1)%64) {
				t.Fatalf("%v: device_neighbour[%d] = %v, want %d", o, i, v, (i+1)%64)
			}
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
		{"write_past_end", 32, "writes 4 bytes past the end of buffer(0)"},
		{"missing_barrier", 64, "with no threadgroup_barrier(mem_flags::mem_threadgroup) between"},
		{"barrier_no_tg_flag", 64, "with no threadgroup_barrier(mem_flags::mem_threadgroup) between"},
		{"device_no_flag", 64, "with no threadgroup_barrier(mem_flags::mem_device) between"},
		{"tg_overrun", 32, "outside every threadgroup array"},
		{"read_past_end", 32, "reads 4 bytes past the end of buffer(0) at byte offset 128"},
		{"read_before_start", 32, "reads 4 bytes past the start of buffer(0) at byte offset -4"},
		{"lane_pointers", 32, "passes different arguments from lane 0"},
		{"no_such_kernel", 32, "no kernel named"},
	} {
		for _, o := range orders {
			bufs := [][]byte{make([]byte, 4*64), make([]byte, 4*64), make([]byte, 4*64)}
			switch c.kernel {
			case "write_past_end", "read_past_end", "read_before_start":
				bufs[0] = make([]byte, 4*c.threads)
			case "device_no_flag":
				bufs[0] = make([]byte, 4*2*c.threads)
			}
			err := run1(p, o, c.kernel, c.threads, bufs...)
			if err == nil || !errors.Is(err, ErrKernel) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s under %v: err = %v, want %q", c.kernel, o, err, c.want)
			}
		}
	}
}

// TestGroupRaces checks that threadgroups of one dispatch may not write, or
// read and write, the same device memory, whichever runs first.
func TestGroupRaces(t *testing.T) {
	p := build(t)
	for _, c := range []struct{ kernel, want string }{
		{"groups_write", "which threadgroup 0 of the same dispatch writes"},
		{"groups_read", "which threadgroup 0 of the same dispatch writes"},
	} {
		req := &Request{Bufs: [][]byte{make([]byte, 4*64)}, Dispatches: []Dispatch{{Kernel: c.kernel,
			Groups: [3]int{2, 1, 1}, Threads: [3]int{32, 1, 1}, Binds: []Binding{{Index: 0, Buf: 0}}}}}
		err := p.Run(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.kernel, err, c.want)
		}
	}
	// The same kernel in two dispatches is no race: each sees the other's
	// writes in order.
	req := &Request{Bufs: [][]byte{make([]byte, 4*64)}}
	for range 2 {
		req.Dispatches = append(req.Dispatches, Dispatch{Kernel: "groups_write", Groups: [3]int{1, 1, 1},
			Threads: [3]int{32, 1, 1}, Binds: []Binding{{Index: 0, Buf: 0}}})
	}
	if err := p.Run(context.Background(), req); err != nil {
		t.Errorf("groups_write twice: %v", err)
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
		"kernel void f(device float* x [[buffer(0)]], int tid [[thread_index_in_threadgroup]]) {}\n",
		"kernel void f(device float* x [[buffer(0)]], uint2 tid [[thread_index_in_simdgroup]]) {}\n",
		"kernel void f(device float* x [[buffer(0)]], int3 g [[threadgroup_position_in_grid]]) {}\n",
		"kernel void f(device float* x [[buffer(0)]], float i [[thread_position_in_grid]]) {}\n",
		"void f() {}\n",
	} {
		if _, _, err := Translate([]byte(src)); err == nil {
			t.Errorf("Translate accepted %q", src)
		}
	}
}

// TestCompileRejects builds sources Metal's compiler rejects: the
// simulator's check pass (address spaces kept) or its code pass must reject
// them too.
func TestCompileRejects(t *testing.T) {
	dir := t.TempDir()
	const head = "#include <metal_stdlib>\nusing namespace metal;\n"
	for name, body := range map[string]string{
		"threadgroup as device": `inline void f(device float* p) { p[0] = 1.0f; }
kernel void k(device float* out [[buffer(0)]]) {
    threadgroup float t[32];
    f(t);
}`,
		"write through constant": `kernel void k(constant float* a [[buffer(0)]], uint i [[thread_position_in_grid]]) {
    a[i] = 1.0f;
}`,
		"constant& to device": `struct S { int n; };
inline int f(constant S& s) { return s.n; }
kernel void k(device S& s [[buffer(0)]], device int* out [[buffer(1)]]) {
    out[0] = f(s);
}`,
		"device to thread pointer": `kernel void k(device float* out [[buffer(0)]]) {
    float* p = out;
    p[0] = 1.0f;
}`,
		"simdgroup_load element type": `kernel void k(device float* out [[buffer(0)]]) {
    threadgroup half t[64];
    simdgroup_float8x8 m;
    simdgroup_load(m, t, 8);
    simdgroup_store(m, out, 8);
}`,
		"simdgroup_load thread memory": `kernel void k(device float* out [[buffer(0)]]) {
    float t[64];
    simdgroup_float8x8 m;
    simdgroup_load(m, t, 8);
    simdgroup_store(m, out, 8);
}`,
	} {
		_, err := Build(context.Background(), dir, []byte(head+body+"\n"))
		if errors.Is(err, ErrNoCompiler) {
			t.Skipf("skipping the MSL simulator: %v", err)
		}
		if err == nil || !strings.Contains(err.Error(), "checking the kernels' address spaces") {
			t.Errorf("%s: err = %v; Metal rejects it, so the check pass must", name, err)
		}
	}
}
