//go:build !linux

package replica

import (
	"context"
	"os"

	"github.com/minilm-dev/minilm/engine"
)

// shareWeights shares nothing outside Linux (no memfd): each worker packs
// its own weights.
func shareWeights(context.Context, string, engine.Options, string) (*os.File, error) { return nil, nil }
