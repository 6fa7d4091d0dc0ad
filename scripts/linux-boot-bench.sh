#!/usr/bin/env bash
# Linux boot time, memvisor against QEMU, under a real KVM: in ONE run of
# scripts/kvm-harness.sh (an L1 Linux on QEMU TCG with emulated SVM+NPT), boot
# the same stock Linux (build/linux/vmlinuz + build/linux/initramfs.cpio.gz,
# from scripts/linux-guest.sh) with the same memory, vCPU count and command
# line, RUNS times each, alternating:
#   ours     build/vmm run --mem 256M --kernel ... --initrd ... (its virtio-balloon on PCI)
#   pc       qemu-system-x86_64 -enable-kvm -M pc (SeaBIOS) + virtio-balloon-pci
#   microvm  qemu-system-x86_64 -enable-kvm -M microvm,pit=on,pic=on,rtc=on
#            (qboot; no PCI, so no balloon)
# and three diagnostics (below: ours-noshare, ours-cpu100, microvm-nothp)
# and print, per machine, the median and min of
#   time to init  wall time from launching the VMM process to the guest's /init
#                 printing its first line ("mv-guest: init ...")
#   power-off     wall time from launching the VMM process to its exit (the
#                 guest's /init reports and runs poweroff -f)
#   uptime@init   the guest kernel's own /proc/uptime when /init started
#   before clock  time to init minus uptime@init: what passes before the guest
#                 kernel's clock runs (process start, firmware, setup code,
#                 decompression, early boot)
# and the ratios ours/pc and ours/microvm. Wall times are taken in L1 with
# CLOCK_MONOTONIC by a small helper (build/linux-boot-bench/boottime, built
# here from the C source below) that starts the VMM, timestamps each line of
# its output as it arrives and waits for it. Everything runs under TCG, so only
# the ratios mean anything. A boot that fails (no init line, no clean power-off,
# a non-zero exit, the per-boot timeout) ends the script with an error and no
# figures.
#
#   scripts/linux-boot-bench.sh [-n RUNS] [--json FILE]
#       RUNS boots of each machine (default 5); --json appends one JSON line
#       ({"bench":"linux_boot",...}) to FILE. Environment: LINUX_BOOT_MEM
#       (default 256M), LINUX_BOOT_APPEND (default "console=ttyS0 quiet
#       mv.run=report"), LINUX_BOOT_TIMEOUT (seconds per boot, default 120).
#   scripts/linux-boot-bench.sh --inner -n RUNS   (in L1: the measuring part)
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/.."

RUNS=5 INNER=0 JSONF=
MEM=${LINUX_BOOT_MEM:-256M}
# quiet: the kernel's boot messages would otherwise go out byte by byte through
# the emulated UART, and the bench would time the serial port, not the boot.
APPEND=${LINUX_BOOT_APPEND:-console=ttyS0 quiet mv.run=report}
BOOT_TIMEOUT=${LINUX_BOOT_TIMEOUT:-120}
HELPER=build/linux-boot-bench/boottime

die() { echo "linux-boot-bench: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	-n) RUNS=$2; shift 2 ;;
	--json) JSONF=$2; shift 2 ;;
	--inner) INNER=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (usage: $0 [-n RUNS] [--json FILE])" ;;
	esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number, not '$RUNS'"

# ==== outside: build the helper, run the inner part in the harness once ===========
if [ $INNER = 0 ]; then
	mkdir -p "$(dirname "$HELPER")"
	src=$(dirname "$HELPER")/boottime.c
	# The helper's source lives here, between the markers; rebuilt when it changes.
	sed -n '/^\/\* boottime\.c BEGIN/,/^\/\* boottime\.c END/p' "$SELF" >"$src.new"
	if ! cmp -s "$src.new" "$src" || [ ! -x "$HELPER" ]; then
		mv "$src.new" "$src"
		gcc -O2 -Wall -Wextra -Werror -static -o "$HELPER" "$src" || die "cannot build $HELPER"
	else
		rm -f "$src.new"
	fi
	# Per boot: the timeout, plus slack for L1's own boot.
	htimeout=$(( 6 * RUNS * (BOOT_TIMEOUT + 10) + 300 ))
	out=$(mktemp /tmp/linux-boot-bench.XXXXXX)
	trap 'rm -f "$out"' EXIT
	echo "== Linux boot in the real-KVM harness: memvisor against QEMU -M pc and -M microvm ($RUNS runs each, alternating)"
	echo "  host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r); L1 under QEMU TCG (-cpu qemu64,+svm,+npt)"
	# The inner part's "progress:" lines are shown as they come (on stderr).
	set +e
	KVM_HARNESS_FILES="${KVM_HARNESS_FILES:-} $HELPER" \
		scripts/kvm-harness.sh -t "$htimeout" \
		"LINUX_BOOT_MEM='$MEM' LINUX_BOOT_APPEND='$APPEND' LINUX_BOOT_TIMEOUT=$BOOT_TIMEOUT scripts/linux-boot-bench.sh --inner -n $RUNS" \
		2>"$out.err" | tee "$out" | sed -un 's/^progress: /  linux-boot-bench: /p' >&2
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" != 0 ]; then
		echo "linux-boot-bench: error: the harness run failed (exit $rc); its output:" >&2
		cat "$out" "$out.err" >&2
		rm -f "$out.err"
		exit 1
	fi
	# (L1's kernel messages, e.g. kvm's "Unhandled WRMSR" notes, stay in $out only)
	grep -v '^kvm-harness: \|^linux-boot-bench-json \|^progress: \|^\[ *[0-9.]*\] ' "$out" || true
	sed -n 's/^kvm-harness: \(wall .*\)/  harness: \1/p' "$out.err"
	rm -f "$out.err"
	json=$(sed -n 's/^linux-boot-bench-json //p' "$out")
	[ -n "$json" ] || die "no JSON line came back from the inner run"
	[ -z "$JSONF" ] || echo "$json" >>"$JSONF"
	exit 0
fi

# ==== inside L1: the measurements ===============================================
K=build/linux/vmlinuz
I=build/linux/initramfs.cpio.gz
for f in "$K" "$I" build/vmm "$HELPER"; do [ -e "$f" ] || die "no $f in L1"; done
[ -c /dev/kvm ] || die "no /dev/kvm in L1"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 in L1"
TMP=$(mktemp -d /tmp/lbb.XXXXXX)

# Diagnostics: ours-noshare, ours without the page-sharing scanner, and
# ours-cpu100, with the scanner's CPU cap lifted (--share-cpu 100: its page
# rate alone, as before the cap): what sharing costs a boot in L1, where
# hashing runs emulated and each merge invalidates nested page tables. microvm-nothp: microvm with L1's
# transparent huge pages off, as memvisor's 4 KiB-managed RAM never has them.
MACHINES=(ours pc microvm ours-noshare ours-cpu100 microvm-nothp)
THP=/sys/kernel/mm/transparent_hugepage/enabled
THP_WAS=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$THP" 2>/dev/null || true)
[ -n "$THP_WAS" ] || die "cannot read $THP in L1"
# Put back after the last boot, and on any way out (the inner part ends with exit)
trap 'echo "$THP_WAS" >"$THP" 2>/dev/null || true' EXIT
# The same guest for every machine: kernel, initramfs, memory, one vCPU, command line.
# QEMU gets -cpu host, as memvisor hands the guest KVM's supported CPUID.
O=(--mem "$MEM" --kernel "$K" --initrd "$I" --append "$APPEND")
Q=(qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m "$MEM" -kernel "$K" -initrd "$I" -append "$APPEND"
	-nic none -nographic -no-reboot)
cmd_of() {
	# shellcheck disable=SC2054  # -M takes a comma-separated list
	case $1 in
	ours) CMD=(build/vmm run "${O[@]}") ;;
	ours-noshare) CMD=(build/vmm run --no-share "${O[@]}") ;;
	ours-cpu100) CMD=(build/vmm run --share-cpu 100 "${O[@]}") ;;
	pc) CMD=("${Q[@]}" -M pc -device virtio-balloon-pci) ;;
	microvm|microvm-nothp) CMD=("${Q[@]}" -M microvm,pit=on,pic=on,rtc=on) ;;
	esac
}

# fail MACHINE RUN WHY: the boot's whole output, then exit 1 (no figures)
fail() {
	echo "linux-boot-bench: error: $1, run $2: $3; the boot's output (seconds since launch):" >&2
	cat "$TMP/$1.$2.log" >&2
	exit 1
}


# One boot: the helper prints each output line as "SECONDS LINE", then
# "boottime: init_s=... exit_s=... status=...".
for r in $(seq "$RUNS"); do
	for m in "${MACHINES[@]}"; do
		cmd_of "$m"
		log=$TMP/$m.$r.log
		if [ "$m" = microvm-nothp ]; then echo never >"$THP"; else echo "$THP_WAS" >"$THP"; fi
		"$HELPER" "$BOOT_TIMEOUT" "mv-guest: init " "${CMD[@]}" >"$log" 2>&1 || true
		last=$(grep '^boottime: ' "$log" | tail -n 1)
		[ -n "$last" ] || fail "$m" "$r" "the helper gave no result"
		st=$(sed -n 's/.* status=\([^ ]*\).*/\1/p' <<<"$last")
		ti=$(sed -n 's/.* init_s=\([^ ]*\).*/\1/p' <<<"$last")
		te=$(sed -n 's/.* exit_s=\([^ ]*\).*/\1/p' <<<"$last")
		[ "$st" = exit=0 ] || fail "$m" "$r" "it ended with $st"
		[ "$ti" != none ] || fail "$m" "$r" "no 'mv-guest: init' line"
		grep -q 'mv-guest: done rc=0' "$log" || fail "$m" "$r" "/init did not finish with rc=0"
		# memvisor puts "[VM-NAME] " before each guest console line, SeaBIOS
		# leaves escape sequences on /init's first: the lines are searched
		up=$(sed -n 's/.*mv-guest: init uptime_s=\([0-9.]*\).*/\1/p' "$log" | head -n 1)
		[ -n "$up" ] || fail "$m" "$r" "no uptime_s on the init line"
		bal=$(sed -n 's/.*mv-guest: balloon_bound=\([01]\).*/\1/p' "$log" | head -n 1)
		echo "$ti" >>"$TMP/$m.init"
		echo "$te" >>"$TMP/$m.exit"
		echo "$up" >>"$TMP/$m.up"
		echo "$ti - $up" | bc >>"$TMP/$m.pre"
		echo "${bal:-?}" >"$TMP/$m.balloon"
		echo "progress: run $r/$RUNS $m: init ${ti}s, power-off ${te}s, uptime@init ${up}s" >&2
	done
done

# stats FILE: "median min" of the numbers in FILE
stats() {
	sort -g "$1" | awk '{a[NR]=$1} END {
		m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
		printf "%.3f %.3f\n", m, a[1] }'
}
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }

declare -A MED MIN
for m in "${MACHINES[@]}"; do
	for k in init exit up pre; do
		# (no process substitution: L1's /dev has no /dev/fd)
		read -r "MED[$m.$k]" "MIN[$m.$k]" <<<"$(stats "$TMP/$m.$k")"
	done
done

echo "  L1: Linux $(uname -r) on QEMU TCG, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) vCPU(s), svm: $(grep -qw svm /proc/cpuinfo && echo yes || echo no); $(qemu-system-x86_64 --version | head -n 1)"
echo "  guest: $(cat build/linux/kernel-version 2>/dev/null || echo '?'), $MEM, 1 vCPU, append \"$APPEND\""
echo "  ('quiet': boot messages would go out through the emulated UART one byte per exit and the bench would time the serial port)"
echo "  ours:    build/vmm run (its virtio-balloon on PCI; guest saw balloon_bound=$(cat "$TMP/ours.balloon"))"
echo "  pc:      QEMU -M pc (SeaBIOS) -cpu host -device virtio-balloon-pci (balloon_bound=$(cat "$TMP/pc.balloon"))"
echo "  microvm: QEMU -M microvm,pit=on,pic=on,rtc=on -cpu host (qboot): no PCI, so no balloon (balloon_bound=$(cat "$TMP/microvm.balloon"))"
echo "  L1's transparent huge pages: $THP_WAS (QEMU asks for them on its RAM; memvisor manages 4 KiB pages)"
echo "  ours-noshare: a diagnostic, build/vmm run --no-share (no page-sharing scanner thread)"
echo "  ours-cpu100: a diagnostic, build/vmm run --share-cpu 100 (the scanner at its page rate, its CPU cap lifted)"
echo "  microvm-nothp: a diagnostic, microvm with L1's transparent huge pages set to never"
echo "  seconds, median (min) of $RUNS; wall times from process launch, CLOCK_MONOTONIC in L1"
printf "  %-13s %17s %17s %17s %17s %17s\n" "" "time to init" "power-off" "uptime@init" "before clock" "init->exit"
for m in "${MACHINES[@]}"; do
	# init -> exit: the medians' difference (module loading, the report, poweroff -f)
	ie=$(echo "${MED[$m.exit]} - ${MED[$m.init]}" | bc | sed 's/^\./0./')
	printf "  %-13s %8.3f (%6.3f) %8.3f (%6.3f) %8.3f (%6.3f) %8.3f (%6.3f) %8.3f\n" "$m" \
		"${MED[$m.init]}" "${MIN[$m.init]}" "${MED[$m.exit]}" "${MIN[$m.exit]}" \
		"${MED[$m.up]}" "${MIN[$m.up]}" "${MED[$m.pre]}" "${MIN[$m.pre]}" "$ie"
done
for p in pc microvm; do
	printf "  %-24s time to init %s (min/min %s), power-off %s, uptime@init %s, before clock %s   (goal: time to init < 1)\n" \
		"ratio ours/$p" "$(ratio "${MED[ours.init]}" "${MED[$p.init]}")" "$(ratio "${MIN[ours.init]}" "${MIN[$p.init]}")" \
		"$(ratio "${MED[ours.exit]}" "${MED[$p.exit]}")" "$(ratio "${MED[ours.up]}" "${MED[$p.up]}")" \
		"$(ratio "${MED[ours.pre]}" "${MED[$p.pre]}")"
done
# diag A B: A's medians over B's
diag() {
	printf "  %-24s time to init %s, before clock %s, uptime@init %s\n" "diagnostic: $1/$2" \
		"$(ratio "${MED[$1.init]}" "${MED[$2.init]}")" "$(ratio "${MED[$1.pre]}" "${MED[$2.pre]}")" \
		"$(ratio "${MED[$1.up]}" "${MED[$2.up]}")"
}
diag ours ours-noshare
diag ours ours-cpu100
diag ours-noshare pc
diag ours-cpu100 pc
diag microvm-nothp microvm
j="{\"bench\":\"linux_boot\",\"runs\":$RUNS,\"mem\":\"$MEM\",\"append\":\"$APPEND\",\"l1_kernel\":\"$(uname -r)\",\"accel\":\"tcg\""
for m in "${MACHINES[@]}"; do
	j="$j,\"${m//-/_}_init_s\":${MED[$m.init]},\"${m//-/_}_init_min_s\":${MIN[$m.init]},\"${m//-/_}_exit_s\":${MED[$m.exit]},\"${m//-/_}_uptime_at_init_s\":${MED[$m.up]}"
done
j="$j,\"ratio_init_ours_pc\":$(ratio "${MED[ours.init]}" "${MED[pc.init]}"),\"ratio_init_ours_microvm\":$(ratio "${MED[ours.init]}" "${MED[microvm.init]}")}"
echo "linux-boot-bench-json $j"
rm -rf "$TMP"
exit 0

# The helper, built by the outside part (C, static so that L1 needs no libraries),
# which cuts it out between the BEGIN and END lines; the heredoc keeps bash -n quiet.
# shellcheck disable=SC2317
: <<'BOOTTIME_C'
/* boottime.c BEGIN: boottime TIMEOUT_S PATTERN CMD...
 * Runs CMD with stdin from /dev/null and stdout+stderr into a pipe; prints each
 * line of that output as "SECONDS LINE" (SECONDS: CLOCK_MONOTONIC since just
 * before the fork), then
 *   boottime: init_s=S|none exit_s=S status=exit=N|signal=N|timeout [stat_NAME=N...]
 * where init_s is when the first line holding PATTERN arrived and exit_s when
 * CMD was reaped. After TIMEOUT_S it kills CMD (status=timeout). BOOTTIME_STATS,
 * a space-separated list of files holding one number each (e.g. debugfs
 * counters), are read at each wakeup (a read, at least every 50 ms) while CMD
 * runs; the last value read of each is printed as stat_BASENAME. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *stat_path[16];
static unsigned long long stat_val[16];
static int nstats;

static void read_stats(void)
{
	for (int i = 0; i < nstats; i++) {
		FILE *f = fopen(stat_path[i], "re");
		unsigned long long v;

		if (f && fscanf(f, "%llu", &v) == 1)
			stat_val[i] = v;
		if (f)
			fclose(f);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char line[1 << 16];
	size_t len = 0;
	double t0, t_init = -1, t_exit, limit;
	int p[2], status, timed_out = 0;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: boottime TIMEOUT_S PATTERN CMD...\n");
		return 2;
	}
	limit = atof(argv[1]);
	if (getenv("BOOTTIME_STATS")) {
		char *list = strdup(getenv("BOOTTIME_STATS")), *save = NULL;

		for (char *w = strtok_r(list, " ", &save); w && nstats < 16; w = strtok_r(NULL, " ", &save))
			stat_path[nstats++] = w;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("pipe2");
		return 2;
	}
	t0 = now();
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(127);
		execvp(argv[3], argv + 3);
		perror(argv[3]);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		double left = limit - (now() - t0);
		char buf[4096];
		ssize_t n;

		if (left <= 0) {
			timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		int ms = (int)(left * 1000) + 1;

		if (poll(&pfd, 1, nstats && ms > 50 ? 50 : ms) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			kill(pid, SIGKILL);
			break;
		}
		read_stats();
		if (!pfd.revents)
			continue;
		n = read(p[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		double t = now() - t0;
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];

			if (c == '\r')
				continue;
			if (c != '\n' && len < sizeof(line) - 1) {
				line[len++] = c;
				continue;
			}
			if (c != '\n')
				continue;
			line[len] = 0;
			if (t_init < 0 && strstr(line, argv[2]))
				t_init = t;
			printf("%.6f %s\n", t, line);
			len = 0;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	t_exit = now() - t0;
	if (len) {
		line[len] = 0;
		printf("%.6f %s\n", t_exit, line);
	}
	printf("boottime: init_s=");
	if (t_init < 0)
		printf("none");
	else
		printf("%.6f", t_init);
	printf(" exit_s=%.6f status=", t_exit);
	if (timed_out)
		printf("timeout");
	else if (WIFEXITED(status))
		printf("exit=%d", WEXITSTATUS(status));
	else
		printf("signal=%d", WTERMSIG(status));
	for (int i = 0; i < nstats; i++) {
		const char *b = strrchr(stat_path[i], '/');

		printf(" stat_%s=%llu", b ? b + 1 : stat_path[i], stat_val[i]);
	}
	printf("\n");
	return 0;
}
/* boottime.c END */
BOOTTIME_C
