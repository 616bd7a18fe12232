package hub

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// redrawEvery limits how often the progress line is rewritten in place;
// plainEvery how often a plain line is written.
const (
	redrawEvery = 200 * time.Millisecond
	plainEvery  = 5 * time.Second
)

// progress draws one line per file, rewritten in place with \r:
//
//	model.safetensors [#######.............]  31.5 MB / 90.9 MB  12.0 MB/s  ETA 5s
//
// The rate counts only bytes fetched by this process (not resumed ones).
// A nil *progress draws nothing. Plain, it writes whole lines instead (no
// \r), every plainEvery and when done.
type progress struct {
	w           io.Writer
	plain       bool
	name        string
	total, done int64
	resumed     int64 // bytes already there when the download started
	now         func() time.Time
	start, last time.Time
	width       int // length of the last line drawn, to blank leftovers
}

func newProgress(w io.Writer, plain bool, name string, total, resumed int64, now func() time.Time) *progress {
	if w == nil {
		return nil
	}
	t := now()
	p := &progress{w: w, plain: plain, name: name, total: total, done: resumed, resumed: resumed, now: now, start: t, last: t}
	p.draw(t, false)
	return p
}

func (p *progress) add(n int64) {
	if p == nil {
		return
	}
	p.done += n
	every := redrawEvery
	if p.plain {
		every = plainEvery
	}
	if t := p.now(); t.Sub(p.last) >= every {
		p.last = t
		p.draw(t, false)
	}
}

// restart is called when the partial file had to be thrown away.
func (p *progress) restart() {
	if p == nil {
		return
	}
	p.done, p.resumed = 0, 0
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.draw(p.now(), true)
}

func (p *progress) draw(t time.Time, final bool) {
	const barWidth = 20
	filled := barWidth
	if p.total > 0 {
		filled = int(p.done * barWidth / p.total)
	}
	line := fmt.Sprintf("%s [%s%s] %8s / %s", p.name, strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		formatBytes(p.done), formatBytes(p.total))
	elapsed := t.Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done-p.resumed) / elapsed.Seconds()
	}
	switch {
	case final:
		line += fmt.Sprintf("  %s/s  in %s", formatBytes(int64(rate)), elapsed.Round(100*time.Millisecond))
	case rate > 0:
		eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		line += fmt.Sprintf("  %s/s  ETA %s", formatBytes(int64(rate)), eta.Round(time.Second))
	}
	if p.plain {
		fmt.Fprintln(p.w, line) // a failing progress writer must not fail the download
		return
	}
	pad := ""
	if p.width > len(line) {
		pad = strings.Repeat(" ", p.width-len(line))
	}
	p.width = len(line)
	end := ""
	if final {
		end = "\n"
	}
	// A failing progress writer must not fail the download.
	fmt.Fprintf(p.w, "\r%s%s%s", line, pad, end)
}

// formatBytes prints n in decimal units, as huggingface_hub's tqdm bars do.
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "kB"
	for _, s := range []string{"MB", "GB", "TB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
