package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ModelID names the model a worker serves: where it was loaded from and a
// hash of the files that decide its output.
type ModelID struct {
	Path string // model directory, as the engine resolved it
	Hash string // "sha256:<hex>" from IdentifyModel
}

// ErrMismatch marks a worker whose hello does not match what the supervisor
// expects (model, backend or protocol version).
var ErrMismatch = errors.New("replica: worker mismatch")

// modelFiles are the files of a model directory that change its scores;
// IdentifyModel hashes those that exist, in this order.
var modelFiles = [...]string{
	"config.json",
	"model.safetensors",
	"vocab.txt",
	"tokenizer.json",
	"tokenizer_config.json",
	"special_tokens_map.json",
}

// IdentifyModel hashes the model files in dir (following symlinks, as the
// Hugging Face cache uses them). The supervisor and every worker call it on
// the same directory, so a worker that loaded other weights is refused.
func IdentifyModel(dir string) (ModelID, error) {
	h := sha256.New()
	found := 0
	for _, name := range modelFiles {
		err := hashFile(h, name, filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return ModelID{}, fmt.Errorf("replica: identify model %s: %w", dir, err)
		}
		found++
	}
	if found == 0 {
		return ModelID{}, fmt.Errorf("replica: identify model %s: none of %v: %w", dir, modelFiles, fs.ErrNotExist)
	}
	return ModelID{Path: filepath.Clean(dir), Hash: "sha256:" + hex.EncodeToString(h.Sum(nil))}, nil
}

// hashFile feeds name, size and content to h, so that moving bytes from one
// file to the next changes the hash.
func hashFile(h io.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(st.Size()))
	h.Write([]byte(name))
	h.Write(hdr[:])
	n, err := io.Copy(h, f)
	if err == nil && n != st.Size() {
		err = fmt.Errorf("%s changed while hashing", path)
	}
	return err
}
