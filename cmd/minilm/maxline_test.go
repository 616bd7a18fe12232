package main

import "testing"

// TestMaxLineFlag reads --max-line-bytes values.
func TestMaxLineFlag(t *testing.T) {
	for in, want := range map[string]int{"65536": 65536, "64K": 64 << 10, "64KiB": 64 << 10, "3MB": 3 << 20, "1g": 1 << 30, " 2 M ": 2 << 20} {
		var m maxLineFlag
		if err := m.Set(in); err != nil || int(m) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, m, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "1T", "x", "64KK", "2048G"} {
		var m maxLineFlag
		if err := m.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, m)
		}
	}
}
