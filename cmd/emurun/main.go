//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The files run.sh puts in the initramfs, and the line it waits for.
const (
	testPath    = "/emurun/test"
	argsPath    = "/emurun/args"
	envPath     = "/emurun/env"
	cwdPath     = "/emurun/cwd"
	cpuinfoPath = "/emurun/cpuinfo" // present: list the CPU's flags first
	outputPath  = "/dev/ttyS1"
	exitMarker  = "EMURUN-EXIT"
)

// Statuses of our own, in the ranges run.sh documents: 125 when the guest
// could not be set up, 127 when the program could not be started (as a
// shell reports it).
const (
	statusSetup   = 125
	statusNoStart = 127
)

// baseEnv is what programs commonly read from an ordinary root shell's
// environment: HOME and TMPDIR (os.UserHomeDir, t.TempDir), USER, and a PATH,
// although the guest has no commands on it.
func baseEnv() []string {
	return []string{"PATH=/bin:/usr/bin", "HOME=/tmp", "TMPDIR=/tmp", "USER=root"}
}

// guest carries the console, the one channel back to run.sh besides the
// program's output.
type guest struct {
	console *os.File
}

func main() {
	// Run on a host as root, this program would remount /proc and power the
	// machine off; it only makes sense as the guest's first process.
	if pid := os.Getpid(); pid != 1 {
		fmt.Fprintf(os.Stderr, "emurun: running as PID %d, not 1: this is the /init of the emulated guest; run cmd/emurun/run.sh (see cmd/emurun/README.md)\n", pid)
		os.Exit(2)
	}
	g := guest{console: openConsole()}
	g.setup()
	g.powerOff(g.run())
}

// logf writes one "emurun-init:" line, which run.sh copies to its stderr.
func (g guest) logf(format string, a ...any) {
	// A console that cannot be written leaves no other place to say so.
	_, _ = fmt.Fprintf(g.console, "emurun-init: "+format+"\n", a...)
}

// run starts the program and returns the status for the exit marker.
func (g guest) run() int {
	args, err := readList(argsPath)
	if err != nil {
		g.logf("%v", err)
		return statusSetup
	}
	extra, err := readList(envPath)
	if err != nil {
		g.logf("%v", err)
		return statusSetup
	}
	env := baseEnv()
	for _, kv := range extra {
		if kv != "" { // a blank line in EMURUN_GUEST_ENV
			env = append(env, kv)
		}
	}
	cwd := "/"
	if b, err := os.ReadFile(cwdPath); err == nil && len(bytes.TrimSpace(b)) > 0 {
		cwd = string(bytes.TrimSpace(b))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		g.logf("%v", err)
		return statusSetup
	}

	out, err := openRaw(outputPath)
	if err != nil {
		g.logf("program output: %v", err)
		return statusSetup
	}
	if _, err := os.Stat(cpuinfoPath); err == nil {
		g.printCPUInfo()
	}

	cmd := exec.Command(testPath, args...)
	cmd.Env = env
	cmd.Dir = cwd
	// One file for both keeps their lines in the order they were written.
	cmd.Stdout = out
	cmd.Stderr = out
	start := time.Now()
	status := g.status(cmd.Run())
	g.logf("test ran %.2fs (guest clock)", time.Since(start).Seconds())
	// The program's last bytes may still sit in the serial driver's buffer;
	// powering off now would lose them.
	if err := drain(out); err != nil {
		g.logf("drain %s: %v", outputPath, err)
	}
	return status
}

// status turns the program's end into an exit status the way a shell does:
// its own status, 128+N for signal N, 127 when it did not start.
func (g guest) status(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		g.logf("exec: %v", err)
		return statusNoStart
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		g.logf("test killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// printCPUInfo lists what the guest kernel made of the emulated CPU, to
// check an EMURUN_CPU, EMURUN_CPU_ADD or EMURUN_CPU_EXCLUDE setting.
func (g guest) printCPUInfo() {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		g.logf("%v", err)
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") || strings.HasPrefix(l, "flags") {
			g.logf("%s", l)
		}
	}
}

// powerOff reports status on the console and ends the emulator. It never
// returns: PID 1 exiting would panic the kernel instead.
func (g guest) powerOff(status int) {
	// The leading newline ends any partial kernel line, since run.sh matches
	// the marker anywhere on a line but expects it whole.
	_, _ = fmt.Fprintf(g.console, "\n%s %d\n", exitMarker, status) // nowhere else to report a failure
	if err := drain(g.console); err != nil {
		// Without a drain, give the UART time to send the marker.
		time.Sleep(100 * time.Millisecond)
	}
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		g.logf("power off: %v (run.sh stops the emulator once it has seen the marker)", err)
	}
	for {
		time.Sleep(time.Hour)
	}
}

// readList reads a NUL-separated list as run.sh writes it (each entry
// followed by a NUL). A missing file is an empty list.
func readList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	return strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00"), nil
}
