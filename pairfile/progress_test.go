package pairfile

import (
	"strings"
	"testing"
	"time"
)

// TestProgressLines: on a terminal one line redrawn in place, with the total
// size, ending in a summary line; elsewhere plain lines, no \r or escapes.
func TestProgressLines(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		var b strings.Builder
		p := StartProgress(&b, terminal, []int64{2_000_000, 1_000_000}, time.Hour) // drawn by hand below
		p.Written(3, 1, 500_000)
		p.draw()
		p.Finish()
		s := b.String()
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		if !strings.Contains(s, "3 pairs  ") || !strings.Contains(s, "2.5 MB of 3.0 MB (83%)") || !strings.Contains(s, "ETA ") {
			t.Errorf("terminal %v: %q lacks pairs, bytes of the total, ETA", terminal, s)
		}
		if !strings.HasSuffix(s, "\n") || !strings.Contains(lines[len(lines)-1], "3 pairs in ") || !strings.Contains(lines[len(lines)-1], " pairs/s") {
			t.Errorf("terminal %v: %q does not end with the summary line", terminal, s)
		}
		if hasCtl := strings.ContainsAny(s, "\r\x1b"); hasCtl != terminal {
			t.Errorf("terminal %v: carriage returns or escapes present: %v in %q", terminal, hasCtl, s)
		}
		if !terminal && len(lines) != 2 {
			t.Errorf("off a terminal: %d lines, want a progress line and the summary: %q", len(lines), s)
		}
	}
}
