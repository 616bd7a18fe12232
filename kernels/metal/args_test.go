package metal

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/minilm-dev/minilm/kernels/metal/internal/abi"
)

// TestArgsHeader fails when shaders/args.h is not what go generate writes
// from args.go, and checks the layout the header asserts is the Go layout.
func TestArgsHeader(t *testing.T) {
	src, err := os.ReadFile("args.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := abi.Header("args.go", src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("shaders/args.h")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("shaders/args.h is stale: run go generate ./kernels/metal")
	}

	goTypes := map[string]reflect.Type{}
	for _, v := range []any{matMulArgs{}, layerNormArgs{}, unaryArgs{}, embedArgs{}, gatherArgs{}, attentionArgs{}} {
		goTypes[reflect.TypeOf(v).Name()] = reflect.TypeOf(v)
	}
	structs, err := abi.Structs("args.go", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(structs) != len(goTypes) {
		t.Errorf("args.go declares %d structs, the test knows %d", len(structs), len(goTypes))
	}
	for _, s := range structs {
		rt, ok := goTypes[s.GoName]
		if !ok {
			t.Errorf("struct %s is not listed in the test", s.GoName)
			continue
		}
		if int(rt.Size()) != s.Size {
			t.Errorf("%s: Go size %d, header size %d", s.GoName, rt.Size(), s.Size)
		}
		for i, f := range s.Fields {
			gf := rt.Field(i)
			if gf.Name != f.Name || int(gf.Offset) != f.Offset {
				t.Errorf("%s field %d: Go %s@%d, header %s@%d", s.GoName, i, gf.Name, gf.Offset, f.Name, f.Offset)
			}
		}
		// The bytes the planner binds must have the asserted size.
		if n := len(args(reflect.New(rt).Elem().Interface())); n != s.Size {
			t.Errorf("%s: encoded as %d bytes, header size %d", s.GoName, n, s.Size)
		}
	}
}
