package replica

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/engine"
)

func TestProtocolRoundTrip(t *testing.T) {
	hello := Hello{Version: ProtocolVersion, Model: ModelID{Path: "/m/tiny", Hash: "sha256:ab"}, Backend: "metal", PID: 4242, Threads: 6}
	seqs := []engine.Sequence{
		{IDs: []int32{101, 2054, 102, 7592, 102}, TypeIDs: []int32{0, 0, 0, 1, 1}},
		{IDs: []int32{}, TypeIDs: []int32{}},
		{IDs: []int32{-1, math.MaxInt32}, TypeIDs: []int32{1, math.MinInt32}},
	}
	logits := Logits{Values: []float32{1.5, float32(math.Inf(-1)), -0}, Inference: 1234567 * time.Nanosecond}

	var stream []byte
	stream = AppendHello(stream, hello)
	stream, err := AppendScore(stream, 7, seqs)
	if err != nil {
		t.Fatal(err)
	}
	stream = AppendLogits(stream, 7, logits)
	stream = AppendError(stream, 8, "engine: invalid input: sequence 3 has 600 tokens, max 512")
	stream = AppendControl(stream, KindPing, 9)
	stream = AppendControl(stream, KindPong, 9)

	r := bytes.NewReader(stream)
	read := func(kind Kind, id uint64) []byte {
		t.Helper()
		f, err := ReadFrame(r, MaxFrameSize, nil)
		if err != nil || f.Kind != kind || f.ID != id {
			t.Fatalf("ReadFrame = %v %d, %v; want %v %d", f.Kind, f.ID, err, kind, id)
		}
		return f.Body
	}
	if got, err := DecodeHello(read(KindHello, 0)); err != nil || got != hello {
		t.Errorf("hello = %+v, %v; want %+v", got, err, hello)
	}
	if got, err := DecodeScore(read(KindScore, 7)); err != nil || !reflect.DeepEqual(got, seqs) {
		t.Errorf("score = %+v, %v; want %+v", got, err, seqs)
	}
	gotL, err := DecodeLogits(read(KindLogits, 7))
	if err != nil || gotL.Inference != logits.Inference || len(gotL.Values) != 3 ||
		math.Float32bits(gotL.Values[2]) != math.Float32bits(logits.Values[2]) || !math.IsInf(float64(gotL.Values[1]), -1) {
		t.Errorf("logits = %+v, %v; want %+v", gotL, err, logits)
	}
	if got := string(read(KindError, 8)); got != "engine: invalid input: sequence 3 has 600 tokens, max 512" {
		t.Errorf("error body = %q", got)
	}
	if b := read(KindPing, 9); len(b) != 0 {
		t.Errorf("ping body = %q", b)
	}
	read(KindPong, 9)
	if _, err := ReadFrame(r, MaxFrameSize, nil); err != io.EOF {
		t.Errorf("at end: %v, want io.EOF", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	ping := AppendControl(nil, KindPing, 1)
	big := binary.LittleEndian.AppendUint32(nil, 1<<30)
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty", nil, MaxFrameSize, io.EOF},
		{"cut in size", ping[:2], MaxFrameSize, io.ErrUnexpectedEOF},
		{"cut in header", ping[:7], MaxFrameSize, io.ErrUnexpectedEOF},
		{"size below header", []byte{3, 0, 0, 0, 1, 2, 3}, MaxFrameSize, ErrProtocol},
		{"over the limit", big, MaxFrameSize, ErrFrameTooLarge},
		{"over a small limit", ping, len(ping) - 1, ErrFrameTooLarge},
		{"cut in body", append(AppendError(nil, 1, "boom"), 0)[:len(AppendError(nil, 1, "boom"))-1], MaxFrameSize, io.ErrUnexpectedEOF},
	} {
		if _, err := ReadFrame(bytes.NewReader(tc.in), tc.max, nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if f, err := ReadFrame(bytes.NewReader(ping), len(ping), nil); err != nil || f.Kind != KindPing {
		t.Errorf("frame of exactly the limit: %v %v", f, err)
	}
}

// A lying size prefix on a short stream must not make ReadFrame allocate
// the whole claimed size up front (one 1 MiB chunk, plus slack for whatever
// else the runtime allocates meanwhile, against 64 MiB claimed).
func TestReadFrameBoundsAllocation(t *testing.T) {
	in := binary.LittleEndian.AppendUint32(nil, MaxFrameSize-4)
	in = append(in, byte(KindScore), 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(bytes.NewReader(in), MaxFrameSize, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if allocs := after.TotalAlloc - before.TotalAlloc; allocs > 4*readChunk {
		t.Errorf("ReadFrame allocated %d bytes for a 12-byte stream claiming %d", allocs, MaxFrameSize)
	}
}

func TestDecodeErrors(t *testing.T) {
	hello := AppendHello(nil, Hello{Model: ModelID{Path: "p", Hash: "h"}, Backend: "cpu"})[frameHeader:]
	otherVersion := bytes.Clone(hello)
	binary.LittleEndian.PutUint16(otherVersion[4:], ProtocolVersion+1)
	score, _ := AppendScore(nil, 1, []engine.Sequence{{IDs: []int32{1, 2}, TypeIDs: []int32{0, 1}}})
	score = score[frameHeader:]
	lying := bytes.Clone(score)
	binary.LittleEndian.PutUint32(lying[4:], math.MaxUint32) // length prefix claims 4G tokens
	manySeqs := binary.LittleEndian.AppendUint32(nil, math.MaxUint32)
	logits := AppendLogits(nil, 1, Logits{Values: []float32{1, 2}})[frameHeader:]

	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		in     []byte
		want   error
	}{
		{"hello empty", decodeHelloErr, nil, ErrProtocol},
		{"hello bad magic", decodeHelloErr, append([]byte("XXXX"), hello[4:]...), ErrProtocol},
		{"hello other version", decodeHelloErr, otherVersion, ErrVersion},
		{"hello cut", decodeHelloErr, hello[:len(hello)-1], ErrProtocol},
		{"hello trailing", decodeHelloErr, append(bytes.Clone(hello), 0), ErrProtocol},
		{"score empty", decodeScoreErr, nil, ErrProtocol},
		{"score cut", decodeScoreErr, score[:len(score)-1], ErrProtocol},
		{"score trailing", decodeScoreErr, append(bytes.Clone(score), 0, 0, 0, 0), ErrProtocol},
		{"score lying length", decodeScoreErr, lying, ErrProtocol},
		{"score too many sequences", decodeScoreErr, manySeqs, ErrProtocol},
		{"logits cut", decodeLogitsErr, logits[:len(logits)-1], ErrProtocol},
		{"logits short header", decodeLogitsErr, logits[:5], ErrProtocol},
	} {
		if err := tc.decode(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := AppendScore(nil, 1, []engine.Sequence{{IDs: []int32{1}, TypeIDs: nil}}); err == nil {
		t.Error("AppendScore accepted a sequence with mismatched ids and type ids")
	}
}

func decodeHelloErr(b []byte) error  { _, err := DecodeHello(b); return err }
func decodeScoreErr(b []byte) error  { _, err := DecodeScore(b); return err }
func decodeLogitsErr(b []byte) error { _, err := DecodeLogits(b); return err }

// FuzzReadFrame feeds arbitrary streams to ReadFrame: it must never panic,
// never return a body longer than the stream, and re-encoding a frame it
// accepted must give back the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	score, _ := AppendScore(nil, 3, []engine.Sequence{{IDs: []int32{101, 102}, TypeIDs: []int32{0, 1}}})
	f.Add(AppendHello(nil, Hello{Model: ModelID{Path: "/m", Hash: "sha256:00"}, Backend: "cpu", PID: 1, Threads: 2}))
	f.Add(score)
	f.Add(AppendLogits(nil, 3, Logits{Values: []float32{0.5}}))
	f.Add(AppendControl(AppendControl(nil, KindPing, 1), KindPong, 1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		consumed := 0
		for {
			fr, err := ReadFrame(r, 1<<16, nil)
			if err != nil {
				return
			}
			if len(fr.Body) > len(data) {
				t.Fatalf("body of %d bytes from a %d-byte stream", len(fr.Body), len(data))
			}
			n := len(data) - r.Len()
			var re []byte
			re, start := appendHeader(re, fr.Kind, fr.ID)
			re = finish(append(re, fr.Body...), start)
			if !bytes.Equal(re, data[consumed:n]) {
				t.Fatalf("re-encoded frame %x, consumed %x", re, data[consumed:n])
			}
			consumed = n
			// Whatever the kind, decoding the body must not panic.
			DecodeHello(fr.Body)
			DecodeScore(fr.Body)
			DecodeLogits(fr.Body)
		}
	})
}

// FuzzDecodeScore checks that DecodeScore never panics and that what it
// accepts re-encodes to the same body.
func FuzzDecodeScore(f *testing.F) {
	score, _ := AppendScore(nil, 1, []engine.Sequence{{IDs: []int32{101, 7, 102}, TypeIDs: []int32{0, 0, 1}}, {IDs: []int32{}, TypeIDs: []int32{}}})
	f.Add(score[frameHeader:])
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		seqs, err := DecodeScore(body)
		if err != nil {
			return
		}
		re, err := AppendScore(nil, 1, seqs)
		if err != nil || !bytes.Equal(re[frameHeader:], body) {
			t.Fatalf("re-encoded %x (%v), decoded from %x", re, err, body)
		}
	})
}

// FuzzDecodeHello checks that DecodeHello never panics and that what it
// accepts re-encodes to the same body.
func FuzzDecodeHello(f *testing.F) {
	f.Add(AppendHello(nil, Hello{Model: ModelID{Path: "/m", Hash: "sha256:00"}, Backend: "cpu", PID: 1, Threads: 2})[frameHeader:])
	f.Add([]byte("MLMR\x01\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := DecodeHello(body)
		if err != nil {
			return
		}
		if re := AppendHello(nil, h)[frameHeader:]; !bytes.Equal(re, body) {
			t.Fatalf("re-encoded %x, decoded from %x", re, body)
		}
	})
}

// FuzzDecodeLogits checks that DecodeLogits never panics and that what it
// accepts re-encodes to the same body.
func FuzzDecodeLogits(f *testing.F) {
	f.Add(AppendLogits(nil, 1, Logits{Values: []float32{1, -2}, Inference: time.Millisecond})[frameHeader:])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0x80, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := DecodeLogits(body)
		if err != nil {
			return
		}
		if re := AppendLogits(nil, 1, l)[frameHeader:]; !bytes.Equal(re, body) {
			t.Fatalf("re-encoded %x, decoded from %x", re, body)
		}
	})
}
