package replica

import (
	"context"
	"fmt"

	"github.com/minilm-dev/minilm/kernels"
)

// errNoCompute is what the tokenizing model of a Pool answers when asked to
// score.
var errNoCompute = fmt.Errorf("replica: a pool scores on its workers, not with its tokenizer model: %w", kernels.ErrUnsupported)

// tokenizeOnly is the backend of the model a Pool loads to tokenize: it
// keeps no weights and runs nothing, so the caller's process holds the
// tokenizer without a packed copy of the weights (about 40 MiB for
// MiniLM-L6) and never faults in the weight pages of the model file.
type tokenizeOnly struct{}

// sizeOnly is a buffer of tokenizeOnly: a length and no storage.
type sizeOnly int

func (n sizeOnly) Len() int { return int(n) }

func (tokenizeOnly) Name() string                                      { return "none" }
func (tokenizeOnly) Alloc(n int) (kernels.Buf, error)                  { return sizeOnly(n), nil }
func (tokenizeOnly) Weight(_ []float32, n, k int) (kernels.Buf, error) { return sizeOnly(n * k), nil }
func (tokenizeOnly) Upload(kernels.Buf, []float32) error               { return nil } // nothing ever reads it back
func (tokenizeOnly) Download([]float32, kernels.Buf) error             { return errNoCompute }
func (tokenizeOnly) Run(context.Context, ...kernels.Op) error          { return errNoCompute }
func (tokenizeOnly) Close() error                                      { return nil }
