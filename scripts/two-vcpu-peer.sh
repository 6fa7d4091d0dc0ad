#!/usr/bin/env bash
# The open 2-vCPU defect (docs/linux-guests.md), side by side with QEMU as
# its peer.  Run on a host whose /dev/kvm is a real SVM or VMX with two or
# more CPUs, or in the harness's L1 for an experiment:
#
#   scripts/two-vcpu-peer.sh [ROUNDS [ours|qemu|both]]
#   KVM_HARNESS_SMP=2 KVM_HARNESS_MAKE=0 KVM_HARNESS_FILES=scripts/two-vcpu-peer.sh \
#       scripts/kvm-harness.sh scripts/two-vcpu-peer.sh 5 both
#
# Each round, the same Linux guest (320 MiB, 2 vCPUs) writes 200 MiB of
# seeded pages and checks them twice:
#   ours  memvisor with --host-mem 160M: it swaps and compresses, and its
#         memory states move the balloon;
#   qemu  QEMU with a virtio-balloon-pci (free page reporting,
#         deflate-on-OOM) in a 200 MiB memory cgroup with a swap file, its
#         balloon moved between 256 and 320 MiB every second from its
#         monitor.
# A round passes when the guest prints its RESULT line with bad_pages=0;
# a crash, a panic or a stall (no end within 400 s) fails it.  The swap
# file and the cgroup are made here when missing and removed at the end.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-4}
WHO=${2:-both}
K=build/linux/vmlinuz
I=build/linux/initramfs.cpio.gz
WORK=$(mktemp -d /tmp/two-vcpu-peer.XXXXXX)
CG=/sys/fs/cgroup/memvisor-two-vcpu-peer
SWAP=/var/tmp/two-vcpu-peer.swap

die() { echo "two-vcpu-peer: $*" >&2; exit 1; }
case $WHO in ours|qemu|both) ;; *) die "who is ours, qemu or both, not '$WHO'" ;; esac
[ -c /dev/kvm ] || die "no /dev/kvm"
for f in build/vmm "$K" "$I"; do [ -e "$f" ] || die "$f is missing (make all linux-guest)"; done
[ "$WHO" = ours ] || command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 for the peer"

swap_made=0
cleanup() {
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	# Made here, it goes, whether or not swapon took it.
	if [ "$swap_made" = 1 ]; then
		swapoff "$SWAP" 2>/dev/null
		rm -f "$SWAP"
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$WHO" != ours ]; then
	[ -e /sys/fs/cgroup/cgroup.controllers ] || mount -t cgroup2 none /sys/fs/cgroup || die "no cgroup2"
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	mkdir -p "$CG" && echo 200M >"$CG/memory.max" || die "cannot make the memory cgroup $CG"
	if [ "$(awk '/^SwapTotal/{print $2}' /proc/meminfo)" = 0 ]; then
		[ -e "$SWAP" ] && die "$SWAP exists already: not this script's to use"
		swap_made=1
		fallocate -l 1G "$SWAP" && chmod 600 "$SWAP" && mkswap "$SWAP" >/dev/null && swapon "$SWAP" ||
			die "cannot make a swap file for the peer's cgroup"
	fi
fi

# wait_bounded PID SECS: wait for PID, killing it after SECS; sets RC (137: killed).
wait_bounded() {
	local pid=$1 w s
	( sleep "$2"; kill -KILL "$pid" 2>/dev/null ) &
	w=$!
	wait "$pid"
	RC=$?
	# The watcher's sleep too, or it would outlive the round.
	s=$(pgrep -P "$w")
	kill "$w" $s 2>/dev/null
	wait "$w" 2>/dev/null
}

# verdict OUT RC: how the round ended, from the guest's RESULT line.
verdict() {
	local bad
	bad=$(grep -ao 'RESULT workload=verify .*' "$1" | grep -o 'bad_pages=[0-9]*' | cut -d= -f2)
	if [ "$2" = 137 ]; then echo "STALLED (killed at 400 s)"
	elif [ -z "$bad" ]; then echo "CRASHED (exit $2, no RESULT)"
	elif [ "$bad" != 0 ]; then echo "LOST DATA ($bad bad pages)"
	else echo "passed"; fi
}

pass_ours=0 pass_qemu=0
echo "two-vcpu-peer: $(nproc) CPUs, /dev/kvm from $(lsmod 2>/dev/null | grep -o '^kvm_[a-z]*' | head -n 1), $ROUNDS rounds, $WHO"
for i in $(seq 1 "$ROUNDS"); do
	A="console=ttyS0 quiet mv.run=memstress -- workload=verify size=200M seed=$((i * 10 + 2)) passes=2"
	if [ "$WHO" != qemu ]; then
		build/vmm run --host-mem 160M --stats "$WORK/stats" \
			--vm "name=lx,mem=320M,vcpus=2,kernel=$K,initrd=$I" --append "$A" >"$WORK/ours" 2>&1 &
		wait_bounded $! 400
		v=$(verdict "$WORK/ours" "$RC")
		[ "$v" = passed ] && pass_ours=$((pass_ours + 1))
		echo "round $i ours: $v; balloon at most $(grep -o '"mctlsz_mb":[0-9.]*' "$WORK/stats" | cut -d: -f2 | sort -n | tail -n 1) MiB"
		[ "$v" = passed ] || grep -a "vmm: lx:" "$WORK/ours" | tail -n 3 | sed 's/^/    /'
	fi
	if [ "$WHO" != ours ]; then
		rm -f "$WORK/mon.in" "$WORK/mon.out"
		mkfifo "$WORK/mon.in" "$WORK/mon.out"
		( echo $BASHPID >"$CG/cgroup.procs"
		  exec qemu-system-x86_64 -enable-kvm -cpu host -smp 2 -m 320M -M pc -kernel "$K" -initrd "$I" \
			-append "$A" -nic none -nographic -no-reboot \
			-device virtio-balloon-pci,free-page-reporting=on,deflate-on-oom=on -monitor "pipe:$WORK/mon" ) >"$WORK/qemu" 2>&1 &
		pid=$!
		cat "$WORK/mon.out" >/dev/null &
		reader=$!
		exec 7>"$WORK/mon.in"
		( sleep 2; while kill -0 "$pid" 2>/dev/null; do echo "balloon 256" >&7; sleep 1; echo "balloon 320" >&7; sleep 1; done ) &
		churn=$!
		wait_bounded "$pid" 400
		kill "$churn" "$reader" 2>/dev/null
		wait "$churn" "$reader" 2>/dev/null
		exec 7>&-
		v=$(verdict "$WORK/qemu" "$RC")
		[ "$v" = passed ] && pass_qemu=$((pass_qemu + 1))
		echo "round $i qemu: $v; cgroup peak $(($(cat "$CG/memory.peak" 2>/dev/null || echo 0) / 1048576)) MiB"
		[ "$v" = passed ] || grep -a "Kernel panic\|BUG\|Oops" "$WORK/qemu" | head -n 3 | sed 's/^/    /'
	fi
done
[ "$WHO" != qemu ] && echo "ours: $pass_ours of $ROUNDS passed"
[ "$WHO" != ours ] && echo "qemu: $pass_qemu of $ROUNDS passed"
[ "$WHO" = qemu ] || [ "$pass_ours" = "$ROUNDS" ]
