#!/usr/bin/env bash
# build.sh: builds what cmd/emurun/run.sh needs into $EMURUN_HOME (default
# ~/.cache/minilm-emurun):
#
#   bin/bochs                       Bochs at commit 783b58fd6d9b (3.0.devel): x86-64
#                                   with AVX and EVEX (the sapphire_rapids model),
#                                   no GUI, debugger, plugins or sound/USB/NIC devices
#   share/BIOS-bochs-latest         its system BIOS
#   share/VGABIOS-lgpl-latest.bin   its VGA BIOS
#   share/vmlinuz                   the newest linux-image-6.1.0-*-cloud-amd64-unsigned
#                                   kernel apt knows (Debian 12): small, with the serial
#                                   console, ACPI power-off and lz4 initramfs run.sh uses
#
#   bash cmd/emurun/build.sh [BOCHS_SRC]
#
# BOCHS_SRC (or $EMURUN_BOCHS_SRC) is a git clone or bare mirror of
# https://github.com/bochs-emu/Bochs holding the pinned commit; it is cloned
# into $EMURUN_HOME/src without bochs/bios/OVMF/, a UEFI firmware image that
# BIOS booting never reads and whose blob some mirrors lack. Only the Bochs
# step needs it.
#
# Needs a C++ compiler, make and git for Bochs; apt-cache, apt-get and
# dpkg-deb with Debian 12 (bookworm) package sources for the kernel; and, for
# run.sh, these Debian packages:
#
#   apt-get install g++ make git grub-pc-bin grub-common xorriso mtools cpio lz4
#
# Each step is skipped when its output is there: delete bin/bochs.commit to
# rebuild Bochs, share/vmlinuz to fetch the kernel again. Compiling Bochs
# takes a few minutes. The guest init is not built here: run.sh builds it.

set -euo pipefail
commit=783b58fd6d9bae598a07c59719122322fa0edce6
home=${EMURUN_HOME:-$HOME/.cache/minilm-emurun}
case "${1:-}" in
-h | --help) sed -n '2,/^$/{/^$/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
esac
src=${1:-${EMURUN_BOCHS_SRC:-}}
fail() { echo "build.sh: $*" >&2; exit 1; }

missing=""
for t in grub-mkrescue xorriso mformat cpio lz4 apt-cache apt-get dpkg-deb; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
[ -z "$missing" ] || fail "not on PATH:$missing (apt-get install grub-pc-bin grub-common xorriso mtools cpio lz4)"
mkdir -p "$home/bin" "$home/share" "$home/logs"

# ---- Bochs ----
if [ ! -x "$home/bin/bochs" ] || [ "$(cat "$home/bin/bochs.commit" 2>/dev/null)" != "$commit" ] ||
	[ ! -f "$home/share/BIOS-bochs-latest" ] || [ ! -f "$home/share/VGABIOS-lgpl-latest.bin" ]; then
	for t in git make c++; do command -v "$t" >/dev/null || fail "$t not on PATH (apt-get install g++ make git)"; done
	s=$home/src
	if [ ! -e "$s/.git" ]; then
		[ -n "$src" ] || fail "no Bochs source: bash cmd/emurun/build.sh BOCHS_SRC (a clone of https://github.com/bochs-emu/Bochs), or set EMURUN_BOCHS_SRC"
		git clone -q --no-checkout "$src" "$s"
		# On a mirror without the OVMF blob git reports it as an invalid
		# object here, harmlessly; hence the log rather than the terminal.
		git -C "$s" sparse-checkout set --no-cone '/*' '!/bochs/bios/OVMF/' 2>"$home/logs/git.log" ||
			fail "git sparse-checkout failed: see $home/logs/git.log"
	fi
	git -C "$s" cat-file -e "$commit^{commit}" 2>/dev/null || fail "$s lacks commit $commit (a clone of an older Bochs? remove $s and give a newer one)"
	git -C "$s" checkout -q "$commit"
	echo "build.sh: configuring and compiling Bochs (logs in $home/logs)" >&2
	# --enable-evex: AVX-512, which the sapphire_rapids model needs along with
	# x86-64, AVX and cpu-level 6; all-optimizations: repeated string
	# instructions, handler chaining and trace linking, which emulation speed
	# depends on; the devices, GUI and debugger left out are ones run.sh does
	# not use.
	(cd "$s/bochs" && ./configure --enable-x86-64 --enable-smp=no --enable-cpu-level=6 --enable-avx --enable-evex \
		--enable-all-optimizations --enable-fpu --enable-pci --disable-docbook --with-nogui \
		--disable-debugger --disable-plugins --disable-sb16 --disable-es1370 --disable-usb \
		--disable-e1000 --disable-cdrom --disable-voodoo --disable-gameport) >"$home/logs/configure.log" 2>&1 ||
		fail "configure failed: see $home/logs/configure.log"
	(cd "$s/bochs" && make -j"$(nproc)") >"$home/logs/make.log" 2>&1 || fail "make failed: see $home/logs/make.log"
	cp "$s/bochs/bios/BIOS-bochs-latest" "$s/bochs/bios/VGABIOS-lgpl/VGABIOS-lgpl-latest.bin" "$home/share/"
	cp "$s/bochs/bochs" "$home/bin/bochs.new"
	mv -f "$home/bin/bochs.new" "$home/bin/bochs"
	echo "$commit" >"$home/bin/bochs.commit"
fi

# ---- kernel ----
# The newest ABI number, not a fixed one: Debian removes superseded kernel
# packages from its archive.
if [ ! -f "$home/share/vmlinuz" ]; then
	pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -n 1)
	[ -n "$pkg" ] || fail "apt-cache knows no linux-image-6.1.0-*-cloud-amd64-unsigned: Debian 12 sources needed (apt-get update?); or put any x86-64 bzImage with a serial console at $home/share/vmlinuz"
	k=$(mktemp -d)
	trap 'rm -rf "$k"' EXIT
	echo "build.sh: fetching $pkg" >&2
	(cd "$k" && apt-get download -q "$pkg") >"$home/logs/kernel.log" 2>&1 || fail "apt-get download $pkg failed: see $home/logs/kernel.log"
	dpkg-deb -x "$k/${pkg}"_*.deb "$k/x"
	cp "$k"/x/boot/vmlinuz-* "$home/share/vmlinuz.new"
	mv -f "$home/share/vmlinuz.new" "$home/share/vmlinuz"
	echo "$pkg" >"$home/share/vmlinuz.package"
fi
echo "build.sh: ready in $home: $(cat "$home/bin/bochs.commit" 2>/dev/null || echo "bin/bochs of unknown commit"), kernel $(cat "$home/share/vmlinuz.package" 2>/dev/null || echo "share/vmlinuz")" >&2
