package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/minilm-dev/minilm/pairfile"
)

// maxLineFlag is --max-line-bytes: a byte count, with an optional K, M or G
// suffix (binary: 1K = 1024; "KiB" and "KB" are read alike).
type maxLineFlag int

func (m *maxLineFlag) String() string {
	if m == nil || *m == 0 {
		return pairfile.ByteSize(pairfile.DefaultMaxLine)
	}
	return pairfile.ByteSize(int(*m))
}

func (m *maxLineFlag) Set(s string) error {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n < 1 || n > (1<<40)/mult {
		return fmt.Errorf("%q: want a size in bytes such as 65536, 64K or 64MiB", s)
	}
	*m = maxLineFlag(n * mult)
	return nil
}

// registerMaxLine adds --max-line-bytes to a command that reads lines.
func registerMaxLine(fs *flag.FlagSet, m *maxLineFlag) {
	fs.Var(m, "max-line-bytes", "longest input line (`SIZE` in bytes, or with a K, M or G suffix); a longer line is\nnot read into memory past SIZE and is an error naming FILE:LINE\n(score: skipped with --skip-invalid, except in CSV)")
}
