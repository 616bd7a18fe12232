package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ProcReader reads the accounting of this process and its children (the
// replica workers) from /proc.
type ProcReader struct {
	// children holds the CPU seconds each child was last seen with, so that
	// a child that exits keeps counting what it used.
	children map[int]float64
}

// NewProcReader returns a reader; its first Read is the baseline.
func NewProcReader() *ProcReader { return &ProcReader{children: map[int]float64{}} }

// Read takes one reading, stamped atMS.
func (r *ProcReader) Read(atMS float64) ProcPoint {
	p := ProcPoint{AtMS: atMS}
	self, ok := cpuSeconds("self")
	if !ok {
		return p
	}
	rss, rssOK := rssMB("self")
	p.Processes = 1
	for _, pid := range childPIDs() {
		name := strconv.Itoa(pid)
		if c, ok := cpuSeconds(name); ok {
			r.children[pid] = c
		}
		if m, ok := rssMB(name); ok {
			rss += m
			p.Processes++
		}
	}
	cpu := self
	for _, c := range r.children {
		cpu += c
	}
	p.CPUSeconds = &cpu
	if rssOK {
		p.RSSMB = &rss
	}
	return p
}

// childPIDs lists the live children of this process, from every thread's
// children file (a child belongs to the thread that forked it).
func childPIDs() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// cpuSeconds is utime+stime of /proc/<pid>/stat.
func cpuSeconds(pid string) (float64, bool) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	// After the name: state(3) ppid(4) ... utime(14) stime(15).
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(ut+st) / clockTicks, true
}

// rssMB is VmRSS of /proc/<pid>/status in MB (2^20 bytes).
func rssMB(pid string) (float64, bool) {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					return kb / 1024, true
				}
			}
		}
	}
	return 0, false
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
