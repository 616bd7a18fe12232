//go:build linux

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// openRaw opens a serial port for writing in raw mode, so that the program's
// bytes reach the host file unchanged: a tty's default output processing
// would turn every \n into \r\n.
func openRaw(path string) (*os.File, error) {
	// O_NOCTTY: PID 1 has no controlling terminal, and opening a tty would
	// make this one it, exposing init to the port's hangups.
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		_ = f.Close() // the error that matters is the one returned
		return nil, err
	}
	t.Iflag = 0
	t.Oflag = 0
	t.Lflag = 0
	// CLOCAL: there is no modem, so no carrier to wait for. The speed is
	// what Bochs's UART is told; an emulated port sends as fast either way.
	t.Cflag &^= unix.CBAUD | unix.CSIZE | unix.PARENB | unix.CRTSCTS
	t.Cflag |= unix.B115200 | unix.CS8 | unix.CLOCAL | unix.CREAD
	t.Ispeed = 115200
	t.Ospeed = 115200
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		_ = f.Close() // the error that matters is the one returned
		return nil, err
	}
	return f, nil
}

// drain waits until everything written to the tty has been sent
// (tcdrain(3) is TCSBRK with a non-zero argument).
func drain(f *os.File) error {
	return unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
}
