package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

// ProtocolVersion is bumped whenever a frame layout changes. A worker says
// which version it speaks in its Hello; the supervisor refuses any other.
const ProtocolVersion = 1

// MaxFrameSize is the default bound on one frame (header included). A
// length prefix above the bound is rejected before anything is allocated for
// it. 64 MiB holds a batch of 8 Mi tokens, far above any sane batch.
const MaxFrameSize = 64 << 20

// Wire layout. Every integer is little-endian.
//
//	frame  = size:u32 kind:u8 id:u64 body      size counts kind+id+body
//	hello  = "MLMR" version:u16 pid:u32 threads:u32 str16(path) str16(hash) str16(backend)
//	score  = n:u32 len:u32*n ids:i32*sum(len) typeIDs:i32*sum(len)
//	logits = inference_ns:u64 n:u32 f32*n
//	error  = UTF-8 message (the whole body)
//	ping, pong = empty body
//
// The magic and version open the hello body so that a worker speaking a
// different layout is recognised before the rest of its hello is parsed.
const (
	frameHeader   = 4 + 1 + 8
	helloMagic    = "MLMR"
	maxErrorBytes = 16 << 10
	// readChunk bounds how far a frame body is allocated ahead of the bytes
	// actually received, so a lying length prefix on a short stream costs
	// at most one chunk, not MaxFrameSize.
	readChunk = 1 << 20
)

// Kind says what a frame carries.
type Kind uint8

// Frame kinds. Hello, Logits, Error and Pong travel from worker to
// supervisor; Score and Ping from supervisor to worker.
const (
	KindHello Kind = iota + 1
	KindScore
	KindLogits
	KindError
	KindPing
	KindPong
)

func (k Kind) String() string {
	switch k {
	case KindHello:
		return "hello"
	case KindScore:
		return "score"
	case KindLogits:
		return "logits"
	case KindError:
		return "error"
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Frame is one decoded frame. ID pairs a response with its request (the
// batch id for score/logits/error, a nonce for ping/pong, 0 for hello).
type Frame struct {
	Kind Kind
	ID   uint64
	Body []byte
}

// Protocol errors. Callers branch on them with errors.Is.
var (
	// ErrProtocol marks a malformed frame or body.
	ErrProtocol = errors.New("replica: protocol error")
	// ErrFrameTooLarge marks a frame whose size prefix exceeds the bound.
	ErrFrameTooLarge = errors.New("replica: frame too large")
	// ErrVersion marks a hello from a worker speaking another protocol version.
	ErrVersion = errors.New("replica: protocol version mismatch")
)

// ReadFrame reads one frame of at most maxSize bytes (header included). The
// body reuses buf's storage when it is large enough, so a reader loop can pass
// the previous frame's Body[:0]. At a clean end of stream it returns io.EOF;
// a stream cut inside a frame gives io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, maxSize int, buf []byte) (Frame, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return Frame{}, err // io.EOF at a frame boundary is a clean end
	}
	size := uint64(binary.LittleEndian.Uint32(hdr[:4]))
	if size < frameHeader-4 {
		return Frame{}, fmt.Errorf("%w: frame size %d below the %d-byte header", ErrProtocol, size, frameHeader-4)
	}
	if size+4 > uint64(maxSize) {
		return Frame{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size+4, maxSize)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return Frame{}, unexpectedEOF(err)
	}
	f := Frame{Kind: Kind(hdr[4]), ID: binary.LittleEndian.Uint64(hdr[5:])}
	n := int(size) - (frameHeader - 4)
	body := buf[:0]
	for len(body) < n {
		chunk := min(n-len(body), readChunk)
		body = slices.Grow(body, chunk)
		if _, err := io.ReadFull(r, body[len(body):len(body)+chunk]); err != nil {
			return Frame{}, unexpectedEOF(err)
		}
		body = body[:len(body)+chunk]
	}
	f.Body = body
	return f, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendHeader appends a frame header with a zero size; finish fills it in.
func appendHeader(dst []byte, kind Kind, id uint64) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(kind))
	return binary.LittleEndian.AppendUint64(dst, id), start
}

func finish(dst []byte, start int) []byte {
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// Hello is the first frame a worker sends, once its model is loaded.
type Hello struct {
	Version int // ProtocolVersion of the worker; AppendHello writes the constant
	Model   ModelID
	Backend string // the backend the engine actually chose ("cpu", "metal")
	PID     int
	Threads int
}

// AppendHello appends a hello frame. Strings longer than 64 KiB are cut.
func AppendHello(dst []byte, h Hello) []byte {
	dst, start := appendHeader(dst, KindHello, 0)
	dst = append(dst, helloMagic...)
	dst = binary.LittleEndian.AppendUint16(dst, ProtocolVersion)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.PID))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.Threads))
	for _, s := range []string{h.Model.Path, h.Model.Hash, h.Backend} {
		s = s[:min(len(s), math.MaxUint16)]
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s)))
		dst = append(dst, s...)
	}
	return finish(dst, start)
}

// DecodeHello parses a hello body. A body from another protocol version
// fails with ErrVersion, anything malformed with ErrProtocol.
func DecodeHello(body []byte) (Hello, error) {
	d := decoder{b: body, what: "hello"}
	if magic := d.bytes(len(helloMagic)); string(magic) != helloMagic {
		return Hello{}, fmt.Errorf("%w: hello: bad magic %q", ErrProtocol, magic)
	}
	h := Hello{Version: int(d.u16())}
	if d.err == nil && h.Version != ProtocolVersion {
		return Hello{}, fmt.Errorf("%w: worker speaks %d, supervisor %d", ErrVersion, h.Version, ProtocolVersion)
	}
	h.PID = int(d.u32())
	h.Threads = int(d.u32())
	h.Model.Path = d.str16()
	h.Model.Hash = d.str16()
	h.Backend = d.str16()
	if err := d.end(); err != nil {
		return Hello{}, err
	}
	return h, nil
}

// AppendScore appends a score request for seqs. Each sequence's IDs and
// TypeIDs must have the same length.
func AppendScore(dst []byte, id uint64, seqs []engine.Sequence) ([]byte, error) {
	total := 0
	for i, s := range seqs {
		if len(s.IDs) != len(s.TypeIDs) {
			return dst, fmt.Errorf("replica: sequence %d: %d ids but %d type ids", i, len(s.IDs), len(s.TypeIDs))
		}
		total += len(s.IDs)
	}
	if size := frameHeader + 4 + 4*len(seqs) + 8*total; size > math.MaxUint32 {
		return dst, fmt.Errorf("%w: batch of %d sequences, %d tokens", ErrFrameTooLarge, len(seqs), total)
	}
	dst, start := appendHeader(dst, KindScore, id)
	dst = slices.Grow(dst, 4+4*len(seqs)+8*total)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(seqs)))
	for _, s := range seqs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s.IDs)))
	}
	for _, s := range seqs {
		for _, v := range s.IDs {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
	}
	for _, s := range seqs {
		for _, v := range s.TypeIDs {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
	}
	return finish(dst, start), nil
}

// DecodeScore parses a score body. The sequences share two backing arrays
// whose total size is bounded by the body's length.
func DecodeScore(body []byte) ([]engine.Sequence, error) {
	d := decoder{b: body, what: "score"}
	n := uint64(d.u32())
	if d.err != nil || n > uint64(len(d.b))/4 {
		return nil, fmt.Errorf("%w: score: %d sequences in %d bytes", ErrProtocol, n, len(body))
	}
	lens := d.bytes(int(4 * n))
	var total uint64
	for i := range n {
		total += uint64(binary.LittleEndian.Uint32(lens[4*i:]))
	}
	if total > uint64(len(d.b))/8 || total*8 != uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: score: %d tokens need %d bytes, have %d", ErrProtocol, total, total*8, len(d.b))
	}
	ids := make([]int32, 2*total)
	for i := range ids {
		ids[i] = int32(binary.LittleEndian.Uint32(d.b[4*i:]))
	}
	typeIDs := ids[total:]
	ids = ids[:total:total]
	seqs := make([]engine.Sequence, n)
	off := 0
	for i := range seqs {
		l := int(binary.LittleEndian.Uint32(lens[4*i:]))
		seqs[i] = engine.Sequence{IDs: ids[off : off+l : off+l], TypeIDs: typeIDs[off : off+l : off+l]}
		off += l
	}
	return seqs, nil
}

// Logits is a worker's answer to a score request.
type Logits struct {
	Values    []float32
	Inference time.Duration // time the worker spent in its Scorer
}

// AppendLogits appends a logits frame answering request id.
func AppendLogits(dst []byte, id uint64, l Logits) []byte {
	dst, start := appendHeader(dst, KindLogits, id)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(max(l.Inference, 0)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.Values)))
	for _, v := range l.Values {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
	}
	return finish(dst, start)
}

// DecodeLogits parses a logits body.
func DecodeLogits(body []byte) (Logits, error) {
	d := decoder{b: body, what: "logits"}
	ns := d.u64()
	n := uint64(d.u32())
	if d.err != nil || ns > math.MaxInt64 || n*4 != uint64(len(d.b)) {
		return Logits{}, fmt.Errorf("%w: logits: bad body of %d bytes", ErrProtocol, len(body))
	}
	l := Logits{Values: make([]float32, n), Inference: time.Duration(ns)}
	for i := range l.Values {
		l.Values[i] = math.Float32frombits(binary.LittleEndian.Uint32(d.b[4*i:]))
	}
	return l, nil
}

// AppendError appends an error frame answering request id; long messages
// are cut to 16 KiB.
func AppendError(dst []byte, id uint64, msg string) []byte {
	dst, start := appendHeader(dst, KindError, id)
	dst = append(dst, msg[:min(len(msg), maxErrorBytes)]...)
	return finish(dst, start)
}

// AppendControl appends a bodiless frame (KindPing or KindPong).
func AppendControl(dst []byte, kind Kind, id uint64) []byte {
	dst, start := appendHeader(dst, kind, id)
	return finish(dst, start)
}

// decoder reads fields off a body; the first short read sets err and makes
// every later read return zero values.
type decoder struct {
	b    []byte
	what string // the body being decoded, for errors
	err  error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = fmt.Errorf("%w: %s: body cut short", ErrProtocol, d.what)
		d.b = nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u16() uint16 {
	if b := d.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str16() string {
	return string(d.bytes(int(d.u16())))
}

func (d *decoder) end() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %s: %d trailing bytes", ErrProtocol, d.what, len(d.b))
	}
	return nil
}
