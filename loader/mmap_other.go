//go:build !unix

package loader

import "os"

// mapFile reads the whole file: platforms without mmap in golang.org/x/sys/unix
// trade the zero-copy mapping for a heap copy.
func mapFile(path string) (data []byte, release func() error, err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
