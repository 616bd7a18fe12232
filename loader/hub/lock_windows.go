//go:build windows

package hub

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile blocks until it holds an exclusive LockFileEx lock on the first
// byte of f; Windows drops it when the process dies.
func lockFile(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, new(windows.Overlapped))
}

func unlockFile(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}
