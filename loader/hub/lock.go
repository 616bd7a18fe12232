package hub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// acquireLock takes an exclusive lock on the file at path (created if
// needed), waiting until it is free or ctx is done. The lock file is never
// removed: deleting it would let two processes hold locks on different
// inodes of the same name.
func acquireLock(ctx context.Context, path string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	locked := make(chan error, 1)
	go func() { locked <- lockFile(f) }()
	select {
	case err := <-locked:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return func() {
			unlockFile(f)
			f.Close()
		}, nil
	case <-ctx.Done():
		// The waiting goroutine still holds f: let it drop the lock once
		// it gets it.
		go func() {
			if <-locked == nil {
				unlockFile(f)
			}
			f.Close()
		}()
		return nil, ctx.Err()
	}
}
