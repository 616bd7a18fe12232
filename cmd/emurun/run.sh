#!/usr/bin/env bash
# run.sh: runs a static Linux x86-64 program, typically a `go test -c`
# binary, on an emulated Intel Sapphire Rapids CPU (AVX-512F/BW/DQ/VL,
# AVX512_BF16, AVX512_FP16, ...), so that AVX-512 and VDPBF16PS kernels can
# be tested on a machine whose CPU lacks them.
#
#   bash cmd/emurun/run.sh BINARY [ARGS...]
#   bash cmd/emurun/run.sh --help
#
# It boots a Linux kernel under the Bochs emulator with an initramfs holding
# BINARY and the guest /init (the Go program beside this script), runs
# BINARY ARGS... as root in a fresh guest, prints the program's stdout and
# stderr (merged, raw bytes) once it has ended, and exits with its status.
# Booting takes about 7 s; Bochs then runs some 100-200 M instructions/s, so
# programs run tens of times slower than natively: keep test runs short.
#
# Prerequisites:
#   - the emulator and boot files in $EMURUN_HOME (default
#     ~/.cache/minilm-emurun): bin/bochs, share/BIOS-bochs-latest,
#     share/VGABIOS-lgpl-latest.bin, share/vmlinuz; cmd/emurun/build.sh
#     makes them;
#   - grub-mkrescue, xorriso, mformat, cpio and lz4 on PATH
#     (apt-get install grub-pc-bin grub-common xorriso mtools cpio lz4);
#   - Go, to build the guest init: run.sh builds cmd/emurun into
#     $EMURUN_HOME/init and rebuilds it when a source is newer.
# BINARY must be statically linked (CGO_ENABLED=0): the guest has no libc.
#
# Examples, from the repository root. The SIMD kernels, with -test.short,
# which keeps the VDPBF16PS test to its fixed shapes:
#
#   CGO_ENABLED=0 go test -c -o /tmp/simd.test ./kernels/cpu/internal/simd
#   bash cmd/emurun/run.sh /tmp/simd.test -test.v -test.short -test.run 'TestGemmBF16VDPBF16PS|TestBF16Words'
#
# A test that reads files relative to its package directory, as the engine's
# read ../testdata: EMURUN_CWD_DIR names a host directory copied into the
# guest as /work, and EMURUN_CHDIR a subdirectory of it to run in. Lay the
# directory out like the repository, with an empty folder for the package:
#
#   mkdir -p /tmp/tree/engine && cp -r testdata /tmp/tree/testdata
#   CGO_ENABLED=0 go test -c -o /tmp/tree/engine.test ./engine
#   EMURUN_CWD_DIR=/tmp/tree EMURUN_CHDIR=engine \
#     bash cmd/emurun/run.sh /tmp/tree/engine.test -test.v -test.run TestPrecisionOption
#
# The program then runs in /work/engine, where ../testdata is /work/testdata.
# The directory is copied whole into guest memory (the initramfs), so keep it
# small against EMURUN_MEGS.
#
# Environment (all optional):
#   EMURUN_HOME         where build.sh put the emulator (default ~/.cache/minilm-emurun)
#   EMURUN_TIMEOUT      wall-clock limit in seconds (default 1200); exit 124 past it
#   EMURUN_MEGS         guest memory in MiB (default 1024)
#   EMURUN_IPS          emulated instructions per emulated second (default 100000000).
#                       The guest clock counts executed instructions / EMURUN_IPS, so
#                       a busy guest's clock runs at about 1-2x wall time (idle time
#                       is skipped); raise it if tests time out on guest time.
#   EMURUN_CPU          Bochs CPU model (default sapphire_rapids; bin/bochs -help cpu
#                       lists them)
#   EMURUN_CPU_EXCLUDE, EMURUN_CPU_ADD
#                       space-separated Bochs CPU features to drop or add, e.g.
#                       EMURUN_CPU_EXCLUDE=avx512bf16 to see a kernel's fallback
#   EMURUN_CPUINFO=1    print the guest's /proc/cpuinfo model and flags (on stderr)
#   EMURUN_GUEST_ENV    extra environment for the program, newline-separated K=V
#   EMURUN_CWD_DIR      host directory copied into the guest as /work, which becomes
#                       the program's working directory (default: none, cwd /)
#   EMURUN_CHDIR        relative path inside EMURUN_CWD_DIR to run in instead of /work
#   EMURUN_KERNEL       another x86-64 bzImage (default $EMURUN_HOME/share/vmlinuz)
#   EMURUN_CMDLINE_EXTRA
#                       appended to the guest kernel's command line
#   EMURUN_KEEP=1       keep the work directory (console.log, bochs.log, bochsrc, ...)
#                       and print its path; it is made under $TMPDIR (default /tmp)
#   EMURUN_VERBOSE=1    print the guest console and the end of Bochs's log (on stderr)
#
# Exit status: the program's own; 128+N if signal N killed it; 127 if it
# could not be started; 124 on timeout; 125 when the runner, the boot or the
# guest setup failed; 2 on a usage error. run.sh's messages ("run.sh: ...")
# and the guest init's ("emurun-init: ...") go to stderr.

set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() { sed -n '2,/^$/{/^$/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") echo "usage: bash cmd/emurun/run.sh BINARY [ARGS...] (--help for more)" >&2; exit 2 ;;
esac
bin=$1
shift
fail() { echo "run.sh: $*" >&2; exit "${code:-2}"; }
[ -f "$bin" ] || fail "$bin: no such file"
[ "$(head -c 4 "$bin")" = $'\x7fELF' ] || fail "$bin: not an ELF executable (build it with CGO_ENABLED=0 go test -c)"

home=${EMURUN_HOME:-$HOME/.cache/minilm-emurun}
timeout=${EMURUN_TIMEOUT:-1200}
megs=${EMURUN_MEGS:-1024}
ips=${EMURUN_IPS:-100000000}
cpu=${EMURUN_CPU:-sapphire_rapids}
kernel=${EMURUN_KERNEL:-$home/share/vmlinuz}
cwd_dir=${EMURUN_CWD_DIR:-}
chdir=${EMURUN_CHDIR:-}
# The kernel command line: the console carries little but the init's lines
# (quiet, loglevel); panic=-1 reboots a panicking guest, which run.sh notices,
# instead of leaving it hung; the rest skips boot work that costs emulated
# seconds and that no test needs (mitigations, KASLR, TSC and timer checks,
# crypto self-tests, loading certificates, tracing tables).
cmdline="console=ttyS0,115200 quiet loglevel=1 mitigations=off nokaslr tsc=reliable no_timer_check panic=-1 cryptomgr.notests initcall_blacklist=load_system_certificate_list,trace_eval_init,init_kprobe_trace ${EMURUN_CMDLINE_EXTRA:-}"

for f in "$home/bin/bochs" "$home/share/BIOS-bochs-latest" "$home/share/VGABIOS-lgpl-latest.bin" "$kernel"; do
	[ -f "$f" ] || fail "$f missing: run bash cmd/emurun/build.sh (or set EMURUN_HOME)"
done
for t in grub-mkrescue xorriso mformat cpio lz4 go; do
	command -v "$t" >/dev/null || fail "$t not on PATH (apt-get install grub-pc-bin grub-common xorriso mtools cpio lz4; Go for the init)"
done
if [ -n "$chdir" ]; then
	[ -n "$cwd_dir" ] || fail "EMURUN_CHDIR needs EMURUN_CWD_DIR"
	case "/$chdir/" in
	//* | */../*) fail "EMURUN_CHDIR=$chdir: want a relative path inside EMURUN_CWD_DIR" ;;
	esac
	[ -d "$cwd_dir/$chdir" ] || fail "EMURUN_CHDIR: no directory $cwd_dir/$chdir"
fi
[ -z "$cwd_dir" ] || [ -d "$cwd_dir" ] || fail "EMURUN_CWD_DIR: no directory $cwd_dir"

code=125
# The guest init, rebuilt when a source (or the module's requirements) is
# newer; built into a temporary name first so that concurrent runs never
# copy a half-written file.
init=$home/init
if [ ! -x "$init" ] || [ -n "$(find "$here" "$root/go.mod" "$root/go.sum" -name '*.go' -newer "$init" -o -name 'go.*' -newer "$init" | head -n 1)" ]; then
	(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags='-s -w' -o "$init.$$" ./cmd/emurun) || fail "building the guest init failed"
	mv -f "$init.$$" "$init" || fail "cannot install $init"
fi

w=$(mktemp -d "${TMPDIR:-/tmp}/emurun.XXXXXX") || fail "mktemp failed"
cleanup() {
	if [ -n "${bochs_pid:-}" ] && kill -0 "$bochs_pid" 2>/dev/null; then
		kill "$bochs_pid" 2>/dev/null
		sleep 0.2
		kill -9 "$bochs_pid" 2>/dev/null
	fi
	if [ "${EMURUN_KEEP:-0}" = 1 ]; then echo "run.sh: work directory kept: $w" >&2; else rm -rf "$w"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$(date +%s.%N)

# ---- initramfs: /init, /emurun/{test,args,env,cwd,cpuinfo}, /work ----
r=$w/root
mkdir -p "$r/emurun" "$r/dev" "$r/proc" "$r/sys" "$r/tmp"
cp "$init" "$r/init" && cp "$bin" "$r/emurun/test" && chmod 755 "$r/init" "$r/emurun/test" || fail "cannot fill $r"
: >"$r/emurun/args"
for a in "$@"; do printf '%s\0' "$a" >>"$r/emurun/args"; done
[ -z "${EMURUN_GUEST_ENV:-}" ] || printf '%s' "$EMURUN_GUEST_ENV" | tr '\n' '\0' >"$r/emurun/env"
if [ -n "$cwd_dir" ]; then
	mkdir -p "$r/work" && cp -a "$cwd_dir"/. "$r/work/" || fail "cannot copy $cwd_dir"
	echo "/work${chdir:+/$chdir}" >"$r/emurun/cwd"
fi
[ "${EMURUN_CPUINFO:-0}" != 1 ] || : >"$r/emurun/cpuinfo"
iso=$w/iso
mkdir -p "$iso/boot/grub"
cp "$kernel" "$iso/vmlinuz" || fail "cannot copy $kernel"
(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) | lz4 -l -q -9 >"$iso/initrd.lz4" || fail "building the initramfs failed"
# Bochs starts like a PC, from its BIOS; a GRUB CD image is the plainest
# medium that BIOS boots and that loads a bzImage with an initramfs.
cat >"$iso/boot/grub/grub.cfg" <<EOF
set timeout=0
set timeout_style=hidden
linux /vmlinuz $cmdline
initrd /initrd.lz4
boot
EOF
grub-mkrescue -o "$w/boot.iso" "$iso" --compress=no \
	--install-modules="linux normal iso9660 biosdisk search configfile" \
	--modules="linux normal iso9660 biosdisk" --fonts= --locales= --themes= \
	>"$w/grub-mkrescue.log" 2>&1 || { cat "$w/grub-mkrescue.log" >&2; fail "grub-mkrescue failed"; }

# ---- Bochs ----
# clock sync=none with cpuid_freq=ips: guest time follows executed
# instructions, so results do not depend on the host's load. msrs.def: see
# its comment (without it the kernel hangs at boot).
cpuopts=""
[ -z "${EMURUN_CPU_EXCLUDE:-}" ] || cpuopts="$cpuopts exclude_features=\"$EMURUN_CPU_EXCLUDE\","
[ -z "${EMURUN_CPU_ADD:-}" ] || cpuopts="$cpuopts add_features=\"$EMURUN_CPU_ADD\","
: >"$w/console.log"
: >"$w/stdout.log"
cat >"$w/bochsrc" <<EOF
config_interface: textconfig
display_library: nogui
megs: $megs
cpu: model=$cpu, count=1, ips=$ips,$cpuopts reset_on_triple_fault=0, ignore_bad_msrs=1, cpuid_freq=ips, msrs="$here/msrs.def"
romimage: file=$home/share/BIOS-bochs-latest
vgaromimage: file=$home/share/VGABIOS-lgpl-latest.bin
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path=$w/boot.iso, status=inserted
boot: cdrom
clock: sync=none, time0=local
com1: enabled=1, mode=file, dev=$w/console.log
com2: enabled=1, mode=file, dev=$w/stdout.log
mouse: enabled=0
log: $w/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
EOF
t1=$(date +%s.%N)

"$home/bin/bochs" -q -f "$w/bochsrc" </dev/null >"$w/bochs.out" 2>&1 &
bochs_pid=$!

# Wait for the init's exit marker; the ACPI power-off that follows ends Bochs.
marker='EMURUN-EXIT [0-9]'
deadline=$(($(date +%s) + timeout))
status=""
while :; do
	if grep -aq "$marker" "$w/console.log"; then
		status=$(grep -ao "$marker*" "$w/console.log" | tail -n 1 | awk '{print $2}')
		for _ in $(seq 50); do
			kill -0 "$bochs_pid" 2>/dev/null || break
			sleep 0.1
		done
		break
	fi
	if ! kill -0 "$bochs_pid" 2>/dev/null; then
		sleep 0.2
		grep -aq "$marker" "$w/console.log" && continue # written just before Bochs ended
		echo "run.sh: bochs exited without an exit marker" >&2
		break
	fi
	if grep -aq 'Kernel panic' "$w/console.log"; then
		sleep 1 # let the panic message reach the log
		echo "run.sh: guest kernel panic" >&2
		break
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "run.sh: timeout after ${timeout}s" >&2
		status=timeout
		break
	fi
	sleep 0.5
done
t2=$(date +%s.%N)

cat "$w/stdout.log"
if [ "${EMURUN_VERBOSE:-0}" = 1 ]; then
	tr -d '\r' <"$w/console.log" | grep -a '^emurun-init:' >&2
else
	tr -d '\r' <"$w/console.log" | grep -a '^emurun-init:' | grep -av 'test ran' >&2
fi
if [ "${EMURUN_VERBOSE:-0}" = 1 ] || [ -z "$status" ] || [ "$status" = timeout ]; then
	{
		echo "----- guest console (tail) -----"
		tail -c 4000 "$w/console.log" | tr -d '\r'
		echo "----- bochs log (tail, info lines left out) -----"
		grep -av '^\S*i\[' "$w/bochs.log" | tail -n 15
	} >&2
fi
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "run.sh: prep %.1fs, boot+run %.1fs (wall)\n", b - a, c - b}' >&2
case "$status" in
"") exit 125 ;;
timeout) exit 124 ;;
*) exit "$status" ;;
esac
