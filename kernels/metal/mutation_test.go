package metal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// mutationEnv turns TestMutants on (.ci/run sets it): the harness builds and
// runs the simulator once or twice per mutant, a few minutes in all.
const mutationEnv = "MINILM_MUTATION"

// mutant is one planted bug: old (which must occur exactly once, or at least
// once with all) replaced by new in one shader file.
type mutant struct {
	name     string
	file     string
	old, new string
	all      bool
	// run and skip select the tests that should catch it (go test -run and
	// -skip patterns), on a library of only the shaders in files; the
	// whole-library TestSimulatedOrders runs after them if they pass.
	run, skip string
	files     []string
}

// Test selections, per kernel: the conformance cases of its op, at the
// small shapes where there are several (the boundaries are the same).
const (
	runMatMul    = `^TestSimulatedOps$/^MatMul/M=[0-9]+,N=([0-9]{1,2}|129),`
	runLayerNorm = `^TestSimulatedOps$/^LayerNorm/`
	runAttention = `^TestSimulatedOps$/^Attention/`
	skipLongAtt  = `^TestSimulatedOps$/^Attention/seqs=.(512|130).,`
	runGELU      = `^TestSimulatedOps$/^GELU/`
	runTanh      = `^TestSimulatedOps$/^Tanh/`
	runEmbed     = `^TestSimulatedOps$/^Embed/`
	runGather    = `^TestSimulatedOps$/^GatherRows/`
)

var (
	matmulFiles    = []string{"args.h", "common.h", "matmul.metal"}
	layernormFiles = []string{"args.h", "common.h", "layernorm.metal"}
	attentionFiles = []string{"args.h", "common.h", "attention.metal"}
	eltFiles       = []string{"args.h", "common.h", "elementwise.metal"}
)

// mutants is the fixed list: every bug issue 16 found the simulator blind
// to, then classic slips of each kind (bounds, barriers, races, address
// spaces, numerics) in every kernel.
var mutants = []mutant{
	// Issue 16, blind spot 1: out-of-bounds reads.
	{name: "matmul x-stage guard gm<M → gm<=M (reads past x)", file: "matmul.metal",
		old: "(gm < M && gk < K) ? x[", new: "(gm <= M && gk < K) ? x[", run: runMatMul, files: matmulFiles},
	{name: "gelu also reads x[i+1]", file: "elementwise.metal",
		old: "out[i] = gelu_erf(x[i]);", new: "out[i] = gelu_erf(x[i]) + 0.0f * x[i + 1];", run: runGELU, files: eltFiles},
	{name: "tanh adds x[N] to the last element", file: "elementwise.metal",
		old: "out[i] = tanh(x[i]);", new: "out[i] = tanh(x[i]) + (i + 1 == uint(a.N) ? x[a.N] : 0.0f);", run: runTanh, files: eltFiles},
	// Blind spot 2: barrier flags.
	{name: "matmul: every barrier mem_flags::mem_none", file: "matmul.metal", all: true,
		old: "threadgroup_barrier(mem_flags::mem_threadgroup);", new: "threadgroup_barrier(mem_flags::mem_none);", run: runMatMul, files: matmulFiles},
	{name: "attention: staging barrier mem_flags::mem_none", file: "attention.metal",
		old: "        }\n        threadgroup_barrier(mem_flags::mem_threadgroup);\n        if (active) {",
		new: "        }\n        threadgroup_barrier(mem_flags::mem_none);\n        if (active) {", run: runAttention, skip: skipLongAtt, files: attentionFiles},
	// Blind spot 3: cross-threadgroup write races.
	{name: "attention query guard qi<s1 → qi<=s1 (writes the next sequence's row)", file: "attention.metal",
		old: "const bool active = qi < s1;", new: "const bool active = qi <= s1;", run: runAttention, skip: skipLongAtt, files: attentionFiles},
	// Blind spot 4: address spaces.
	{name: "matmul_tile takes xs as a device float* (threadgroup array passed)", file: "matmul.metal",
		old: "threadgroup float* xs, threadgroup float* ws", new: "device float* xs, threadgroup float* ws", run: runMatMul, files: matmulFiles},
	{name: "tanh writes through a constant pointer", file: "elementwise.metal",
		old: "kernel void tanh_f32(\n    constant UnaryArgs& a [[buffer(0)]],\n    device const float* x [[buffer(1)]],\n    device float* out",
		new: "kernel void tanh_f32(\n    constant UnaryArgs& a [[buffer(0)]],\n    device const float* x [[buffer(1)]],\n    constant float* out", run: runTanh, files: eltFiles},
	{name: "matmul_f32 args device& passed to matmul_tile's constant&", file: "matmul.metal",
		old: "kernel void matmul_f32(\n    constant MatMulArgs& a", new: "kernel void matmul_f32(\n    device const MatMulArgs& a", run: runMatMul, files: matmulFiles},
	// Blind spot 5: numerics.
	{name: "layernorm sqrt(var)+eps for sqrt(var+eps)", file: "layernorm.metal",
		old: "1.0f / sqrt(var + a.Eps)", new: "1.0f / (sqrt(var) + a.Eps)", run: runLayerNorm, files: layernormFiles},
	{name: "attention block max starts at -INFINITY, not the running max", file: "attention.metal",
		old: "float bm = m;", new: "float bm = -INFINITY;", run: runAttention, skip: skipLongAtt, files: attentionFiles},
	// Blind spot 6: loose built-ins.
	{name: "layernorm: int tid [[thread_index_in_threadgroup]]", file: "layernorm.metal",
		old: "    uint tid [[thread_index_in_threadgroup]],", new: "    int tid [[thread_index_in_threadgroup]],", run: runLayerNorm, files: layernormFiles},
	{name: "matmul simdgroup_load of a half pointer into a float matrix", file: "matmul.metal",
		old: "simdgroup_load(wb[j], ws + (sn + 8 * j) * MM_BK + kk, MM_BK,",
		new: "simdgroup_load(wb[j], (threadgroup half*)(ws + (sn + 8 * j) * MM_BK + kk), MM_BK,", run: runMatMul, files: matmulFiles},
	{name: "matmul simdgroup_load pointer differs between lanes", file: "matmul.metal",
		old: "simdgroup_load(xa[i], xs + (sm + 8 * i) * MM_BK + kk, MM_BK);",
		new: "simdgroup_load(xa[i], xs + (sm + 8 * i) * MM_BK + kk + (tid & 1), MM_BK);", run: runMatMul, files: matmulFiles},
	// More of each kind.
	{name: "matmul w-stage guard gn<N → gn<=N", file: "matmul.metal",
		old: "(gn < N && gk < K) ? float(w[", new: "(gn <= N && gk < K) ? float(w[", run: runMatMul, files: matmulFiles},
	{name: "matmul: no barrier before the next K step overwrites xs/ws", file: "matmul.metal",
		old: "        // The next iteration overwrites xs and ws.\n        threadgroup_barrier(mem_flags::mem_threadgroup);\n",
		new: "        // The next iteration overwrites xs and ws.\n", run: runMatMul, files: matmulFiles},
	{name: "matmul: no barrier between simdgroup_store and the epilogue", file: "matmul.metal",
		old: "    }\n    threadgroup_barrier(mem_flags::mem_threadgroup);\n    for (uint e = tid; e < MM_BM * MM_BN;",
		new: "    }\n    for (uint e = tid; e < MM_BM * MM_BN;", run: runMatMul, files: matmulFiles},
	{name: "matmul epilogue guard drops gn<N", file: "matmul.metal",
		old: "if (gm < M && gn < N) {", new: "if (gm < M) {", run: runMatMul, files: matmulFiles},
	{name: "matmul bias[gn+1]", file: "matmul.metal",
		old: "v += bias[gn];", new: "v += bias[gn + 1];", run: runMatMul, files: matmulFiles},
	{name: "tg_sum: no barrier before partial is reused", file: "common.h",
		old: "    // partial is reused by the next call.\n    threadgroup_barrier(mem_flags::mem_threadgroup);\n",
		new: "    // partial is reused by the next call.\n", run: runLayerNorm, files: layernormFiles},
	{name: "layernorm unbiased variance (C-1)", file: "layernorm.metal",
		old: "tg_sum(q, partial, lane, sg, ntg / 32) / float(C);", new: "tg_sum(q, partial, lane, sg, ntg / 32) / float(C - 1);", run: runLayerNorm, files: layernormFiles},
	{name: "layernorm threads stride by 32, not the group size", file: "layernorm.metal", all: true,
		old: "c += ntg)", new: "c += 32)", run: runLayerNorm, files: layernormFiles},
	{name: "attention: no barrier before the next key block overwrites ks/vs", file: "attention.metal",
		old: "        // The next step overwrites ks and vs.\n        threadgroup_barrier(mem_flags::mem_threadgroup);\n",
		new: "        // The next step overwrites ks and vs.\n", run: runAttention, skip: skipLongAtt, files: attentionFiles},
	{name: "attention: running sum not rescaled (l *= c dropped)", file: "attention.metal",
		old: "l *= c;", new: "l *= 1.0f;", run: runAttention, skip: skipLongAtt, files: attentionFiles},
	{name: "attention stages a full key block past the sequence end", file: "attention.metal",
		old: "const uint nk = min(uint(ATT_KB), s1 - k0);", new: "const uint nk = uint(ATT_KB);", run: runAttention, skip: skipLongAtt, files: attentionFiles},
	{name: "gelu uses |x| in the 0.5·x factor", file: "common.h",
		old: "return 0.5f * x * (x >= 0.0f", new: "return 0.5f * fabs(x) * (x >= 0.0f", run: runGELU, files: eltFiles},
	{name: "tanh without its tail guard", file: "elementwise.metal",
		old: "    if (i < uint(a.N)) {\n        out[i] = tanh(x[i]);", new: "    {\n        out[i] = tanh(x[i]);", run: runTanh, files: eltFiles},
	{name: "embed tail guard i>=T·H → i>T·H", file: "elementwise.metal",
		old: "if (i >= uint(a.T) * H) {", new: "if (i > uint(a.T) * H) {", run: runEmbed, files: eltFiles},
	{name: "gather_rows reads one column to the right", file: "elementwise.metal",
		old: "out[i] = x[uint(rows[r]) * C + c];", new: "out[i] = x[uint(rows[r]) * C + c + 1];", run: runGather, files: eltFiles},
}

// mutantResult is what running the suite on one mutant gave.
type mutantResult struct {
	caught bool
	by     string // the deepest failing test
	how    string // its first error line
	err    error  // the harness itself failed
}

// TestMutants applies each mutant to a temporary copy of shaders/ and runs
// the tests that should catch it in a child test process; every mutant must
// make the suite fail, and the unmutated shaders must pass the same tests.
// It prints the table of mutants and the test that caught each.
func TestMutants(t *testing.T) {
	if os.Getenv(mutationEnv) == "" {
		t.Skipf("skipping the mutation harness: set %s=1 to run it (.ci/run does)", mutationEnv)
	}
	be, err := simulated(SimConfig{})
	if errors.Is(err, ErrNoCompiler) {
		t.Skipf("skipping the mutation harness: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	be.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	orig, err := fs.Sub(shaderFS, "shaders")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()

	// The unmutated shaders, through every selection the mutants use.
	type sel struct {
		run, skip string
		files     string
	}
	var sels []sel
	for _, m := range mutants {
		s := sel{m.run, m.skip, strings.Join(m.files, ",")}
		if !slices.Contains(sels, s) {
			sels = append(sels, s)
		}
	}
	baseline := make([]mutantResult, len(sels))
	parallel(len(sels), func(i int) {
		dir := t.TempDir()
		if err := copyShaders(orig, dir, strings.Split(sels[i].files, ","), nil); err != nil {
			baseline[i] = mutantResult{err: err}
			return
		}
		baseline[i] = runSuite(exe, dir, sels[i].run, sels[i].skip)
	})
	for i, r := range baseline {
		if r.err != nil || r.caught {
			t.Fatalf("unmutated shaders fail %s (-skip %q): %s %v", sels[i].run, sels[i].skip, r.how, r.err)
		}
	}

	results := make([]mutantResult, len(mutants))
	parallel(len(mutants), func(i int) {
		m := mutants[i]
		dir := t.TempDir()
		if err := copyShaders(orig, dir, m.files, &m); err != nil {
			results[i] = mutantResult{err: err}
			return
		}
		r := runSuite(exe, dir, m.run, m.skip)
		if r.err == nil && !r.caught {
			// The whole library under five thread orders.
			full := t.TempDir()
			if err := copyShaders(orig, full, shaderFiles, &m); err != nil {
				results[i] = mutantResult{err: err}
				return
			}
			r = runSuite(exe, full, "^TestSimulatedOrders$", "")
		}
		results[i] = r
	})

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-3s %-70s %-8s %s\n", "#", "mutant", "caught", "by (first error)")
	caught := 0
	for i, m := range mutants {
		r := results[i]
		verdict := "NO"
		if r.caught {
			verdict = "yes"
			caught++
		}
		how := r.by
		if r.how != "" {
			how += ": " + r.how
		}
		if r.err != nil {
			how = "harness error: " + r.err.Error()
		}
		fmt.Fprintf(&table, "%-3d %-70s %-8s %s\n", i+1, m.name, verdict, how)
		if !r.caught {
			t.Errorf("mutant %d (%s) survived: %s", i+1, m.name, how)
		}
	}
	fmt.Fprintf(&table, "%d of %d mutants caught in %v\n", caught, len(mutants), time.Since(start).Round(time.Second))
	t.Log(table.String())
}

// parallel runs f(0..n-1), two at a time: CI has two cores, and each child
// process runs one simulator at a time.
func parallel(n int, f func(int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// copyShaders writes the named shader files from src into dir, with m
// applied to its file.
func copyShaders(src fs.FS, dir string, files []string, m *mutant) error {
	applied := m == nil
	for _, f := range files {
		b, err := fs.ReadFile(src, f)
		if err != nil {
			return err
		}
		text := string(b)
		if m != nil && m.file == f {
			n := strings.Count(text, m.old)
			if n == 0 || (n > 1 && !m.all) {
				return fmt.Errorf("mutant %q: %q occurs %d times in %s, want once: update the mutant", m.name, m.old, n, f)
			}
			text = strings.ReplaceAll(text, m.old, m.new)
			applied = true
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			return err
		}
	}
	if !applied {
		return fmt.Errorf("mutant %q: %s is not among its files %v", m.name, m.file, files)
	}
	return nil
}

var (
	failRe  = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
	errorRe = regexp.MustCompile(`(?m)^\s+\w+\.go:\d+: (.+)$`)
	clangRe = regexp.MustCompile(`(?m)(?:error|warning): (.+)$`)
)

// runSuite runs this test binary on the shaders in dir with the given -run
// and -skip patterns, stopping at the first failure, and says whether it
// failed, in which test and how.
func runSuite(exe, dir, run, skip string) mutantResult {
	args := []string{"-test.run", run, "-test.failfast", "-test.count=1"}
	if skip != "" {
		args = append(args, "-test.skip", skip)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool {
		return strings.HasPrefix(e, mutationEnv+"=") || strings.HasPrefix(e, shadersEnv+"=")
	}), shadersEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := out.String()
	if err == nil {
		if !strings.Contains(text, "PASS") {
			return mutantResult{err: fmt.Errorf("no test ran: %s", text)}
		}
		return mutantResult{}
	}
	r := mutantResult{caught: true}
	for _, m := range failRe.FindAllStringSubmatch(text, -1) {
		if len(m[1]) > len(r.by) {
			r.by = m[1]
		}
	}
	if r.by == "" {
		return mutantResult{err: fmt.Errorf("%v: %s", err, text)}
	}
	if m := errorRe.FindStringSubmatch(text); m != nil {
		r.how = m[1]
		// A compile failure: the compiler's first complaint says why.
		if c := clangRe.FindStringSubmatch(text); c != nil && strings.Contains(r.how, "exit status") {
			r.how += " — " + c[1]
		}
		if len(r.how) > 150 {
			r.how = r.how[:150] + "…"
		}
	}
	return r
}
