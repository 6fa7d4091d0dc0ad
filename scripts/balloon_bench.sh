#!/usr/bin/env bash
# The ballooning figures of `make bench` (scripts/bench.sh runs this; it
# also runs alone): inflate and deflate throughput, and the seed paper's
# DVD-store-like sweep of overcommitment with and without the balloon.
# usage: balloon_bench.sh BUILD_DIR JSON_FILE
set -euo pipefail
B=${1:?usage: balloon_bench.sh BUILD_DIR JSON_FILE}
JSON=${2:?usage: balloon_bench.sh BUILD_DIR JSON_FILE}
SWEEP_SECS=${SWEEP_SECS:-8}
TMP=$(mktemp -d /tmp/memvisor-balloon-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
emit() { echo "$1" >>"$JSON"; }

# ---- inflate and deflate: from the target being set to `actual` at it -----------
echo
echo "== balloon: 256 MiB in and out of a 512 MiB guest that wrote 384 MiB and freed it (our guest's driver)"
echo "   timed by the VMM: from the target set (balloon_at) to the driver writing actual = target"
"$B/vmm" run --vm name=b,mem=512M,balloon_at=1:256M --append "workload=balloon secs=3 warm=384M" \
	>"$TMP/in" 2>&1 || true
"$B/vmm" run --vm name=b,mem=512M,balloon=256M,balloon_at=3:0 --append "workload=balloon secs=5 warm=384M" \
	>"$TMP/out" 2>&1 || true
for dir in in out; do
	line=$(grep -m1 "balloon: actual reached the target" "$TMP/$dir" || true)
	what=$([ $dir = in ] && echo inflate || echo deflate)
	if [ -z "$line" ]; then
		echo "  $what: NOT MEASURED (actual never reached the target):"; sed 's/^/    /' "$TMP/$dir" | tail -5
		continue
	fi
	ms=$(echo "$line" | sed -n 's/.* \([0-9.]*\) ms after it was set.*/\1/p')
	mib=$(echo "$line" | sed -n 's/.*flated \([0-9]*\) MiB at.*/\1/p')
	rate=$(echo "$line" | sed -n 's/.* at \([0-9]*\) MiB\/s.*/\1/p')
	printf "  %-10s %4s MiB in %8s ms: %5s MiB/s\n" "$what" "$mib" "$ms" "$rate"
	emit "{\"bench\":\"balloon_$what\",\"mib\":$mib,\"ms\":$ms,\"mib_per_s\":$rate}"
done

# ---- the DVD-store-like sweep ---------------------------------------------------------
# Two VMs of 256 MiB, each a database server (oltp: 96 MiB buffer pool
# taking transactions, 96 MiB of file cache read at start and idle since).
# Overcommitment is guest memory over host memory: --host-mem 512M/x.
echo
echo "== balloon: DVD-store-like sweep, 2 VMs x 256 MiB, oltp db=96M cache=96M for ${SWEEP_SECS} s each,"
echo "   throughput = both VMs' transactions a second; host memory = 512 MiB / overcommitment"
printf "  %-11s %8s  %14s  %14s  %9s  %s\n" "overcommit" "host MiB" "balloon txn/s" "no-balloon" "ratio" "vs 0.5 (balloon, no-balloon)"
base_b=""; base_n=""; at166=""
for x in 0.5 1 1.5 1.66 2 2.5 3; do
	host=$(echo "512 / $x" | bc)
	for mode in balloon no-balloon; do
		flag=$([ $mode = no-balloon ] && echo --no-balloon || true)
		"$B/vmm" run $flag --host-mem "${host}M" \
			--vm name=a,mem=256M --append "workload=oltp db=96M cache=96M secs=$SWEEP_SECS seed=1" \
			--vm name=b,mem=256M --append "workload=oltp db=96M cache=96M secs=$SWEEP_SECS seed=2" \
			>"$TMP/sw" 2>&1 || true
		t=$(grep "RESULT workload=oltp" "$TMP/sw" | tr ' ' '\n' | sed -n 's/^txn_per_s=//p' | awk '{s+=$1} END {print s+0}')
		nres=$(grep -c "RESULT workload=oltp.*bad_pages=0" "$TMP/sw" || true)
		[ "$nres" = 2 ] || { echo "  overcommit $x $mode: a VM did not finish cleanly:"; tail -5 "$TMP/sw" | sed 's/^/    /'; t=0; }
		if [ $mode = balloon ]; then tb=$t; else tn=$t; fi
	done
	[ -n "$base_b" ] || { base_b=$tb; base_n=$tn; }
	rb=$(echo "scale=2; $tb / $base_b" | bc | sed 's/^\./0./'); rn=$(echo "scale=2; $tn / $base_n" | bc | sed 's/^\./0./')
	[ "$x" = 1.66 ] && at166=$rb
	printf "  %-11s %8s  %14s  %14s  %9s  %s, %s\n" "$x" "$host" "$tb" "$tn" \
		"$([ "$tn" != 0 ] && echo "scale=2; $tb / $tn" | bc | sed 's/^\./0./' || echo '?')" "$rb" "$rn"
	emit "{\"bench\":\"balloon_sweep\",\"overcommit\":$x,\"host_mb\":$host,\"balloon_txn_per_s\":$tb,\"no_balloon_txn_per_s\":$tn}"
done
if [ -n "$at166" ]; then
	printf "  at overcommit 1.66 the balloon keeps %s of its throughput at 0.5 (the seed: within about 17%%, i.e. >= 0.83)\n" "$at166"
fi
