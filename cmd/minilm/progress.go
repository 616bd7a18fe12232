package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressBar shows pairs done, pairs/s and (when every input is a regular
// file, so the total size is known) the share done and an ETA, on one line
// of stderr redrawn in place.
type progressBar struct {
	w     io.Writer
	start time.Time
	base  []int64 // bytes of the inputs before input i
	total int64   // bytes of all inputs; 0 when unknown
	pairs atomic.Int64
	bytes atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

// startProgress draws the bar every interval until finish. sizes are the
// inputs' sizes in bytes, -1 where unknown (a pipe).
func startProgress(w io.Writer, sizes []int64, interval time.Duration) *progressBar {
	p := &progressBar{w: w, start: time.Now(), base: make([]int64, len(sizes)), stop: make(chan struct{})}
	for i, s := range sizes {
		p.base[i] = p.total
		if s < 0 || p.total < 0 {
			p.total = -1
			continue
		}
		p.total += s
	}
	p.total = max(p.total, 0)
	p.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw(false)
			case <-p.stop:
				return
			}
		}
	})
	return p
}

// written counts a record the writer has printed: its pairs, and where it
// ended in which input.
func (p *progressBar) written(pairs, input int, end int64) {
	p.pairs.Add(int64(pairs))
	if input < len(p.base) {
		p.bytes.Store(p.base[input] + end)
	}
}

// finish draws the final state and ends the line.
func (p *progressBar) finish() {
	close(p.stop)
	p.wg.Wait()
	p.draw(true)
}

func (p *progressBar) draw(final bool) {
	el := time.Since(p.start)
	pairs := p.pairs.Load()
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(pairs) / s
	}
	line := fmt.Sprintf("\r%d pairs  %.1f pairs/s  %s", pairs, rate, el.Round(time.Second))
	if done := p.bytes.Load(); p.total > 0 {
		line += fmt.Sprintf("  %3.0f%%", 100*float64(done)/float64(p.total))
		if !final && done > 0 {
			eta := time.Duration(float64(el) * float64(p.total-done) / float64(done))
			line += "  ETA " + eta.Round(time.Second).String()
		}
	}
	line += "\x1b[K" // clear what a longer previous line left
	if final {
		line += "\n"
	}
	io.WriteString(p.w, line)
}
