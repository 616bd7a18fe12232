//go:build !linux

package bench

// ProcReader would read process accounting; outside Linux (no /proc) it
// reports memory and CPU as not measured.
type ProcReader struct{}

// NewProcReader returns a reader.
func NewProcReader() *ProcReader { return &ProcReader{} }

// Read returns a point with only its time: memory and CPU are n/a here.
func (r *ProcReader) Read(atMS float64) ProcPoint { return ProcPoint{AtMS: atMS, Processes: 1} }

func cpuModel() string { return "" }

func loadAvg() string { return "" }
