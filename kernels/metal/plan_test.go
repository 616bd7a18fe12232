package metal

import (
	"slices"
	"testing"

	"github.com/minilm-dev/minilm/kernels/metal/internal/mslsim"
)

// TestKernelTable checks that the pipelines the darwin layer makes
// (kernelTable) are exactly the kernels in the shader library.
func TestKernelTable(t *testing.T) {
	src, err := librarySource()
	if err != nil {
		t.Fatal(err)
	}
	_, names, err := mslsim.Translate(src)
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	for _, k := range kernelTable {
		table = append(table, k.name)
		if k.maxThreads < 1 || k.maxThreads > 1024 || k.maxThreads%simdWidth != 0 {
			t.Errorf("%s: %d threads per threadgroup; want a multiple of 32 up to 1024", k.name, k.maxThreads)
		}
	}
	slices.Sort(names)
	slices.Sort(table)
	if !slices.Equal(names, table) {
		t.Errorf("kernels in shaders/: %v; kernelTable: %v", names, table)
	}
}
