package mslsim

import (
	"strings"
	"testing"
)

// FuzzTranslate feeds Translate arbitrary sources: it must return a result
// or an error, never panic, and every kernel it reports must get a launcher.
func FuzzTranslate(f *testing.F) {
	f.Add(planted)
	f.Add("kernel void f(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = 1; }\n")
	f.Add("kernel void g(constant int& a [[buffer(1)]], uint2 t [[threadgroup_position_in_grid]]) {\n    threadgroup float s[4][8];\n}\n")
	f.Add("kernel void h(")
	f.Fuzz(func(t *testing.T, src string) {
		cpp, names, err := Translate([]byte(src))
		if err != nil {
			return
		}
		for _, n := range names {
			if !strings.Contains(string(cpp), "mslsim_launch_"+n+"(void** b)") {
				t.Fatalf("kernel %s has no launcher", n)
			}
		}
	})
}
