// Package backendhook lets code in this module run engine.Load on a backend
// it builds itself: tests on simulated or instrumented backends, the bench's
// metered backend, the replica pool's tokenizer-only model. It is internal so
// that engine.Options, the public API, carries no test hook.
//
// The hook travels in the context given to engine.Load; it is read once, while
// loading, and never stored.
package backendhook

import (
	"context"

	"github.com/minilm-dev/minilm/kernels"
)

// NewBackend builds the backend a model runs on; threads is the resolved
// Options.Threads (runtime.NumCPU() when it was 0).
type NewBackend func(threads int) (kernels.Backend, error)

type key struct{}

// With returns a context whose engine.Load builds its backend with f.
func With(ctx context.Context, f NewBackend) context.Context {
	return context.WithValue(ctx, key{}, f)
}

// From returns the hook With stored in ctx, or nil.
func From(ctx context.Context) NewBackend {
	f, _ := ctx.Value(key{}).(NewBackend)
	return f
}
