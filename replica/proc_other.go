//go:build !unix

package replica

import (
	"os"
	"os/exec"
)

// isolate does nothing where process groups do not exist.
func isolate(*exec.Cmd) {}

// terminate kills: there is no polite signal to send here.
func terminate(p *os.Process) error { return p.Kill() }
