package loader

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/x448/float16"
)

// DType is a safetensors element type as spelled in the file header ("F32", "F16", ...).
type DType string

// The element types that convert to float32.
const (
	DTypeF32  DType = "F32"
	DTypeF16  DType = "F16"
	DTypeBF16 DType = "BF16"
)

// dtypeBits gives the width in bits of every dtype the safetensors format
// defines, so that files holding other tensors (token ids, quantized blocks)
// still open and list them; only F32, F16 and BF16 convert to float32.
func dtypeBits(d DType) (int, bool) {
	switch d {
	case "F4":
		return 4, true
	case "F6_E2M3", "F6_E3M2":
		return 6, true
	case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ":
		return 8, true
	case "I16", "U16", DTypeF16, DTypeBF16:
		return 16, true
	case "I32", "U32", DTypeF32:
		return 32, true
	case "I64", "U64", "F64", "C64":
		return 64, true
	}
	return 0, false
}

// maxHeaderSize is the reference implementation's cap on the JSON header, so
// that a hostile length prefix cannot make us scan or allocate gigabytes.
const maxHeaderSize = 100_000_000

// metadataKey is the one header key that is not a tensor.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
}

type tensorEntry struct {
	info       TensorInfo
	begin, end int // byte range in Safetensors.data (whole file), validated
	count      int // number of elements
}

// Safetensors is a parsed safetensors file. Opened with OpenSafetensors its
// bytes are a read-only memory mapping of the file. Methods may be called
// concurrently, but not concurrently with Close.
type Safetensors struct {
	name     string
	data     []byte // the whole file; nil once closed
	tensors  map[string]*tensorEntry
	names    []string // sorted
	metadata map[string]string
	release  func() error // undoes the mapping; nil for ParseSafetensors
}

// OpenSafetensors maps the file at path read-only and validates it.
func OpenSafetensors(path string) (*Safetensors, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	s, err := ParseSafetensors(path, data)
	if err != nil {
		// The parse error is the one worth reporting; a failed unmap of a
		// mapping nothing references changes nothing for the caller.
		_ = release()
		return nil, err
	}
	s.release = release
	return s, nil
}

// ParseSafetensors validates data as the contents of a safetensors file and
// indexes its tensors without copying; name is used in error messages. data
// must stay unchanged while the result is in use: F32 tensors alias it.
//
// The checks follow the reference implementation: a little-endian u64 header
// length no larger than 100 MB and inside the file; a header that is a UTF-8
// JSON object with no duplicate keys; an optional "__metadata__" object of
// strings; for every tensor a known dtype, non-negative integer dimensions,
// and a data_offsets pair whose span equals the size its shape and dtype
// need; and tensors that tile the data region exactly, without overlaps,
// holes or trailing bytes.
func ParseSafetensors(name string, data []byte) (*Safetensors, error) {
	if len(data) < 8 {
		return nil, corruptf(name, "file is %d bytes, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeaderSize {
		return nil, corruptf(name, "header length %d exceeds the %d-byte limit", n, maxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, corruptf(name, "header length %d runs past the end of the file (%d bytes follow the length)", n, len(data)-8)
	}
	dataStart := 8 + int(n)
	s := &Safetensors{
		name:     name,
		data:     data,
		tensors:  make(map[string]*tensorEntry),
		metadata: make(map[string]string),
	}
	if err := s.parseHeader(data[8:dataStart], dataStart); err != nil {
		return nil, err
	}
	if err := s.checkTiling(dataStart); err != nil {
		return nil, err
	}
	s.names = make([]string, 0, len(s.tensors))
	for k := range s.tensors {
		s.names = append(s.names, k)
	}
	slices.Sort(s.names)
	return s, nil
}

func (s *Safetensors) parseHeader(header []byte, dataStart int) error {
	if len(header) == 0 || header[0] != '{' {
		return corruptf(s.name, "header does not start with '{'")
	}
	if !utf8.Valid(header) {
		return corruptf(s.name, "header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil {
		return s.jsonError(err)
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return s.jsonError(err)
		}
		key, _ := tok.(string) // the decoder only yields strings in key position
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return s.jsonError(err)
		}
		if seen[key] {
			return corruptf(s.name, "header has key %q twice", key)
		}
		seen[key] = true
		if key == metadataKey {
			if err := s.parseMetadata(raw); err != nil {
				return err
			}
			continue
		}
		t, err := s.parseTensor(key, raw, len(s.data)-dataStart)
		if err != nil {
			return err
		}
		t.begin += dataStart
		t.end += dataStart
		s.tensors[key] = t
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return s.jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return corruptf(s.name, "header has data after its JSON object")
	}
	return nil
}

func (s *Safetensors) jsonError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return corruptf(s.name, "header is not valid JSON at byte %d: %v", syn.Offset, err)
	}
	return corruptf(s.name, "header is not valid JSON: %v", err)
}

func (s *Safetensors) parseMetadata(raw json.RawMessage) error {
	if string(raw) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return corruptf(s.name, "%s is not a JSON object", metadataKey)
	}
	for k, v := range m {
		var str string
		if !isJSONString(v) || json.Unmarshal(v, &str) != nil {
			return corruptf(s.name, "%s[%q] is not a string", metadataKey, k)
		}
		s.metadata[k] = str
	}
	return nil
}

// parseTensor validates one header entry against a data region of dataLen
// bytes; offsets in the result are relative to that region.
func (s *Safetensors) parseTensor(name string, raw json.RawMessage, dataLen int) (*tensorEntry, error) {
	bad := func(format string, args ...any) error {
		return corruptf(s.name, "tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, bad("header entry is not a JSON object")
	}
	rawDType, ok := fields["dtype"]
	if !ok {
		return nil, bad("missing dtype")
	}
	var dtype string
	if !isJSONString(rawDType) || json.Unmarshal(rawDType, &dtype) != nil {
		return nil, bad("dtype is not a string")
	}
	width, ok := dtypeBits(DType(dtype))
	if !ok {
		return nil, bad("unknown dtype %q", dtype)
	}
	shape, err := uintList(fields, "shape")
	if err != nil {
		return nil, bad("%v", err)
	}
	offsets, err := uintList(fields, "data_offsets")
	if err != nil {
		return nil, bad("%v", err)
	}
	if len(offsets) != 2 {
		return nil, bad("data_offsets has %d numbers, want 2", len(offsets))
	}
	begin, end := offsets[0], offsets[1]
	if begin > end {
		return nil, bad("data_offsets [%d, %d] end before they begin", begin, end)
	}
	if end > uint64(dataLen) {
		return nil, bad("data_offsets [%d, %d] run past the end of the %d-byte data region", begin, end, dataLen)
	}

	dims := make([]int, len(shape))
	count := uint64(1)
	overflow := false
	for i, d := range shape {
		if d > math.MaxInt {
			return nil, bad("dimension %d is too large", d)
		}
		dims[i] = int(d)
		hi, lo := bits.Mul64(count, d)
		overflow = overflow || hi != 0
		count = lo
	}
	hi, nbits := bits.Mul64(count, uint64(width))
	if overflow || hi != 0 {
		return nil, bad("shape %v overflows", shape)
	}
	if nbits%8 != 0 {
		return nil, bad("shape %v of %s does not fill a whole number of bytes", shape, dtype)
	}
	if nbits/8 != end-begin {
		return nil, bad("shape %v of %s needs %d bytes but data_offsets [%d, %d] hold %d", shape, dtype, nbits/8, begin, end, end-begin)
	}
	return &tensorEntry{
		info:  TensorInfo{Name: name, DType: DType(dtype), Shape: dims},
		begin: int(begin),
		end:   int(end),
		// count <= 8*dataLen here, which fits an int on 64-bit hosts; the
		// clamp keeps 32-bit hosts from wrapping for sub-byte dtypes.
		count: int(min(count, math.MaxInt)),
	}, nil
}

// uintList decodes fields[key], which must be a JSON array of non-negative
// integers written as plain integer literals (as the reference requires).
func uintList(fields map[string]json.RawMessage, key string) ([]uint64, error) {
	raw, ok := fields[key]
	if !ok {
		return nil, fmt.Errorf("missing %s", key)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%s is not a JSON array", key)
	}
	out := make([]uint64, len(items))
	for i, it := range items {
		lit := string(bytes.TrimSpace(it))
		switch {
		case strings.HasPrefix(lit, "-"):
			return nil, fmt.Errorf("%s[%d] is negative (%s)", key, i, lit)
		case lit == "" || strings.Trim(lit, "0123456789") != "":
			return nil, fmt.Errorf("%s[%d] is not a non-negative integer (%s)", key, i, lit)
		}
		v, err := strconv.ParseUint(lit, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] is too large (%s)", key, i, lit)
		}
		out[i] = v
	}
	return out, nil
}

func isJSONString(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '"'
}

// checkTiling requires the tensors to cover the data region that starts at
// dataStart exactly once: the format forbids holes (they would let a file be
// valid as two formats at once) and overlaps (two tensors sharing bytes).
func (s *Safetensors) checkTiling(dataStart int) error {
	order := make([]*tensorEntry, 0, len(s.tensors))
	for _, t := range s.tensors {
		order = append(order, t)
	}
	slices.SortFunc(order, func(a, b *tensorEntry) int {
		if a.begin != b.begin {
			return a.begin - b.begin
		}
		if a.end != b.end {
			return a.end - b.end
		}
		return strings.Compare(a.info.Name, b.info.Name)
	})
	at := dataStart
	var prev *tensorEntry
	for _, t := range order {
		switch {
		case t.begin < at:
			return corruptf(s.name, "tensor %q (data bytes %d to %d) overlaps tensor %q (data bytes %d to %d)",
				t.info.Name, t.begin-dataStart, t.end-dataStart, prev.info.Name, prev.begin-dataStart, prev.end-dataStart)
		case t.begin > at:
			return corruptf(s.name, "data bytes %d to %d belong to no tensor", at-dataStart, t.begin-dataStart)
		}
		at = t.end
		prev = t
	}
	if at != len(s.data) {
		return corruptf(s.name, "data bytes %d to %d belong to no tensor", at-dataStart, len(s.data)-dataStart)
	}
	return nil
}

// Names lists the tensors in the file, sorted.
func (s *Safetensors) Names() []string { return slices.Clone(s.names) }

// Info describes the named tensor.
func (s *Safetensors) Info(name string) (TensorInfo, bool) {
	t, ok := s.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := t.info
	info.Shape = slices.Clone(info.Shape)
	return info, true
}

// Metadata returns a copy of the header's "__metadata__" map (empty when absent).
func (s *Safetensors) Metadata() map[string]string {
	out := make(map[string]string, len(s.metadata))
	for k, v := range s.metadata {
		out[k] = v
	}
	return out
}

// Float32 returns the named tensor's elements in row-major order. An F32
// tensor that is suitably aligned comes back as a view into the file mapping:
// it must not be written to and is valid only until Close. Unaligned F32
// tensors and F16/BF16 tensors come back as fresh, exactly converted copies.
// Other dtypes give an error wrapping ErrUnsupported.
func (s *Safetensors) Float32(name string) ([]float32, error) {
	t, ok := s.tensors[name]
	if !ok {
		return nil, fmt.Errorf("loader: %s: tensor %q: %w", s.name, name, ErrNoTensor)
	}
	if s.data == nil {
		return nil, fmt.Errorf("loader: %s: %w", s.name, fs.ErrClosed)
	}
	raw := s.data[t.begin:t.end]
	switch t.info.DType {
	case DTypeF32:
		if t.count == 0 {
			return []float32{}, nil
		}
		if hostLittleEndian() && uintptr(unsafe.Pointer(&raw[0]))%unsafe.Alignof(float32(0)) == 0 {
			return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), t.count), nil
		}
		out := make([]float32, t.count)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	case DTypeF16:
		out := make([]float32, t.count)
		for i := range out {
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
		return out, nil
	case DTypeBF16:
		// bfloat16 is the top half of a float32, so widening is exact.
		out := make([]float32, t.count)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
		return out, nil
	}
	return nil, fmt.Errorf("loader: %s: tensor %q: %w dtype %s (only F32, F16 and BF16 convert to float32)",
		s.name, name, ErrUnsupported, t.info.DType)
}

// Close releases the file mapping; views returned by Float32 must not be
// used afterwards. Closing twice is harmless.
func (s *Safetensors) Close() error {
	s.data = nil
	if s.release == nil {
		return nil
	}
	release := s.release
	s.release = nil
	if err := release(); err != nil {
		return fmt.Errorf("loader: %s: %w", s.name, err)
	}
	return nil
}

// hostLittleEndian reports whether float32s in memory use the file's byte
// order, which a zero-copy view needs.
func hostLittleEndian() bool {
	return binary.NativeEndian.Uint16([]byte{1, 0}) == 1
}
