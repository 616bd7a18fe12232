package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minilm-dev/minilm/loader/hub/hubtest"
)

// TestMain doubles as the child process of TestConcurrentProcesses: with
// HUB_TEST_CHILD_CACHE set, the test binary downloads testRepoID into that
// cache from HF_ENDPOINT and prints the snapshot directory.
func TestMain(m *testing.M) {
	if cache := os.Getenv("HUB_TEST_CHILD_CACHE"); cache != "" {
		dir, err := Download(context.Background(), testRepoID, Options{CacheDir: cache, retryBase: time.Millisecond})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestConcurrentProcesses(t *testing.T) {
	srv := newServer(t)
	cache := t.TempDir()
	// Hold the first weights body half-way until both processes have
	// resolved every file, so the second reaches the weights blob while the
	// first is still writing it.
	release := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	lastHeads := 0
	srv.OnRequest(func(r hubtest.Request) {
		if r.Method == "HEAD" && strings.HasSuffix(r.Path, "/special_tokens_map.json") {
			mu.Lock()
			lastHeads++
			if lastHeads == 2 {
				once.Do(func() { close(release) })
			}
			mu.Unlock()
		}
	})
	srv.PauseNext("model.safetensors", weightsSize/2, release)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		out    string
		stderr string
		err    error
	}
	results := make(chan result, 2)
	for range 2 {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "HUB_TEST_CHILD_CACHE="+cache, "HF_ENDPOINT="+srv.URL())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		go func() {
			out, err := cmd.Output()
			results <- result{strings.TrimSpace(string(out)), stderr.String(), err}
		}()
	}
	commit := srv.Commit(testRepoID)
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("child: %v\n%s", r.err, r.stderr)
		}
		if want := filepath.Join(cache, "models--org--model", "snapshots", commit); r.out != want {
			t.Errorf("child printed %q, want %q", r.out, want)
		}
	}
	checkLayout(t, cache, testRepo(), commit, filepath.Join(cache, "models--org--model", "snapshots", commit))
	if n := count(srv.Requests(), "cdn", "GET", ""); n != 1 {
		t.Errorf("%d GETs of the weights, want 1: the second process should wait for the first", n)
	}
}

func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks", "x.lock")
	release, err := acquireLock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// A second open of the same lock file waits, in this process too.
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		rel, err := acquireLock(ctx, path)
		if err == nil {
			rel()
		}
		got <- err
	}()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("second lock while held: %v, want context.Canceled", err)
	}
	release()
	// The abandoned waiter must not keep the lock once it gets it.
	release2, err := acquireLock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	release2()
}
