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

. "$ROOT/scripts/machine.sh"

# median of numbers on stdin, and min and max: prints "median min max"
stats() {
	sort -g | awk '{a[NR]=$1} END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
		printf "%.3f %.3f %.3f\n", m, a[1], a[NR] }'
}

emit() { echo "$1" >>"$JSON"; }
# ratio A B: A / B to two places, "?" without a B
ratio() { if [ -n "$2" ] && [ "$2" != 0 ]; then echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; else echo "?"; fi; }

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
"$B/vmm" run --swap-dir "$SWAPDIR" --host-mem 96M --mem 384M \
	--append "workload=memstress size=256M ws=256M order=random secs=5" >"$TMP/sr" 2>/dev/null
rp50=$(field "$TMP/sr" p50_ns); rp99=$(field "$TMP/sr" p99_ns); rmax=$(field "$TMP/sr" max_ns)
"$B/vmm" run --fault-poll-us 0 --swap-dir "$SWAPDIR" --host-mem 96M --mem 384M \
	--append "workload=memstress size=256M ws=256M order=random secs=5" >"$TMP/sr0" 2>/dev/null
r0p50=$(field "$TMP/sr0" p50_ns); r0p99=$(field "$TMP/sr0" p99_ns)
"$B/vmm" run --swap-dir "$SWAPDIR" --host-mem 96M --mem 384M \
	--append "workload=memstress size=256M ws=256M passes=2" >"$TMP/ss" 2>/dev/null
smbs=$(field "$TMP/ss" mb_per_s)
"$B/mmbench" "$SWAPDIR" 65536 >"$TMP/mb"
read_p50=$(field "$TMP/mb" p50_us "read "); read_p99=$(field "$TMP/mb" p99_us "read ")
direct=$(field "$TMP/mb" direct "read ")
uffd_p50=$(field "$TMP/mb" p50_us "uffd "); uffd_p99=$(field "$TMP/mb" p99_us "uffd ")
spin_p50=$(field "$TMP/mb" p50_us "uffd_spin "); spin_p99=$(field "$TMP/mb" p99_us "uffd_spin ")
us() { echo "scale=1; $1 / 1000" | bc | sed 's/^\./0./'; }
seq_us=$(echo "scale=2; 4096 * 1000000 / ($smbs * 1048576)" | bc | sed 's/^\./0./')
floor=$(echo "scale=1; $uffd_p50 + $read_p50" | bc)
rratio=$(echo "scale=2; ($rp50 / 1000) / $floor" | bc | sed 's/^\./0./')
printf "  %-44s p50 %7s us  p99 %8s us  max %8s us  (%s pages/s)\n" "zero-fill first touch (touch, window 16-512)" "$(us "$zp50")" "$(us "$zp99")" "$(us "$zmax")" "$zrate"
printf "  %-44s p50 %7s us  p99 %8s us  max %8s us\n" "swap-in, random page (window stays 1)" "$(us "$rp50")" "$(us "$rp99")" "$(us "$rmax")"
printf "  %-44s p50 %7s us  p99 %8s us\n" "same, fault thread never spins (poll-us 0)" "$(us "$r0p50")" "$(us "$r0p99")"
printf "  %-44s %s us a page (%s MiB/s)\n" "sequential passes on a 96M budget" "$seq_us" "$smbs"
printf "  %-44s p50 %7s us  p99 %8s us  (O_DIRECT=%s)\n" "raw 4 KiB io_uring read, QD1, swap dir" "$read_p50" "$read_p99" "$direct"
printf "  %-44s p50 %7s us  p99 %8s us\n" "bare userfaultfd round trip (UFFDIO_COPY)" "$uffd_p50" "$uffd_p99"
printf "  %-44s p50 %7s us  p99 %8s us\n" "same, handler spinning instead of asleep" "$spin_p50" "$spin_p99"
printf "  %-44s %s   (goal: <= 1.3)\n" "random swap-in p50 / (uffd + read) p50" "$rratio"
emit "{\"bench\":\"faults\",\"zero_fill_p50_ns\":$zp50,\"zero_fill_p99_ns\":$zp99,\"zero_fill_max_ns\":$zmax,\"swapin_random_p50_ns\":$rp50,\"swapin_random_p99_ns\":$rp99,\"swapin_random_max_ns\":$rmax,\"swapin_random_nopoll_p50_ns\":$r0p50,\"swapin_seq_us_per_page\":$seq_us,\"read_qd1_p50_us\":$read_p50,\"uffd_rtt_p50_us\":$uffd_p50,\"uffd_spin_rtt_p50_us\":$spin_p50,\"ratio_random_swapin_to_floor\":$rratio}"


# ---- --swap-encrypt: the same swap-in runs sealed, beside the plain ones ---------
echo
echo "== swap encryption (--swap-encrypt, XChaCha20-Poly1305): same runs as above, sealed"
"$B/vmm" run --swap-encrypt --swap-dir "$SWAPDIR" --host-mem 96M --mem 384M \
	--append "workload=memstress size=256M ws=256M order=random secs=5" >"$TMP/esr" 2>/dev/null
erp50=$(field "$TMP/esr" p50_ns); erp99=$(field "$TMP/esr" p99_ns)
"$B/vmm" run --swap-encrypt --swap-dir "$SWAPDIR" --host-mem 96M --mem 384M \
	--append "workload=memstress size=256M ws=256M passes=2" >"$TMP/ess" 2>/dev/null
esmbs=$(field "$TMP/ess" mb_per_s)
seal_p50=$(field "$TMP/mb" p50_us "seal "); open_p50=$(field "$TMP/mb" p50_us "open ")
printf "  %-44s plain p50 %7s us  sealed p50 %7s us  (x%s; p50s are histogram buckets, 6.25%% wide)\n" "swap-in, random page" "$(us "$rp50")" "$(us "$erp50")" "$(ratio "$erp50" "$rp50")"
printf "  %-44s plain %8s MiB/s  sealed %8s MiB/s  (x%s)\n" "sequential passes on a 96M budget" "$smbs" "$esmbs" "$(ratio "$esmbs" "$smbs")"
printf "  %-44s seal p50 %6s us  open p50 %6s us\n" "one 4 KiB page (mmbench, one core)" "$seal_p50" "$open_p50"
emit "{\"bench\":\"swap_encrypt\",\"swapin_random_p50_ns\":$rp50,\"swapin_random_sealed_p50_ns\":$erp50,\"swapin_random_sealed_p99_ns\":$erp99,\"seq_mb_per_s\":$smbs,\"seq_sealed_mb_per_s\":$esmbs,\"seal_p50_us\":$seal_p50,\"open_p50_us\":$open_p50}"


# ---- the kernel's swap as peer: host swap on a swap file, set up here ---------
HOST_SWAP=$SWAPDIR/host.swap
CG=/sys/fs/cgroup/memory/memvisor-bench-$$
SLOW=$SWAPDIR/slow          # scripts/slowdisk.sh: a throttled loop device, for the slow-disk runs
ZSW=/sys/module/zswap/parameters
zswap_saved=""
KSM=/sys/kernel/mm/ksm
ksm_saved=""
# Put back the zswap and KSM settings a section changed (no-ops when none did).
restore_zswap() {
	[ -n "$zswap_saved" ] || return 0
	echo "${zswap_saved#* }" >$ZSW/compressor 2>/dev/null || true
	echo "${zswap_saved%% *}" >$ZSW/enabled
	zswap_saved=""
}
restore_ksm() {
	local r p m
	[ -n "$ksm_saved" ] || return 0
	read -r r p m <<<"$ksm_saved"
	echo "$r" >$KSM/run; echo "$p" >$KSM/pages_to_scan; echo "$m" >$KSM/sleep_millisecs
	ksm_saved=""
}
cleanup() {
	# Every host setting the bench changed goes back as it was.
	restore_ksm
	restore_zswap
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	grep -q "^$HOST_SWAP " /proc/swaps && swapoff "$HOST_SWAP"
	grep -q "^$SLOW/host.swap " /proc/swaps && swapoff "$SLOW/host.swap"
	"$ROOT/scripts/slowdisk.sh" down "$SLOW" 2>/dev/null || true
	rm -rf "$TMP" "$SWAPDIR"
}
trap cleanup EXIT
swap_ok=1
if ! { fallocate -l 1G "$HOST_SWAP" && chmod 600 "$HOST_SWAP" && mkswap "$HOST_SWAP" >/dev/null &&
       swapon "$HOST_SWAP"; } 2>"$TMP/swaperr"; then
	swap_ok=0
	echo "bench: cannot turn on host swap for the kernel peers: $(cat "$TMP/swaperr")" >&2
fi

# secs_since T0: seconds since T0 (from date +%s%N), one decimal
secs_since() { echo "scale=1; ($(date +%s%N) - $1) / 1000000000" | bc | sed 's/^\./0./'; }

# in_cgroup OUT CMD...: CMD under a cgroup-v1 memory limit of $BUDGET MiB, output to OUT,
# at most 300 s.  Sets PEER_RC (its exit status), PEER_OOM (the cgroup's OOM kills),
# PEER_PEAK_MB (the most memory the group held: proof the limit held) and PEER_SECS_TAKEN; returns 1, with the reason in $TMP/cgerr, when the cgroup cannot be made.
in_cgroup() {
	local out=$1 t0
	shift
	{ mkdir "$CG" && echo $((BUDGET << 20)) >"$CG/memory.limit_in_bytes"; } 2>"$TMP/cgerr" || return 1
	t0=$(date +%s%N)
	# In the background and waited for quietly, so that bash's "Killed" notice stays out of the table.
	timeout 300 sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$@" >"$out" 2>&1 &
	wait $! 2>/dev/null && PEER_RC=0 || PEER_RC=$?
	PEER_SECS_TAKEN=$(secs_since "$t0")
	PEER_OOM=$(awk '/^oom_kill / {print $2}' "$CG/memory.oom_control")
	PEER_PEAK_MB=$(( $(cat "$CG/memory.max_usage_in_bytes") >> 20 ))
	rmdir "$CG"
}

# read_ms over pages_read of a RESULT line, in us a page
per_page() { echo "scale=2; $(field "$1" read_ms) * 1000 / $(field "$1" pages_read)" | bc | sed 's/^\./0./'; }

SEQ_RUNS=${SEQ_RUNS:-3}
SEQ_ARGS="workload=memstress size=256M ws=256M passes=1 pageout=1"
echo
echo "== sequential swap-in: all 256 MiB swapped out, then one read pass ($SEQ_RUNS runs each, interleaved)"
: >"$TMP/sq_mv"; : >"$TMP/sq_k"; : >"$TMP/sq_p"
for _ in $(seq "$SEQ_RUNS"); do
	"$B/vmm" run --swap-dir "$SWAPDIR" --mem 384M --append "$SEQ_ARGS" >"$TMP/o" 2>/dev/null
	per_page "$TMP/o" >>"$TMP/sq_mv"
	if [ $swap_ok = 1 ]; then
		"$B/vmm" run --swap-backend kernel --swap-dir "$SWAPDIR" --mem 384M --append "$SEQ_ARGS" \
			>"$TMP/o" 2>/dev/null
		per_page "$TMP/o" >>"$TMP/sq_k"
		"$B/memstress-host" $SEQ_ARGS >"$TMP/o"
		per_page "$TMP/o" >>"$TMP/sq_p"
	fi
done
read -r sq_mv sq_mv_min sq_mv_max < <(stats <"$TMP/sq_mv")
printf "  %-44s median %6s us a page (min %s, max %s)\n" "memvisor: swap file, window to 128, readahead" "$sq_mv" "$sq_mv_min" "$sq_mv_max"
if [ $swap_ok = 1 ]; then
	read -r sq_k sq_k_min sq_k_max < <(stats <"$TMP/sq_k")
	read -r sq_p sq_p_min sq_p_max < <(stats <"$TMP/sq_p")
	sq_ratio=$(echo "scale=2; $sq_mv / $sq_k" | bc | sed 's/^\./0./')
	printf "  %-44s median %6s us a page (min %s, max %s)\n" "peer: MADV_PAGEOUT + kernel swap-in (guest)" "$sq_k" "$sq_k_min" "$sq_k_max"
	printf "  %-44s median %6s us a page (min %s, max %s)\n" "reference: same, plain host process" "$sq_p" "$sq_p_min" "$sq_p_max"
	printf "  %-44s %s   (goal: <= 1.0)\n" "ratio memvisor / kernel-mechanism peer" "$sq_ratio"
	emit "{\"bench\":\"seq_swapin\",\"runs\":$SEQ_RUNS,\"memvisor_us_per_page\":$sq_mv,\"kernel_mechanism_us_per_page\":$sq_k,\"host_process_us_per_page\":$sq_p,\"ratio\":$sq_ratio}"
else
	echo "  peer: NOT MEASURED (no host swap)"
	emit "{\"bench\":\"seq_swapin\",\"runs\":$SEQ_RUNS,\"memvisor_us_per_page\":$sq_mv,\"kernel_mechanism_us_per_page\":null}"
fi

# ---- fig5 (c) under the kernel's policy: cgroup-v1 limit, our reclaim idle ------
PEER_SECS=${PEER_SECS:-15}
VM_MEM=384; BUDGET=512
C_ARGS="workload=memstress size=336M ws=288M secs=$PEER_SECS"
# A seed each: the VMs' pages differ, so sharing does not shrink the experiment.
vms_args=(--vm name=vm1,mem=${VM_MEM}M --append "$C_ARGS seed=1" --vm name=vm2,mem=${VM_MEM}M --append "$C_ARGS seed=2")
echo
echo "== fig5 (c): 2 VMs x ${VM_MEM} MiB, memstress size=336M ws=288M for ${PEER_SECS} s, on ${BUDGET} MiB"
t0=$(date +%s%N)
set +e
"$B/vmm" run --swap-dir "$SWAPDIR" --host-mem ${BUDGET}M --stats "$TMP/mv.jsonl" "${vms_args[@]}" >"$TMP/mvc" 2>&1
mv_rc=$?
set -e
mv_s=$(secs_since "$t0")
mv_done=$(grep -c "RESULT workload=memstress" "$TMP/mvc" || true)
mv_swr=$(grep '"vm":' "$TMP/mv.jsonl" | tail -2 | sed -n 's/.*"swr":\([0-9]*\).*/\1/p' | paste -sd+ | bc)
printf "  %-44s exit %d after %s s, %d of 2 VMs finished, %s swap-ins\n" "memvisor: --host-mem ${BUDGET}M" "$mv_rc" "$mv_s" "$mv_done" "$mv_swr"
pin0=$(awk '/^pswpin/ {print $2}' /proc/vmstat); pout0=$(awk '/^pswpout/ {print $2}' /proc/vmstat)
# Our budget is far above the VMs' size: our reclaim never starts; the kernel's limit rules.
if [ $swap_ok = 1 ] && in_cgroup "$TMP/kc" "$B/vmm" run --swap-dir "$SWAPDIR" --host-mem 4G "${vms_args[@]}"; then
	k_rc=$PEER_RC; k_s=$PEER_SECS_TAKEN; oom=$PEER_OOM
	k_done=$(grep -c "RESULT workload=memstress" "$TMP/kc" || true)
	pin=$(( $(awk '/^pswpin/ {print $2}' /proc/vmstat) - pin0 ))
	pout=$(( $(awk '/^pswpout/ {print $2}' /proc/vmstat) - pout0 ))
	case $k_rc in
	0) k_what="ran to the end" ;;
	124) k_what="still running at 300 s, stopped by the bench" ;;
	137) k_what="killed (SIGKILL), cgroup OOM kills: $oom" ;;
	*) k_what="exit $k_rc" ;;
	esac
	printf "  %-44s %s after %s s, %d of 2 VMs finished; host swap: %d pages out, %d in\n" \
		"peer: cgroup-v1 limit ${BUDGET}M, host swap" "$k_what" "$k_s" "$k_done" "$pout" "$pin"
	printf "  %-44s memvisor %d/2, kernel policy %d/2\n" "VMs that survived to their RESULT" "$mv_done" "$k_done"
	emit "{\"bench\":\"kernel_policy\",\"budget_mb\":$BUDGET,\"memvisor_exit\":$mv_rc,\"memvisor_vms_done\":$mv_done,\"peer_exit\":$k_rc,\"peer_vms_done\":$k_done,\"peer_oom_kills\":$oom,\"peer_seconds\":$k_s,\"peer_pswpout\":$pout,\"peer_pswpin\":$pin}"
else
	echo "  peer: NOT MEASURED (no host swap, or no cgroup-v1 memory controller: $(cat "$TMP/cgerr" 2>/dev/null))"
fi

# ---- compression cache ----------------------------------------------------------
echo
echo "== compression cache, per 4 KiB page (build/zipbench: zstd level -1, kept if <= 2048 bytes)"
"$B/zipbench" >"$TMP/zb"
for pat in random zero text; do
	line=$(grep " pattern=$pat " "$TMP/zb")
	zf() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	printf "  %-8s compress p50 %6s us  decompress p50 %6s us  ratio %7s  kept %5s%%  same-filled %5s%%\n" \
		"$pat" "$(zf compress_us)" "$(zf decompress_us)" "$(zf ratio)" "$(zf kept_pct)" "$(zf same_pct)"
	emit "{\"bench\":\"zip_page\",\"pattern\":\"$pat\",\"compress_us\":$(zf compress_us),\"decompress_us\":$(zf decompress_us),\"ratio\":$(zf ratio),\"kept_pct\":$(zf kept_pct)}"
done

echo
echo "== guest-observed fault latency by pattern: 128 MiB swapped out (pageout), then random reads"
for pat in text zero random text0; do
	"$B/vmm" run $([ $pat = text0 ] && echo --fault-poll-us 0) --swap-dir "$SWAPDIR" --vm name=vm0,mem=256M,zip_max_pct=50 \
		--append "workload=memstress size=128M pattern=${pat%0} order=random passes=1 pageout=1" >"$TMP/fl_$pat" 2>/dev/null
done
zp50=$(field "$TMP/fl_text" p50_ns); zp99=$(field "$TMP/fl_text" p99_ns)
z0p50=$(field "$TMP/fl_text0" p50_ns); z0p99=$(field "$TMP/fl_text0" p99_ns)
sp50=$(field "$TMP/fl_zero" p50_ns); sp99=$(field "$TMP/fl_zero" p99_ns)
fp50=$(field "$TMP/fl_random" p50_ns); fp99=$(field "$TMP/fl_random" p99_ns)
printf "  %-44s p50 %7s us  p99 %8s us\n" "text: decompress from the cache" "$(us "$zp50")" "$(us "$zp99")"
printf "  %-44s p50 %7s us  p99 %8s us\n" "zero: same-filled, zero page mapped" "$(us "$sp50")" "$(us "$sp99")"
printf "  %-44s p50 %7s us  p99 %8s us\n" "random: read back from the swap file" "$(us "$fp50")" "$(us "$fp99")"
printf "  %-44s p50 %7s us  p99 %8s us\n" "text, fault thread never spins (poll-us 0)" "$(us "$z0p50")" "$(us "$z0p99")"
printf "  %-44s p50 %7s us  (from the fault floors above)\n" "bare userfaultfd round trip" "$uffd_p50"
printf "  %-44s p50 %7s us  (the same, handler spinning)\n" "bare userfaultfd round trip, spinning" "$spin_p50"
zratio=$(echo "scale=2; ($zp50 / 1000) / $uffd_p50" | bc | sed 's/^\./0./')
z0ratio=$(echo "scale=2; ($z0p50 / 1000) / $uffd_p50" | bc | sed 's/^\./0./')
zsratio=$(echo "scale=2; ($zp50 / 1000) / $spin_p50" | bc | sed 's/^\./0./')
printf "  %-44s %s   (goal: <= 1.2)\n" "decompress fault p50 / uffd round trip p50" "$zratio"
printf "  %-44s %s   (the fault thread never spinning)\n" "same, poll-us 0 / uffd round trip" "$z0ratio"
printf "  %-44s %s   (both spinning: what the guest's exit adds)\n" "decompress fault p50 / spinning round trip" "$zsratio"
emit "{\"bench\":\"zip_faults\",\"decompress_p50_ns\":$zp50,\"decompress_p99_ns\":$zp99,\"same_p50_ns\":$sp50,\"file_p50_ns\":$fp50,\"uffd_p50_us\":$uffd_p50,\"ratio_to_uffd\":$zratio,\"decompress_nopoll_p50_ns\":$z0p50,\"ratio_nopoll_to_uffd\":$z0ratio,\"uffd_spin_p50_us\":$spin_p50,\"ratio_to_uffd_spin\":$zsratio}"

# fig5 (c) on compressible memory: 2 VMs, memstress pattern=text, on the budget above
# hold=3: each VM goes on reading, untimed, for 3 s after its 15, so that
# neither times its last moments alone on the host (their reads start up to
# ~2 s apart, as their fills end).
ZC_ARGS="workload=memstress size=336M ws=288M secs=$PEER_SECS pattern=text hold=3"
zvms=(--vm name=vm1,mem=${VM_MEM}M --append "$ZC_ARGS seed=1" --vm name=vm2,mem=${VM_MEM}M --append "$ZC_ARGS seed=2")
sum_mbs() { grep "RESULT workload=memstress" "$1" | tr ' ' '\n' | sed -n 's/^mb_per_s=//p' | paste -sd+ | bc; }
# The runs vary (this virtual disk's speed does), so each setting runs
# ZC_RUNS times, alternating, and the medians are compared.
ZC_RUNS=${ZC_RUNS:-3}
# zc_run TAG CMD...: run CMD once, adding its sum to $TMP/TAG.sums (0: no result).
zc_run() {
	local tag=$1 v; shift
	"$@" >"$TMP/$tag.out" 2>/dev/null || true
	v=$(sum_mbs "$TMP/$tag.out")
	echo "${v:-0}" >>"$TMP/$tag.sums"
}
zc_median() { sort -n "$1" | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
zc_all() { paste -sd' ' "$1"; }
# zc_compare TAG DIR [PREFIX...]: ZC_RUNS runs each of compression on and
# off, alternating, swapping to DIR (each run under PREFIX, e.g. the slow
# disk's wrapper); prints both medians with their runs and the ratio, and
# sets zc_on, zc_off and zc_r.
zc_compare() {
	local tag=$1 dir=$2 i; shift 2
	for i in $(seq "$ZC_RUNS"); do
		zc_run "${tag}on" "$@" "$B/vmm" run --swap-dir "$dir" --host-mem "${BUDGET}M" "${zvms[@]}"
		zc_run "${tag}off" "$@" "$B/vmm" run --no-compress --swap-dir "$dir" --host-mem "${BUDGET}M" "${zvms[@]}"
	done
	zc_on=$(zc_median "$TMP/${tag}on.sums"); zc_off=$(zc_median "$TMP/${tag}off.sums")
	zc_r=$(ratio "${zc_on:-0}" "${zc_off:-0}")
	printf "  %-44s %6s MiB/s (runs: %s)\n" "memvisor, compression cache on (10%)" "${zc_on:-none}" "$(zc_all "$TMP/${tag}on.sums")"
	printf "  %-44s %6s MiB/s (runs: %s)\n" "memvisor, --no-compress" "${zc_off:-none}" "$(zc_all "$TMP/${tag}off.sums")"
	printf "  %-44s %s   (goal: >= 3)\n" "ratio on / off, medians" "$zc_r"
}
echo
echo "== fig5 (c) on compressible memory: 2 VMs x ${VM_MEM} MiB, memstress pattern=text for ${PEER_SECS} s, on ${BUDGET} MiB"
echo "   median of $ZC_RUNS runs each, alternating (each run: both VMs' MiB/s summed)"
zc_compare z "$SWAPDIR"
z_on=$zc_on z_off=$zc_off zc_ratio=$zc_r
zs_what="NOT MEASURED (no host swap, or no cgroup-v1 memory controller)"; zs_mbs=null
zs_ok=0
if [ $swap_ok = 1 ] && [ -w $ZSW/enabled ]; then
	zswap_saved="$(cat $ZSW/enabled) $(cat $ZSW/compressor)"
	echo zstd >$ZSW/compressor 2>/dev/null || true
	echo Y >$ZSW/enabled
	zs_comp=$(cat $ZSW/compressor)
	in_cgroup "$TMP/zsw" "$B/vmm" run --no-compress --swap-dir "$SWAPDIR" --host-mem 4G "${zvms[@]}" && zs_ok=1
	restore_zswap
fi
if [ $zs_ok = 1 ]; then
	zs_rc=$PEER_RC; zs_oom=$PEER_OOM
	zs_done=$(grep -c "RESULT workload=memstress" "$TMP/zsw" || true)
	if [ "$zs_done" = 2 ]; then
		zs_mbs=$(sum_mbs "$TMP/zsw"); zs_what="$zs_mbs MiB/s (cgroup peak $PEER_PEAK_MB of $BUDGET MiB, exit $zs_rc)"
	else
		zs_what="exit $zs_rc, $zs_done of 2 VMs finished, cgroup OOM kills: $zs_oom"
	fi
fi
printf "  %-44s %s\n" "peer: cgroup limit + host swap + zswap (${zs_comp:-?})" "$zs_what"
emit "{\"bench\":\"zip_fig5c\",\"on_mb_per_s\":${z_on:-null},\"off_mb_per_s\":${z_off:-null},\"ratio\":${zc_ratio:-null},\"zswap_peer_mb_per_s\":$zs_mbs}"

# The same three runs with every swap file on a slow disk: what the cache is for.
SLOW_IOPS=${SLOW_IOPS:-150}; SLOW_MBPS=${SLOW_MBPS:-120}
echo
echo "== fig5 (c) on compressible memory, swap on a slow disk ($SLOW_IOPS IOPS, $SLOW_MBPS MB/s each way: scripts/slowdisk.sh)"
if "$ROOT/scripts/slowdisk.sh" up "$SLOW" 2048 "$SLOW_IOPS" "$SLOW_MBPS" >/dev/null 2>"$TMP/sderr"; then
	slow() { "$ROOT/scripts/slowdisk.sh" run "$SLOW" "$@"; }
	echo "   median of $ZC_RUNS runs each, alternating"
	zc_compare sz "$SLOW" slow
	sz_on=$zc_on sz_off=$zc_off sz_ratio=$zc_r
	szs_what="NOT MEASURED (no cgroup-v1 memory controller, zswap or swap on the slow disk)"; szs_mbs=null
	if [ -w $ZSW/enabled ] && fallocate -l 1G "$SLOW/host.swap" && chmod 600 "$SLOW/host.swap" &&
	   mkswap "$SLOW/host.swap" >/dev/null && swapon -p 100 "$SLOW/host.swap"; then
		zswap_saved="$(cat $ZSW/enabled) $(cat $ZSW/compressor)"
		echo zstd >$ZSW/compressor 2>/dev/null || true
		echo Y >$ZSW/enabled
		if in_cgroup "$TMP/szsw" "$ROOT/scripts/slowdisk.sh" run "$SLOW" \
			"$B/vmm" run --no-compress --swap-dir "$SLOW" --host-mem 4G "${zvms[@]}"; then
			if [ "$(grep -c "RESULT workload=memstress" "$TMP/szsw")" = 2 ]; then
				szs_mbs=$(sum_mbs "$TMP/szsw")
				szs_what="$szs_mbs MiB/s (cgroup peak $PEER_PEAK_MB of $BUDGET MiB, exit $PEER_RC)"
			else
				szs_what="exit $PEER_RC, cgroup OOM kills: $PEER_OOM"
			fi
		fi
		restore_zswap
		swapoff "$SLOW/host.swap"
	fi
	printf "  %-44s %s\n" "peer: cgroup limit + host swap + zswap, slow" "$szs_what"
	"$ROOT/scripts/slowdisk.sh" down "$SLOW"
	emit "{\"bench\":\"zip_fig5c_slow_disk\",\"iops\":$SLOW_IOPS,\"mb_per_s_disk\":$SLOW_MBPS,\"on_mb_per_s\":${sz_on:-null},\"off_mb_per_s\":${sz_off:-null},\"ratio\":${sz_ratio/\?/null},\"zswap_peer_mb_per_s\":$szs_mbs}"
else
	echo "  NOT MEASURED: $(cat "$TMP/sderr")"
fi

# ---- page sharing: zero pages, against Linux KSM ------------------------------------
SH_SECS=${SH_SECS:-20}
SH_VMS=(--vm name=z1,mem=128M --append "workload=zeroboot secs=$SH_SECS" --vm name=z2,mem=128M --append "workload=zeroboot secs=$SH_SECS"
	--vm name=z3,mem=128M --append "workload=zeroboot secs=$SH_SECS" --vm name=z4,mem=128M --append "workload=zeroboot secs=$SH_SECS")
# secs_to_90 FILE TARGET_PAGES: first time (column 1) at which column 2 reached 90% of the target
secs_to_90() {
	awk -v t="$2" '$2 > max { max = $2 } $2 >= 0.9 * t && !found { at = $1; found = 1 }
		END { if (found) printf "%.1f s", at; else printf "not reached (best %.0f%%)", t ? 100 * max / t : 0 }' "$1"
}
# saved_at SERIES: the saving (MiB) at 5, 10, ... 30 s of a "secs pages" series ("-": the run had ended)
saved_at() {
	awk '{ for (m = 5; m <= 30; m += 5) if ($1 <= m) v[m] = $2; if ($1 > end) end = $1 }
		END { printf "MiB saved at 5/10/15/20/25/30 s:"
		      for (m = 5; m <= 30; m += 5) if (m <= end + 0.5) printf " %d", v[m] / 256; else printf " -" }' "$1"
}
zeroed_pages() { grep "RESULT workload=zeroboot" "$1" | tr ' ' '\n' | sed -n 's/^zeroed_mb=//p' | awk '{ s += $1 } END { print s * 256 }'; }
ksmd_ticks() { awk '{ print $14 + $15 }' /proc/"$(pgrep -x ksmd)"/stat; }
echo
echo "== page sharing, zero pages: 4 VMs x 128 MiB running zeroboot for ${SH_SECS} s (time from VMM start)"
# ksmd, the peer, has no CPU cap: ours is lifted too, so both run at one page rate.
"$B/vmm" run --share-cpu 100 --stats "$TMP/sh.jsonl" "${SH_VMS[@]}" >"$TMP/sh_out" 2>/dev/null
target=$(zeroed_pages "$TMP/sh_out")
python3 - "$TMP/sh.jsonl" >"$TMP/sh_series" <<'PY'
import json, sys
tot = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "vm" in r:
        tot.setdefault(r["t"], 0)
        tot[r["t"]] += r["zero_shared"]
for t in sorted(tot):
    print(t, tot[t])
PY
mv_t90=$(secs_to_90 "$TMP/sh_series" "$target")
mv_cpu=$(tail -n 1 "$TMP/sh.jsonl" | tr ',' '\n' | sed -n 's/"scan_cpu_ms"://p')
mv_nspp=$(tail -n 1 "$TMP/sh.jsonl" | tr ',' '\n' | sed -n 's/"scan_ns_per_page"://p' | tr -d '}')
printf "  %-44s %s; 90%% of %d pages after %s; scanner CPU %s ms (%s ns a page looked at)\n" \
	"memvisor scanner, 20000 pages/s, no CPU cap" "$(saved_at "$TMP/sh_series")" "$target" "$mv_t90" "$mv_cpu" "$mv_nspp"
emit "{\"bench\":\"share_zero\",\"who\":\"memvisor\",\"target_pages\":$target,\"secs_to_90\":\"$mv_t90\",\"cpu_ms\":$mv_cpu}"
# ksm_peer KIND TARGET_FN VMS...: the same VMs with our scanner off and guest RAM
# MADV_MERGEABLE, under ksmd at its defaults and at our rate; prints time
# to 90% of the target (pages, from TARGET_FN on the VMs' output) and ksmd's CPU.
ksm_peer() {
	local kind=$1 target_fn=$2 rate c0 c1 s0 vpid ktarget k_t90 k_cpu label
	shift 2
	if ! [ -w $KSM/run ] || ! pgrep -x ksmd >/dev/null; then
		echo "  KSM peer: NOT MEASURED (no writable $KSM/run or no ksmd)"
		return 0
	fi
	ksm_saved="$(cat $KSM/run) $(cat $KSM/pages_to_scan) $(cat $KSM/sleep_millisecs)"
	for rate in default ours; do
		echo 2 >$KSM/run   # unmerge what an earlier run left
		echo 0 >$KSM/run
		if [ $rate = default ]; then echo 100 >$KSM/pages_to_scan; else echo 400 >$KSM/pages_to_scan; fi
		echo 20 >$KSM/sleep_millisecs
		c0=$(ksmd_ticks)
		echo 1 >$KSM/run
		s0=$(date +%s%N)
		"$B/vmm" run --no-share --ksm "$@" >"$TMP/ksm_out" 2>/dev/null &
		vpid=$!
		: >"$TMP/ksm_series"
		while kill -0 $vpid 2>/dev/null; do
			echo "$(echo "scale=2; ($(date +%s%N) - $s0) / 1000000000" | bc) $(cat $KSM/pages_sharing)" >>"$TMP/ksm_series"
			sleep 0.5
		done
		wait $vpid || true
		c1=$(ksmd_ticks)
		echo 2 >$KSM/run
		ktarget=$($target_fn "$TMP/ksm_out")
		k_t90=$(secs_to_90 "$TMP/ksm_series" "$ktarget")
		k_cpu=$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))
		label="KSM at its defaults (100 pages / 20 ms)"
		[ $rate = ours ] && label="KSM at our rate (400 pages / 20 ms)"
		printf "  %-44s %s; 90%% of %d pages after %s; ksmd CPU %d ms\n" "$label" \
			"$(saved_at "$TMP/ksm_series")" "$ktarget" "$k_t90" "$k_cpu"
		emit "{\"bench\":\"share_$kind\",\"who\":\"ksm_$rate\",\"target_pages\":$ktarget,\"secs_to_90\":\"$k_t90\",\"cpu_ms\":$k_cpu}"
		KSM_T90=${k_t90% s} KSM_CPU=$k_cpu   # the last (our rate) for the caller's ratios
	done
	restore_ksm
}
ksm_peer zero zeroed_pages "${SH_VMS[@]}"
xxh=$("$B/zipbench" 2>/dev/null | sed -n 's/.*xxh3_ns=\([0-9.]*\).*/\1/p' | head -n 1)
[ -n "$xxh" ] && printf "  %-44s %s ns (the floor under a scanned page)\n" "XXH3-64 of one 4 KiB page" "$xxh"

# ---- page sharing: identical pages (dup), against Linux KSM ------------------------
DUP_SECS=${DUP_SECS:-30}
DUP_WL="workload=dup size=120M seed=3 secs=$DUP_SECS rewrite=2"
DUP_VMS=(--vm name=d1,mem=128M --append "$DUP_WL" --vm name=d2,mem=128M --append "$DUP_WL"
	--vm name=d3,mem=128M --append "$DUP_WL" --vm name=d4,mem=128M --append "$DUP_WL")
# Four copies of one content: three of them can go.
dup_pages() { grep -c "RESULT workload=dup" "$1" | awk '{ print ($1 - 1) * 120 * 256 }'; }
echo
echo "== page sharing, identical pages: 4 VMs x 128 MiB running dup size=120M seed=3 rewrite=2 for ${DUP_SECS} s (time from VMM start)"
"$B/vmm" run --share-cpu 100 --stats "$TMP/dup.jsonl" "${DUP_VMS[@]}" >"$TMP/dup_out" 2>/dev/null
target=$(dup_pages "$TMP/dup_out")
python3 - "$TMP/dup.jsonl" "$TMP/dup_series" <<'PY' >"$TMP/dup_costs"
import json, sys
host = [json.loads(l) for l in open(sys.argv[1])]
host = [r for r in host if r.get("host")]
with open(sys.argv[2], "w") as f:
    for r in host:
        print(r["t"], round(r["pshare_saving_mb"] * 256), file=f)
# The first pass only learns hashes: its cost a page is the scan alone.
before = []
for r in host:
    if r["pshare_common_mb"] > 0:
        break
    before.append(r)
scan_ns = before[-1]["scan_cpu_ms"] * 1e6 / before[-1]["scan_pages"] if before else 0
last = [r for r in host if r["vms_running"] == 4][-1]
merges = last["pshare_shared_mb"] * 256
merge_us = (last["scan_cpu_ms"] - before[-1]["scan_cpu_ms"]) * 1e3 / merges if before and merges else 0
print("%.0f %.0f %.1f %.1f %.1f" % (scan_ns, last["scan_cpu_ms"], merge_us, last["pshare_saving_mb"],
                                    last["pshare_common_mb"]))
PY
read -r d_scan_ns d_cpu d_merge_us d_saved d_common <"$TMP/dup_costs"
d_t90=$(secs_to_90 "$TMP/dup_series" "$target")
printf "  %-44s %s; 90%% of %d pages after %s; scanner CPU %s ms\n" \
	"memvisor scanner, 20000 pages/s, no CPU cap" "$(saved_at "$TMP/dup_series")" "$target" "$d_t90" "$d_cpu"
emit "{\"bench\":\"share_dup\",\"who\":\"memvisor\",\"target_pages\":$target,\"secs_to_90\":\"$d_t90\",\"cpu_ms\":$d_cpu,\"scan_ns_per_page\":$d_scan_ns,\"merge_us\":$d_merge_us}"
KSM_T90=""; KSM_CPU=""
ksm_peer dup dup_pages "${DUP_VMS[@]}"
# The goal: the same saving in less than half KSM's time, at the same CPU.
if [[ ${d_t90% s} =~ ^[0-9.]+$ && $KSM_T90 =~ ^[0-9.]+$ ]]; then
	printf "  %-44s time to 90%% %s, CPU %s   (goal: time < 0.5 at no more CPU)\n" "memvisor / KSM at our rate" \
		"$(ratio "${d_t90% s}" "$KSM_T90")" "$(ratio "$d_cpu" "$KSM_CPU")"
else
	printf "  %-44s not comparable: one of them did not reach 90%%\n" "memvisor / KSM at our rate"
fi
printf "  %-44s %s ns a page (first pass, hashing only) against XXH3 alone %s ns: %s x\n" \
	"memvisor scan cost" "$d_scan_ns" "${xxh:-?}" "$(ratio "$d_scan_ns" "${xxh:-0}")"
printf "  %-44s %s us of scanner CPU a guest page merged (compare, mmap, userfaultfd)\n" "memvisor merge cost" "$d_merge_us"

# ---- ballooning: throughput, and the overcommitment sweep (scripts/balloon_bench.sh) ----
"$ROOT/scripts/balloon_bench.sh" "$B" "$JSON"

# ---- Linux boot: memvisor against QEMU -M pc / microvm, in the real-KVM harness ------
# (scripts/linux-boot-bench.sh: one harness run, L1 on QEMU TCG; only its ratios
# mean anything). LINUX_BOOT_RUNS=0 skips it; a failed boot fails the bench.
LINUX_BOOT_RUNS=${LINUX_BOOT_RUNS:-5}
echo
if [ "$LINUX_BOOT_RUNS" = 0 ]; then
	echo "== Linux boot in the real-KVM harness: skipped (LINUX_BOOT_RUNS=0)"
else
	"$ROOT/scripts/linux-boot-bench.sh" -n "$LINUX_BOOT_RUNS" --json "$JSON"
fi

echo
echo "JSON lines: $JSON"
