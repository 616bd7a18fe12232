package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// atomicFile is the -o output. What it does depends on what the target is:
//   - a regular file, or nothing yet: the output is written under a
//     temporary name in the target's directory and renamed over the target
//     by commit, so the target never holds a torn file: it has its old
//     content (or does not exist) until commit. The old file's mode and
//     owner are given to the new one, or the run is refused before it starts.
//   - a symbolic link: the link is followed to the file it names, which is
//     replaced as above in its own directory; the link stays a link.
//   - a device, FIFO or socket (/dev/null, a named pipe): written in place,
//     since renaming over it would replace the special file with a regular one.
type atomicFile struct {
	*os.File
	target string // the file written: the -o path with symbolic links followed
	temp   bool   // File is a temporary file to rename over target
}

// tempMarker starts the temporary file's name after the target's name:
// ".NAME.tmp-PID-RANDOM", so that a later run can tell the leftovers of a
// killed run (its PID no longer running) and remove them.
const tempMarker = ".tmp-"

func createAtomic(path string) (*atomicFile, error) {
	target, err := resolveLinks(path)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", path, err)
	}
	st, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st = nil
	case err != nil:
		return nil, fmt.Errorf("output %s: %w", path, unwrapPathError(err))
	case st.IsDir():
		return nil, fmt.Errorf("output %s: is a directory", path)
	case !st.Mode().IsRegular():
		// O_TRUNC is what a shell's > does; devices and FIFOs ignore it.
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", path, unwrapPathError(err))
		}
		return &atomicFile{File: f, target: target}, nil
	}
	dir, base := filepath.Split(target)
	removeStaleTemps(dir, base)
	f, err := os.CreateTemp(dir, "."+base+tempMarker+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, fmt.Errorf("create output %s: %w", path, unwrapPathError(err))
	}
	a := &atomicFile{File: f, target: target, temp: true}
	mode := fs.FileMode(0o644)
	if st != nil {
		mode = st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		// The owner first: changing it clears the set-id bits.
		if err := keepOwner(f, st); err != nil {
			a.abort()
			return nil, fmt.Errorf("output %s: cannot give the new file the old one's owner (%v); write to a new file, or run as its owner", path, err)
		}
	}
	if err := f.Chmod(mode); err != nil {
		a.abort()
		return nil, fmt.Errorf("output %s: %w", path, unwrapPathError(err))
	}
	return a, nil
}

// resolveLinks follows symbolic links from path to the file they name,
// which need not exist yet (a dangling link names the file to create).
func resolveLinks(path string) (string, error) {
	for hops := 0; ; hops++ {
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && st.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if err != nil {
			return "", unwrapPathError(err)
		}
		if hops == 40 {
			return "", errors.New("too many levels of symbolic links")
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", unwrapPathError(err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
}

// removeStaleTemps removes the temporary files that runs no longer alive
// left for the target base in dir. Others' (a run still going) are kept.
func removeStaleTemps(dir, base string) {
	prefix := "." + base + tempMarker
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name())) // best effort: a leftover stays a leftover
	}
}

// commit puts the written file in place of the target (a temporary file),
// or finishes writing in place (a special file).
func (a *atomicFile) commit() error {
	if !a.temp {
		if err := a.Close(); err != nil {
			return fmt.Errorf("write output %s: %w", a.target, err)
		}
		return nil
	}
	err := a.Sync()
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.Name(), a.target)
	}
	if err != nil {
		os.Remove(a.Name())
		return fmt.Errorf("write output %s: %w", a.target, err)
	}
	return nil
}

// abort removes the temporary file; the target is left as it was. A special
// file keeps what was written to it.
func (a *atomicFile) abort() {
	a.Close() // the file is thrown away; a close error changes nothing
	if a.temp {
		os.Remove(a.Name())
	}
}
