#!/usr/bin/env bash
# make demo: three overcommitted VMs in one VMM process (768 MiB of guests
# on a 384 MiB host budget), with a live table of what the memory manager
# does each second: host state, free memory, and per VM consumed memory,
# compressed and swapped memory, and swap traffic.  Every guest checks its own memory
# (verify) or times it (memstress); nothing is lost, nobody is killed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
OUT=$B/demo
STATS=$OUT/stats.jsonl
SECS=${DEMO_SECS:-12}
mkdir -p "$OUT"
: >"$STATS"

[ -e /dev/kvm ] || { echo "demo: /dev/kvm does not exist: memvisor needs KVM" >&2; exit 1; }

cat <<TXT
memvisor demo: 3 VMs x 256 MiB = 768 MiB of guest memory on a 384 MiB host budget (overcommit 2).
  web    memstress: fills 192M, then reads a 48M working set for ${SECS} s (fits: little swapping)
  db     verify: writes 200M of seeded text, reads it all back twice (must find 0 bad pages);
         text compresses, so much of it waits in db's compression cache instead of the swap file
  batch  memstress: fills 192M and reads all of it for ${SECS} s (does not fit: keeps swapping)
In the hard state the VMM takes the idlest memory: pages that compress to half a page
stay in a compression cache, the rest go to per-VM swap files. In the low state it also
holds faults until memory is back; VMs are never killed or paused. Stats: $STATS

TXT
"$B/vmm" run --host-mem 384M --stats "$STATS" \
	--vm name=web,mem=256M --append "workload=memstress size=192M ws=48M secs=$SECS" \
	--vm name=db,mem=256M --append "workload=verify size=200M seed=42 passes=2 pattern=text" \
	--vm name=batch,mem=256M --append "workload=memstress size=192M ws=192M secs=$SECS" \
	>"$OUT/console.txt" 2>"$OUT/vmm.txt" &
VMM=$!

# Follow the stats file: one table row per second.
python3 - "$STATS" "$VMM" <<'PY'
import json, os, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
print(f"{'t(s)':>5} {'state':>5} {'free':>6} |" + "".join(
    f" {n:>5}: {'cons':>5} {'zip':>5} {'swcur':>5} {'in/s':>6} {'out/s':>6} |" for n in ("web", "db", "batch")))
pos, block = 0, {}
def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while True:
    with open(path) as f:
        f.seek(pos)
        data = f.read()
        # only whole lines
        cut = data.rfind("\n") + 1
        pos += cut
    for line in data[:cut].splitlines():
        r = json.loads(line)
        if "vm" in r:
            block[r["vm"]] = r
        elif r.get("host"):
            row = f"{r['t']:5.1f} {r['state']:>5} {r['free_mb']:6.1f} |"
            for n in ("web", "db", "batch"):
                v = block.get(n)
                if v is None:
                    row += " " * 43 + "|"
                    continue
                row += (f" {'':>5}  {v['consumed_mb']:5.0f} {v['zip_mb']:5.0f} {v['swcur_mb']:5.0f} "
                        f"{v['swr_s']:6.0f} {v['sww_s']:6.0f} |")
            print(row, flush=True)
            block = {}
    if not alive() and not data:
        break
    time.sleep(0.3)
PY
wait $VMM
rc=$?
echo
echo "guest results:"
grep RESULT "$OUT/console.txt" | sed 's/^/  /'
echo "VMM messages (stderr):"
sed 's/^/  /' "$OUT/vmm.txt"
echo
echo "MiB columns: cons = consumed host memory, zip = guest memory in the compression cache"
echo "(uncompressed size), swcur = in the swap file; in/s, out/s = pages swapped per second."
echo "vmm exit status: $rc (0: every VM exited 0)"
exit $rc
