package optest

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/ref"
)

func TestCompare(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	tol := Tol{NMSE: 1e-10, Abs: 1e-5}
	pass := []struct {
		name      string
		got, want []float32
	}{
		{"equal", []float32{1, -2, 3}, []float32{1, -2, 3}},
		{"within", []float32{1 + 1e-6, -2, 3}, []float32{1, -2, 3}},
		{"inf matched", []float32{inf, -inf, 1}, []float32{inf, -inf, 1}},
		{"empty", nil, nil},
	}
	for _, c := range pass {
		if err := compare(c.got, c.want, tol); err != nil {
			t.Errorf("%s: %v, want nil", c.name, err)
		}
	}
	fail := []struct {
		name      string
		got, want []float32
		msg       string // must appear in the error
	}{
		{"nan got", []float32{1, nan}, []float32{1, 2}, "NaN at [1]"},
		{"nan want", []float32{1, 2}, []float32{nan, 2}, "NaN at [0]"},
		{"inf sign", []float32{-inf}, []float32{inf}, "Inf mismatch at [0]"},
		{"inf vs finite", []float32{1, inf}, []float32{1, 3e38}, "Inf mismatch at [1]"},
		{"abs", []float32{1, 2.001, 3}, []float32{1, 2, 3}, "worst [1] got 2.00099993 want 2"},
		{"nmse", []float32{1e-6, 1e-6}, []float32{0, 1e-6}, "NMSE 1"},
		{"length", []float32{1}, []float32{1, 2}, "got 1 values, want 2"},
	}
	for _, c := range fail {
		err := compare(c.got, c.want, tol)
		if err == nil {
			t.Errorf("%s: nil, want an error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %q does not mention %q", c.name, err, c.msg)
		}
	}
	// Mismatches are listed, at most maxMismatches of them.
	got, want := make([]float32, 20), make([]float32, 20)
	for i := range got {
		got[i] = 1
	}
	err := compare(got, want, tol)
	if err == nil || !strings.Contains(err.Error(), "first mismatches: [0] got 1 want 0") ||
		strings.Count(err.Error(), " got ") != maxMismatches+1 {
		t.Errorf("compare lists mismatches wrongly: %v", err)
	}
}

// perturbed wraps a backend and, after every op of one type, nudges one
// element of its output: a broken backend the suite must catch.
type perturbed struct {
	kernels.Backend
	op    string // op type name to break
	delta float32
}

func opName(op kernels.Op) (string, kernels.Buf) {
	switch op := op.(type) {
	case kernels.Embed:
		return "Embed", op.Out
	case kernels.LayerNorm:
		return "LayerNorm", op.Out
	case kernels.MatMul:
		return "MatMul", op.Out
	case kernels.GELU:
		return "GELU", op.Out
	case kernels.Attention:
		return "Attention", op.Out
	case kernels.GatherRows:
		return "GatherRows", op.Out
	case kernels.Tanh:
		return "Tanh", op.Out
	}
	return "", nil
}

func (p perturbed) Run(ctx context.Context, ops ...kernels.Op) error {
	if err := p.Backend.Run(ctx, ops...); err != nil {
		return err
	}
	for _, op := range ops {
		name, out := opName(op)
		if name != p.op || out.Len() == 0 {
			continue
		}
		v := make([]float32, out.Len())
		if err := p.Backend.Download(v, out); err != nil {
			return err
		}
		v[len(v)/2] += p.delta
		if err := p.Backend.Upload(out, v); err != nil {
			return err
		}
	}
	return nil
}

// TestCatchesBrokenBackend runs the first case of every op through a backend
// that changes one output element by 1e-3 (five times the loosest absolute
// tolerance in the table) or makes it NaN, and checks that the comparison fails, and that the
// untouched backend passes the same case.
func TestCatchesBrokenBackend(t *testing.T) {
	oracle := ref.New()
	seen := map[string]bool{}
	for _, c := range cases() {
		if seen[c.op] {
			continue
		}
		seen[c.op] = true
		want, n, err := runCase(oracle, c)
		if err != nil {
			t.Fatal(err)
		}
		good, _, err := runCase(ref.New(), c)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(good, want, n, c.tol); err != nil {
			t.Errorf("%s: an intact backend fails: %v", c.name(), err)
		}
		for _, delta := range []float32{1e-3, float32(math.NaN())} {
			got, _, err := runCase(perturbed{Backend: ref.New(), op: c.op, delta: delta}, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := check(got, want, n, c.tol); err == nil {
				t.Errorf("%s: a backend off by %v in one element passes", c.name(), delta)
			}
		}
	}
	if len(seen) != 7 {
		t.Errorf("the table covers %d ops, want all 7", len(seen))
	}
}

// TestCatchesOutOfBounds: a backend that writes one float past an op's
// output is caught by the guard.
func TestCatchesOutOfBounds(t *testing.T) {
	c := cases()[0]
	want, n, err := runCase(ref.New(), c)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]float32(nil), want...)
	got[n] = 0
	if err := check(got, want, n, c.tol); err == nil || !strings.Contains(err.Error(), "wrote past") {
		t.Errorf("a write past the output is not reported: %v", err)
	}
}

// TestNamesUnique: subtest names identify cases, so they must be distinct.
func TestNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range cases() {
		if seen[c.name()] {
			t.Errorf("duplicate case %s", c.name())
		}
		seen[c.name()] = true
	}
}
