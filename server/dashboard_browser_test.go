package server

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds the system Chromium; CI installs it, so there a missing
// browser fails the test instead of skipping it.
func chromium(t *testing.T) string {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (.ci/run installs Debian's chromium package)")
	}
	t.Skip("chromium is not installed: apt-get install chromium")
	return ""
}

// TestDashboardInChromium loads the dashboard in headless Chromium while
// requests flow: the page must show a non-zero throughput, fed by the
// server's events, with no console error (a CSP violation, a failed fetch
// or a script error would be one).
func TestDashboardInChromium(t *testing.T) {
	browser := chromium(t)
	ts := start(t, Config{}, loadTiny(t))

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(tab, 2*testTimeout)
	defer cancel()

	var (
		mu       sync.Mutex
		problems []string
		watching sync.WaitGroup
	)
	messages := chromedp.Console(ctx)
	watching.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	})

	// Traffic until the page has shown it.
	var stop atomic.Bool
	var traffic sync.WaitGroup
	traffic.Go(func() {
		for !stop.Load() {
			post(t, ts.url+"/rerank", rerankBody(8))
		}
	})
	defer func() { stop.Store(true); traffic.Wait() }()

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(ts.url+"/")))
	title, err := chromedp.Run(ctx, chromedp.Title())
	require.NoError(t, err)
	assert.Equal(t, "minilm serve", title)
	throughput, err := chromedp.Run(ctx, chromedp.Poll[float64](
		`parseFloat(document.getElementById("v-throughput").textContent) > 0 && parseFloat(document.getElementById("v-throughput").textContent)`,
		chromedp.WithPollingTimeout(testTimeout)))
	require.NoError(t, err, "the page never showed a non-zero throughput")
	assert.Greater(t, throughput, 0.0)
	status, err := chromedp.Run(ctx, chromedp.Text("#status"))
	require.NoError(t, err)
	assert.Contains(t, status, "live")
	// Every chart and tile is there; the latency tile has both percentiles.
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("canvas").length`))
	require.NoError(t, err)
	assert.Equal(t, 10, charts)
	latency, err := chromedp.Run(ctx, chromedp.Text("#v-latency"))
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9.]+ / [0-9.]+$`, latency)
	memory, err := chromedp.Run(ctx, chromedp.Text("#v-memory"))
	require.NoError(t, err)
	assert.Regexp(t, `^[1-9][0-9]*$`, memory, "memory in MB")

	stop.Store(true)
	cancel()
	watching.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, problems, "console errors")
}
