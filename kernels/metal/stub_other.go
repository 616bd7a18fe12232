//go:build !darwin || !cgo

package metal

// New returns ErrUnavailable: the Metal GPU backend needs darwin and cgo.
// NewSimulated runs the same shaders on the CPU anywhere clang++ is found.
func New() (*Backend, error) { return nil, ErrUnavailable }

// NewWithOptions returns ErrUnavailable, as New.
func NewWithOptions(Options) (*Backend, error) { return nil, ErrUnavailable }
