//go:build linux

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// openConsole mounts /dev and opens the console, falling back to stderr
// (which the kernel points at the console too when /dev/console exists in
// the initramfs) so that messages have somewhere to go.
func openConsole() *os.File {
	devErr := mount("devtmpfs", "/dev", "devtmpfs")
	c, err := os.OpenFile("/dev/console", os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		c = os.Stderr
	}
	g := guest{console: c}
	if devErr != nil {
		g.logf("mount /dev: %v", devErr)
	}
	if err != nil {
		g.logf("open /dev/console: %v", err)
	}
	return c
}

// setup makes the guest look enough like an ordinary Linux system for Go
// tests: the pseudo file systems, a writable /tmp, a loopback interface for
// servers on 127.0.0.1, and the /etc files that name resolution and os/user
// read. A step that fails is reported and the program runs anyway, since
// most tests need none of them.
func (g guest) setup() {
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"devpts", "/dev/pts", "devpts"},
		{"tmpfs", "/dev/shm", "tmpfs"},
	} {
		if err := mount(m.src, m.dst, m.typ); err != nil {
			g.logf("mount %s: %v", m.dst, err)
		}
	}
	// A fresh tmpfs is 0755; programs that check for the usual sticky,
	// world-writable /tmp should find it.
	if err := os.Chmod("/tmp", 0o1777); err != nil {
		g.logf("%v", err)
	}
	// Only emergencies on the console, so that the console tail run.sh
	// prints on a failure shows the init's lines rather than kernel chatter.
	if err := os.WriteFile("/proc/sys/kernel/printk", []byte("1 4 1 7"), 0); err != nil {
		g.logf("%v", err)
	}
	if err := unix.Sethostname([]byte("emurun")); err != nil {
		g.logf("sethostname: %v", err)
	}
	g.loopbackUp()
	if err := os.MkdirAll("/etc", 0o755); err != nil {
		g.logf("%v", err)
	}
	for _, f := range []struct{ path, text string }{
		{"/etc/hosts", "127.0.0.1 localhost emurun\n::1 localhost ip6-localhost\n"},
		{"/etc/passwd", "root:x:0:0:root:/tmp:/bin/sh\n"},
		{"/etc/group", "root:x:0:\n"},
	} {
		if err := os.WriteFile(f.path, []byte(f.text), 0o644); err != nil {
			g.logf("%v", err)
		}
	}
}

// mount mounts a pseudo file system, making its mount point first: the
// initramfs holds only the directories run.sh created.
func mount(src, dst, typ string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return unix.Mount(src, dst, typ, 0, "")
}

// loopbackUp brings lo up; the kernel then gives it 127.0.0.1/8 and ::1 by
// itself, so no address needs setting.
func (g guest) loopbackUp() {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		g.logf("socket: %v", err)
		return
	}
	defer func() { _ = unix.Close(fd) }() // a socket used only for an ioctl has nothing to flush
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		g.logf("lo: %v", err)
		return
	}
	ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		g.logf("lo up: %v", err)
	}
}
