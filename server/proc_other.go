//go:build !linux

package server

// procReader has no per-process accounting off Linux: the dashboard shows
// memory and CPU as unknown.
type procReader struct{}

func newProcReader() *procReader { return &procReader{} }

func (r *procReader) read([]int) (rssMB, cpuS float64, ok bool) { return 0, 0, false }
