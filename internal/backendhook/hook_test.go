package backendhook

import (
	"context"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
)

func TestWithFrom(t *testing.T) {
	ctx := context.Background()
	if From(ctx) != nil {
		t.Fatal("From(Background) is not nil")
	}
	called := 0
	ctx = With(ctx, func(threads int) (kernels.Backend, error) { called = threads; return nil, nil })
	ctx, cancel := context.WithCancel(ctx) // derived contexts keep the hook
	defer cancel()
	f := From(ctx)
	if f == nil {
		t.Fatal("From lost the hook")
	}
	f(3)
	if called != 3 {
		t.Fatalf("hook called with %d, want 3", called)
	}
}
