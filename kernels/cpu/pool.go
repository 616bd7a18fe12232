package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a fixed set of worker goroutines that share the tasks of one
// parallel loop at a time with the calling goroutine. Worker 0 is the caller;
// workers 1..n-1 are goroutines started by newPool, so per-worker scratch can
// be indexed by worker id without locks.
//
// A forward pass is some fifty parallel loops, many of them 50–200 µs long
// for one short sequence. Waking a parked goroutine costs tens of µs (on
// the 2-core VMs we measure on, about 65 µs from the channel send to the
// helper's first task), so after a loop the workers, and the caller waiting
// for them, spin for a while (spinFor) before they park: back-to-back loops
// then start and end within a microsecond or so.
type pool struct {
	n       int
	job     job
	start   atomic.Uint64 // loop sequence number << 16 | helpers taking part
	workers []poolWorker  // [1, n)
}

// spinFor bounds how long an idle worker (or the caller, waiting for the
// helpers of a loop) polls before it parks. It is short next to any batch,
// so an idle engine costs nothing, and long next to the gaps between the
// loops of one forward pass.
const spinFor = 200 * time.Microsecond

const (
	helperBits = 16
	quit       = 1<<helperBits - 1 // helpers value that stops the workers
)

type poolWorker struct {
	parked atomic.Bool
	wake   chan struct{} // one token per parked → running transition
}

// job is one parallel loop: tasks [0,tasks) handed out in order.
type job struct {
	fn      func(worker, task int)
	tasks   int64
	next    atomic.Int64
	pending atomic.Int32 // helpers still draining
	wg      sync.WaitGroup
}

func newPool(n int) *pool {
	p := &pool{n: n, workers: make([]poolWorker, n)}
	for w := 1; w < n; w++ {
		p.workers[w].wake = make(chan struct{}, 1)
		go p.worker(w)
	}
	return p
}

func (p *pool) worker(id int) {
	me := &p.workers[id]
	var last uint64 // sequence number of the last loop seen
	for {
		s := p.await(me, last)
		last = s >> helperBits
		switch helpers := int(s & quit); {
		case helpers == quit:
			return
		case id <= helpers:
			p.job.drain(id)
			p.job.pending.Add(-1)
			p.job.wg.Done()
		}
	}
}

// await returns the start word of the first loop after sequence number last,
// spinning for up to spinFor, then parked until parallel wakes this worker.
func (p *pool) await(me *poolWorker, last uint64) uint64 {
	fresh := func() (uint64, bool) {
		s := p.start.Load()
		return s, s>>helperBits != last
	}
	for deadline := time.Now().Add(spinFor); time.Now().Before(deadline); runtime.Gosched() {
		if s, ok := fresh(); ok {
			return s
		}
	}
	me.parked.Store(true)
	// A loop that started before parked was set did not wake this worker.
	if s, ok := fresh(); ok && me.parked.CompareAndSwap(true, false) {
		return s
	}
	for {
		<-me.wake
		if s, ok := fresh(); ok {
			return s
		}
		// Woken for a loop this worker has since seen through fresh: park
		// again for the next one.
		me.parked.Store(true)
		if s, ok := fresh(); ok && me.parked.CompareAndSwap(true, false) {
			return s
		}
	}
}

func (j *job) drain(worker int) {
	for {
		t := j.next.Add(1) - 1
		if t >= j.tasks {
			return
		}
		j.fn(worker, int(t))
	}
}

// parallel runs fn(worker, task) for every task in [0,tasks) and returns when
// all have finished. At most min(n, tasks) goroutines take part.
func (p *pool) parallel(tasks int, fn func(worker, task int)) {
	if tasks <= 0 {
		return
	}
	j := &p.job
	j.fn, j.tasks = fn, int64(tasks)
	j.next.Store(0)
	helpers := min(p.n, tasks) - 1
	j.pending.Store(int32(helpers))
	j.wg.Add(helpers)
	p.begin(helpers)
	j.drain(0)
	for deadline := time.Now().Add(spinFor); j.pending.Load() > 0 && time.Now().Before(deadline); runtime.Gosched() {
	}
	j.wg.Wait()
	j.fn = nil
}

// begin publishes the next loop to workers 1..helpers, waking those parked.
func (p *pool) begin(helpers int) {
	seq := p.start.Load()>>helperBits + 1
	p.start.Store(seq<<helperBits | uint64(helpers))
	for w := 1; w <= min(helpers, p.n-1); w++ {
		if me := &p.workers[w]; me.parked.CompareAndSwap(true, false) {
			me.wake <- struct{}{}
		}
	}
}

// close stops the workers. The pool must be idle.
func (p *pool) close() { p.begin(quit) }

// tasks is parallel without the worker id, in the form simd.Gemm takes.
func (p *pool) tasks(n int, fn func(task int)) {
	p.parallel(n, func(_, task int) { fn(task) })
}
