// Command argsgen writes the shader-side C declarations of the kernel
// argument structs in kernels/metal/args.go, so host and shader share one
// definition. Run through go generate in kernels/metal.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/minilm-dev/minilm/kernels/metal/internal/abi"
)

func main() {
	in := flag.String("in", "args.go", "Go file declaring the argument structs")
	out := flag.String("out", "shaders/args.h", "C header to write")
	flag.Parse()
	src, err := os.ReadFile(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "argsgen:", err)
		os.Exit(1)
	}
	h, err := abi.Header(*in, src)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, h, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "argsgen:", err)
		os.Exit(1)
	}
}
