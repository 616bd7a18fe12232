package tokenizer

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
)

// vocabTable maps word-piece strings to ids. It replaces a Go map on the hot
// path: a key's first eight bytes live in its slot, so most lookups (BERT
// pieces are short) touch one cache line and compare one integer, and
// lookups take a []byte without building a string.
type vocabTable struct {
	slots []vocabSlot // open addressing, linear probing, power-of-two size
	shift uint        // 64 - log2(len(slots))
	tails []uint32    // per slot: offset in arena of the bytes after the first 8
	arena []byte
}

type vocabSlot struct {
	head uint64 // first (up to) 8 bytes, little-endian, zero-padded
	id   int32
	n    uint32 // key length; 0 marks an empty slot (keys are never empty)
}

// packHead returns the first (up to) 8 bytes of b as a little-endian word.
func packHead(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b)
	}
	var w uint64
	for i := len(b) - 1; i >= 0; i-- {
		w = w<<8 | uint64(b[i])
	}
	return w
}

const (
	hashMul1 = 0x9E3779B97F4A7C15
	hashMul2 = 0xC2B2AE3D27D4EB4F
)

// hashKey mixes the head word, the length and any further bytes.
func hashKey(head uint64, b []byte) uint64 {
	h := (head ^ uint64(len(b))) * hashMul1
	for rest := b[min(len(b), 8):]; len(rest) > 0; {
		h = (bits.RotateLeft64(h, 29) ^ packHead(rest)) * hashMul2
		rest = rest[min(len(rest), 8):]
	}
	return h ^ h>>31
}

func newVocabTable(keys map[string]int32) vocabTable {
	size := 16
	for size < 2*len(keys) {
		size *= 2
	}
	v := vocabTable{
		slots: make([]vocabSlot, size),
		shift: uint(64 - bits.TrailingZeros(uint(size))),
		tails: make([]uint32, size),
	}
	// Insert in id order: the build is deterministic, and in BERT
	// vocabularies frequent pieces have low ids, so they get the slots
	// their hash points at and are found on the first probe.
	type entry struct {
		id int32
		k  string
	}
	ordered := make([]entry, 0, len(keys))
	for k, id := range keys {
		if k != "" {
			ordered = append(ordered, entry{id, k})
		}
	}
	slices.SortFunc(ordered, func(a, b entry) int { return cmp.Or(cmp.Compare(a.id, b.id), strings.Compare(a.k, b.k)) })
	for _, e := range ordered {
		id := e.id
		b := []byte(e.k)
		head := packHead(b)
		i := (hashKey(head, b) * hashMul1) >> v.shift
		for v.slots[i].n != 0 {
			i = (i + 1) & uint64(size-1)
		}
		v.slots[i] = vocabSlot{head: head, id: id, n: uint32(len(b))}
		if len(b) > 8 {
			v.tails[i] = uint32(len(v.arena))
			v.arena = append(v.arena, b[8:]...)
		}
	}
	return v
}

// get returns the id of key.
func (v *vocabTable) get(key []byte) (int32, bool) {
	head := packHead(key)
	mask := uint64(len(v.slots) - 1)
	for i := (hashKey(head, key) * hashMul1) >> v.shift; ; i = (i + 1) & mask {
		s := &v.slots[i]
		if s.n == 0 {
			return 0, false
		}
		if s.head == head && s.n == uint32(len(key)) &&
			(len(key) <= 8 || string(v.arena[v.tails[i]:v.tails[i]+uint32(len(key))-8]) == string(key[8:])) {
			return s.id, true
		}
	}
}
