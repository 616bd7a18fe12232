package cpu

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolRunsEveryTaskOnce runs loops of every size back to back (workers
// spinning between them) and after each worker has parked, and checks that
// each task ran once, on a worker id below min(n, tasks).
func TestPoolRunsEveryTaskOnce(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		p := newPool(n)
		loop := func(tasks int) {
			counts := make([]atomic.Int32, tasks)
			var badWorker atomic.Int32
			p.parallel(tasks, func(worker, task int) {
				if worker < 0 || worker >= min(n, tasks) {
					badWorker.Add(1)
				}
				counts[task].Add(1)
			})
			for i := range counts {
				require.EqualValues(t, 1, counts[i].Load(), "n=%d tasks=%d: task %d", n, tasks, i)
			}
			require.Zero(t, badWorker.Load(), "n=%d tasks=%d: a worker id out of range", n, tasks)
		}
		for round := range 200 {
			loop(1 + round%7)
		}
		waitParked(t, p)
		loop(1) // wakes nobody
		loop(n + 1)
		waitParked(t, p)
		loop(2 * n)
		closePool(t, p)
	}
}

// TestPoolHelpersShareTheWork checks that the helpers take part: tasks that
// each wait for all n goroutines to be inside fn at once finish only if
// every worker runs one, parked ones included.
func TestPoolHelpersShareTheWork(t *testing.T) {
	const n = 3
	p := newPool(n)
	for _, park := range []bool{false, true} {
		if park {
			waitParked(t, p)
		}
		var inside atomic.Int32
		p.parallel(n, func(_, _ int) {
			inside.Add(1)
			deadline := time.Now().Add(10 * time.Second)
			for inside.Load() < n && time.Now().Before(deadline) {
				runtime.Gosched()
			}
		})
		assert.EqualValues(t, n, inside.Load(), "park=%v: not every worker took a task", park)
	}
	closePool(t, p)
}

// waitParked waits (bounded) until every helper of p has parked.
func waitParked(t *testing.T, p *pool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for w := 1; w < p.n; w++ {
		for !p.workers[w].parked.Load() {
			require.True(t, time.Now().Before(deadline), "worker %d never parked", w)
			runtime.Gosched()
		}
	}
}

// closePool closes p and waits (bounded) for its helpers to exit.
func closePool(t *testing.T, p *pool) {
	t.Helper()
	before := runtime.NumGoroutine()
	p.close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before-(p.n-1) {
		require.True(t, time.Now().Before(deadline), "%d helpers still running after close", p.n-1)
		runtime.Gosched()
	}
}
