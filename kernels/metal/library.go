package metal

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
)

//go:embed shaders/args.h shaders/common.h shaders/*.metal
var shaderFS embed.FS

// shaderFiles is the order the library source is assembled in: headers first.
var shaderFiles = []string{"args.h", "common.h", "attention.metal", "elementwise.metal", "layernorm.metal", "matmul.metal"}

var localInclude = regexp.MustCompile(`(?m)^#include "[^"]+"\s*$`)

// librarySource returns the one MSL source the Mac compiles with
// newLibraryWithSource (which cannot follow #include "...") and the simulator
// compiles with clang++: the shader files concatenated with their local
// includes removed, each behind a #line so diagnostics name the file.
func librarySource() ([]byte, error) {
	sub, err := fs.Sub(shaderFS, "shaders")
	if err != nil {
		return nil, fmt.Errorf("metal: shaders: %w", err)
	}
	return librarySourceFS(sub, false)
}

// librarySourceFS is librarySource over the shader files in fsys; with
// partial, files of shaderFiles missing there are left out (the mutation
// test builds libraries of only the kernels it runs).
func librarySourceFS(fsys fs.FS, partial bool) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("#include <metal_stdlib>\nusing namespace metal;\n")
	for _, f := range shaderFiles {
		src, err := fs.ReadFile(fsys, f)
		if partial && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("metal: shader %s: %w", f, err)
		}
		fmt.Fprintf(&b, "#line 1 %q\n", f)
		b.Write(localInclude.ReplaceAllLiteral(src, nil))
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}
