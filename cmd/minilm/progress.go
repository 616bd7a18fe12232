package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressBar reports pairs done and pairs/s and, when every input is a
// regular file (so the total size is known), the bytes read of the total
// and an ETA. On a terminal it is one line redrawn in place; elsewhere
// (--progress into a file or pipe) a plain line every interval, without
// carriage returns or escape codes. Both end with one summary line.
type progressBar struct {
	w        io.Writer
	terminal bool
	start    time.Time
	base     []int64 // bytes of the inputs before input i
	total    int64   // bytes of all inputs; 0 when unknown
	pairs    atomic.Int64
	bytes    atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

// Intervals between progress reports: a terminal line is cheap to redraw,
// a log line is not.
const (
	terminalInterval = 200 * time.Millisecond
	logInterval      = 5 * time.Second
)

// startProgress reports every interval until finish. sizes are the inputs'
// sizes in bytes, -1 where unknown (a pipe).
func startProgress(w io.Writer, terminal bool, sizes []int64, interval time.Duration) *progressBar {
	p := &progressBar{w: w, terminal: terminal, start: time.Now(), base: make([]int64, len(sizes)), stop: make(chan struct{})}
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
				p.draw()
			case <-p.stop:
				return
			}
		}
	})
	return p
}

// written counts a record the writer has printed.
func (p *progressBar) written(r *record) {
	p.pairs.Add(int64(len(r.pairs)))
	if r.input < len(p.base) {
		p.bytes.Store(p.base[r.input] + r.end)
	}
}

// finish stops the reports and prints the summary line.
func (p *progressBar) finish() {
	close(p.stop)
	p.wg.Wait()
	el := time.Since(p.start)
	pairs := p.pairs.Load()
	line := fmt.Sprintf("%d pairs in %.2f s, %.1f pairs/s", pairs, el.Seconds(), rate(pairs, el))
	if p.terminal {
		line = "\r" + line + "\x1b[K"
	}
	io.WriteString(p.w, line+"\n")
}

func rate(pairs int64, el time.Duration) float64 {
	if s := el.Seconds(); s > 0 {
		return float64(pairs) / s
	}
	return 0
}

func (p *progressBar) draw() {
	el := time.Since(p.start)
	pairs := p.pairs.Load()
	line := fmt.Sprintf("%d pairs  %.1f pairs/s  %s", pairs, rate(pairs, el), el.Round(time.Second))
	if done := p.bytes.Load(); p.total > 0 {
		line += fmt.Sprintf("  %s of %s (%.0f%%)", megabytes(done), megabytes(p.total), 100*float64(done)/float64(p.total))
		if done > 0 {
			eta := time.Duration(float64(el) * float64(p.total-done) / float64(done))
			line += "  ETA " + eta.Round(time.Second).String()
		}
	}
	if p.terminal {
		line = "\r" + line + "\x1b[K" // clear what a longer previous line left
	} else {
		line += "\n"
	}
	io.WriteString(p.w, line)
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
