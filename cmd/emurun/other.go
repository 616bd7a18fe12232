//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main exists so that the package builds everywhere; the guest is always
// Linux, and run.sh builds emurun for linux/amd64 whatever the host.
func main() {
	fmt.Fprintln(os.Stderr, "emurun: this is the /init of the emulated Linux guest; run cmd/emurun/run.sh (see cmd/emurun/README.md)")
	os.Exit(2)
}
