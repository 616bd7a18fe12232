//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package hub

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile blocks until it holds an exclusive flock on f. flock locks
// belong to the open file, so two opens in one process exclude each other
// too, and the kernel drops them when a process dies.
func lockFile(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func unlockFile(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }
