// executor.cpp: runs a dispatch plan on the CPU with Metal's threadgroup and
// SIMD-group semantics. Each thread of a threadgroup is a ucontext fiber under
// a cooperative scheduler; threadgroups run one after another.
//
// Memory checking: the kernels are compiled with clang's AddressSanitizer
// instrumentation in its outline form and without its runtime, so every load
// and store the kernel code makes calls __asan_loadN/__asan_storeN, which are
// defined here (see "Access checks" below). They check each device and
// threadgroup access against the buffer's or array's bounds and against a
// shadow map of who last wrote and read each 4-byte word: a read or write
// racing with another threadgroup of the same dispatch, or with another
// thread of the group without a threadgroup_barrier whose mem_flags publish
// that address space in between, fails with the kernel, thread and address.
//
// stdin (little-endian): "MSLSIM1\0", u32 order (0 rr, 1 reverse, 2 shuffle,
// 3 forward),
// u64 seed, u32 nbuf, nbuf × (u64 size, bytes), u32 ndispatch, ndispatch ×
// (u32 namelen, name, u32 groups[3], u32 threads[3], u32 nbind,
// nbind × (u32 index, u32 buf, u64 offset)).
// stdout: every buffer's bytes, in order. Errors: message on stderr, exit 2.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <csetjmp>
#include <csignal>
#include <algorithm>
#include <unistd.h>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <ucontext.h>
#include <vector>

#include "mslsim.h"

namespace mslsim {
namespace {

constexpr uint32_t kMaxThreads = 1024;     // per threadgroup, as on Apple GPUs
constexpr size_t kMaxTGMem = 32 * 1024;    // threadgroup memory, as on Apple GPUs
constexpr size_t kStack = 128 * 1024;      // per fiber
constexpr size_t kGuard = 4096;            // PROT_NONE page under each stack
constexpr size_t kPage = 4096;
constexpr size_t kTGRedzone = 64;          // unaddressable bytes after each threadgroup array
constexpr size_t kTGArena = 2 * kMaxTGMem; // room for the arrays and their redzones
constexpr int kMaxBinds = 31;
constexpr uint32_t kMulti = 0xFFFFFFFFu;  // "more than one reader" in a shadow word

enum class State { runnable, wait_tg, wait_simd, done };

// mem_flags values, as in the shim's metal::mem_flags.
constexpr unsigned kMemDevice = 1, kMemThreadgroup = 2;

struct Fiber {
    ucontext_t ctx;             // used once, to enter the fiber on its stack
    jmp_buf jb;                 // where the fiber resumes after it yields
    bool started = false;
    char* stack = nullptr;
    State st = State::runnable;
    Pos pos{};
    const char* file = nullptr; // barrier call site
    int line = 0;
    unsigned flags = 0;         // its mem_flags
    uint32_t simd_gen = 0;      // simd collectives this lane has entered
    size_t tg_next = 0;         // index of its next static threadgroup array
};

struct SimdGroup {
    uint8_t slot[2][32][16];
    uint32_t active[2];
    size_t live = 0;    // lanes not returned
    size_t waiting = 0; // lanes at a simd collective
};

struct TGAlloc {
    size_t off, size;
};

// TGShadow is the history of one 4-byte threadgroup word in the running
// group: the thread (+1) that last wrote it and the threadgroup-memory epoch
// it did so in, and the thread (+1, or kMulti) that read it in epoch repoch.
// An epoch ends at each threadgroup_barrier with mem_threadgroup.
struct TGShadow {
    uint32_t wthread, wepoch, rthread, repoch;
};

// DevShadow is the history of one 4-byte device word in dispatch stamp: the
// threadgroup (+1) that wrote it, the thread and device-memory epoch of that
// write, and the threadgroup (+1, or kMulti) that read it.
struct DevShadow {
    uint32_t stamp, wgroup, wthread, wepoch, rgroup;
};

// DevBuf is one request buffer, placed so that its last byte ends a page
// followed by a PROT_NONE page (and one precedes it), with its shadow.
struct DevBuf {
    uint8_t* data = nullptr;
    size_t size = 0;
    std::vector<DevShadow> shadow;
};

struct Bind {
    uint32_t index, buf;
    uint64_t off;
};

struct Exec {
    std::string kernel;
    uint32_t group_index[3];
    std::vector<Fiber> fibers;
    std::vector<SimdGroup> sgs;
    uint8_t* arena = nullptr;   // kTGArena bytes
    size_t arena_used = 0;      // bytes the arrays take (the 32 KiB budget)
    size_t arena_end = 0;       // bytes of arena laid out, redzones included
    size_t arena_dirty = 0;     // shadow words the previous group touched
    std::vector<TGAlloc> allocs;
    std::vector<TGShadow> tg_shadow;
    std::vector<uint8_t> tg_valid; // per word: inside an array
    uint32_t tg_epoch = 0, dev_epoch = 0;
    uint32_t stamp = 0;         // dispatch number + 1
    uint32_t group_lin = 0;     // linear index of the running threadgroup
    // Device memory: one reserved range; page_owner maps each page to the
    // buffer it belongs to or guards (-1 for none).
    uint8_t* dev_base = nullptr;
    size_t dev_size = 0;
    std::vector<int32_t> page_owner;
    std::vector<DevBuf> bufs_;
    std::vector<Bind> binds;
    Fiber* cur = nullptr;
    ucontext_t sched;
    jmp_buf sched_jb;
    Launcher fn = nullptr;
    void** bufs = nullptr;
    int order = 0;
    uint64_t rng = 0;
    size_t live = 0, done = 0, at_tg = 0; // threads of the running group
    std::vector<uint64_t> ready;          // bitset of runnable threads
};

Exec g;

uint64_t next_rand() {
    // splitmix64
    uint64_t z = (g.rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Switching uses _setjmp/_longjmp, which unlike swapcontext does not make a
// sigprocmask system call; ucontext only sets up each fiber's first entry.
void yield() {
    if (_setjmp(g.cur->jb) == 0) {
        _longjmp(g.sched_jb, 1);
    }
}

void trampoline() {
    g.fn(g.bufs);
    g.cur->st = State::done;
    _longjmp(g.sched_jb, 1);
}

void resume(Fiber& f) {
    g.cur = &f;
    if (_setjmp(g.sched_jb) != 0) {
        return;
    }
    if (!f.started) {
        f.started = true;
        swapcontext(&g.sched, &f.ctx);
    } else {
        _longjmp(f.jb, 1);
    }
}

const char* state_name(State s) {
    switch (s) {
    case State::runnable: return "runnable";
    case State::wait_tg: return "threadgroup_barrier";
    case State::wait_simd: return "simd collective";
    case State::done: return "returned";
    }
    return "?";
}

void set_ready(size_t i) { g.ready[i >> 6] |= uint64_t(1) << (i & 63); }

void release_simd(uint32_t sg) {
    SimdGroup& s = g.sgs[sg];
    const size_t lo = size_t(sg) * 32, hi = std::min(lo + 32, g.fibers.size());
    uint32_t mask = 0;
    int gen = -1;
    for (size_t i = lo; i < hi; i++) {
        Fiber& f = g.fibers[i];
        if (f.st != State::wait_simd) {
            continue;
        }
        const int fg = int((f.simd_gen - 1) & 1);
        if (gen >= 0 && fg != gen) {
            fail("simdgroup %u: lanes are at different simd collectives", sg);
        }
        gen = fg;
        mask |= 1u << (i - lo);
    }
    s.active[gen] = mask;
    for (size_t i = lo; i < hi; i++) {
        if (g.fibers[i].st == State::wait_simd) {
            g.fibers[i].st = State::runnable;
            set_ready(i);
        }
    }
    s.waiting = 0;
}

void release_tg() {
    const Fiber* first = nullptr;
    for (auto& f : g.fibers) {
        if (f.st == State::wait_tg) {
            first = &f;
            break;
        }
    }
    const Fiber& a = *first;
    const unsigned flags = a.flags;
    if (g.done > 0) {
        fail("%zu thread(s) returned while the others wait at the threadgroup_barrier at %s:%d", g.done, a.file, a.line);
    }
    for (auto& f : g.fibers) {
        if (f.line != a.line || strcmp(f.file, a.file) != 0) {
            fail("threadgroup_barrier reached from different call sites: %s:%d (thread %u) and %s:%d (thread %u)",
                 a.file, a.line, a.pos.lin, f.file, f.line, f.pos.lin);
        }
        if (f.flags != flags) {
            fail("threadgroup_barrier at %s:%d: threads %u and %u pass different mem_flags (%u, %u)", a.file, a.line,
                 a.pos.lin, f.pos.lin, flags, f.flags);
        }
    }
    // Only the address spaces the flags name are published: writes before
    // the barrier become visible to the other threads after it.
    if (flags & kMemThreadgroup) {
        g.tg_epoch++;
    }
    if (flags & kMemDevice) {
        g.dev_epoch++;
    }
    for (size_t i = 0; i < g.fibers.size(); i++) {
        g.fibers[i].st = State::runnable;
        set_ready(i);
    }
    g.at_tg = 0;
}

// settle books the state the fiber that just ran stopped in and releases
// any rendezvous it completed.
void settle(Fiber& f) {
    SimdGroup& s = g.sgs[f.pos.sg];
    switch (f.st) {
    case State::done:
        g.live--;
        g.done++;
        s.live--;
        break;
    case State::wait_tg:
        g.at_tg++;
        break;
    case State::wait_simd:
        s.waiting++;
        break;
    case State::runnable:
        fail("internal: fiber yielded while runnable");
    }
    if (s.live > 0 && s.waiting == s.live) {
        release_simd(f.pos.sg);
    }
    if (g.live > 0 && g.at_tg == g.live) {
        release_tg();
    }
}

[[noreturn]] void deadlock() {
    std::string s;
    for (auto& f : g.fibers) {
        if (f.st != State::done) {
            char b[96];
            snprintf(b, sizeof b, " thread %u: %s;", f.pos.lin, state_name(f.st));
            s += b;
            if (s.size() > 600) {
                break;
            }
        }
    }
    fail("deadlock (a barrier or simd collective not reached by every thread):%s", s.c_str());
}

// pick returns the next fiber to run under the greedy orders, or -1.
long pick() {
    const size_t words = g.ready.size();
    switch (g.order) {
    case 1: // reverse: highest index first
        for (size_t w = words; w-- > 0;) {
            if (g.ready[w] != 0) {
                return long(w * 64 + 63 - __builtin_clzll(g.ready[w]));
            }
        }
        return -1;
    case 3: // forward: lowest index first
        for (size_t w = 0; w < words; w++) {
            if (g.ready[w] != 0) {
                return long(w * 64 + __builtin_ctzll(g.ready[w]));
            }
        }
        return -1;
    default: { // shuffle: any ready fiber, uniformly
        size_t count = 0;
        for (uint64_t w : g.ready) {
            count += __builtin_popcountll(w);
        }
        if (count == 0) {
            return -1;
        }
        size_t k = next_rand() % count;
        for (size_t w = 0; w < words; w++) {
            const size_t c = __builtin_popcountll(g.ready[w]);
            if (k < c) {
                uint64_t bits = g.ready[w];
                for (; k > 0; k--) {
                    bits &= bits - 1;
                }
                return long(w * 64 + __builtin_ctzll(bits));
            }
            k -= c;
        }
        return -1;
    }
    }
}

void run_one(size_t i) {
    g.ready[i >> 6] &= ~(uint64_t(1) << (i & 63));
    resume(g.fibers[i]);
    settle(g.fibers[i]);
}

// run_group runs one threadgroup to completion. Order 0 (rr) sweeps the
// threads in index order, running each ready one to its next rendezvous, so
// the simdgroups advance in lockstep; the greedy orders (1 reverse, 3
// forward, 2 shuffle) always run the highest, lowest or a random ready
// thread, so one simdgroup can run far ahead of the others.
void run_group() {
    const size_t n = g.fibers.size();
    g.live = n;
    g.done = 0;
    g.at_tg = 0;
    g.ready.assign((n + 63) / 64, 0);
    for (auto& s : g.sgs) {
        s.live = 0;
        s.waiting = 0;
    }
    for (size_t i = 0; i < n; i++) {
        set_ready(i);
        g.sgs[i / 32].live++;
    }
    while (g.live > 0) {
        if (g.order == 0) {
            bool ran = false;
            for (size_t i = 0; i < n; i++) {
                if (g.ready[i >> 6] >> (i & 63) & 1) {
                    run_one(i);
                    ran = true;
                }
            }
            if (!ran) {
                deadlock();
            }
        } else {
            const long i = pick();
            if (i < 0) {
                deadlock();
            }
            run_one(size_t(i));
        }
    }
}

std::vector<char*> stacks;

char* stack_for(size_t i) {
    while (stacks.size() <= i) {
        void* p = mmap(nullptr, kStack + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            fail("mmap fiber stack failed");
        }
        mprotect(p, kGuard, PROT_NONE);
        stacks.push_back(static_cast<char*>(p) + kGuard);
    }
    return stacks[i];
}

void dispatch(const std::string& name, Launcher fn, void** bufs, const uint32_t groups[3], const uint32_t threads[3]) {
    const uint64_t per = uint64_t(threads[0]) * threads[1] * threads[2];
    if (per == 0 || per > kMaxThreads) {
        fail("%s: %llu threads per threadgroup (%ux%ux%u); Apple GPUs allow 1 to %u", name.c_str(),
             (unsigned long long)per, threads[0], threads[1], threads[2], kMaxThreads);
    }
    g.kernel = name;
    g.fn = fn;
    g.bufs = bufs;
    g.stamp++;
    g.fibers.assign(per, Fiber{});
    g.sgs.assign((per + 31) / 32, SimdGroup{});
    g.group_lin = 0;
    for (uint32_t gz = 0; gz < groups[2]; gz++)
    for (uint32_t gy = 0; gy < groups[1]; gy++)
    for (uint32_t gx = 0; gx < groups[0]; gx++, g.group_lin++) {
        g.group_index[0] = gx;
        g.group_index[1] = gy;
        g.group_index[2] = gz;
        // Uninitialised threadgroup memory reads as NaN.
        memset(g.arena, 0xFF, kTGArena);
        memset(g.tg_shadow.data(), 0, g.arena_dirty * sizeof(TGShadow));
        memset(g.tg_valid.data(), 0, g.arena_dirty);
        g.arena_dirty = 0;
        g.arena_used = 0;
        g.arena_end = 0;
        g.allocs.clear();
        g.tg_epoch = 0;
        g.dev_epoch = 0;
        uint32_t lin = 0;
        for (uint32_t z = 0; z < threads[2]; z++)
        for (uint32_t y = 0; y < threads[1]; y++)
        for (uint32_t x = 0; x < threads[0]; x++, lin++) {
            Fiber& f = g.fibers[lin];
            f = Fiber{};
            const uint32_t tid[3] = {x, y, z}, tg[3] = {gx, gy, gz};
            for (int d = 0; d < 3; d++) {
                f.pos.tid[d] = tid[d];
                f.pos.tgid[d] = tg[d];
                f.pos.tgsize[d] = threads[d];
                f.pos.ngroups[d] = groups[d];
                f.pos.gsize[d] = groups[d] * threads[d];
                f.pos.gid[d] = tg[d] * threads[d] + tid[d];
            }
            f.pos.lin = lin;
            f.pos.lane = lin % 32;
            f.pos.sg = lin / 32;
            f.pos.nsg = uint32_t((per + 31) / 32);
            f.pos.width = 32;
            f.stack = stack_for(lin);
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = f.stack;
            f.ctx.uc_stack.ss_size = kStack;
            f.ctx.uc_link = nullptr;
            makecontext(&f.ctx, trampoline, 0);
        }
        run_group();
    }
    g.cur = nullptr;
}

// Access checks.

// where describes a device address for an error message: the kernel's
// buffer(index) bindings that cover the request buffer it lies in (or
// guards), and its byte offset from that buffer's start.
std::string where(uint32_t b, const uint8_t* p) {
    const DevBuf& d = g.bufs_[b];
    const long long off = (long long)(p - d.data);
    std::string s;
    for (const Bind& bd : g.binds) {
        if (bd.buf == b) {
            char t[96];
            snprintf(t, sizeof t, "%sbuffer(%u)", s.empty() ? "" : "/", bd.index);
            s += t;
        }
    }
    if (s.empty()) {
        s = "no binding";
    }
    char t[160];
    snprintf(t, sizeof t, " at byte offset %lld (request buffer %u of %zu bytes)", off, b, d.size);
    return s + t;
}

const char* verb(bool write) { return write ? "writes" : "reads"; }

void check_dev_word(uint32_t b, DevShadow& s, bool write, const uint8_t* p) {
    const Fiber& f = *g.cur;
    const uint32_t me = g.group_lin + 1;
    if (s.stamp != g.stamp) {
        s = DevShadow{g.stamp, 0, 0, 0, 0};
    }
    if (s.wgroup != 0 && s.wgroup != me) {
        fail("thread %u %s %s, which threadgroup %u of the same dispatch writes: threadgroups must not share "
             "written memory", f.pos.lin, verb(write), where(b, p).c_str(), s.wgroup - 1);
    }
    if (s.wgroup == me && s.wthread != f.pos.lin && s.wepoch == g.dev_epoch) {
        fail("thread %u %s %s, written by thread %u with no threadgroup_barrier(mem_flags::mem_device) between",
             f.pos.lin, verb(write), where(b, p).c_str(), s.wthread);
    }
    if (write) {
        if (s.rgroup != 0 && s.rgroup != me) {
            fail("thread %u writes %s, which %s of the same dispatch read%s", f.pos.lin, where(b, p).c_str(),
                 s.rgroup == kMulti ? "other threadgroups" : "another threadgroup", s.rgroup == kMulti ? "" : "s");
        }
        s.wgroup = me;
        s.wthread = f.pos.lin;
        s.wepoch = g.dev_epoch;
    } else if (s.rgroup != me) {
        s.rgroup = s.rgroup == 0 ? me : kMulti;
    }
}

void check_tg_word(size_t w, bool write, const uint8_t* p) {
    const Fiber& f = *g.cur;
    const uint32_t me = f.pos.lin + 1;
    const size_t off = size_t(p - g.arena);
    if (!g.tg_valid[w]) {
        fail("thread %u %s threadgroup memory at arena offset %zu, outside every threadgroup array", f.pos.lin,
             verb(write), off);
    }
    TGShadow& s = g.tg_shadow[w];
    if (s.wthread != 0 && s.wthread != me && s.wepoch == g.tg_epoch) {
        fail("thread %u %s threadgroup memory at arena offset %zu, written by thread %u with no "
             "threadgroup_barrier(mem_flags::mem_threadgroup) between", f.pos.lin, verb(write), off, s.wthread - 1);
    }
    if (write) {
        if (s.repoch == g.tg_epoch && s.rthread != 0 && s.rthread != me) {
            if (s.rthread == kMulti) {
                fail("thread %u writes threadgroup memory at arena offset %zu, which other threads read with no "
                     "threadgroup_barrier(mem_flags::mem_threadgroup) between", f.pos.lin, off);
            }
            fail("thread %u writes threadgroup memory at arena offset %zu, which thread %u read with no "
                 "threadgroup_barrier(mem_flags::mem_threadgroup) between", f.pos.lin, off, s.rthread - 1);
        }
        s.wthread = me;
        s.wepoch = g.tg_epoch;
    } else if (s.repoch != g.tg_epoch || s.rthread == 0) {
        s.rthread = me;
        s.repoch = g.tg_epoch;
    } else if (s.rthread != me) {
        s.rthread = kMulti;
    }
}

void check_access(const void* vp, size_t n, bool write) {
    const uint8_t* p = static_cast<const uint8_t*>(vp);
    if (g.cur == nullptr || n == 0) {
        return;
    }
    const uintptr_t a = uintptr_t(p);
    if (a - uintptr_t(g.dev_base) < g.dev_size) {
        const size_t page = (a - uintptr_t(g.dev_base)) / kPage;
        const int32_t b = g.page_owner[page];
        if (b < 0) {
            fail("thread %u %s %zu bytes of device memory outside every buffer", g.cur->pos.lin, verb(write), n);
        }
        DevBuf& d = g.bufs_[b];
        if (p < d.data || p + n > d.data + d.size) {
            fail("thread %u %s %zu bytes past %s of %s", g.cur->pos.lin, verb(write), n,
                 p < d.data ? "the start" : "the end", where(uint32_t(b), p).c_str());
        }
        if (d.shadow.empty()) {
            d.shadow.assign((d.size + 3) / 4, DevShadow{});
        }
        const size_t w0 = size_t(p - d.data) / 4, w1 = (size_t(p - d.data) + n - 1) / 4;
        for (size_t w = w0; w <= w1; w++) {
            check_dev_word(uint32_t(b), d.shadow[w], write, p);
        }
        return;
    }
    if (a - uintptr_t(g.arena) < kTGArena) {
        const size_t off = a - uintptr_t(g.arena);
        if (off + n > kTGArena) {
            fail("thread %u %s past the threadgroup arena", g.cur->pos.lin, verb(write));
        }
        for (size_t w = off / 4; w <= (off + n - 1) / 4; w++) {
            check_tg_word(w, write, p);
        }
    }
}

// Guard pages catch what the checks cannot see (a buffer reached from
// uninstrumented code): the fault names the buffer and offset.
void on_segv(int, siginfo_t* si, void*) {
    const uintptr_t a = uintptr_t(si->si_addr);
    if (g.dev_base != nullptr && a - uintptr_t(g.dev_base) < g.dev_size) {
        const int32_t b = g.page_owner[(a - uintptr_t(g.dev_base)) / kPage];
        if (b >= 0) {
            fail("memory fault outside %s", where(uint32_t(b), reinterpret_cast<const uint8_t*>(a)).c_str());
        }
    }
    fail("memory fault at %p (a stack overflow or a wild pointer)", si->si_addr);
}

// layout places every buffer in one reserved range: a PROT_NONE page, then
// the buffer's pages with its bytes ending flush against the next PROT_NONE
// page (the start rounded down to 16 bytes), and so on.
void layout(const std::vector<uint64_t>& sizes) {
    size_t pages = 1;
    std::vector<size_t> first(sizes.size());
    for (size_t i = 0; i < sizes.size(); i++) {
        first[i] = pages;
        pages += (std::max<uint64_t>(sizes[i], 1) + 15 + kPage - 1) / kPage + 1;
    }
    g.dev_size = pages * kPage;
    void* p = mmap(nullptr, g.dev_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        fail("mmap %zu bytes of device memory failed", g.dev_size);
    }
    g.dev_base = static_cast<uint8_t*>(p);
    g.page_owner.assign(pages, -1);
    g.bufs_.resize(sizes.size());
    for (size_t i = 0; i < sizes.size(); i++) {
        const size_t np = (std::max<uint64_t>(sizes[i], 1) + 15 + kPage - 1) / kPage;
        uint8_t* lo = g.dev_base + first[i] * kPage;
        if (mprotect(lo, np * kPage, PROT_READ | PROT_WRITE) != 0) {
            fail("mprotect device memory failed");
        }
        for (size_t k = first[i] - 1; k <= first[i] + np; k++) {
            if (g.page_owner[k] < 0 || k >= first[i]) {
                g.page_owner[k] = int32_t(i);
            }
        }
        uint8_t* end = lo + np * kPage;
        g.bufs_[i].size = sizes[i];
        g.bufs_[i].data = reinterpret_cast<uint8_t*>(uintptr_t(end - sizes[i]) & ~uintptr_t(15));
    }
}

// Input parsing.
std::vector<uint8_t> in;
size_t in_pos = 0;

void read_all() {
    uint8_t b[1 << 16];
    size_t n;
    while ((n = fread(b, 1, sizeof b, stdin)) > 0) {
        in.insert(in.end(), b, b + n);
    }
}

template <class T> T rd() {
    if (in_pos + sizeof(T) > in.size()) {
        fail("truncated request");
    }
    T v;
    memcpy(&v, in.data() + in_pos, sizeof(T));
    in_pos += sizeof(T);
    return v;
}

} // namespace

const Pos& pos() { return g.cur->pos; }

void fail(const char* fmt, ...) {
    fprintf(stderr, "mslsim: ");
    if (!g.kernel.empty()) {
        fprintf(stderr, "%s, threadgroup (%u,%u,%u): ", g.kernel.c_str(), g.group_index[0], g.group_index[1],
                g.group_index[2]);
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    _exit(2);
}

void barrier(const char* file, int line, unsigned flags) {
    g.cur->file = file;
    g.cur->line = line;
    g.cur->flags = flags;
    g.cur->st = State::wait_tg;
    yield();
}

// gather publishes this lane's n bytes and returns the group's slots (16
// bytes apart), valid until the lane enters its next collective: no lane
// can reuse this parity's slots before every lane has left this one.
const uint8_t* gather(const void* v, size_t n, uint32_t* active) {
    Fiber& f = *g.cur;
    SimdGroup& s = g.sgs[f.pos.sg];
    const int par = int(f.simd_gen++ & 1);
    memcpy(s.slot[par][f.pos.lane], v, n);
    f.st = State::wait_simd;
    yield();
    *active = s.active[par];
    return &s.slot[par][0][0];
}

uint32_t simd_gather(const void* v, size_t n, void* out) {
    uint32_t act;
    const uint8_t* slots = gather(v, n, &act);
    for (int i = 0; i < 32; i++) {
        memcpy(static_cast<uint8_t*>(out) + i * n, slots + 16 * i, n);
    }
    return act;
}

void simd_uniform(const char* what, const void* v, size_t n) {
    const uint32_t lanes = std::min<uint32_t>(32, uint32_t(g.fibers.size()) - g.cur->pos.sg * 32);
    const uint32_t want = lanes == 32 ? 0xFFFFFFFFu : (1u << lanes) - 1;
    uint32_t act;
    const uint8_t* slots = gather(v, n, &act);
    if (act != want || lanes != 32) {
        fail("%s needs all 32 lanes of the simdgroup; active mask %08x", what, act);
    }
    // Each lane compares itself with lane 0, so every difference is found.
    if (memcmp(v, slots, n) != 0) {
        fail("%s: lane %u passes different arguments from lane 0 (the pointer, stride, origin and transpose must "
             "be uniform across the simdgroup)", what, g.cur->pos.lane);
    }
}

void simd_full(const char* what) {
    const uint8_t one = 0;
    simd_uniform(what, &one, 1);
}

void* tg_alloc(size_t size, size_t align) {
    Fiber& f = *g.cur;
    const size_t k = f.tg_next++;
    if (k < g.allocs.size()) {
        if (g.allocs[k].size != size) {
            fail("threads declare different threadgroup arrays (%zu vs %zu bytes)", g.allocs[k].size, size);
        }
        return g.arena + g.allocs[k].off;
    }
    align = std::max<size_t>(align, 16);
    if (g.arena_used + size > kMaxTGMem) {
        fail("threadgroup memory %zu bytes exceeds the 32 KiB limit", g.arena_used + size);
    }
    const size_t off = (g.arena_end + align - 1) / align * align;
    if (off + size + kTGRedzone > kTGArena) {
        fail("internal: threadgroup arena too small");
    }
    g.allocs.push_back({off, size});
    g.arena_used += size;
    g.arena_end = off + size + kTGRedzone;
    for (size_t w = off / 4; w < (off + size + 3) / 4; w++) {
        g.tg_valid[w] = 1;
    }
    g.arena_dirty = std::max(g.arena_dirty, (g.arena_end + 3) / 4);
    return g.arena + off;
}

void check(const void* p, size_t n, bool write) { check_access(p, n, write); }

} // namespace mslsim

// The instrumentation's callbacks (outline AddressSanitizer ABI).
extern "C" {
#define MSLSIM_ASAN(n)                                                                            \
    void __asan_load##n(uintptr_t p) { mslsim::check_access(reinterpret_cast<void*>(p), n, false); } \
    void __asan_store##n(uintptr_t p) { mslsim::check_access(reinterpret_cast<void*>(p), n, true); }
MSLSIM_ASAN(1)
MSLSIM_ASAN(2)
MSLSIM_ASAN(4)
MSLSIM_ASAN(8)
MSLSIM_ASAN(16)
#undef MSLSIM_ASAN
void __asan_loadN(uintptr_t p, size_t n) { mslsim::check_access(reinterpret_cast<void*>(p), n, false); }
void __asan_storeN(uintptr_t p, size_t n) { mslsim::check_access(reinterpret_cast<void*>(p), n, true); }
void* __asan_memcpy(void* d, const void* s, size_t n) {
    mslsim::check_access(s, n, false);
    mslsim::check_access(d, n, true);
    return memcpy(d, s, n);
}
void* __asan_memmove(void* d, const void* s, size_t n) {
    mslsim::check_access(s, n, false);
    mslsim::check_access(d, n, true);
    return memmove(d, s, n);
}
// Called before a noreturn call (mslsim::fail); the stack has no redzones to
// clear.
void __asan_handle_no_return() {}
void* __asan_memset(void* d, int c, size_t n) {
    mslsim::check_access(d, n, true);
    return memset(d, c, n);
}
}

int main() {
    using namespace mslsim;
    read_all();
    if (in.size() < 8 || memcmp(in.data(), "MSLSIM1\0", 8) != 0) {
        fail("bad request header");
    }
    in_pos = 8;
    g.order = int(rd<uint32_t>());
    g.rng = rd<uint64_t>();
    const uint32_t nbuf = rd<uint32_t>();
    std::vector<uint64_t> sizes(nbuf);
    std::vector<size_t> at(nbuf);
    for (uint32_t i = 0; i < nbuf; i++) {
        sizes[i] = rd<uint64_t>();
        if (in_pos + sizes[i] > in.size()) {
            fail("truncated buffer");
        }
        at[i] = in_pos;
        in_pos += sizes[i];
    }
    layout(sizes);
    for (uint32_t i = 0; i < nbuf; i++) {
        memcpy(g.bufs_[i].data, in.data() + at[i], sizes[i]);
    }
    void* arena = mmap(nullptr, kTGArena, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (arena == MAP_FAILED) {
        fail("mmap threadgroup memory failed");
    }
    g.arena = static_cast<uint8_t*>(arena);
    g.tg_shadow.assign(kTGArena / 4, TGShadow{});
    g.tg_valid.assign(kTGArena / 4, 0);

    static char altstack[64 * 1024];
    stack_t ss{};
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    sigaltstack(&ss, nullptr);
    struct sigaction sa{};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);

    const uint32_t nd = rd<uint32_t>();
    for (uint32_t d = 0; d < nd; d++) {
        const uint32_t nl = rd<uint32_t>();
        if (in_pos + nl > in.size()) {
            fail("truncated kernel name");
        }
        std::string name(reinterpret_cast<const char*>(in.data() + in_pos), nl);
        in_pos += nl;
        uint32_t groups[3], threads[3];
        for (auto& x : groups) x = rd<uint32_t>();
        for (auto& x : threads) x = rd<uint32_t>();
        void* bind[kMaxBinds + 1] = {};
        const uint32_t nb = rd<uint32_t>();
        g.binds.clear();
        for (uint32_t i = 0; i < nb; i++) {
            const uint32_t idx = rd<uint32_t>(), b = rd<uint32_t>();
            const uint64_t off = rd<uint64_t>();
            if (idx > kMaxBinds || b >= nbuf || off > sizes[b]) {
                fail("%s: bad binding %u -> buffer %u + %llu", name.c_str(), idx, b, (unsigned long long)off);
            }
            bind[idx] = g.bufs_[b].data + off;
            g.binds.push_back({idx, b, off});
        }
        Launcher fn = nullptr;
        for (int k = 0; k < mslsim_nkernels; k++) {
            if (name == mslsim_kernels[k].name) {
                fn = mslsim_kernels[k].fn;
            }
        }
        if (fn == nullptr) {
            fail("no kernel named %s", name.c_str());
        }
        dispatch(name, fn, bind, groups, threads);
        g.kernel.clear();
    }
    for (uint32_t i = 0; i < nbuf; i++) {
        fwrite(g.bufs_[i].data, 1, sizes[i], stdout);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
