package optest

import (
	"fmt"
	"math"
	"strings"
)

// Tol is a case's tolerance: both must hold.
type Tol struct {
	NMSE float64 // Σ(got-want)² / Σ want² over the finite elements
	Abs  float64 // max |got-want| over the finite elements
}

// maxMismatches is how many out-of-tolerance elements a failure lists.
const maxMismatches = 5

// compare checks got against want (the reference) and returns nil or an
// error describing the failure: NaN anywhere, an Inf not matched, or NMSE or
// max-abs over tol, naming the worst element and the first mismatches.
func compare(got, want []float32, tol Tol) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d values, want %d", len(got), len(want))
	}
	var sumSq, sumErr, maxAbs float64
	worst := -1
	var bad []string
	note := func(i int) {
		if len(bad) < maxMismatches {
			bad = append(bad, fmt.Sprintf("[%d] got %.9g want %.9g", i, got[i], want[i]))
		}
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		switch {
		case math.IsNaN(g) || math.IsNaN(w):
			return fmt.Errorf("NaN at [%d]: got %v, want %v", i, got[i], want[i])
		case math.IsInf(g, 0) || math.IsInf(w, 0):
			if g != w {
				return fmt.Errorf("Inf mismatch at [%d]: got %v, want %v", i, got[i], want[i])
			}
			continue
		}
		d := math.Abs(g - w)
		sumErr += d * d
		sumSq += w * w
		if d > maxAbs || worst < 0 {
			maxAbs, worst = max(maxAbs, d), i
		}
		if d > tol.Abs {
			note(i)
		}
	}
	nmse := sumErr
	if sumSq > 0 {
		nmse = sumErr / sumSq
	}
	if nmse <= tol.NMSE && maxAbs <= tol.Abs {
		return nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "NMSE %.3g (tol %.3g), max abs %.3g (tol %.3g)", nmse, tol.NMSE, maxAbs, tol.Abs)
	if worst >= 0 {
		fmt.Fprintf(&sb, "; worst [%d] got %.9g want %.9g", worst, got[worst], want[worst])
	}
	if len(bad) > 0 {
		fmt.Fprintf(&sb, "; first mismatches: %s", strings.Join(bad, ", "))
	}
	return fmt.Errorf("%s", sb.String())
}
