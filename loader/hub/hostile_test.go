package hub

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stallOptions make the minimum-progress rule trip in a tenth of a second.
func stallOptions(t *testing.T, srvURL string) Options {
	return Options{CacheDir: t.TempDir(), Endpoint: srvURL, retryBase: time.Millisecond,
		StallTimeout: 100 * time.Millisecond, MinProgress: 1000}
}

// TestStalledDownloadResumes is the reproducer of a stalled download never
// ending (a hub that sends headers and some bytes, then nothing): the GET is
// abandoned and resumed with a Range request from the bytes already there.
func TestStalledDownloadResumes(t *testing.T) {
	srv := newServer(t)
	never := make(chan struct{})
	srv.PauseNext("model.safetensors", 300_000, never)
	opts := stallOptions(t, srv.URL())
	dir, err := Download(context.Background(), testRepoID, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil || !bytes.Equal(got, testWeights()) {
		t.Fatalf("weights differ after the resumed download (%v)", err)
	}
	resumed := false
	for _, r := range srv.Requests() {
		resumed = resumed || r.Server == "cdn" && r.Range == "bytes=300000-"
	}
	if !resumed {
		t.Errorf("no GET resumed at byte 300000: %+v", srv.Requests())
	}
}

// TestStalledDownloadFails: a hub that stalls on every attempt (silent, or
// trickling a byte per 5 ms, under the 1000 bytes per 100 ms asked) ends in
// a clear ErrStalled after the bounded attempts, not never.
func TestStalledDownloadFails(t *testing.T) {
	for name, setup := range map[string]func(*testing.T) (string, func()){
		"silent": func(t *testing.T) (string, func()) {
			srv := newServer(t)
			return srv.URL(), func() { srv.StallAfter("model.safetensors", 10) }
		},
		"trickle": func(t *testing.T) (string, func()) {
			srv := newServer(t)
			return srv.URL(), func() { srv.Trickle("model.safetensors", 5*time.Millisecond) }
		},
	} {
		t.Run(name, func(t *testing.T) {
			url, fault := setup(t)
			fault()
			_, err := Download(context.Background(), testRepoID, stallOptions(t, url))
			if !errors.Is(err, ErrStalled) {
				t.Fatalf("error %v, want ErrStalled", err)
			}
			for _, want := range []string{"model.safetensors", "fewer than 1000 bytes in 100ms", "gave up after 5 attempts"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// incompleteBytes totals the partial downloads under the cache.
func incompleteBytes(t *testing.T, cache string) int64 {
	var n int64
	filepath.WalkDir(cache, func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".incomplete") {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// TestHugeClaimRefused is the reproducer of a hub filling the disk (a
// claimed 10^15 bytes wrote 5.8 GB in 8 s): the claim is refused against the
// size cap, and past a raised cap against the free space (statfs), before a
// byte is written.
func TestHugeClaimRefused(t *testing.T) {
	srv := newServer(t)
	srv.ClaimSize("model.safetensors", 1e15)
	opts := testOptions(t, srv)
	_, err := Download(context.Background(), testRepoID, opts)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1000000000000000 bytes") {
		t.Fatalf("error %v, want ErrTooLarge naming the claim", err)
	}
	opts.MaxFileSize = 1 << 62
	_, err = Download(context.Background(), testRepoID, opts)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("with the cap raised: error %v, want ErrNoSpace", err)
	}
	if n := incompleteBytes(t, opts.CacheDir); n != 0 {
		t.Errorf("%d bytes written for a refused file", n)
	}
	srv.ClaimSize("config.json", 300<<20)
	if _, err := Download(context.Background(), testRepoID, testOptions(t, srv)); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("a 300 MB config.json: error %v, want ErrTooLarge", err)
	}
}

// TestDiskFillsWhileWriting: free space is checked again while writing, so
// a disk that others fill during the download stops it.
func TestDiskFillsWhileWriting(t *testing.T) {
	srv := newServer(t)
	opts := testOptions(t, srv)
	calls := 0
	opts.freeSpace = func(string) (uint64, bool) {
		calls++
		if calls > 2 {
			return 1000, true
		}
		return 1 << 40, true
	}
	opts.spaceEvery = 100_000
	_, err := Download(context.Background(), testRepoID, opts)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "1000 free") {
		t.Fatalf("error %v, want ErrNoSpace once the disk filled", err)
	}
	if n := incompleteBytes(t, opts.CacheDir); n >= weightsSize {
		t.Errorf("%d bytes written, want the download stopped early", n)
	}
}

// TestStopsAtClaimedSize: a body longer than the claimed size is cut off at
// it and refused, announced (Content-Length) or not.
func TestStopsAtClaimedSize(t *testing.T) {
	srv := newServer(t)
	srv.ClaimSize("model.safetensors", 1000)
	opts := testOptions(t, srv)
	_, err := Download(context.Background(), testRepoID, opts)
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("error %v, want ErrIntegrity", err)
	}
	if n := incompleteBytes(t, opts.CacheDir); n > 1000 {
		t.Errorf("%d bytes written past the claimed 1000", n)
	}
}
