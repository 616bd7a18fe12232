package hub

import (
	"sync"
	"time"
)

// watchdog enforces the minimum-progress rule on one GET: at the end of
// every period it checks that at least min bytes arrived during it, and
// otherwise calls cancel (which aborts the request, its header wait and its
// body reads alike) and remembers that it did.
type watchdog struct {
	period time.Duration
	min    int64
	cancel func()

	mu      sync.Mutex
	t       *time.Timer
	bytes   int64 // arrived in the current period
	tripped bool
	stopped bool
}

func newWatchdog(period time.Duration, min int64, cancel func()) *watchdog {
	w := &watchdog{period: period, min: min, cancel: cancel}
	w.t = time.AfterFunc(period, w.check)
	return w
}

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if w.bytes < w.min {
		w.tripped = true
		w.cancel()
		return
	}
	w.bytes = 0
	w.t.Reset(w.period)
}

// add counts n bytes that arrived.
func (w *watchdog) add(n int64) {
	w.mu.Lock()
	w.bytes += n
	w.mu.Unlock()
}

// fired reports whether the watchdog cancelled the request.
func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tripped
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.t.Stop()
}
