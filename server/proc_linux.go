package server

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// procReader reads RSS and CPU time of this process and its workers from
// /proc.
type procReader struct {
	pageMB float64
}

func newProcReader() *procReader { return &procReader{pageMB: float64(os.Getpagesize()) / (1 << 20)} }

// read returns the resident MB and CPU seconds of this process and pids.
func (r *procReader) read(pids []int) (rssMB, cpuS float64, ok bool) {
	names := []string{"self"}
	for _, p := range pids {
		names = append(names, strconv.Itoa(p))
	}
	for i, name := range names {
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			if i == 0 {
				return 0, 0, false
			}
			continue // a worker that just exited
		}
		// Fields after the command name, which may hold spaces: state is
		// field 3, utime 14, stime 15, rss 24.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 22 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		pages, _ := strconv.ParseFloat(f[21], 64)
		cpuS += (ut + st) / 100 // USER_HZ is 100 on every Linux Go supports
		rssMB += pages * r.pageMB
	}
	return rssMB, cpuS, true
}
