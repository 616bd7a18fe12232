package metal

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The MSL lint: constructs the C++ compiler behind the simulator accepts but
// the Metal Shading Language does not, checked over shaders/* so that the
// simulator passing says something about the Mac. Section numbers are those
// of the Metal Shading Language Specification, version 3.1.

// lintRule is one pattern that must not occur in a shader source (comments
// and string literals removed).
type lintRule struct {
	re  *regexp.Regexp
	why string
}

var lintRules = []lintRule{
	// §1.4 "Metal and C++14": MSL is C++14, so C11's _Static_assert is not
	// part of it, and clang's __builtin_* are no part of the language (MSL
	// has static_assert and offsetof).
	{regexp.MustCompile(`\b_Static_assert\b`), "_Static_assert is C11; MSL (§1.4, C++14) has static_assert"},
	{regexp.MustCompile(`\b__builtin_\w+`), "clang builtins are not MSL (§1.4); use static_assert/offsetof or the Metal standard library"},
	// §2.1 "Scalar data types": Metal does not support double.
	{regexp.MustCompile(`\bdouble\b`), "MSL has no double (§2.1 Scalar data types)"},
	// §1.4.4 "Restrictions": the C++ standard library must not be used.
	{regexp.MustCompile(`\bstd::`), "the C++ standard library is not available in MSL (§1.4.4 Restrictions)"},
	// §1.4.3 "Preprocessing directives" allows #pragma, but the host merges
	// every shader file into one source for newLibraryWithSource, where
	// #pragma once stands in the main file (a warning, and no guard).
	{regexp.MustCompile(`(?m)^\s*#\s*pragma\s+once\b`), "#pragma once in what becomes the one merged library source (§1.4.3; library.go): use an include guard"},
	// §1.4.4 "Restrictions": no new/delete, no exception handling, no
	// goto, no virtual functions, no dynamic_cast or type identification,
	// no lambdas, no thread_local storage.
	{regexp.MustCompile(`\b(new|delete)\b`), "MSL has no new or delete (§1.4.4 Restrictions)"},
	{regexp.MustCompile(`\b(try|catch|throw|noexcept)\b`), "MSL has no exception handling (§1.4.4 Restrictions)"},
	{regexp.MustCompile(`\b(goto|virtual|dynamic_cast|typeid|thread_local|register)\b`), "not supported by MSL (§1.4.4 Restrictions)"},
	{regexp.MustCompile(`\[[^\[\]]*\]\s*\([^()]*\)\s*(mutable\s*)?(->\s*[\w:]+\s*)?\{`), "MSL has no lambda expressions (§1.4.4 Restrictions)"},
	// §1.4.4 "Restrictions" (function pointers only as [[visible]] functions
	// through a function table, which the host does not set up).
	{regexp.MustCompile(`\(\s*\*\s*\w*\s*\)\s*\(`), "function pointers need visible functions and function tables (§1.4.4, §5.1.4); the host has none"},
}

// positionTypes are the declared types MSL allows for the thread-position
// built-ins a kernel takes (§5.2.3.6 "Kernel function input attributes",
// Table 5.8): uint or ushort, and their 2- and 3-vectors for the grid
// positions and sizes. Signed and floating types are rejected by Metal.
var positionTypes = map[string][]string{
	"thread_position_in_grid":        {"uint", "uint2", "uint3", "ushort", "ushort2", "ushort3"},
	"thread_position_in_threadgroup": {"uint", "uint2", "uint3", "ushort", "ushort2", "ushort3"},
	"threadgroup_position_in_grid":   {"uint", "uint2", "uint3", "ushort", "ushort2", "ushort3"},
	"threads_per_threadgroup":        {"uint", "uint2", "uint3", "ushort", "ushort2", "ushort3"},
	"threadgroups_per_grid":          {"uint", "uint2", "uint3", "ushort", "ushort2", "ushort3"},
	"threads_per_grid":               {"uint", "uint2", "uint3", "ushort", "ushort2", "ushort3"},
	"thread_index_in_threadgroup":    {"uint", "ushort"},
	"thread_index_in_simdgroup":      {"uint", "ushort"},
	"simdgroup_index_in_threadgroup": {"uint", "ushort"},
	"simdgroups_per_threadgroup":     {"uint", "ushort"},
	"threads_per_simdgroup":          {"uint", "ushort"},
}

// mslLibrary is the checked list of Metal standard library functions the
// shaders may call, each with the section that defines it; the simulator's
// shim must implement every one (TestLintListInShim). Anything else called
// by name must be defined in shaders/ or be a type conversion.
var mslLibrary = map[string]string{
	"clamp":                         "§6.2 Common functions",
	"abs":                           "§6.4 Integer functions / §6.5 Math functions",
	"min":                           "§6.4 Integer functions / §6.5 Math functions",
	"max":                           "§6.4 Integer functions / §6.5 Math functions",
	"fabs":                          "§6.5 Math functions",
	"exp":                           "§6.5 Math functions",
	"exp2":                          "§6.5 Math functions",
	"log":                           "§6.5 Math functions",
	"sqrt":                          "§6.5 Math functions",
	"rsqrt":                         "§6.5 Math functions",
	"tanh":                          "§6.5 Math functions",
	"fma":                           "§6.5 Math functions",
	"copysign":                      "§6.5 Math functions",
	"floor":                         "§6.5 Math functions",
	"ceil":                          "§6.5 Math functions",
	"make_filled_simdgroup_matrix":  "§6.7 SIMD-group matrix functions",
	"simdgroup_load":                "§6.7 SIMD-group matrix functions",
	"simdgroup_store":               "§6.7 SIMD-group matrix functions",
	"simdgroup_multiply_accumulate": "§6.7 SIMD-group matrix functions",
	"threadgroup_barrier":           "§6.9.1 Threadgroup and SIMD-group synchronization functions",
	"simdgroup_barrier":             "§6.9.1 Threadgroup and SIMD-group synchronization functions",
	"simd_sum":                      "§6.9.2 SIMD-group functions",
	"simd_max":                      "§6.9.2 SIMD-group functions",
	"simd_min":                      "§6.9.2 SIMD-group functions",
	"simd_shuffle":                  "§6.9.2 SIMD-group functions",
	"simd_broadcast":                "§6.9.2 SIMD-group functions",
	"simd_shuffle_xor":              "§6.9.2 SIMD-group functions",
	"simd_shuffle_down":             "§6.9.2 SIMD-group functions",
}

// notCalls are names followed by '(' that are not function calls: C++
// keywords and operators, and the attributes' arguments.
var notCalls = []string{"if", "for", "while", "switch", "return", "sizeof", "alignof", "static_assert", "offsetof", "defined"}

// scalarTypes are the MSL scalar and vector types (§2.1, §2.2), which
// appear before '(' as conversions and constructors.
var scalarTypeRe = regexp.MustCompile(`^(bool|char|uchar|short|ushort|int|uint|long|ulong|half|float)([234])?$`)

var (
	commentRe  = regexp.MustCompile(`(?s)//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"`)
	attrListRe = regexp.MustCompile(`\[\[[^\]]*\]\]`)
	callRe     = regexp.MustCompile(`\b([A-Za-z_]\w*)\s*(?:<[^;{}()<>]*>)?\s*\(`)
	defineRe   = regexp.MustCompile(`(?m)^\s*#\s*define\s+(\w+)`)
	typedefRe  = regexp.MustCompile(`\}\s*(\w+)\s*;|\btypedef\s+[\w\s:<>,]+?\b(\w+)\s*;|\bstruct\s+(\w+)`)
	// A function definition: a return type, the name, a parameter list and
	// then a body.
	funcDefRe   = regexp.MustCompile(`(?m)^(?:template\s*<[^>]*>\s*)?(?:(?:inline|static|kernel)\s+)*[A-Za-z_][\w:<>]*\s+([A-Za-z_]\w*)\s*\(`)
	builtinArgs = regexp.MustCompile(`([A-Za-z_][\w\s]*?)\s+[A-Za-z_]\w*\s*\[\[\s*([a-z_]+)\s*\]\]`)
	preprocRe   = regexp.MustCompile(`(?m)^\s*#[^\n]*`)
)

// stripComments blanks comments and string literals, keeping newlines so
// that byte offsets still give the right line.
func stripComments(src string) string {
	return commentRe.ReplaceAllStringFunc(src, func(m string) string {
		if strings.HasPrefix(m, `"`) {
			return `""`
		}
		return strings.Map(func(r rune) rune {
			if r == '\n' {
				return r
			}
			return ' '
		}, m)
	})
}

// lintSources checks the shader sources (file name → text) and returns one
// "file:line: problem" per finding.
func lintSources(files map[string]string) []string {
	var out []string
	code := map[string]string{}
	defined := map[string]bool{}
	for name, src := range files {
		c := stripComments(src)
		code[name] = c
		for _, m := range defineRe.FindAllStringSubmatch(c, -1) {
			defined[m[1]] = true
		}
		for _, m := range typedefRe.FindAllStringSubmatch(c, -1) {
			for _, n := range m[1:] {
				if n != "" {
					defined[n] = true
				}
			}
		}
		for _, m := range funcDefRe.FindAllStringSubmatch(preprocRe.ReplaceAllString(c, ""), -1) {
			defined[m[1]] = true
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		c := code[name]
		line := func(off int) int { return 1 + strings.Count(c[:off], "\n") }
		report := func(off int, format string, args ...any) {
			out = append(out, fmt.Sprintf("%s:%d: %s", name, line(off), fmt.Sprintf(format, args...)))
		}
		for _, r := range lintRules {
			for _, loc := range r.re.FindAllStringIndex(c, -1) {
				report(loc[0], "%q: %s", strings.TrimSpace(c[loc[0]:loc[1]]), r.why)
			}
		}
		// Thread-position built-ins: the declared type (§5.2.3.6).
		for _, loc := range builtinArgs.FindAllStringSubmatchIndex(c, -1) {
			attr := c[loc[4]:loc[5]]
			allowed, ok := positionTypes[attr]
			if !ok {
				continue
			}
			typ := strings.Join(strings.Fields(c[loc[2]:loc[3]]), " ")
			typ = strings.TrimPrefix(typ, "const ")
			if i := strings.LastIndexAny(typ, "(,"); i >= 0 {
				typ = strings.TrimSpace(typ[i+1:])
			}
			if !slices.Contains(allowed, typ) {
				report(loc[0], "[[%s]] declared %s; MSL allows %s (§5.2.3.6 Kernel function input attributes)",
					attr, typ, strings.Join(allowed, ", "))
			}
		}
		// Calls: to the checked library list, to functions defined here,
		// or conversions.
		body := attrListRe.ReplaceAllStringFunc(preprocRe.ReplaceAllStringFunc(c, blank), blank)
		for _, loc := range callRe.FindAllStringSubmatchIndex(body, -1) {
			fn := body[loc[2]:loc[3]]
			if slices.Contains(notCalls, fn) || scalarTypeRe.MatchString(fn) || defined[fn] {
				continue
			}
			if _, ok := mslLibrary[fn]; ok {
				continue
			}
			report(loc[2], "%s() is neither defined in shaders/ nor in the checked list of MSL standard library functions (§6)", fn)
		}
		// Recursion (§1.4.4): a function whose body names itself.
		for _, loc := range funcDefRe.FindAllStringSubmatchIndex(body, -1) {
			fn := body[loc[2]:loc[3]]
			open := strings.IndexAny(body[loc[1]:], "{;")
			if open < 0 || body[loc[1]+open] != '{' {
				continue
			}
			start := loc[1] + open
			end := matchBrace(body, start)
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(fn) + `\s*(<[^;{}()<>]*>)?\s*\(`).MatchString(body[start:end]) {
				report(loc[2], "%s calls itself: MSL has no recursion (§1.4.4 Restrictions)", fn)
			}
		}
	}
	return out
}

func blank(m string) string { return strings.Repeat(" ", len(m)) }

// matchBrace returns the offset just past the brace that closes s[open].
func matchBrace(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}

func readShaders(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("shaders/*")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = string(b)
	}
	if len(files) == 0 {
		t.Fatal("no shader sources in shaders/")
	}
	return files
}

// TestMSLLint runs the lint over shaders/*.
func TestMSLLint(t *testing.T) {
	for _, p := range lintSources(readShaders(t)) {
		t.Error(p)
	}
}

// TestMSLLintRules checks that each rule fires on a construct it is for,
// and stays quiet on valid MSL.
func TestMSLLintRules(t *testing.T) {
	const clean = `#include <metal_stdlib>
using namespace metal;
#define N 4
typedef struct { int n; } Args;
static_assert(sizeof(Args) == 4, "size");
inline float twice(float x) { return 2.0f * x; } // double(x) in a comment
kernel void k(constant Args& a [[buffer(0)]], device float* o [[buffer(1)]],
    uint2 g [[threadgroup_position_in_grid]], ushort i [[thread_index_in_threadgroup]]) {
    o[i] = twice(fma(float(a.n), exp(1.0f), simd_sum(1.0f))) + float(g.x);
    threadgroup_barrier(mem_flags::mem_threadgroup);
}
`
	if p := lintSources(map[string]string{"clean.metal": clean}); len(p) != 0 {
		t.Errorf("clean source flagged: %v", p)
	}
	for _, c := range []struct{ src, want string }{
		{"_Static_assert(sizeof(int) == 4, \"x\");\n", "_Static_assert"},
		{"static_assert(__builtin_offsetof(A, b) == 0, \"x\");\n", "clang builtins"},
		{"inline double f(float x) { return x; }\n", "no double"},
		{"inline float f(float x) { return std::exp(x); }\n", "standard library"},
		{"#pragma once\n", "#pragma once"},
		{"inline void f(device float* p) { float* q = new float[4]; delete q; }\n", "new or delete"},
		{"inline void f() { try { } catch (...) { } }\n", "exception"},
		{"inline float f(float x) { return f(x - 1.0f); }\n", "calls itself"},
		{"inline float g(float (*fn)(float)) { return 0.0f; }\n", "function pointers"},
		{"inline float f(float x) { auto l = [](float y) { return y; }; return l(x); }\n", "lambda"},
		{"kernel void k(device float* o [[buffer(0)]], int i [[thread_index_in_threadgroup]]) { o[i] = 0.0f; }\n", "[[thread_index_in_threadgroup]] declared int"},
		{"kernel void k(device float* o [[buffer(0)]], uint2 i [[thread_index_in_simdgroup]]) { }\n", "declared uint2"},
		{"kernel void k(device float* o [[buffer(0)]], int3 g [[threadgroup_position_in_grid]]) { }\n", "declared int3"},
		{"inline float f(float x) { return erf(x); }\n", "erf() is neither defined"},
		{"inline float f(float x) { return metal::lgamma(x); }\n", "lgamma() is neither defined"},
	} {
		p := lintSources(map[string]string{"bad.metal": c.src})
		if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, c.want) }) {
			t.Errorf("%q: findings %v, want one mentioning %q", c.src, p, c.want)
		}
	}
}

// TestLintListInShim checks that the simulator's shim implements every
// library function the lint lets the shaders call.
func TestLintListInShim(t *testing.T) {
	shim, err := os.ReadFile("internal/mslsim/runtime/metal_stdlib")
	if err != nil {
		t.Fatal(err)
	}
	for fn := range mslLibrary {
		if !regexp.MustCompile(`\b` + fn + `\s*\(`).Match(shim) {
			t.Errorf("%s is in the lint's list but the simulator's metal_stdlib does not define it", fn)
		}
	}
}
