package abi

import (
	"strings"
	"testing"
)

func TestHeader(t *testing.T) {
	src := "package p\n\ntype fooArgs struct {\n\tA, B int32\n\tC    float32\n\tD    uint32\n}\n"
	h, err := Header("x.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"typedef struct {\n\tint A;\n\tint B;\n\tfloat C;\n\tuint D;\n} FooArgs;",
		"static_assert(sizeof(FooArgs) == 16,",
		"static_assert(offsetof(FooArgs, C) == 8,",
	} {
		if !strings.Contains(string(h), want) {
			t.Errorf("header lacks %q:\n%s", want, h)
		}
	}
	for _, bad := range []string{
		"package p\ntype a struct{ X int64 }\n",
		"package p\ntype a struct{ X []int32 }\n",
		"package p\ntype a struct{ X bool }\n",
		"package p\ntype a struct{ int32 }\n",
		"not go",
	} {
		if _, err := Header("x.go", []byte(bad)); err == nil {
			t.Errorf("Header accepted %q", bad)
		}
	}
}

// FuzzHeader: arbitrary Go source gives a header or an error, never a panic.
func FuzzHeader(f *testing.F) {
	f.Add("package p\ntype a struct{ X, Y int32; Z float32 }\n")
	f.Add("package p\ntype a struct{ int32 }\n")
	f.Fuzz(func(t *testing.T, src string) {
		Header("x.go", []byte(src)) //nolint:errcheck // only panics matter
	})
}
