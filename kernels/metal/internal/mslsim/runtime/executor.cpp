// executor.cpp: runs a dispatch plan on the CPU with Metal's threadgroup and
// SIMD-group semantics. Each thread of a threadgroup is a ucontext fiber under
// a cooperative scheduler; threadgroups run one after another.
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
constexpr size_t kCanary = 64;             // bytes after each buffer
constexpr uint8_t kCanaryByte = 0xA5;
constexpr int kMaxBinds = 31;

enum class State { runnable, wait_tg, wait_simd, done };

struct Fiber {
    ucontext_t ctx;             // used once, to enter the fiber on its stack
    jmp_buf jb;                 // where the fiber resumes after it yields
    bool started = false;
    char* stack = nullptr;
    State st = State::runnable;
    Pos pos{};
    const char* file = nullptr; // barrier call site
    int line = 0;
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

struct Exec {
    std::string kernel;
    uint32_t group_index[3];
    std::vector<Fiber> fibers;
    std::vector<SimdGroup> sgs;
    std::vector<uint8_t> arena;
    size_t arena_used = 0;
    std::vector<TGAlloc> allocs;
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
    if (g.done > 0) {
        fail("%zu thread(s) returned while the others wait at the threadgroup_barrier at %s:%d", g.done, a.file, a.line);
    }
    for (auto& f : g.fibers) {
        if (f.line != a.line || strcmp(f.file, a.file) != 0) {
            fail("threadgroup_barrier reached from different call sites: %s:%d (thread %u) and %s:%d (thread %u)",
                 a.file, a.line, a.pos.lin, f.file, f.line, f.pos.lin);
        }
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
    g.fibers.assign(per, Fiber{});
    g.sgs.assign((per + 31) / 32, SimdGroup{});
    g.arena.assign(kMaxTGMem, 0);
    for (uint32_t gz = 0; gz < groups[2]; gz++)
    for (uint32_t gy = 0; gy < groups[1]; gy++)
    for (uint32_t gx = 0; gx < groups[0]; gx++) {
        g.group_index[0] = gx;
        g.group_index[1] = gy;
        g.group_index[2] = gz;
        // Uninitialised threadgroup memory reads as NaN.
        memset(g.arena.data(), 0xFF, g.arena.size());
        g.arena_used = 0;
        g.allocs.clear();
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
    exit(2);
}

void barrier(const char* file, int line) {
    g.cur->file = file;
    g.cur->line = line;
    g.cur->st = State::wait_tg;
    yield();
}

uint32_t simd_gather(const void* v, size_t n, void* out) {
    Fiber& f = *g.cur;
    SimdGroup& s = g.sgs[f.pos.sg];
    const int par = int(f.simd_gen++ & 1);
    memcpy(s.slot[par][f.pos.lane], v, n);
    f.st = State::wait_simd;
    yield();
    for (int i = 0; i < 32; i++) {
        memcpy(static_cast<uint8_t*>(out) + i * n, s.slot[par][i], n);
    }
    return s.active[par];
}

void simd_full(const char* what) {
    const uint32_t lanes = std::min<uint32_t>(32, uint32_t(g.fibers.size()) - g.cur->pos.sg * 32);
    const uint32_t want = lanes == 32 ? 0xFFFFFFFFu : (1u << lanes) - 1;
    uint8_t dummy[32];
    const uint8_t one = 0;
    const uint32_t act = simd_gather(&one, 1, dummy);
    if (act != want || lanes != 32) {
        fail("%s needs all 32 lanes of the simdgroup; active mask %08x", what, act);
    }
}

void* tg_alloc(size_t size, size_t align) {
    Fiber& f = *g.cur;
    const size_t k = f.tg_next++;
    if (k < g.allocs.size()) {
        if (g.allocs[k].size != size) {
            fail("threads declare different threadgroup arrays (%zu vs %zu bytes)", g.allocs[k].size, size);
        }
        return g.arena.data() + g.allocs[k].off;
    }
    const size_t off = (g.arena_used + align - 1) / align * align;
    if (off + size > kMaxTGMem) {
        fail("threadgroup memory %zu bytes exceeds the 32 KiB limit", off + size);
    }
    g.allocs.push_back({off, size});
    g.arena_used = off + size;
    return g.arena.data() + off;
}

} // namespace mslsim

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
    std::vector<std::vector<uint8_t>> bufs(nbuf);
    for (auto& b : bufs) {
        const uint64_t size = rd<uint64_t>();
        if (in_pos + size > in.size()) {
            fail("truncated buffer");
        }
        b.resize(size + kCanary, kCanaryByte);
        memcpy(b.data(), in.data() + in_pos, size);
        in_pos += size;
    }
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
        for (uint32_t i = 0; i < nb; i++) {
            const uint32_t idx = rd<uint32_t>(), b = rd<uint32_t>();
            const uint64_t off = rd<uint64_t>();
            if (idx > kMaxBinds || b >= nbuf || off > bufs[b].size() - kCanary) {
                fail("%s: bad binding %u -> buffer %u + %llu", name.c_str(), idx, b, (unsigned long long)off);
            }
            bind[idx] = bufs[b].data() + off;
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
        for (uint32_t b = 0; b < nbuf; b++) {
            const auto& v = bufs[b];
            for (size_t i = v.size() - kCanary; i < v.size(); i++) {
                if (v[i] != kCanaryByte) {
                    fail("wrote past the end of buffer %u (%zu bytes)", b, v.size() - kCanary);
                }
            }
        }
        g.kernel.clear();
    }
    for (auto& b : bufs) {
        fwrite(b.data(), 1, b.size() - kCanary, stdout);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
