//go:build unix

package replica

import (
	"os"
	"os/exec"
	"syscall"
)

// isolate puts the worker in its own process group, so a Ctrl-C at the
// terminal reaches only the supervisor, which then drains its workers
// instead of losing them mid-batch.
func isolate(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// terminate asks a worker to stop.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
