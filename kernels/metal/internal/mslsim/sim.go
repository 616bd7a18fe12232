package mslsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoCompiler is returned when no clang++ of version 15 or later is found.
var ErrNoCompiler = errors.New("mslsim: no clang++ >= 15 found (install clang-16: apt-get install clang-16)")

//go:embed runtime/metal_stdlib runtime/mslsim.h runtime/executor.cpp
var runtimeFS embed.FS

// Order is the order in which the scheduler runs a threadgroup's threads
// between synchronisation points.
type Order uint32

const (
	// RoundRobin sweeps the threads in index order, each ready one running
	// to its next barrier or SIMD collective: simdgroups advance in lockstep.
	RoundRobin Order = iota
	// Reverse always runs the highest-numbered ready thread, so the last
	// simdgroup runs ahead of the others until it must wait.
	Reverse
	// Shuffle runs a random ready thread each time (seeded).
	Shuffle
	// Forward always runs the lowest-numbered ready thread.
	Forward
)

func (o Order) String() string {
	switch o {
	case RoundRobin:
		return "rr"
	case Reverse:
		return "reverse"
	case Shuffle:
		return "shuffle"
	case Forward:
		return "forward"
	}
	return "order(" + strconv.Itoa(int(o)) + ")"
}

// Binding binds Request.Bufs[Buf] at byte Offset to the kernel's
// [[buffer(Index)]].
type Binding struct {
	Index, Buf, Offset int
}

// Dispatch is one dispatchThreadgroups call.
type Dispatch struct {
	Kernel  string
	Groups  [3]int // threadgroups per grid
	Threads [3]int // threads per threadgroup
	Binds   []Binding
}

// Request is a plan to replay. Run overwrites Bufs with their final contents.
type Request struct {
	Order      Order
	Seed       uint64
	Bufs       [][]byte
	Dispatches []Dispatch
}

// Program is a compiled simulator for one library source.
type Program struct {
	path    string
	Kernels []string
}

var clangVersion = regexp.MustCompile(`clang version (\d+)\.`)

// FindCompiler returns the first clang++ of version ≥ 15 among clang++-22
// down to clang++-15 and plain clang++, or ErrNoCompiler.
func FindCompiler() (string, error) {
	names := []string{}
	for v := 22; v >= 15; v-- {
		names = append(names, "clang++-"+strconv.Itoa(v))
	}
	names = append(names, "clang++")
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			continue
		}
		m := clangVersion.FindSubmatch(out)
		if m == nil {
			continue
		}
		if v, _ := strconv.Atoi(string(m[1])); v >= 15 {
			return p, nil
		}
	}
	return "", ErrNoCompiler
}

// Build translates src and compiles it with the executor, reusing a binary
// in cacheDir built from identical inputs.
func Build(ctx context.Context, cacheDir string, src []byte) (*Program, error) {
	cxx, err := FindCompiler()
	if err != nil {
		return nil, err
	}
	cpp, names, err := Translate(src)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00", cxx, instrument)
	files := []string{"metal_stdlib", "mslsim.h", "executor.cpp"}
	rt := map[string][]byte{}
	for _, f := range files {
		b, err := runtimeFS.ReadFile("runtime/" + f)
		if err != nil {
			return nil, fmt.Errorf("mslsim: %w", err)
		}
		rt[f] = b
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	h.Write(cpp)
	dir := filepath.Join(cacheDir, hex.EncodeToString(h.Sum(nil))[:24])
	exe := filepath.Join(dir, "mslsim")
	if _, err := os.Stat(exe); err == nil {
		return &Program{path: exe, Kernels: names}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mslsim: cache: %w", err)
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return nil, fmt.Errorf("mslsim: cache: %w", err)
	}
	defer os.RemoveAll(work)
	for f, b := range rt {
		if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
			return nil, fmt.Errorf("mslsim: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(work, "kernels.cpp"), cpp, 0o644); err != nil {
		return nil, fmt.Errorf("mslsim: %w", err)
	}
	exec0, err := executorObject(ctx, cxx, cacheDir, rt)
	if err != nil {
		return nil, err
	}
	kcpp := filepath.Join(work, "kernels.cpp")
	// The check pass (address spaces kept) and the code pass (instrumented
	// for the executor's memory checks) see the same source.
	if err := compile(ctx, cxx, "checking the kernels' address spaces", "-std=c++17", "-fsyntax-only",
		"-DMSLSIM_ADDRESS_SPACES", "-I", work, kcpp); err != nil {
		return nil, err
	}
	kobj := filepath.Join(work, "kernels.o")
	args := append([]string{"-std=c++17", "-O2", "-I", work}, instrument...)
	if err := compile(ctx, cxx, "compiling the kernels", append(args, "-c", "-o", kobj, kcpp)...); err != nil {
		return nil, err
	}
	tmp := filepath.Join(work, "mslsim")
	if err := compile(ctx, cxx, "linking the simulator", "-o", tmp, kobj, exec0); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, exe); err != nil {
		return nil, fmt.Errorf("mslsim: cache: %w", err)
	}
	return &Program{path: exe, Kernels: names}, nil
}

// instrument makes every load and store of the kernel code call the
// executor's __asan_load/__asan_store hooks: AddressSanitizer's outline
// instrumentation with its runtime, shadow memory, stack and global
// redzones and module constructor all left out, so nothing but those calls
// remains.
var instrument = []string{
	"-fsanitize=address", "-fsanitize-address-outline-instrumentation", "-fno-sanitize-address-use-after-scope",
	"-mllvm", "-asan-stack=0", "-mllvm", "-asan-globals=0", "-mllvm", "-asan-use-after-return=never",
	"-mllvm", "-asan-constructor-kind=none", "-mllvm", "-asan-guard-against-version-mismatch=0",
}

// compile runs cxx with args; what names the step in the error.
func compile(ctx context.Context, cxx, what string, args ...string) error {
	cmd := exec.CommandContext(ctx, cxx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mslsim: %s with %s: %w\n%s", what, cxx, err, stderr.String())
	}
	return nil
}

// executorObject returns executor.cpp compiled (uninstrumented) to an
// object in cacheDir, shared by every library built from the same runtime.
func executorObject(ctx context.Context, cxx, cacheDir string, rt map[string][]byte) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", cxx)
	for _, f := range []string{"mslsim.h", "executor.cpp"} {
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(rt[f]))
		h.Write(rt[f])
	}
	obj := filepath.Join(cacheDir, "executor-"+hex.EncodeToString(h.Sum(nil))[:24]+".o")
	if _, err := os.Stat(obj); err == nil {
		return obj, nil
	}
	work, err := os.MkdirTemp(cacheDir, "executor-")
	if err != nil {
		return "", fmt.Errorf("mslsim: cache: %w", err)
	}
	defer os.RemoveAll(work)
	for _, f := range []string{"mslsim.h", "executor.cpp"} {
		if err := os.WriteFile(filepath.Join(work, f), rt[f], 0o644); err != nil {
			return "", fmt.Errorf("mslsim: %w", err)
		}
	}
	tmp := filepath.Join(work, "executor.o")
	if err := compile(ctx, cxx, "compiling the executor", "-std=c++17", "-O2", "-c", "-o", tmp,
		filepath.Join(work, "executor.cpp")); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, obj); err != nil {
		return "", fmt.Errorf("mslsim: cache: %w", err)
	}
	return obj, nil
}

// Run replays req and stores the final buffer contents back into req.Bufs.
// Errors the executor reports (a broken barrier, a limit exceeded, a write
// past a buffer's end...) come back as the error's text.
func (p *Program) Run(ctx context.Context, req *Request) error {
	var in bytes.Buffer
	le := binary.LittleEndian
	in.WriteString("MSLSIM1\x00")
	in.Write(le.AppendUint32(nil, uint32(req.Order)))
	in.Write(le.AppendUint64(nil, req.Seed))
	in.Write(le.AppendUint32(nil, uint32(len(req.Bufs))))
	total := 0
	for _, b := range req.Bufs {
		in.Write(le.AppendUint64(nil, uint64(len(b))))
		in.Write(b)
		total += len(b)
	}
	in.Write(le.AppendUint32(nil, uint32(len(req.Dispatches))))
	for _, d := range req.Dispatches {
		in.Write(le.AppendUint32(nil, uint32(len(d.Kernel))))
		in.WriteString(d.Kernel)
		for _, v := range append(d.Groups[:], d.Threads[:]...) {
			if v < 0 || v > 1<<31 {
				return fmt.Errorf("mslsim: %s: grid size %d out of range", d.Kernel, v)
			}
			in.Write(le.AppendUint32(nil, uint32(v)))
		}
		in.Write(le.AppendUint32(nil, uint32(len(d.Binds))))
		for _, b := range d.Binds {
			if b.Buf < 0 || b.Buf >= len(req.Bufs) || b.Offset < 0 || b.Index < 0 {
				return fmt.Errorf("mslsim: %s: bad binding %+v", d.Kernel, b)
			}
			in.Write(le.AppendUint32(nil, uint32(b.Index)))
			in.Write(le.AppendUint32(nil, uint32(b.Buf)))
			in.Write(le.AppendUint64(nil, uint64(b.Offset)))
		}
	}
	cmd := exec.CommandContext(ctx, p.path)
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	out.Grow(total)
	cmd.Stdout = &out
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("mslsim: %s: %w", msg, ErrKernel)
	}
	r := bytes.NewReader(out.Bytes())
	for _, b := range req.Bufs {
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("mslsim: reading buffers back: %w", err)
		}
	}
	return nil
}

// ErrKernel marks a failure the executor reported while running kernels.
var ErrKernel = errors.New("kernel failed")
