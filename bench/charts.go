package bench

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WriteCharts draws the four charts into dir as SVG and returns their paths.
func (r *Results) WriteCharts(dir string) ([]string, error) {
	charts := []struct {
		file string
		draw func() (*plot.Plot, error)
	}{
		{ChartLatency, r.latencyChart},
		{ChartThroughput, r.throughputChart},
		{ChartScatter, r.scatterChart},
		{ChartStages, r.stageChart},
	}
	var paths []string
	for _, c := range charts {
		p, err := c.draw()
		if err != nil {
			return paths, fmt.Errorf("bench: chart %s: %w", c.file, err)
		}
		path := filepath.Join(dir, c.file)
		if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
			return paths, fmt.Errorf("bench: chart %s: %w", c.file, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func label(c Config) string { return fmt.Sprintf("batch %d, conc %d", c.BatchSize, c.Concurrency) }

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

// latencyChart: each batch's latency at the time it ended, per configuration.
func (r *Results) latencyChart() (*plot.Plot, error) {
	p := newPlot("Latency per batch over time", "time since the configuration started (s)", "latency (ms)")
	var lines []any
	for _, c := range r.Configs {
		if len(c.Batches) == 0 {
			continue
		}
		bs := sortedBatches(c.Batches)
		xy := make(plotter.XYs, len(bs))
		for i, b := range bs {
			xy[i] = plotter.XY{X: b.EndMS / 1000, Y: b.LatencyMS}
		}
		lines = append(lines, label(c), xy)
	}
	return p, plotutil.AddLinePoints(p, lines...)
}

// throughputChart: pairs completed per interval of the time series.
func (r *Results) throughputChart() (*plot.Plot, error) {
	p := newPlot("Throughput over time", "time since the configuration started (s)", "throughput (pairs/s)")
	var lines []any
	for _, c := range r.Configs {
		if len(c.Samples) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(c.Samples))
		for i, s := range c.Samples {
			xy[i] = plotter.XY{X: s.EndMS / 1000, Y: s.Throughput}
		}
		lines = append(lines, label(c), xy)
	}
	return p, plotutil.AddLinePoints(p, lines...)
}

// scatterChart: per batch, latency against throughput (pairs / latency).
func (r *Results) scatterChart() (*plot.Plot, error) {
	p := newPlot("Latency vs throughput per batch", "latency (ms)", "throughput (pairs/s)")
	var pts []any
	for _, c := range r.Configs {
		if len(c.Batches) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(c.Batches))
		for i, b := range c.Batches {
			xy[i] = plotter.XY{X: b.LatencyMS, Y: b.Throughput}
		}
		pts = append(pts, label(c), xy)
	}
	return p, plotutil.AddScatters(p, pts...)
}

// stageChart stacks the average time per batch of each stage, per
// configuration; "other" is what latency leaves (channels, pipes, copying).
func (r *Results) stageChart() (*plot.Plot, error) {
	p := newPlot("Where a batch's latency goes (average per batch)", "configuration", "ms")
	p.Legend.Top = true
	p.Legend.Left = true
	stages := []string{"tokenization", "queue wait", "inference", "other"}
	values := make([]plotter.Values, len(stages))
	var names []string
	for _, c := range r.Configs {
		s := c.Summary
		if s.Batches == 0 {
			continue
		}
		names = append(names, fmt.Sprintf("b%d c%d", c.BatchSize, c.Concurrency))
		var tok, qw, inf float64
		if d := s.Dashboard; d.TokenizeMS != nil {
			tok, qw, inf = d.TokenizeMS.Mean, d.QueueWaitMS.Mean, d.InferenceMS.Mean
		}
		other := max(0, s.LatencyMS.Mean-tok-qw-inf)
		for i, v := range []float64{tok, qw, inf, other} {
			values[i] = append(values[i], v)
		}
	}
	if len(names) == 0 {
		return p, nil
	}
	var below *plotter.BarChart
	for i, v := range values {
		bars, err := plotter.NewBarChart(v, vg.Points(28))
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		p.Add(bars)
		p.Legend.Add(stages[i], bars)
		below = bars
	}
	p.NominalX(names...)
	// Headroom above the tallest bar for the legend.
	top := 0.0
	for i := range names {
		top = max(top, below.BarHeight(i))
	}
	if top > 0 {
		p.Y.Min, p.Y.Max = 0, 1.35*top
	}
	return p, nil
}
