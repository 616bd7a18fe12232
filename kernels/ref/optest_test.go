package ref_test

import (
	"testing"

	"github.com/minilm-dev/minilm/kernels/optest"
	"github.com/minilm-dev/minilm/kernels/ref"
)

// The oracle against itself checks the suite's plumbing on ref: guards,
// aliasing variants and the rejection of malformed ops.
func TestOps(t *testing.T) { optest.Run(t, ref.New()) }
