package cpu

import (
	"sync"
	"sync/atomic"
)

// pool is a fixed set of worker goroutines that share the tasks of one
// parallel loop at a time with the calling goroutine. Worker 0 is the caller;
// workers 1..n-1 are goroutines started by newPool, so per-worker scratch can
// be indexed by worker id without locks.
type pool struct {
	n    int
	work chan *job
	job  job // reused by every loop: the pool runs one loop at a time
}

// job is one parallel loop: tasks [0,tasks) handed out in order.
type job struct {
	fn    func(worker, task int)
	tasks int64
	next  atomic.Int64
	wg    sync.WaitGroup
}

func newPool(n int) *pool {
	p := &pool{n: n, work: make(chan *job, n)}
	for w := 1; w < n; w++ {
		go p.worker(w)
	}
	return p
}

func (p *pool) worker(id int) {
	for j := range p.work {
		j.drain(id)
		j.wg.Done()
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
	j.wg.Add(helpers)
	for range helpers {
		p.work <- j
	}
	j.drain(0)
	j.wg.Wait()
	j.fn = nil
}

// close stops the workers. The pool must be idle.
func (p *pool) close() { close(p.work) }

// tasks is parallel without the worker id, in the form simd.Gemm takes.
func (p *pool) tasks(n int, fn func(task int)) {
	p.parallel(n, func(_, task int) { fn(task) })
}
