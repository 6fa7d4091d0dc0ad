#!/usr/bin/env bash
# make bench: figures measured side by side in one run, with their peers.
# Prints a table and writes the same figures as JSON lines to
# build/bench/bench.jsonl.  Timings live here, never in the tests.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
OUTDIR=$B/bench
mkdir -p "$OUTDIR"
JSON=$OUTDIR/bench.jsonl
: >"$JSON"
TMP=$(mktemp -d /tmp/memvisor-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

BOOT_RUNS=${BOOT_RUNS:-10}
TPUT_RUNS=${TPUT_RUNS:-5}
TPUT_ARGS=${TPUT_ARGS:-"size=256M ws=64M passes=40"}

[ -e /dev/kvm ] || { echo "bench: /dev/kvm does not exist" >&2; exit 1; }

kvm_provider() {
	local m
	for m in kvm_pvm kvm_intel kvm_amd; do
		[ -d /sys/module/$m ] && { echo $m; return; }
	done
	echo unknown
}

# median of numbers on stdin, and min and max: prints "median min max"
stats() {
	sort -g | awk '{a[NR]=$1} END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
		printf "%.3f %.3f %.3f\n", m, a[1], a[NR] }'
}

emit() { echo "$1" >>"$JSON"; }

# field FILE KEY [LINE]: KEY's value in the first line of FILE that starts
# with LINE (default "RESULT "); fails if there is none.
field() {
	local v line=${3:-RESULT }
	v=$(grep -m1 "^\(\[[^]]*\] \)\?$line" "$1" | tr ' ' '\n' | sed -n "s/^$2=//p")
	[ -n "$v" ] || { echo "bench: no $2 in the '$line' line of $1:" >&2; cat "$1" >&2; return 1; }
	echo "$v"
}

echo "memvisor bench, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "  kernel: $(uname -r), /dev/kvm from: $(kvm_provider)"
emit "{\"bench\":\"machine\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\",\"kernel\":\"$(uname -r)\",\"kvm\":\"$(kvm_provider)\"}"

# ---- boot time -----------------------------------------------------------------
echo
echo "== boot: vmm run --mem 64M --append workload=hello ($BOOT_RUNS runs)"
: >"$TMP/work"; : >"$TMP/exit"; : >"$TMP/wall"
for _ in $(seq "$BOOT_RUNS"); do
	s=$(date +%s%N)
	"$B/vmm" run --mem 64M --append "workload=hello" >/dev/null 2>"$TMP/err"
	e=$(date +%s%N)
	echo "scale=3; ($e - $s) / 1000000" | bc >>"$TMP/wall"
	sed -n 's/.*workload started at \([0-9.]*\) ms.*/\1/p' "$TMP/err" >>"$TMP/work"
	sed -n 's/.*exited with code 0 at \([0-9.]*\) ms after VMM start.*/\1/p' "$TMP/err" >>"$TMP/exit"
done
read -r wm wmin wmax < <(stats <"$TMP/work")
read -r em emin emax < <(stats <"$TMP/exit")
read -r pm pmin pmax < <(stats <"$TMP/wall")
printf "  %-36s median %8.2f ms   (min %.2f, max %.2f)\n" "VMM start -> workload start" "$wm" "$wmin" "$wmax"
printf "  %-36s median %8.2f ms   (min %.2f, max %.2f)\n" "VMM start -> guest exit" "$em" "$emin" "$emax"
printf "  %-36s median %8.2f ms   (min %.2f, max %.2f)\n" "whole vmm process (wall)" "$pm" "$pmin" "$pmax"
emit "{\"bench\":\"boot\",\"runs\":$BOOT_RUNS,\"to_workload_ms\":$wm,\"to_exit_ms\":$em,\"process_wall_ms\":$pm}"

# ---- warm read throughput: guest against the same loop as a host process --------
echo
echo "== memstress read throughput, warm ($TPUT_ARGS), $TPUT_RUNS runs each, interleaved"
: >"$TMP/g"; : >"$TMP/h"; : >"$TMP/gp50"; : >"$TMP/hp50"
for _ in $(seq "$TPUT_RUNS"); do
	"$B/vmm" run --mem 512M --append "workload=memstress $TPUT_ARGS" >"$TMP/gout" 2>/dev/null
	"$B/memstress-host" $TPUT_ARGS >"$TMP/hout"
	field "$TMP/gout" mb_per_s >>"$TMP/g"
	field "$TMP/gout" p50_ns >>"$TMP/gp50"
	field "$TMP/hout" mb_per_s >>"$TMP/h"
	field "$TMP/hout" p50_ns >>"$TMP/hp50"
done
read -r gm gmin gmax < <(stats <"$TMP/g")
read -r hm hmin hmax < <(stats <"$TMP/h")
read -r gp _ _ < <(stats <"$TMP/gp50")
read -r hp _ _ < <(stats <"$TMP/hp50")
ratio=$(echo "scale=3; $gm / $hm" | bc | sed "s/^\./0./")
printf "  %-36s median %8.0f MiB/s (min %.0f, max %.0f), page read p50 %.0f ns\n" "guest, ring 3 under KVM" "$gm" "$gmin" "$gmax" "$gp"
printf "  %-36s median %8.0f MiB/s (min %.0f, max %.0f), page read p50 %.0f ns\n" "host process, same loop" "$hm" "$hmin" "$hmax" "$hp"
printf "  %-36s %s   (goal: within 10%%, i.e. >= 0.90)\n" "ratio guest/host" "$ratio"
emit "{\"bench\":\"memstress_warm\",\"args\":\"$TPUT_ARGS\",\"runs\":$TPUT_RUNS,\"guest_mb_per_s\":$gm,\"host_mb_per_s\":$hm,\"ratio\":$ratio,\"guest_p50_ns\":$gp,\"host_p50_ns\":$hp}"
# ---- fault service: zero-fill and swap-in, beside their floors -----------------
SWAPDIR=$(mktemp -d /var/tmp/memvisor-bench.XXXXXX)
trap 'rm -rf "$TMP" "$SWAPDIR"' EXIT
echo
echo "== guest-observed fault latency (guest rdtsc per page), and the floors under it"
"$B/vmm" run --mem 512M --append "workload=touch size=256M" >"$TMP/zf" 2>/dev/null
zp50=$(field "$TMP/zf" p50_ns); zp99=$(field "$TMP/zf" p99_ns); zmax=$(field "$TMP/zf" max_ns)
zrate=$(field "$TMP/zf" pages_per_s)
"$B/vmm" run --swap-dir "$SWAPDIR" --host-mem 96M --prefetch 1 --mem 384M \
	--append "workload=memstress size=256M ws=256M order=random secs=5" >"$TMP/sr" 2>/dev/null
rp50=$(field "$TMP/sr" p50_ns); rp99=$(field "$TMP/sr" p99_ns); rmax=$(field "$TMP/sr" max_ns)
"$B/vmm" run --swap-dir "$SWAPDIR" --host-mem 96M --mem 384M \
	--append "workload=memstress size=256M ws=256M passes=2" >"$TMP/ss" 2>/dev/null
smbs=$(field "$TMP/ss" mb_per_s)
"$B/mmbench" "$SWAPDIR" 65536 >"$TMP/mb"
read_p50=$(field "$TMP/mb" p50_us "read "); read_p99=$(field "$TMP/mb" p99_us "read ")
direct=$(field "$TMP/mb" direct "read ")
uffd_p50=$(field "$TMP/mb" p50_us "uffd "); uffd_p99=$(field "$TMP/mb" p99_us "uffd ")
us() { echo "scale=1; $1 / 1000" | bc | sed 's/^\./0./'; }
seq_us=$(echo "scale=2; 4096 * 1000000 / ($smbs * 1048576)" | bc | sed 's/^\./0./')
floor=$(echo "scale=1; $uffd_p50 + $read_p50" | bc)
rratio=$(echo "scale=2; ($rp50 / 1000) / $floor" | bc | sed 's/^\./0./')
printf "  %-44s p50 %7s us  p99 %8s us  max %8s us  (%s pages/s)\n" "zero-fill first touch (touch, fault-around 16)" "$(us "$zp50")" "$(us "$zp99")" "$(us "$zmax")" "$zrate"
printf "  %-44s p50 %7s us  p99 %8s us  max %8s us\n" "swap-in, random page, prefetch 1" "$(us "$rp50")" "$(us "$rp99")" "$(us "$rmax")"
printf "  %-44s %s us a page (%s MiB/s)\n" "swap-in, sequential pass, prefetch 16" "$seq_us" "$smbs"
printf "  %-44s p50 %7s us  p99 %8s us  (O_DIRECT=%s)\n" "raw 4 KiB io_uring read, QD1, swap dir" "$read_p50" "$read_p99" "$direct"
printf "  %-44s p50 %7s us  p99 %8s us\n" "bare userfaultfd round trip (UFFDIO_COPY)" "$uffd_p50" "$uffd_p99"
printf "  %-44s %s   (goal: <= 1.3)\n" "random swap-in p50 / (uffd + read) p50" "$rratio"
emit "{\"bench\":\"faults\",\"zero_fill_p50_ns\":$zp50,\"zero_fill_p99_ns\":$zp99,\"zero_fill_max_ns\":$zmax,\"swapin_random_p50_ns\":$rp50,\"swapin_random_p99_ns\":$rp99,\"swapin_random_max_ns\":$rmax,\"swapin_seq_us_per_page\":$seq_us,\"read_qd1_p50_us\":$read_p50,\"uffd_rtt_p50_us\":$uffd_p50,\"ratio_random_swapin_to_floor\":$rratio}"

echo
echo "JSON lines: $JSON"
