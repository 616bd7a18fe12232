//go:build unix

package cpu

import (
	"fmt"
	"os"
	"syscall"
)

// mapReadOnly maps the whole file at path read-only and shared: every
// process mapping it reads the same page-cache (or memfd) pages.
func mapReadOnly(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < 16 {
		return nil, fmt.Errorf("%w: %d bytes", ErrSharedWeights, st.Size())
	}
	return syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmap(mem []byte) { syscall.Munmap(mem) }
