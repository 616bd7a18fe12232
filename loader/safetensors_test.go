package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/x448/float16"
)

const tinyDir = "../testdata/models/tiny"

// stFile assembles a safetensors file from a raw header string and data bytes.
func stFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// withLength replaces the length prefix of a file.
func withLength(file []byte, n uint64) []byte {
	out := append([]byte(nil), file...)
	binary.LittleEndian.PutUint64(out, n)
	return out
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

// tinyTensors lists every tensor of the tiny test model with the shape its
// config (2 layers, hidden 32, FFN 64, vocab 30522, 512 positions, 2 types) implies.
func tinyTensors() map[string][]int {
	const h, ffn = 32, 64
	want := map[string][]int{
		"bert.embeddings.word_embeddings.weight":       {30522, h},
		"bert.embeddings.position_embeddings.weight":   {512, h},
		"bert.embeddings.token_type_embeddings.weight": {2, h},
		"bert.embeddings.LayerNorm.weight":             {h},
		"bert.embeddings.LayerNorm.bias":               {h},
		"bert.pooler.dense.weight":                     {h, h},
		"bert.pooler.dense.bias":                       {h},
		"classifier.weight":                            {1, h},
		"classifier.bias":                              {1},
	}
	for l := range 2 {
		p := fmt.Sprintf("bert.encoder.layer.%d.", l)
		for _, m := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			want[p+m+".weight"] = []int{h, h}
			want[p+m+".bias"] = []int{h}
		}
		for _, ln := range []string{"attention.output.LayerNorm", "output.LayerNorm"} {
			want[p+ln+".weight"] = []int{h}
			want[p+ln+".bias"] = []int{h}
		}
		want[p+"intermediate.dense.weight"] = []int{ffn, h}
		want[p+"intermediate.dense.bias"] = []int{ffn}
		want[p+"output.dense.weight"] = []int{h, ffn}
		want[p+"output.dense.bias"] = []int{h}
	}
	return want
}

func openTiny(t *testing.T, variant string) *Safetensors {
	t.Helper()
	s, err := OpenSafetensors(filepath.Join("../testdata/models", variant, "model.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestTinyVariantsShapes(t *testing.T) {
	want := tinyTensors()
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	for variant, dtype := range map[string]DType{"tiny": DTypeF32, "tiny-f16": DTypeF16, "tiny-bf16": DTypeBF16} {
		t.Run(variant, func(t *testing.T) {
			s := openTiny(t, variant)
			assert.ElementsMatch(t, names, s.Names())
			assert.Equal(t, map[string]string{"format": "pt"}, s.Metadata())
			for name, shape := range want {
				info, ok := s.Info(name)
				require.True(t, ok, name)
				assert.Equal(t, TensorInfo{Name: name, DType: dtype, Shape: shape}, info)
				v, err := s.Float32(name)
				require.NoError(t, err, name)
				n := 1
				for _, d := range shape {
					n *= d
				}
				assert.Len(t, v, n, name)
			}
		})
	}
}

// roundBF16 rounds to the nearest bfloat16, ties to even, as torch does.
func roundBF16(x float32) float32 {
	b := math.Float32bits(x)
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}

// The f16 and bf16 files hold the f32 weights rounded to nearest, so an exact
// conversion must land on the rounded f32 value and within half an ulp of the
// original: relative 2^-11 for f16 normals (2^-25 absolute for its
// subnormals), 2^-8 for bf16.
func TestTinyHalfPrecisionMatchesF32(t *testing.T) {
	f32 := openTiny(t, "tiny")
	for _, tc := range []struct {
		variant  string
		rel, abs float64
		round    func(float32) float32
	}{
		{"tiny-f16", 0x1p-11, 0x1p-25, func(x float32) float32 { return float16.Fromfloat32(x).Float32() }},
		{"tiny-bf16", 0x1p-8, 0, roundBF16},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			half := openTiny(t, tc.variant)
			checked := 0
			for _, name := range f32.Names() {
				want, err := f32.Float32(name)
				require.NoError(t, err)
				got, err := half.Float32(name)
				require.NoError(t, err)
				require.Len(t, got, len(want))
				for i := range want {
					if got[i] != tc.round(want[i]) {
						t.Fatalf("%s[%d] = %g, want %g (%g rounded)", name, i, got[i], tc.round(want[i]), want[i])
					}
					if d := math.Abs(float64(got[i]) - float64(want[i])); d > tc.rel*math.Abs(float64(want[i]))+tc.abs {
						t.Fatalf("%s[%d] = %g is %g from %g", name, i, got[i], d, want[i])
					}
					checked++
				}
			}
			assert.Greater(t, checked, 1_000_000)
		})
	}
}

func TestF32IsZeroCopyView(t *testing.T) {
	s := openTiny(t, "tiny")
	name := "bert.embeddings.word_embeddings.weight"
	v, err := s.Float32(name)
	require.NoError(t, err)
	e := s.tensors[name]
	assert.Equal(t, unsafe.Pointer(&s.data[e.begin]), unsafe.Pointer(&v[0]), "view starts at the tensor's bytes")
	assert.Equal(t, e.end-e.begin, 4*len(v))
	assert.Equal(t, math.Float32frombits(binary.LittleEndian.Uint32(s.data[e.begin+40:])), v[10])
	again, err := s.Float32(name)
	require.NoError(t, err)
	assert.Equal(t, unsafe.Pointer(&v[0]), unsafe.Pointer(&again[0]), "no copy on a second call")
}

func TestConversionOfKnownBits(t *testing.T) {
	f16 := []uint16{0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x3555}
	f16Want := []float32{1, -2, 65504, 0x1p-24, float32(math.Inf(1)), float32(math.Copysign(0, -1)), 0.333251953125}
	bf16 := []uint16{0x3f80, 0xc2f7, 0x7f80, 0x0001, 0x8000, 0x3eab}
	bf16Want := []float32{1, -123.5, float32(math.Inf(1)), math.Float32frombits(0x00010000), float32(math.Copysign(0, -1)), 0.333984375}
	var data []byte
	for _, b := range f16 {
		data = binary.LittleEndian.AppendUint16(data, b)
	}
	for _, b := range bf16 {
		data = binary.LittleEndian.AppendUint16(data, b)
	}
	header := fmt.Sprintf(`{"h":{"dtype":"F16","shape":[%d],"data_offsets":[0,%d]},"b":{"dtype":"BF16","shape":[%d],"data_offsets":[%d,%d]}}`,
		len(f16), 2*len(f16), len(bf16), 2*len(f16), len(data))
	s, err := ParseSafetensors("known.safetensors", stFile(header, data))
	require.NoError(t, err)
	for name, want := range map[string][]float32{"h": f16Want, "b": bf16Want} {
		got, err := s.Float32(name)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s[%d]: got %g want %g", name, i, got[i], want[i])
		}
	}
}

func TestUnalignedF32IsCopied(t *testing.T) {
	// A 5-byte-longer header puts the data region at an odd offset.
	vals := []float32{1.5, -2.25, 3e-7}
	var data []byte
	for _, v := range vals {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	header := `{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`
	for pad := range 4 {
		file := stFile(header+strings.Repeat(" ", pad), data)
		s, err := ParseSafetensors("pad.safetensors", file)
		require.NoError(t, err)
		got, err := s.Float32("x")
		require.NoError(t, err)
		assert.Equal(t, vals, got)
		begin := s.tensors["x"].begin
		aligned := uintptr(unsafe.Pointer(&file[begin]))%4 == 0
		aliases := unsafe.Pointer(&got[0]) == unsafe.Pointer(&file[begin])
		assert.Equal(t, aligned, aliases, "pad %d: view exactly when aligned", pad)
	}
}

func TestOtherDTypesListButDoNotConvert(t *testing.T) {
	data := make([]byte, 16+3+1)
	header := `{"__metadata__":null,"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},` +
		`"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[16,19]},"q":{"dtype":"F4","shape":[1,2],"data_offsets":[19,20]},` +
		`"empty":{"dtype":"F32","shape":[0,7],"data_offsets":[20,20]},"scalar":{"dtype":"F32","shape":[],"data_offsets":[20,24]}}`
	data = append(data, 0, 0, 0x80, 0x3f) // 1.0
	s, err := ParseSafetensors("mixed.safetensors", stFile(header, data))
	require.NoError(t, err)
	assert.Equal(t, []string{"empty", "ids", "mask", "q", "scalar"}, s.Names())
	info, ok := s.Info("ids")
	require.True(t, ok)
	assert.Equal(t, TensorInfo{Name: "ids", DType: "I64", Shape: []int{2}}, info)

	_, err = s.Float32("ids")
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), `mixed.safetensors: tensor "ids": unsupported dtype I64`)

	v, err := s.Float32("empty")
	require.NoError(t, err)
	assert.Empty(t, v)
	v, err = s.Float32("scalar")
	require.NoError(t, err)
	assert.Equal(t, []float32{1}, v)

	_, err = s.Float32("nope")
	require.ErrorIs(t, err, ErrNoTensor)
	assert.Contains(t, err.Error(), `"nope"`)

	_, ok = s.Info("nope")
	assert.False(t, ok)
	info.Shape[0] = 99
	again, _ := s.Info("ids")
	assert.Equal(t, []int{2}, again.Shape, "Info hands out copies")
}

func TestValidEdgeCases(t *testing.T) {
	for name, file := range map[string][]byte{
		"no tensors":      stFile("{}", nil),
		"padded header":   stFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`+"        ", []byte{1, 2}),
		"zero-size first": stFile(`{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}),
		"metadata":        stFile(`{"__metadata__":{"k":"v"}}`, nil),
		"unknown fields":  stFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":true}}`, []byte{1}),
	} {
		_, err := ParseSafetensors(name, file)
		assert.NoError(t, err, name)
	}
}

type corruptCase struct {
	name string
	file []byte
	want string // in the error message
}

// corruptCases are malformed files, each paired with the words that must
// explain it; the fuzz target seeds from them too.
func corruptCases(tiny []byte) []corruptCase {
	f32 := func(header string, n int) []byte { return stFile(header, make([]byte, n)) }
	one := func(entry string, n int) []byte { return f32(`{"a":`+entry+`}`, n) }
	cases := []corruptCase{
		{"empty file", nil, "file is 0 bytes, too short"},
		{"shorter than length", []byte{1, 0, 0}, "file is 3 bytes, too short"},
		{"header length huge", withLength(stFile("{}", nil), 1<<62), "header length 4611686018427387904 exceeds the 100000000-byte limit"},
		{"header length beyond file", withLength(stFile("{}", nil), 3), "header length 3 runs past the end of the file (2 bytes follow"},
		{"header length zero", withLength(stFile("{}", nil), 0), "header does not start with '{'"},
		{"header is an array", stFile("[]", nil), "header does not start with '{'"},
		{"bad JSON", stFile(`{"a" 1}`, nil), "header is not valid JSON at byte"},
		{"JSON cut short", stFile(`{"a":{"dtype":"F32",`, nil), "header is not valid JSON: unexpected EOF"},
		{"data after JSON", stFile(`{} {}`, nil), "header has data after its JSON object"},
		{"not UTF-8", stFile("{\"\xff\":1}", nil), "header is not valid UTF-8"},
		{"duplicate name", f32(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `header has key "a" twice`},
		{"entry not an object", one(`5`, 0), `tensor "a": header entry is not a JSON object`},
		{"missing dtype", one(`{"shape":[1],"data_offsets":[0,4]}`, 4), `tensor "a": missing dtype`},
		{"dtype not a string", one(`{"dtype":32,"shape":[1],"data_offsets":[0,4]}`, 4), `tensor "a": dtype is not a string`},
		{"unknown dtype", one(`{"dtype":"F17","shape":[1],"data_offsets":[0,4]}`, 4), `tensor "a": unknown dtype "F17"`},
		{"missing shape", one(`{"dtype":"F32","data_offsets":[0,4]}`, 4), `tensor "a": missing shape`},
		{"shape not an array", one(`{"dtype":"F32","shape":4,"data_offsets":[0,4]}`, 4), `tensor "a": shape is not a JSON array`},
		{"shape null", one(`{"dtype":"F32","shape":null,"data_offsets":[0,4]}`, 4), `tensor "a": shape is not a JSON array`},
		{"negative dim", one(`{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}`, 4), `tensor "a": shape[0] is negative (-1)`},
		{"fractional dim", one(`{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}`, 4), `tensor "a": shape[0] is not a non-negative integer (1.5)`},
		{"dim as string", one(`{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}`, 4), `tensor "a": shape[0] is not a non-negative integer ("1")`},
		{"dim beyond u64", one(`{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}`, 4), `tensor "a": shape[0] is too large`},
		{"dim beyond int", one(`{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]}`, 4), `tensor "a": dimension 9223372036854775808 is too large`},
		{"shape overflows", one(`{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}`, 4), `tensor "a": shape [4294967296 4294967296 16] overflows`},
		{"sub-byte shape", one(`{"dtype":"F4","shape":[3],"data_offsets":[0,2]}`, 2), `tensor "a": shape [3] of F4 does not fill a whole number of bytes`},
		{"shape/size mismatch", one(`{"dtype":"F32","shape":[3],"data_offsets":[0,8]}`, 8), `tensor "a": shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8`},
		{"missing data_offsets", one(`{"dtype":"F32","shape":[1]}`, 4), `tensor "a": missing data_offsets`},
		{"three data_offsets", one(`{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}`, 8), `tensor "a": data_offsets has 3 numbers, want 2`},
		{"negative offset", one(`{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}`, 4), `tensor "a": data_offsets[0] is negative (-4)`},
		{"offsets reversed", one(`{"dtype":"F32","shape":[1],"data_offsets":[4,0]}`, 4), `tensor "a": data_offsets [4, 0] end before they begin`},
		{"offsets out of range", one(`{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`, 4), `tensor "a": data_offsets [0, 8] run past the end of the 4-byte data region`},
		{"overlapping offsets", f32(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), `tensor "b" (data bytes 4 to 12) overlaps tensor "a" (data bytes 0 to 8)`},
		{"tensor inside another", f32(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, 12), `tensor "b" (data bytes 4 to 4) overlaps tensor "a"`},
		{"hole between tensors", f32(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), "data bytes 4 to 8 belong to no tensor"},
		{"trailing bytes", one(`{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`, 6), "data bytes 4 to 6 belong to no tensor"},
		{"metadata not an object", stFile(`{"__metadata__":[1]}`, nil), "__metadata__ is not a JSON object"},
		{"metadata value not a string", stFile(`{"__metadata__":{"format":1}}`, nil), `__metadata__["format"] is not a string`},
	}
	if tiny != nil {
		cases = append(cases,
			corruptCase{"truncated data", tiny[:len(tiny)-100], `tensor "classifier.weight": data_offsets [4045444, 4045572] run past the end of the 4045472-byte data region`},
			corruptCase{"truncated header", tiny[:1000], "header length 4456 runs past the end of the file (992 bytes follow"},
		)
	}
	return cases
}

func TestCorruptFiles(t *testing.T) {
	tiny, err := os.ReadFile(filepath.Join(tinyDir, "model.safetensors"))
	require.NoError(t, err)
	for _, tc := range corruptCases(tiny) {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "model.safetensors", tc.file)
			s, err := OpenSafetensors(path)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), "loader: "+path+": corrupt file: ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOpenSafetensorsFileErrors(t *testing.T) {
	_, err := OpenSafetensors(filepath.Join(t.TempDir(), "absent.safetensors"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "absent.safetensors")
}

func TestCloseInvalidatesAccess(t *testing.T) {
	s, err := OpenSafetensors(filepath.Join(tinyDir, "model.safetensors"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close is harmless")
	_, err = s.Float32("classifier.bias")
	assert.True(t, errors.Is(err, fs.ErrClosed), "got %v", err)
}
