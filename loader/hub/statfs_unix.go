//go:build linux || darwin

package hub

import (
	"path/filepath"
	"syscall"
)

// freeSpace reports the bytes available to an unprivileged user on the file
// system holding path (or its directory, when path does not exist yet).
func freeSpace(path string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
			return 0, false
		}
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true
}
