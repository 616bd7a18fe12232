// mslsim.h: the executor's interface to the Metal shim (metal_stdlib) and to
// the generated kernel launchers. Plain C++, no Metal macros.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mslsim {

// Pos holds the position built-ins of the running thread.
struct Pos {
    uint32_t gid[3];     // thread_position_in_grid
    uint32_t tid[3];     // thread_position_in_threadgroup
    uint32_t tgid[3];    // threadgroup_position_in_grid
    uint32_t tgsize[3];  // threads_per_threadgroup
    uint32_t ngroups[3]; // threadgroups_per_grid
    uint32_t gsize[3];   // threads_per_grid
    uint32_t lin;        // thread_index_in_threadgroup
    uint32_t lane;       // thread_index_in_simdgroup
    uint32_t sg;         // simdgroup_index_in_threadgroup
    uint32_t nsg;        // simdgroups_per_threadgroup
    uint32_t width;      // threads_per_simdgroup (32)
};

const Pos& pos();

// barrier is threadgroup_barrier(flags): every live thread of the group must
// reach it from the same call site with the same flags; it publishes the
// threadgroup (flags & 2) and device (flags & 1) writes made before it.
void barrier(const char* file, int line, unsigned flags);

// simd_gather publishes n bytes (n ≤ 16) from v for this lane, waits until
// every live lane of the simdgroup has done the same, copies the 32 slots to
// out (n bytes apart) and returns the mask of lanes that took part.
uint32_t simd_gather(const void* v, size_t n, void* out);

// simd_full checks that every lane of the simdgroup takes part in a
// collective that needs all of them (simdgroup_matrix operations).
void simd_full(const char* what);

// simd_uniform is simd_full that also checks every lane passes the same n
// bytes (n ≤ 16) at v: the operation's arguments.
void simd_uniform(const char* what, const void* v, size_t n);

// check books an access of n bytes at p by the calling thread, as the
// instrumented kernel code's loads and stores do, for shim code that moves
// data on the lanes' behalf (simdgroup matrix loads and stores).
void check(const void* p, size_t n, bool write);

// tg_alloc returns the group's storage for the calling thread's next static
// threadgroup array; all threads get the same address for the same array.
void* tg_alloc(size_t size, size_t align);

[[noreturn]] void fail(const char* fmt, ...);

template <class V, int N>
V vec(const uint32_t* a) {
    V v{};
    for (int i = 0; i < N; i++) {
        v[i] = a[i];
    }
    return v;
}

// Launcher is a generated wrapper that calls one kernel for the current
// thread with its bound buffers.
typedef void (*Launcher)(void** bufs);

struct Kernel {
    const char* name;
    Launcher fn;
};

} // namespace mslsim

extern "C" const mslsim::Kernel mslsim_kernels[];
extern "C" const int mslsim_nkernels;
