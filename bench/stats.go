package bench

import (
	"math"
	"slices"
)

// Summary describes a sample of values.
type Summary struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	// Std is the sample standard deviation (n−1 in the denominator, as
	// Python's statistics.stdev); 0 for fewer than two values.
	Std float64 `json:"std"`
	P50 float64 `json:"p50"`
	P75 float64 `json:"p75"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Summarize computes the summary of xs (which it does not modify). The
// summary of no values is the zero Summary.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	ss := 0.0
	for _, x := range s {
		ss += (x - mean) * (x - mean)
	}
	std := 0.0
	if len(s) > 1 {
		std = math.Sqrt(ss / float64(len(s)-1))
	}
	return Summary{
		N: len(s), Mean: mean, Min: s[0], Max: s[len(s)-1], Std: std,
		P50: Percentile(s, 50), P75: Percentile(s, 75), P90: Percentile(s, 90),
		P95: Percentile(s, 95), P99: Percentile(s, 99),
	}
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted values by
// linear interpolation between the two nearest ranks, numpy's default: the
// value at fractional index p/100·(n−1). NaN for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := p / 100 * float64(n-1)
	lo := int(math.Floor(pos))
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// Band is the throughput of the batches whose latency falls in one band.
type Band struct {
	Name  string  `json:"name"` // "<P50", "P50–P75", "P75–P90", "≥P90"
	Count int     `json:"count"`
	Avg   float64 `json:"avg"` // throughput, pairs/s; 0 when Count is 0
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

// LatencyBands splits the batches by their latency at the latency P50, P75
// and P90 (lower bound inclusive) and describes each band's throughput.
// latency[i] and throughput[i] belong to batch i.
func LatencyBands(latency, throughput []float64) []Band {
	s := slices.Clone(latency)
	slices.Sort(s)
	p50, p75, p90 := Percentile(s, 50), Percentile(s, 75), Percentile(s, 90)
	bands := []Band{{Name: "<P50"}, {Name: "P50–P75"}, {Name: "P75–P90"}, {Name: "≥P90"}}
	sums := make([]float64, len(bands))
	for i, l := range latency {
		k := 0
		switch {
		case l >= p90:
			k = 3
		case l >= p75:
			k = 2
		case l >= p50:
			k = 1
		}
		b, t := &bands[k], throughput[i]
		if b.Count == 0 || t < b.Min {
			b.Min = t
		}
		if b.Count == 0 || t > b.Max {
			b.Max = t
		}
		b.Count++
		sums[k] += t
	}
	for k := range bands {
		if bands[k].Count > 0 {
			bands[k].Avg = sums[k] / float64(bands[k].Count)
		}
	}
	return bands
}

// Pearson returns the correlation coefficient of x and y, and false when it
// is undefined (fewer than two points, or a constant series).
func Pearson(x, y []float64) (float64, bool) {
	n := len(x)
	if n < 2 || len(y) != n {
		return 0, false
	}
	var mx, my float64
	for i := range n {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx, syy float64
	for i := range n {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return sxy / math.Sqrt(sxx*syy), true
}
