#!/usr/bin/env bash
# Sharing under pressure, as t_sharing_works_under_pressure runs it, with
# the host budget as a parameter: two VMs hold the same 100 MiB (workload
# dup, 12 s) on a budget they overflow; the scanner crawls at 100 pages a
# second until the host first reaches hard or low, then runs at 100000.
# Prints what sharing saved each second (the host's pshare_saving_mb),
# how many eviction victims were shared rather than stored
# (share_victims), and the guests' read passes.
# usage: scripts/share-pressure.sh VMM HOST_MEM   (e.g. build/vmm 130M)
set -u
VMM=${1:?usage: share-pressure.sh VMM HOST_MEM}
HM=${2:?usage: share-pressure.sh VMM HOST_MEM}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/memvisor-share-pressure.XXXXXX)
trap 'kill $P 2>/dev/null; rm -rf "$W"' EXIT
wl="workload=dup size=100M seed=11 secs=12 rewrite=2"
"$VMM" run --control "$W/c.sock" --host-mem "$HM" --share-rate 100 --share-cpu 100 --stats "$W/s.jsonl" \
	--vm name=a,mem=128M --append "$wl" --vm name=b,mem=128M --append "$wl" >"$W/out" 2>"$W/err" &
P=$!
for _ in $(seq 100); do
	grep -Eq "host memory state [a-z]+ -> (hard|low)" "$W/err" && break
	sleep 0.1
done
"$ROOT/build/vmmctl" --control "$W/c.sock" scan-rate 100000 >/dev/null
wait $P
echo "vmm exit $?"
python3 - "$W/s.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
host = [r for r in rows if r.get("host") and r["vms_running"] == 2]
vms = [r for r in rows if "vm" in r]
last = {v: [r for r in vms if r["vm"] == v][-1] for v in "ab"}
print("saving MiB each second:", " ".join("%.0f" % r["pshare_saving_mb"] for r in host))
print("victims shared:", [last[v].get("share_victims", "n/a") for v in "ab"],
      "merges:", [last[v]["share_merges"] for v in "ab"])
PY
grep -ho "passes=[0-9]* .*bad_pages=[0-9]*" "$W/out"
