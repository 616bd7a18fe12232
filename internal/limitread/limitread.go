// Package limitread reads files that must not exceed a size limit, without
// reading more than the limit of one that does.
package limitread

import (
	"fmt"
	"io"
	"os"
)

// TooLargeError is a file beyond the limit. Size is its size when known
// before reading (a regular file), else -1: more than Limit bytes arrived.
type TooLargeError struct {
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Size >= 0 {
		return fmt.Sprintf("%d bytes, more than the %d allowed", e.Size, e.Limit)
	}
	return fmt.Sprintf("more than the %d bytes allowed", e.Limit)
}

// ReadFile reads the file at path, failing with a *TooLargeError when it is
// larger than limit bytes: before reading when its size is known, else as
// soon as more than limit bytes have arrived. Other errors are the os
// package's.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, &TooLargeError{Size: st.Size(), Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Size: -1, Limit: limit}
	}
	return data, nil
}
