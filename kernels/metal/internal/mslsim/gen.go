package mslsim

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// builtin maps a Metal position attribute to the executor's Pos field: a
// 3-vector (vector types take its first lanes, scalars its x) or a scalar.
// The types each accepts are the MSL specification's (section 5.2.3.6,
// "Kernel function input attributes"): uint or ushort, and for the grid
// positions and sizes also their 2- and 3-vectors; nothing signed.
var builtins = map[string]struct {
	field  string
	vector bool
}{
	"thread_position_in_grid":        {"gid", true},
	"thread_position_in_threadgroup": {"tid", true},
	"threadgroup_position_in_grid":   {"tgid", true},
	"threads_per_threadgroup":        {"tgsize", true},
	"threadgroups_per_grid":          {"ngroups", true},
	"threads_per_grid":               {"gsize", true},
	"thread_index_in_threadgroup":    {"lin", false},
	"thread_index_in_simdgroup":      {"lane", false},
	"simdgroup_index_in_threadgroup": {"sg", false},
	"simdgroups_per_threadgroup":     {"nsg", false},
	"threads_per_simdgroup":          {"width", false},
}

var (
	kernelRe = regexp.MustCompile(`\bkernel\s+void\s+([A-Za-z_]\w*)\s*\(`)
	attrRe   = regexp.MustCompile(`\[\[\s*([A-Za-z_]\w*)\s*(?:\(\s*(\d+)\s*\))?\s*\]\]`)
	anyAttr  = regexp.MustCompile(`\[\[[^\]]*\]\]`)
	// A threadgroup array declared in a kernel body: threadgroup T name[...]...;
	tgDeclRe = regexp.MustCompile(`^(\s*)threadgroup\s+([A-Za-z_][\w:]*)\s+([A-Za-z_]\w*)\s*((?:\[[^\];]+\]\s*)+);\s*(//.*)?$`)
	tgAnyRe  = regexp.MustCompile(`^\s*threadgroup\s+[^(]*;`)
	vecRe    = regexp.MustCompile(`^(?:u?(?:int|short|long|char)|float|half)([234])$`)
)

// Translate rewrites a Metal library source into C++ for the shim and
// appends one launcher per kernel plus the registry the executor looks
// kernels up in. It returns the kernel names in source order.
//
// Attributes ([[...]]) are stripped, since once the shim erases the
// threadgroup qualifier [[threadgroup(0)]] would no longer parse; in-kernel
// threadgroup arrays become references to group storage, since an erased
// qualifier would silently give every thread a private array.
func Translate(src []byte) ([]byte, []string, error) {
	text := string(src)
	var launchers bytes.Buffer
	var names []string
	for _, m := range kernelRe.FindAllStringSubmatchIndex(text, -1) {
		name := text[m[2]:m[3]]
		params, err := splitParams(text, m[1])
		if err != nil {
			return nil, nil, fmt.Errorf("mslsim: kernel %s: %w", name, err)
		}
		args := make([]string, 0, len(params))
		for _, p := range params {
			a, err := argument(p)
			if err != nil {
				return nil, nil, fmt.Errorf("mslsim: kernel %s: parameter %q: %w", name, p, err)
			}
			args = append(args, a)
		}
		names = append(names, name)
		fmt.Fprintf(&launchers, "static void mslsim_launch_%s(void** b) {\n\tconst mslsim::Pos& p = mslsim::pos();\n\t(void)p;\n\t%s(%s);\n}\n",
			name, name, strings.Join(args, ", "))
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("mslsim: no kernel functions in source")
	}

	var out bytes.Buffer
	for i, line := range strings.Split(anyAttr.ReplaceAllString(text, ""), "\n") {
		if m := tgDeclRe.FindStringSubmatch(line); m != nil {
			line = fmt.Sprintf("%sauto& %s = ::mslsim::tg_static<%s%s>();", m[1], m[3], m[2], strings.TrimSpace(m[4]))
		} else if tgAnyRe.MatchString(line) {
			return nil, nil, fmt.Errorf("mslsim: source line %d: unsupported threadgroup declaration %q (use an array: threadgroup T name[N];)", i+1, strings.TrimSpace(line))
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	out.WriteString("\n#line 1 \"mslsim-launchers\"\n")
	out.Write(launchers.Bytes())
	out.WriteString("extern \"C\" const mslsim::Kernel mslsim_kernels[] = {\n")
	for _, n := range names {
		fmt.Fprintf(&out, "\t{%q, mslsim_launch_%s},\n", n, n)
	}
	fmt.Fprintf(&out, "};\nextern \"C\" const int mslsim_nkernels = %d;\n", len(names))
	return out.Bytes(), names, nil
}

// splitParams returns the top-level comma-separated parameters of the list
// that starts at text[open] (just past the '(').
func splitParams(text string, open int) ([]string, error) {
	depth := 0
	start := open
	var out []string
	for i := open; i < len(text); i++ {
		switch text[i] {
		case '(', '[', '<':
			depth++
		case ']', '>':
			depth--
		case ')':
			if depth == 0 {
				if s := strings.TrimSpace(text[start:i]); s != "" {
					out = append(out, s)
				}
				return out, nil
			}
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(text[start:i]))
				start = i + 1
			}
		}
	}
	return nil, fmt.Errorf("unterminated parameter list")
}

// argument returns the C++ expression the launcher passes for one kernel
// parameter.
func argument(p string) (string, error) {
	m := attrRe.FindStringSubmatch(p)
	if m == nil {
		return "", fmt.Errorf("no [[...]] binding attribute")
	}
	decl := strings.TrimSpace(attrRe.ReplaceAllString(p, ""))
	cut := strings.LastIndexFunc(decl, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	if cut < 0 {
		return "", fmt.Errorf("no type")
	}
	typ := strings.TrimSpace(decl[:cut+1])
	switch attr := m[1]; attr {
	case "buffer":
		if m[2] == "" {
			return "", fmt.Errorf("buffer without an index")
		}
		idx, _ := strconv.Atoi(m[2])
		if strings.HasSuffix(typ, "&") {
			return fmt.Sprintf("*(%s*)b[%d]", strings.TrimSuffix(typ, "&"), idx), nil
		}
		if !strings.HasSuffix(typ, "*") {
			return "", fmt.Errorf("buffer parameter is neither a pointer nor a reference")
		}
		return fmt.Sprintf("(%s)b[%d]", typ, idx), nil
	default:
		bi, ok := builtins[attr]
		if !ok {
			return "", fmt.Errorf("attribute %s is not supported by the simulator", attr)
		}
		allowed := []string{"uint", "ushort"}
		if bi.vector {
			allowed = append(allowed, "uint2", "uint3", "ushort2", "ushort3")
		}
		if !slices.Contains(allowed, strings.Join(strings.Fields(strings.TrimPrefix(typ, "const ")), " ")) {
			return "", fmt.Errorf("[[%s]] must be declared %s, not %s (as Metal requires)", attr, strings.Join(allowed, ", "), typ)
		}
		typ = strings.TrimSpace(strings.TrimPrefix(typ, "const "))
		if vm := vecRe.FindStringSubmatch(typ); vm != nil {
			return fmt.Sprintf("::mslsim::vec<%s, %s>(p.%s)", typ, vm[1], bi.field), nil
		}
		if bi.vector {
			return fmt.Sprintf("(%s)p.%s[0]", typ, bi.field), nil
		}
		return fmt.Sprintf("(%s)p.%s", typ, bi.field), nil
	}
}
