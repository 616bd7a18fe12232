//go:build !unix

package cpu

import "fmt"

func mapReadOnly(path string) ([]byte, error) {
	return nil, fmt.Errorf("%w: memory-mapped shared weights need a unix system", ErrSharedWeights)
}

func unmap([]byte) {}
