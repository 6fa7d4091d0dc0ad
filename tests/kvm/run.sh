#!/usr/bin/env bash
# Real-KVM tests: run INSIDE the harness's L1 (scripts/kvm-harness.sh, or
# `make test-kvm`), where /dev/kvm is a real SVM+NPT KVM.  A stock Linux
# guest boots under our VMM, powers off, reboots, panics, drives our
# virtio-balloon with Linux's own driver, reports free pages and runs
# overcommitted (also while its kernel migrates pages); then our own test guest runs with its ring 0 executed by
# real SVM, as a cross-check of the foundation tests.
# usage: tests/kvm/run.sh [FILTER]
set -u
FILTER=${1:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VMM=$ROOT/build/vmm
VMMCTL=$ROOT/build/vmmctl
KERNEL=$ROOT/build/linux/vmlinuz
INITRD=$ROOT/build/linux/initramfs.cpio.gz
WORK=$(mktemp -d /tmp/memvisor-kvm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
OUT=$WORK/out
ERR=$WORK/err
STATS=$WORK/stats.jsonl
CTLSOCK=$WORK/ctl.sock   # every VMM's control socket: at a deadline, vmmctl regs says where each vCPU is

for f in /dev/kvm "$VMM" "$KERNEL" "$INITRD"; do
	if [ ! -e "$f" ]; then
		echo "FAIL: $f is missing (run this through scripts/kvm-harness.sh, after make linux-guest)" >&2
		echo "kvm tests: 0 passed, 1 failed"
		exit 1
	fi
done

TAIL_LINES=25
. "$ROOT/tests/lib/runner.sh"

# reap PID SECS: wait for PID, killing it after SECS; sets RC (137 when killed).
# A VMM still running at its deadline first shows where its threads wait
# (a vCPU halted in KVM, one blocked in a userfaultfd fault, a VMM thread
# on a lock), with the host's load and the VMM's last stats row, so a hang
# in CI says what hung.  A VMM that SIGKILL cannot end within 30 s is stuck
# in L1's kernel: its threads are shown again and the suite goes on
# without it, so one stuck test does not eat the harness's whole time.
reap() {
	local pid=$1 secs=$2
	if ! gone_within "$pid" "$secs"; then
		# Most telling first: CI shows only the head of a failure's output.
		echo "    killed: pid $pid still running after ${secs}s; load $(cut -d' ' -f1-3 /proc/loadavg); L1 clocksource $(l1_clocksource)" >&2
		show_vcpus
		echo "    guest's last line: $(tail -n 1 "$OUT" 2>/dev/null | cut -c1-200)" >&2
		show_kernel_log
		[ -s "$STATS" ] && echo "    last stats: $(grep '"vm":' "$STATS" | tail -n 1 | cut -c1-600)" >&2
		echo "    its threads:" >&2
		show_threads "$pid"
		kill -KILL "$pid" 2>/dev/null
		if ! gone_within "$pid" 30; then
			echo "    stuck: pid $pid outlived SIGKILL by 30 s; its threads:" >&2
			show_threads "$pid"
			RC=137
			return
		fi
	fi
	wait "$pid"
	RC=$?
}

# l1_clocksource: the clocksource L1's kernel keeps time with now.
l1_clocksource() {
	cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null
}

# show_vcpus: each VM's vCPUs by the control socket (registers, run state,
# LAPIC timer), for a guest that stopped making progress.  L1 has busybox,
# not python: the names come out of the JSON by grep.
show_vcpus() {
	local vm
	[ -S "$CTLSOCK" ] || { echo "    no control socket: no vCPU dump" >&2; return 0; }
	for vm in $(timeout 5 "$VMMCTL" --control "$CTLSOCK" --json list 2>/dev/null |
		grep -o '"name":"[^"]*"' | cut -d'"' -f4); do
		timeout 10 "$VMMCTL" --control "$CTLSOCK" regs "$vm" 2>&1 | sed 's/^/    /' >&2
	done
}

# show_kernel_log: L1's kernel warnings of late (the harness boots it
# quiet): a clocksource marked unstable, a soft lockup, a KVM complaint.
show_kernel_log() {
	echo "    L1 kernel, last warnings:" >&2
	dmesg -r 2>/dev/null | grep -E '^<[0-4]>' | grep -v 'Unhandled WRMSR' | tail -n 15 | sed 's/^/      /' >&2
}

# show_threads PID: each thread's name, state, wait channel and kernel stack.
show_threads() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "    thread ${t##*/} $(cat "$t/comm" 2>/dev/null) $(cut -d' ' -f3 "$t/stat" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)" >&2
		sed 's/^/      /' "$t/stack" >&2 2>/dev/null
	done
}

# gone_within PID SECS: 0 once PID has exited, 1 if it still runs after SECS.
gone_within() {
	local i=0
	while [ "$i" -lt $(($2 * 5)) ] && alive "$1"; do
		sleep 0.2
		i=$((i + 1))
	done
	! alive "$1"
}

# alive PID: PID has not exited (a zombie has: only its reaping is left).
alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# linux SECS ARGS...: boot the Linux guest with a time bound; sets RC, OUT, ERR.
linux() {
	local secs=$1
	shift
	"$VMM" run --control "$CTLSOCK" "$@" >"$OUT" 2>"$ERR" &
	reap $! "$secs"
}

# guest KEY: the last value the guest's /init printed for KEY.
guest() {
	grep -o "mv-guest: .*\b$1=[^ ]*" "$OUT" | tail -n 1 | sed "s/.*\b$1=//"
}

# stat KEY: KEY's value in the last per-VM row of the stats file (integer part).
stat() {
	grep '"vm":' "$STATS" | tail -n 1 | grep -o "\"$1\":[0-9.]*" | cut -d: -f2 | cut -d. -f1
}

# stat_max KEY: KEY's largest value over all per-VM rows (integer part).
stat_max() {
	grep '"vm":' "$STATS" | grep -o "\"$1\":[0-9.]*" | cut -d: -f2 | cut -d. -f1 | sort -n | tail -n 1
}

# wait_last PATTERN SECS: 0 once the guest's latest balloon-watch line matches.
wait_last() {
	local i=0
	while [ "$i" -lt $(($2 * 10)) ]; do
		grep "mv-guest: t=" "$OUT" | tail -n 1 | grep -q -E "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# wait_for PATTERN FILE SECS: 0 once PATTERN shows up in FILE.
wait_for() {
	local i=0
	while [ "$i" -lt $(($3 * 10)) ]; do
		grep -q -E "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

LX=(--kernel "$KERNEL" --initrd "$INITRD")

t_linux_boots_to_init_and_powers_off() {
	linux 300 --mem 256M "${LX[@]}" --append "console=ttyS0 mv.run=report"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "Linux version" "$OUT"'
	expect 'grep -q "mv-guest: init " "$OUT"'
	expect 'grep -q "mv-guest: done rc=0" "$OUT"'
	expect 'grep -q "the guest powered off (ACPI S5)" "$ERR"'
	# All of RAM but the kernel's own share: between 180 and 256 MiB.
	expect '[ "$(guest memtotal_kb)" -gt 184320 ] && [ "$(guest memtotal_kb)" -le 262144 ]'
	# The console is a 16550A with its interrupt, found by ACPI-era probing.
	expect 'grep -q "ttyS0 at I/O 0x3f8 (irq = 4.*16550A" "$OUT"'
	expect '! grep -q -i "ACPI Error\|ACPI BIOS Error" "$OUT"'
}

t_linux_virtio_balloon_binds_our_device() {
	linux 300 --mem 256M "${LX[@]}" --append "console=ttyS0 mv.run=report"
	expect '[ "$RC" -eq 0 ]'
	expect '[ "$(guest virtio_devices)" = "virtio0:0x0005" ]'
	expect '[ "$(guest balloon_bound)" = 1 ]'
	expect 'grep -q "Free page reporting enabled" "$OUT"'
	expect 'grep -q "PCI0\]\|PNP0A03" "$OUT"'
}

# The target from the control socket: MemFree drops by it, the host's
# mctlsz_mb rises to it, deflating gives it back; the guest's stats arrive.
t_linux_balloon_follows_its_target() {
	local before during after
	"$VMM" run --control "$CTLSOCK" --stats "$STATS" --balloon-stats 1 \
		--vm "name=lx,mem=256M,kernel=$KERNEL,initrd=$INITRD" \
		--append "console=ttyS0 quiet mv.run=balloon-watch mv.secs=200" >"$OUT" 2>"$ERR" &
	local pid=$!
	# On a stall, reap shows where the VMM's threads wait before it kills.
	expect 'wait_for "mv-guest: t=3 " "$OUT" 200' || { reap $pid 0; return; }
	before=$(guest memfree_kb)
	"$VMMCTL" --control "$CTLSOCK" balloon lx 64M >/dev/null
	expect 'wait_last "balloon_pages=16384" 60'
	sleep 2
	during=$(guest memfree_kb)
	expect '[ "$(stat mctlsz_mb)" -ge 63 ] && [ "$(stat mctlsz_mb)" -le 64 ]'
	expect '[ $((before - during)) -ge $((60 * 1024)) ] && [ $((before - during)) -le $((70 * 1024)) ]'
	expect 'grep -q "\"guest_free_mb\"" "$STATS"'
	expect 'grep -q "\"guest_total_mb\"" "$STATS"'
	"$VMMCTL" --control "$CTLSOCK" balloon lx 0 >/dev/null
	expect 'wait_last "balloon_pages=0\$" 60'
	sleep 3
	after=$(guest memfree_kb)
	expect '[ "$(stat mctlsz_mb)" -eq 0 ]'
	expect '[ $((before - after)) -le $((6 * 1024)) ]'
	echo "    memfree before $before kB, inflated $during kB, deflated $after kB" >&2
	kill -TERM $pid
	reap $pid 60
	expect '[ "$RC" -eq 143 ]'
}

# A large allocation freed in the guest comes back to the host by free page reporting.
t_linux_free_page_reporting_releases_memory() {
	linux 400 --stats "$STATS" --vm "name=lx,mem=512M,kernel=$KERNEL,initrd=$INITRD" \
		--append "console=ttyS0 quiet mv.run=memstress -- workload=verify size=256M seed=3 passes=1 mv.after=12"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "RESULT workload=verify .*bad_pages=0" "$OUT"'
	# Pages the guest reported free, taken back by the host.
	expect '[ "$(stat_max reported_mb)" -ge 128 ]'
	echo "    reported_mb at most: $(stat_max reported_mb)" >&2
}

t_linux_reboot_ends_the_vm() {
	linux 300 --mem 256M "${LX[@]}" --append "console=ttyS0 quiet mv.run=reboot"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "the guest rebooted (ACPI reset register)" "$ERR"'
}

t_linux_panic_is_reported() {
	linux 300 --mem 256M "${LX[@]}" --append "console=ttyS0 quiet mv.run=panic"
	expect '[ "$RC" -eq 70 ]'
	expect 'grep -q "the guest kernel panicked: sysrq triggered crash" "$ERR"'
}

t_linux_two_vcpus() {
	linux 300 --vm "name=lx,mem=256M,vcpus=2,kernel=$KERNEL,initrd=$INITRD" --append "console=ttyS0 mv.run=report"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "smp: Brought up 1 node, 2 CPUs" "$OUT"'
	expect 'grep -q "mv-guest: done rc=0" "$OUT"'
}

# Overcommitted: more guest memory touched than the host budget; swap takes
# the rest and every byte comes back.
t_linux_overcommitted_swaps_and_loses_nothing() {
	linux 300 --host-mem 160M --stats "$STATS" --vm "name=lx,mem=320M,kernel=$KERNEL,initrd=$INITRD" \
		--append "console=ttyS0 quiet mv.run=memstress -- workload=verify size=200M seed=5 passes=2"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "RESULT workload=verify .*bad_pages=0" "$OUT"'
	expect 'grep -q "vmm: lx: .*exited with code 0\|lx: exited with code 0" "$ERR"'
	expect '[ "$(stat_max swcur_mb)" -gt 0 ] || [ "$(stat_max zip_mb)" -gt 0 ]'
	echo "    swapped at most $(stat_max swcur_mb) MiB, compressed at most $(stat_max zip_mb) MiB" >&2
}

# The guest kernel copies pages to other guest-physical pages (compaction
# every 0.2 s) while the VMM swaps, compresses and shares them: every
# byte still comes back.  Seen here: about 5000 pages migrated a run.
t_linux_page_migration_loses_nothing() {
	linux 300 --host-mem 160M --stats "$STATS" --vm "name=lx,mem=320M,kernel=$KERNEL,initrd=$INITRD" \
		--append "console=ttyS0 quiet mv.compact=0.2 mv.run=memstress -- workload=verify size=200M seed=7 passes=2"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "RESULT workload=verify .*bad_pages=0" "$OUT"'
	expect '[ "$(guest pgmigrate_success)" -gt 100 ]'
	expect '[ "$(stat_max swcur_mb)" -gt 0 ] || [ "$(stat_max zip_mb)" -gt 0 ]'
	echo "    $(guest pgmigrate_success) pages migrated by the guest" >&2
}

# More than 3 GiB: RAM goes on above the 32-bit hole, at 4 GiB, and the
# guest's own pages there (Linux allocates from above 4 GiB first) are
# swapped and compressed like any other on a small budget.
t_linux_ram_above_4g() {
	linux 120 --mem 5G "${LX[@]}" --append "console=ttyS0 quiet mv.run=report"
	expect '[ "$RC" -eq 0 ]'
	# All of it but the kernel's share: more than 4.75 GiB.
	expect '[ "$(guest memtotal_kb)" -gt 4980736 ]'
	linux 300 --host-mem 192M --stats "$STATS" --vm "name=lx,mem=5G,kernel=$KERNEL,initrd=$INITRD" \
		--append "console=ttyS0 mv.run=memstress -- workload=verify size=200M seed=9 passes=1"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "BIOS-e820: \[mem 0x0000000100000000-0x000000017fffffff\] usable" "$OUT"'
	expect 'grep -q "BIOS-e820: \[mem 0x0000000000100000-0x00000000bfffffff\] usable" "$OUT"'
	expect 'grep -q "RESULT workload=verify .*bad_pages=0" "$OUT"'
	expect '[ "$(stat_max swcur_mb)" -gt 0 ] || [ "$(stat_max zip_mb)" -gt 0 ]'
}

# Two Linux VMs booted from the same image share pages (the scanner, as for the test guest).
# At its page rate: under TCG the default 2% CPU cap (--share-cpu) lets it
# look at about a quarter of that, and in these 20 s it saved 8.5 MiB.
t_linux_vms_share_pages() {
	linux 400 --share-cpu 100 --stats "$STATS" \
		--vm "name=a,mem=256M,kernel=$KERNEL,initrd=$INITRD" --append "console=ttyS0 quiet mv.run=balloon-watch mv.secs=20" \
		--vm "name=b,mem=256M,kernel=$KERNEL,initrd=$INITRD" --append "console=ttyS0 quiet mv.run=balloon-watch mv.secs=20"
	expect '[ "$RC" -eq 0 ]'
	expect '[ "$(grep -c "mv-guest: done rc=0" "$OUT")" -eq 2 ]'
	# Seen here: 60 MiB saved, 44 MiB of each VM shared.
	expect '[ "$(grep -o "\"pshare_saving_mb\":[0-9.]*" "$STATS" | cut -d: -f2 | cut -d. -f1 | sort -n | tail -n 1)" -ge 20 ]'
	expect '[ "$(stat_max shrd_mb)" -ge 10 ]'
	echo "    saved at most $(grep -o "\"pshare_saving_mb\":[0-9.]*" "$STATS" | cut -d: -f2 | sort -n | tail -n 1) MiB" >&2
}

# Our own test guest with its ring 0 run by real SVM, not emulated.
t_test_guest_on_real_svm() {
	linux 120 --mem 64M --append "workload=hello"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "RESULT workload=hello" "$OUT"'
	linux 300 --host-mem 96M --mem 192M --append "workload=verify size=150M seed=2 passes=2"
	expect '[ "$RC" -eq 0 ]'
	expect 'grep -q "RESULT workload=verify .*bad_pages=0" "$OUT"'
	linux 300 --vm name=a,mem=128M,vcpus=2 --append "workload=balloon" --vm name=b,mem=64M --append "workload=hello"
	expect '[ "$RC" -eq 0 ]'
}

echo "kvm tests in $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU, /dev/kvm from $(lsmod 2>/dev/null | grep -o '^kvm_[a-z]*' | head -n 1), clocksource $(l1_clocksource)"
for t in t_linux_boots_to_init_and_powers_off t_linux_virtio_balloon_binds_our_device \
	 t_linux_balloon_follows_its_target t_linux_free_page_reporting_releases_memory \
	 t_linux_reboot_ends_the_vm t_linux_panic_is_reported t_linux_two_vcpus \
	 t_linux_overcommitted_swaps_and_loses_nothing t_linux_page_migration_loses_nothing t_linux_ram_above_4g t_linux_vms_share_pages t_test_guest_on_real_svm; do
	run_test "$t"
done
echo "kvm tests: $pass passed, $fail failed${failed_names[*]:+ (${failed_names[*]})}"
[ "$fail" -eq 0 ]
