#!/usr/bin/env bash
# Run a command where a real KVM (/dev/kvm with SVM and NPT) is at hand, even on
# a host without one: an L1 Linux (Debian 12's cloud kernel, as built by
# scripts/linux-guest.sh) boots under QEMU's TCG with emulated SVM, loads
# irqbypass, kvm and kvm-amd, and runs CMD there; CMD's output comes back on
# stdout and its exit code is this script's.
#
#   scripts/kvm-harness.sh [-t SECS] [-v] CMD...
#
# CMD (its words joined by spaces, run by bash -c) starts in /work, which holds
# the repo's files at their paths: /work/build/vmm, /work/build/vmmctl,
# /work/build/guest.elf, /work/build/linux/vmlinuz,
# /work/build/linux/initramfs.cpio.gz, /work/tests/..., /work/scripts/...
# L1 also has qemu-system-x86_64 (with the firmware for -M pc and -M microvm),
# bash and busybox. L1's / is a tmpfs (which has no O_DIRECT on Linux 6.1), so
# /var/tmp (the VMM's default place for swap files) is an ext4 scratch disk
# (virtio-blk, /dev/vda, a sparse file made and formatted on the host for each
# run and removed after it).
#
# Options and environment:
#   -t SECS, KVM_HARNESS_TIMEOUT=SECS  give up after SECS (default 600): exit 124
#   -v, KVM_HARNESS_VERBOSE=1          show L1's firmware and kernel messages too
#   KVM_HARNESS_FILES="a b"            more files or folders into L1: a relative
#                                      path (from the repo's root) lands under /work,
#                                      an absolute one at the same path; a dynamic
#                                      executable brings its libraries
#   KVM_HARNESS_MEM=MiB                L1's memory (default 2048)
#   KVM_HARNESS_SMP=N                  L1's CPUs (default 1; more run as threads of
#                                      QEMU's multi-threaded TCG, whose TSCs are not
#                                      in sync and which can hold an IPI for minutes:
#                                      for experiments, not tests; docs/linux-guests.md)
#   KVM_HARNESS_APPEND="..."           more for L1's kernel command line
#   KVM_HARNESS_MAKE=0                 do not run `make all` first (use build/'s binaries)
#   KVM_HARNESS_INTERACTIVE=1          on a terminal: CMD reads the console (e.g. bash)
#   KVM_HARNESS_DISK=SIZE              the scratch disk's size (default 8G; 0: none)
# QEMU's monitor listens on build/kvm-harness/run.*/monitor.sock while L1 runs
# (e.g. `info registers`, `info lapic` when L1 seems stuck).
# Exit: CMD's exit code; 124 on timeout; 125 when the harness itself failed
# (no /dev/kvm in L1, L1 died, no exit code came back). The whole console of
# the last run is in build/kvm-harness/last.log.
#
# L1's own initramfs is two cpio archives end to end: a cached base (busybox,
# bash, the kvm modules, QEMU and its libraries and firmware, the Linux guest;
# build/kvm-harness/base.cpio, rebuilt only when one of those changes) and a
# small per-run one (the VMM's binaries, tests/, scripts/, the extra files, CMD).
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/.."

OUT=build/kvm-harness
TIMEOUT=${KVM_HARNESS_TIMEOUT:-600}
VERBOSE=${KVM_HARNESS_VERBOSE:-0}
MEM=${KVM_HARNESS_MEM:-2048}
SMP=${KVM_HARNESS_SMP:-1}
DISK=${KVM_HARNESS_DISK:-8G}
append_disk=

log() { echo "kvm-harness: $*" >&2; }
die() { log "error: $*"; exit 125; }
case $SMP in ''|*[!0-9]*|0) die "KVM_HARNESS_SMP takes a number of CPUs from 1" ;; esac

while [ $# -gt 0 ]; do
	case $1 in
	-t) TIMEOUT=$2; shift 2 ;;
	-v) VERBOSE=1; shift ;;
	--) shift; break ;;
	-h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "usage: $0 [-t SECS] [-v] CMD..."
CMD="$*"

# --- what goes in -------------------------------------------------------------------
scripts/deps.sh >&2
if [ "${KVM_HARNESS_MAKE:-1}" = 1 ]; then
	make -s --no-print-directory all >&2 || die "make all failed (KVM_HARNESS_MAKE=0 runs with the binaries there are)"
fi
scripts/linux-guest.sh 2> >(grep -v ': up to date:' >&2) || die "scripts/linux-guest.sh failed"
QEMU=$(command -v qemu-system-x86_64) || die "no qemu-system-x86_64 (scripts/deps.sh installs qemu-system-x86)"
mapfile -t KMODS < <(scripts/linux-guest.sh --modules irqbypass kvm kvm_amd virtio_pci virtio_blk)
[ ${#KMODS[@]} -gt 0 ] || die "no kvm modules from scripts/linux-guest.sh --modules"
KROOT=build/linux/kernel
BBROOT=build/linux/busybox

# A layer is a list of SRC<TAB>DST (DST: the path in L1), one per path.
declare -A DST_SEEN
LAYER=()
add() {
	[ -e "$1" ] || die "no such file: $1"
	[ -n "${DST_SEEN[$2]:-}" ] && return
	DST_SEEN[$2]=1
	LAYER+=("$1"$'\t'"$2")
}
# add_elf SRC DST: SRC, and the libraries and loader it needs (from ldd)
add_elf() {
	local l
	add "$1" "$2"
	while IFS= read -r l; do
		[ -n "$l" ] && add "$l" "$l"
	done < <(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}
is_dynamic_elf() {
	[ -f "$1" ] && [ -x "$1" ] && head -c 4 "$1" | grep -q 'ELF' && ldd "$1" >/dev/null 2>&1
}
# stage DIR: copy the current layer's files into DIR (cleaned first)
stage() {
	local dir=$1 e src dst
	rm -rf "$dir"
	mkdir -p "$dir"
	for e in "${LAYER[@]}"; do
		src=${e%%$'\t'*} dst=${e#*$'\t'}
		mkdir -p "$dir$(dirname "$dst")"
		cp -rL "$src" "$dir$dst"
	done
}
# pack DIR FILE: an uncompressed newc cpio of DIR (L1 runs on TCG, where
# gunzip is slower than reading the bytes)
pack() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2.tmp"
	mv "$2.tmp" "$2"
}

# --- the base layer ---------------------------------------------------------------
add "$BBROOT/bin/busybox" /bin/busybox
add_elf "$(command -v bash)" /bin/bash
for m in "${KMODS[@]}"; do add "$m" "/${m#"$KROOT"/}"; done
add_elf "$QEMU" /usr/bin/qemu-system-x86_64
add /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
# firmware: SeaBIOS (-M pc), qboot (-M microvm), the -kernel loaders, the
# option ROMs of the default VGA and NIC, virtio's
for f in /usr/share/seabios/{bios-256k.bin,bios-microvm.bin,vgabios-stdvga.bin,vgabios-virtio.bin,vgabios-bochs-display.bin,vgabios-ramfb.bin} \
	/usr/share/qemu/{qboot.rom,bios-microvm.bin,kvmvapic.bin,linuxboot.bin,linuxboot_dma.bin,pvh.bin,multiboot.bin,multiboot_dma.bin,sgabios.bin} \
	/usr/lib/ipxe/qemu/{efi-e1000.rom,efi-virtio.rom}; do
	if [ -e "$f" ]; then add "$f" "$f"; else log "no $f (skipped)"; fi
done
add build/linux/vmlinuz /work/build/linux/vmlinuz
add build/linux/initramfs.cpio.gz /work/build/linux/initramfs.cpio.gz
add build/linux/kernel-version /work/build/linux/kernel-version
BASE_LAYER=("${LAYER[@]}")

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9
printf '%s\n' "${BASE_LAYER[@]}" >"$OUT/base.list.new"
rebuild=0
[ -s "$OUT/base.cpio" ] || rebuild=1
cmp -s "$OUT/base.list.new" "$OUT/base.list" || rebuild=1
for e in "${BASE_LAYER[@]}" "$SELF"$'\t'; do
	if [ "${e%%$'\t'*}" -nt "$OUT/base.cpio" ]; then rebuild=1; fi
done
if [ $rebuild = 1 ]; then
	log "building $OUT/base.cpio"
	stage "$OUT/base"
	B=$OUT/base
	# busybox's applets, where /bin/busybox --list-full puts them
	while IFS= read -r a; do
		[ -e "$B/$a" ] || [ -L "$B/$a" ] || { mkdir -p "$B/$(dirname "$a")"; ln -s /bin/busybox "$B/$a"; }
	done < <("$BBROOT/bin/busybox" --list-full)
	mkdir -p "$B"/{proc,sys,dev,tmp,run,root,etc,var/tmp}
	mknod -m 600 "$B/dev/console" c 5 1 2>/dev/null || true
	for m in "${KMODS[@]}"; do
		n=${m##*/}
		echo "${n%.ko} /${m#"$KROOT"/}"
	done >"$B/etc/kvm-modules"
	cat >"$B/init" <<'EOF'
#!/bin/sh
# /init of the KVM harness's L1 (written by scripts/kvm-harness.sh).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
up() { cut -d' ' -f1 /proc/uptime; }
echo "kvm-harness: L1 up uptime_s=$(up) kernel=$(uname -r)"
finish() {
	echo "kvm-harness: rc=$1"
	poweroff -f
	sleep 1000000
}
# KVM takes the TSC's rate once, when it loads, and L1's kernel refines its
# quick first calibration about a second after boot.  Loaded before that,
# KVM keeps the first figure; when the refined one differs by more than
# KVM's tolerance (250 ppm), KVM would scale its guests' TSCs, which TCG's
# SVM cannot do, and every guest's timer interrupts come late, then not at
# all (QEMU's guests as much as ours: docs/linux-guests.md).  The refinement
# ends by retiring the tsc-early clocksource: wait for that.
i=0
while grep -qw tsc-early /sys/devices/system/clocksource/clocksource0/available_clocksource && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ $i -lt 100 ] || echo "kvm-harness: warning: L1's TSC calibration is not refined after 10 s; KVM may run guests on a wrong TSC rate"
while read -r name path; do
	insmod "$path" || echo "kvm-harness: error: insmod $name failed"
done </etc/kvm-modules
if grep -q 'kvm_harness.disk=1' /proc/cmdline; then
	i=0
	while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	mount -t ext4 /dev/vda /var/tmp || echo "kvm-harness: error: cannot mount the scratch disk on /var/tmp"
fi
if [ ! -c /dev/kvm ]; then
	echo "kvm-harness: error: no /dev/kvm in L1"
	grep -qw svm /proc/cpuinfo || echo "kvm-harness: error: no svm flag in L1's /proc/cpuinfo"
	finish 125
fi
cd /work
echo "kvm-harness: cmd start uptime_s=$(up)"
if [ -e /work/.kvm-harness/interactive ]; then
	bash -c "$(cat /work/.kvm-harness/cmd)"
else
	bash -c "$(cat /work/.kvm-harness/cmd)" </dev/null
fi
rc=$?
echo "kvm-harness: cmd end uptime_s=$(up)"
finish $rc
EOF
	chmod 755 "$B/init"
	find "$B" -name '*.d' -prune -exec rm -rf {} +   # the Makefile includes build/**/*.d
	pack "$B" "$OUT/base.cpio"
	rm -rf "$B"
	mv "$OUT/base.list.new" "$OUT/base.list"
	log "base.cpio: $(du -m "$OUT/base.cpio" | cut -f1) MiB"
fi
rm -f "$OUT/base.list.new"

# --- the per-run layer --------------------------------------------------------------
LAYER=()
for f in build/vmm build/vmmctl; do add_elf "$f" "/work/$f"; done
add build/guest.elf /work/build/guest.elf
add tests /work/tests
add scripts /work/scripts
for f in ${KVM_HARNESS_FILES:-}; do
	[ -e "$f" ] || die "KVM_HARNESS_FILES: no such file: $f"
	case $f in /*) dst=$f ;; *) dst=/work/$f ;; esac
	if is_dynamic_elf "$f"; then add_elf "$f" "$dst"; else add "$f" "$dst"; fi
done
RUN=$(mktemp -d "$OUT/run.XXXXXX")
cleanup() { rm -rf "$RUN"; }
trap cleanup EXIT
stage "$RUN/root"
mkdir -p "$RUN/root/work/.kvm-harness"
printf '%s\n' "$CMD" >"$RUN/root/work/.kvm-harness/cmd"
[ -t 0 ] && [ "${KVM_HARNESS_INTERACTIVE:-0}" = 1 ] && : >"$RUN/root/work/.kvm-harness/interactive"
find "$RUN/root" -name '*.d' -prune -exec rm -rf {} +
pack "$RUN/root" "$RUN/run.cpio"
cat "$OUT/base.cpio" "$RUN/run.cpio" >"$RUN/initrd"
flock -u 9
disk=()
if [ "$DISK" != 0 ]; then
	truncate -s "$DISK" "$RUN/scratch.img"
	mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$RUN/scratch.img" >&2 || die "mkfs.ext4 of the scratch disk failed"
	disk=(-drive "file=$RUN/scratch.img,if=virtio,format=raw")
	append_disk=kvm_harness.disk=1
fi

# --- boot L1 ------------------------------------------------------------------------
# nohz=off highres=off: L1 ticks with its local APIC timer in periodic mode.
# QEMU 7.2's TCG, running L1's SVM, now and then loses the wake-up for an
# interrupt: L1 halts with IF set and the timer's vector waiting in its
# APIC's IRR, and sleeps until another interrupt comes (seen with the
# monitor: HLT=1, IRR 236; a key press through the monitor woke it).  With
# a one-shot timer nothing else comes and L1 stays asleep for good (a CI run
# hung so for 30 minutes; here twice in 26 Linux boots); a periodic
# timer raises its interrupt again a tick later whatever L1 did.
append="console=ttyS0 panic=-1 nohz=off highres=off $append_disk ${KVM_HARNESS_APPEND:-}"
[ "$VERBOSE" = 1 ] || append="$append quiet"
LOGF=$OUT/last.log
log "booting L1 (TCG, $MEM MiB, timeout ${TIMEOUT}s): $CMD"
t0=$(date +%s.%N)
set +e
if [ "$VERBOSE" = 1 ]; then show='{ print; fflush() }'; else show='!on && (i = index($0, "kvm-harness: L1 up")) { on = 1; $0 = substr($0, i) } on { print; fflush() }'; fi
qemu=("$QEMU" -accel tcg -cpu qemu64,+svm,+npt -m "$MEM" -smp "$SMP" -nographic -no-reboot
      -nic none "${disk[@]}" -kernel build/linux/vmlinuz -initrd "$RUN/initrd" -append "$append"
      -monitor "unix:$RUN/monitor.sock,server=on,wait=off")
if [ -e "$RUN/root/work/.kvm-harness/interactive" ]; then
	# Straight to the terminal through tee alone: tr and awk would hold a prompt back until a newline.
	timeout --foreground "$TIMEOUT" "${qemu[@]}" 2>&1 | tee "$LOGF"
	qrc=${PIPESTATUS[0]}
	sed -i 's/\r$//' "$LOGF"
else
	timeout -k 10 "$TIMEOUT" "${qemu[@]}" </dev/null 2>&1 | stdbuf -oL tr -d '\r' | tee "$LOGF" | awk "$show"
	qrc=${PIPESTATUS[0]}
fi
set -e
t1=$(date +%s.%N)
wall=$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")

up_cmd=$(sed -n 's/.*kvm-harness: cmd start uptime_s=\([0-9.]*\).*/\1/p' "$LOGF" | head -n 1)
end_cmd=$(sed -n 's/.*kvm-harness: cmd end uptime_s=\([0-9.]*\).*/\1/p' "$LOGF" | tail -n 1)
rc=$(sed -n 's/.*kvm-harness: rc=\([0-9]*\).*/\1/p' "$LOGF" | tail -n 1)
if [ -n "$up_cmd" ] && [ -n "$end_cmd" ]; then
	log "wall ${wall}s; L1 boot to CMD ${up_cmd}s (L1 uptime), CMD $(echo "$end_cmd - $up_cmd" | bc)s"
else
	log "wall ${wall}s"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	log "error: timeout: L1 did not finish within ${TIMEOUT}s (console in $LOGF)"
	exit 124
fi
if [ -z "$rc" ]; then
	log "error: no exit code came back from L1 (qemu exit $qrc); the console's last lines ($LOGF):"
	tail -n 15 "$LOGF" >&2
	exit 125
fi
grep -q 'kvm-harness: error:' "$LOGF" && [ "$rc" = 125 ] && log "error: $(grep -m1 'kvm-harness: error:' "$LOGF" | sed 's/.*error: //')"
exit "$rc"
