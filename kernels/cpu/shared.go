package cpu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"unsafe"

	"github.com/minilm-dev/minilm/kernels/cpu/internal/simd"
)

// SharedWeightsEnv, when set in a process's environment, names a file of
// packed GEMM weights (written by WriteSharedWeights) that New maps
// read-only and shared: the replica supervisor packs the model once into a
// memory file and hands it to every worker process, so N workers hold one
// copy of the ~40 MiB of panels instead of N. A weight whose shape or
// source checksum does not match the file's next entry is packed in
// process instead, so a stale or foreign file costs memory, never accuracy.
const SharedWeightsEnv = "MINILM_CPU_SHARED_WEIGHTS"

// ErrSharedWeights means the file named by SharedWeightsEnv is not one
// WriteSharedWeights wrote.
var ErrSharedWeights = errors.New("cpu: bad shared weights file")

// File layout (little endian): the 8-byte magic, the entry count (uint64),
// then per entry n, k, the CRC-32C of the source (N,K) float32 matrix and a
// zero word (uint32 each), the panels' byte offset and float count (uint64
// each); then the panels, each starting on a 64-byte boundary.
const sharedAlign = 64

// sharedMagic is the file magic of precision p's panels.
func sharedMagic(p Precision) string {
	switch p {
	case BF16Twin:
		return "MLPKB16\x01" // simd.BF16Pairs rows, packed
	case BF16:
		return "MLPKBW2\x01" // simd.PackBF16's pairs
	}
	return "MLPKF32\x01"
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sharedEntry is one packed weight of the file, in Weight call order.
type sharedEntry struct {
	n, k, crc  uint32
	off, count uint64
}

// sharedWeights is a mapped file of packed weights; Weight takes its entries
// in order.
type sharedWeights struct {
	mem     []byte    // the whole mapping; unmapped by Close
	prec    Precision // what the panels hold
	entries []sharedEntry
	next    int
	used    int // entries served from the mapping (the rest were packed here)
}

// recorded is one weight a recording backend packed, for WriteSharedWeights.
type recorded struct {
	crc uint32
	w   *simd.PackedW
}

func srcCRC(src []float32) uint32 {
	return crc32.Checksum(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(src))), 4*len(src)), castagnoli)
}

// RecordWeights makes every later Weight call keep its packed panels for
// WriteSharedWeights.
func (be *Backend) RecordWeights() { be.recording = true }

// WriteSharedWeights writes the weights recorded since RecordWeights, in the
// order they were made, in the format New maps from SharedWeightsEnv.
func (be *Backend) WriteSharedWeights(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	head := 8 + 8 + 32*len(be.recorded)
	off := uint64((head + sharedAlign - 1) / sharedAlign * sharedAlign)
	buf := append([]byte(sharedMagic(be.Precision())), make([]byte, 8)...)
	binary.LittleEndian.PutUint64(buf[8:], uint64(len(be.recorded)))
	var offs []uint64
	for _, r := range be.recorded {
		p := r.w.Panels()
		offs = append(offs, off)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(r.w.N()))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(r.w.K()))
		buf = binary.LittleEndian.AppendUint32(buf, r.crc)
		buf = binary.LittleEndian.AppendUint32(buf, 0)
		buf = binary.LittleEndian.AppendUint64(buf, off)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(p)))
		off += (uint64(4*len(p)) + sharedAlign - 1) / sharedAlign * sharedAlign
	}
	pos := uint64(len(buf))
	for i, r := range be.recorded {
		buf = append(buf, make([]byte, offs[i]-pos)...)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("cpu: write shared weights: %w", err)
		}
		p := r.w.Panels()
		if _, err := bw.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p))), 4*len(p))); err != nil {
			return fmt.Errorf("cpu: write shared weights: %w", err)
		}
		pos = offs[i] + uint64(4*len(p))
		buf = buf[:0]
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cpu: write shared weights: %w", err)
	}
	return nil
}

// parseShared checks a mapped file's header and returns its entries.
func parseShared(mem []byte) (es []sharedEntry, prec Precision, err error) {
	if len(mem) >= 16 {
		for _, p := range []Precision{F32, BF16Twin, BF16} {
			if string(mem[:8]) == sharedMagic(p) {
				prec = p
			}
		}
	}
	if prec == "" {
		return nil, "", fmt.Errorf("%w: no %q, %q or %q header", ErrSharedWeights, sharedMagic(F32), sharedMagic(BF16Twin), sharedMagic(BF16))
	}
	n := binary.LittleEndian.Uint64(mem[8:])
	if n > uint64(len(mem)-16)/32 {
		return nil, "", fmt.Errorf("%w: %d entries do not fit in %d bytes", ErrSharedWeights, n, len(mem))
	}
	es = make([]sharedEntry, n)
	for i := range es {
		b := mem[16+32*i:]
		e := sharedEntry{
			n: binary.LittleEndian.Uint32(b), k: binary.LittleEndian.Uint32(b[4:]), crc: binary.LittleEndian.Uint32(b[8:]),
			off: binary.LittleEndian.Uint64(b[16:]), count: binary.LittleEndian.Uint64(b[24:]),
		}
		if e.off%sharedAlign != 0 || e.count != uint64(simd.PackedLen(int(e.n), int(e.k))) || e.off > uint64(len(mem)) || e.count > (uint64(len(mem))-e.off)/4 {
			return nil, "", fmt.Errorf("%w: entry %d ([%d,%d], %d floats at %d) outside the file or misaligned", ErrSharedWeights, i, e.n, e.k, e.count, e.off)
		}
		es[i] = e
	}
	return es, prec, nil
}

// take returns the next entry's panels when it is the (n,k) matrix whose
// source has checksum crc, in the wanted precision.
func (s *sharedWeights) take(n, k int, crc uint32, prec Precision) *simd.PackedW {
	if s.next >= len(s.entries) || s.prec != prec {
		return nil
	}
	e := s.entries[s.next]
	s.next++
	if int(e.n) != n || int(e.k) != k || e.crc != crc {
		return nil
	}
	data := unsafe.Slice((*float32)(unsafe.Pointer(&s.mem[e.off])), e.count)
	wrap := simd.WrapPanels
	if prec == BF16 {
		wrap = simd.WrapBF16Panels
	}
	w, err := wrap(data, n, k)
	if err != nil {
		return nil
	}
	s.used++
	return w
}

// openShared maps the file SharedWeightsEnv names, or returns nil when the
// variable is unset.
func openShared() (*sharedWeights, error) {
	path := os.Getenv(SharedWeightsEnv)
	if path == "" {
		return nil, nil
	}
	mem, err := mapReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("cpu: %s=%s: %w", SharedWeightsEnv, path, err)
	}
	es, prec, err := parseShared(mem)
	if err != nil {
		unmap(mem)
		return nil, fmt.Errorf("cpu: %s=%s: %w", SharedWeightsEnv, path, err)
	}
	return &sharedWeights{mem: mem, prec: prec, entries: es}, nil
}

// SharedWeights reports how many of the backend's weights are read from the
// shared mapping and how many it packed itself.
func (be *Backend) SharedWeights() (shared, local int) {
	if be.shared != nil {
		shared = be.shared.used
	}
	return shared, be.local
}
