//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package hub

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// lockFile fails: without a lock two processes could corrupt a shared
// blob, so on platforms without flock or LockFileEx downloading is refused.
func lockFile(*os.File) error {
	return fmt.Errorf("no file locking on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func unlockFile(*os.File) error { return nil }
