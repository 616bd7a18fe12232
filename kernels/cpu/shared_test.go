//go:build unix

package cpu

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/minilm-dev/minilm/kernels"
	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// TestSharedWeights records three weights, writes them as a shared weights
// file, and checks that a backend started with SharedWeightsEnv naming it
// reads the matching ones from the mapping (and computes the same bits with
// them), packs a weight that does not match itself, and that a file that is
// not one is refused with ErrSharedWeights; in each precision (bf16 forced
// where the CPU lacks it: its Go twin kernel runs), and a file of one
// precision serves none of another's weights.
func TestSharedWeights(t *testing.T) {
	for _, p := range []Precision{F32, BF16Twin, BF16} {
		t.Run(string(p), func(t *testing.T) { checkShared(t, p) })
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte("not a shared weights file at all"), 0o600)
	t.Setenv(SharedWeightsEnv, bad)
	if _, err := New(1); !errors.Is(err, ErrSharedWeights) {
		t.Errorf("New with %s naming a bad file: %v, want ErrSharedWeights", SharedWeightsEnv, err)
	}
	t.Setenv(SharedWeightsEnv, filepath.Join(t.TempDir(), "missing"))
	if _, err := New(1); err == nil {
		t.Error("New with a missing shared weights file: no error")
	}
}

func checkShared(t *testing.T, p Precision) {
	r := rand.New(rand.NewPCG(41, 42))
	shapes := [][2]int{{40, 24}, {17, 33}, {1, 8}}
	srcs := make([][]float32, len(shapes))
	for i, s := range shapes {
		srcs[i] = make([]float32, s[0]*s[1])
		for j := range srcs[i] {
			srcs[i][j] = float32(r.NormFloat64())
		}
	}
	rec, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	rec.prec = p
	rec.RecordWeights()
	var want []kernels.Buf
	for i, s := range shapes {
		w, err := rec.Weight(srcs[i], s[0], s[1])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, w)
	}
	path := filepath.Join(t.TempDir(), "packed")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.WriteSharedWeights(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	t.Setenv(SharedWeightsEnv, path)
	be, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	be.prec = p
	srcs[1][5]++ // the second weight no longer matches its entry
	var got []kernels.Buf
	for i, s := range shapes {
		w, err := be.Weight(srcs[i], s[0], s[1])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, w)
	}
	if shared, local := be.SharedWeights(); shared != 2 || local != 1 {
		t.Errorf("SharedWeights() = %d shared, %d local; want 2, 1", shared, local)
	}
	for _, i := range []int{0, 2} {
		n, k := shapes[i][0], shapes[i][1]
		const m = 7
		x := make([]float32, m*k)
		for j := range x {
			x[j] = float32(r.NormFloat64())
		}
		outs := make([][]float32, 2)
		for v, b := range []*Backend{rec, be} {
			xb, _ := b.Alloc(m * k)
			ob, _ := b.Alloc(m * n)
			b.Upload(xb, x)
			w := want[i]
			if b == be {
				w = got[i]
			}
			if err := b.Run(context.Background(), kernels.MatMul{Out: ob, X: xb, W: w, M: m, N: n, K: k}); err != nil {
				t.Fatal(err)
			}
			outs[v] = make([]float32, m*n)
			b.Download(outs[v], ob)
		}
		for j := range outs[0] {
			if math.Float32bits(outs[0][j]) != math.Float32bits(outs[1][j]) {
				t.Fatalf("weight %d: out[%d] = %v from the mapping, %v packed in process", i, j, outs[1][j], outs[0][j])
			}
		}
	}
	unpacked := make([]float32, len(srcs[1]))
	be.Download(unpacked, got[1])
	for j := range unpacked {
		want := srcs[1][j]
		if p != F32 {
			want = simd.RoundBF16(want)
		}
		if unpacked[j] != want {
			t.Fatalf("mismatched weight: element %d is %v, want its own source %v", j, unpacked[j], want)
		}
	}

	other, err := NewPrecision(1, F32)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.prec = BF16Twin
	if p == BF16Twin {
		other.prec = BF16
	}
	if _, err := other.Weight(srcs[0], shapes[0][0], shapes[0][1]); err != nil {
		t.Fatal(err)
	}
	if shared, local := other.SharedWeights(); shared != 0 || local != 1 {
		t.Errorf("a %s backend on a %s file: SharedWeights() = %d shared, %d local; want 0, 1", other.prec, p, shared, local)
	}
}
