package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planted holds darwin-only code with one mistake per function; each
// mistake compiles on Linux (the file is excluded there) but not on a Mac,
// or panics at run time.
const planted = `//go:build darwin && cgo

package bad

import (
	mtl "github.com/progrium/darwinkit/macos/metal"
)

func wrongMethod(enc mtl.ComputeCommandEncoderObject) {
	enc.EndEncoding() // line 10: not a method of ComputeCommandEncoderObject
}

func wrongArgument(enc mtl.ComputeCommandEncoderObject) {
	n := 3
	enc.SetBufferOffsetAtIndex(n, 0) // line 15: int where uint is required
}

func panicking(enc mtl.ComputeCommandEncoderObject, ps mtl.ComputePipelineStateObject) {
	enc.SetComputePipelineState(ps) // line 19: WrapAsProtocol panics
}
`

// clean does the same three things correctly.
const clean = `//go:build darwin && cgo

package good

import (
	mtl "github.com/progrium/darwinkit/macos/metal"
	"github.com/progrium/darwinkit/objc"
)

func Encode(enc mtl.ComputeCommandEncoderObject, ps mtl.ComputePipelineStateObject) {
	objc.Call[objc.Void](enc, objc.Sel("setComputePipelineState:"), ps)
	enc.SetBufferOffsetAtIndex(uint(3), 0)
	mtl.CommandEncoderObject{Object: enc.Object}.EndEncoding()
}
`

func TestPlantedMistakes(t *testing.T) {
	dir := t.TempDir()
	sum, err := os.ReadFile("../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":      "module example.com/planted\n\ngo 1.26\n\nrequire github.com/progrium/darwinkit v0.5.0\n",
		"go.sum":      string(sum),
		"bad/bad.go":  planted,
		"bad/doc.go":  "package bad\n",
		"good/enc.go": clean,
		"good/doc.go": "package good\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("GOFLAGS", "-mod=mod")
	var out, errb bytes.Buffer
	code := run(dir, &out, &errb)
	t.Logf("output:\n%s%s", out.String(), errb.String())
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	for _, want := range []string{
		"bad.go:10:",
		"EndEncoding",
		"bad.go:15:",
		"cannot use n (variable of type int) as uint value",
		"bad.go:19:",
		"ComputeCommandEncoderObject.SetComputePipelineState panics",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "good") {
		t.Errorf("correct code was flagged")
	}
	if n := strings.Count(out.String(), "bad.go:"); n != 3 {
		t.Errorf("%d problems reported in bad.go, want 3", n)
	}
}

// TestModule checks the real module: its darwin-only code must type-check.
func TestModule(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run("../..", &out, &errb); code != 0 {
		t.Fatalf("darwincheck on the module: exit code %d\n%s%s", code, out.String(), errb.String())
	}
}
