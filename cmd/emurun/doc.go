// Command emurun is the /init of the Linux guest that run.sh (beside this
// file) boots under the Bochs emulator with an Intel Sapphire Rapids CPU
// model, so that AVX-512 and AVX512_BF16 kernels can be tested on machines
// whose CPUs lack those instructions. It is not run by hand: run.sh builds
// it (CGO_ENABLED=0, linux/amd64) and puts it in the guest's initramfs; see
// README.md for building the emulator and running a test binary.
//
// As PID 1 of the guest it mounts /proc, /sys, /dev, /dev/pts, /dev/shm and
// /tmp, brings the loopback interface up, then runs /emurun/test with the
// NUL-separated arguments of /emurun/args, the NUL-separated K=V entries of
// /emurun/env added to a small fixed environment, in the directory named by
// /emurun/cwd (default /). The program's stdout and stderr both go, merged
// and byte for byte, to /dev/ttyS1 (Bochs's com2, a file on the host). When
// it ends, emurun prints "EMURUN-EXIT <status>" on /dev/console (com1) and
// powers the machine off through ACPI, which ends Bochs; run.sh reads the
// status from that line. Its own messages start with "emurun-init: ".
//
// Only the Linux build does anything; elsewhere the command just says what
// it is, so that `go build ./...` and `go vet ./...` pass on every system.
package main
