#!/usr/bin/env bash
# make demo: five overcommitted VMs in one VMM process (1.25 GiB of guests
# on a 448 MiB host budget), with a live table of what the memory manager
# does each second: host state, free memory and shared-page saving, and
# per VM consumed, shared, ballooned, compressed and swapped memory.
# Every guest checks its own memory (verify, dup, cache) or times it
# (memstress); nothing is lost, nobody is killed.
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
memvisor demo: 5 VMs x 256 MiB = 1.25 GiB of guest memory on a 448 MiB host budget (overcommit 2.9).
  web1, web2  dup: the same 128M in both (one seed, like two VMs booted from one image), read
              for ${SECS} s with a few pages rewritten; the sharing scanner finds the twins and
              keeps one copy (shrd), a write gets the writer its own copy back
  db     verify: writes 200M of seeded text, reads it all back twice (must find 0 bad pages);
         text compresses, so much of it waits in db's compression cache instead of the swap file
  batch  memstress: fills 192M and reads all of it for ${SECS} s (does not fit: keeps swapping)
  files  cache: 160M of page cache (a file server's), idle; when memory runs short the host
         sets its balloon target and files' own balloon driver drops cache and hands the
         pages over (mctl), as ESX's policy picks the idle VM first
Sharing runs in every state (here at 100000 pages a second, to be quick). In the soft state
the balloon takes memory from the VMs the allocation policy picks (fewest shares per page,
idle pages taxed). In the hard state the VMM also takes memory itself: pages that compress
to half a page stay in a compression cache, the rest go to per-VM swap files. In the low
state it also holds faults until memory is back; VMs are never killed or paused.
Stats: $STATS

TXT
"$B/vmm" run --host-mem 448M --share-rate 100000 --stats "$STATS" \
	--vm name=web1,mem=256M --append "workload=dup size=128M seed=9 secs=$SECS rewrite=2" \
	--vm name=web2,mem=256M --append "workload=dup size=128M seed=9 secs=$SECS rewrite=2" \
	--vm name=db,mem=256M --append "workload=verify size=200M seed=42 passes=2 pattern=text" \
	--vm name=batch,mem=256M --append "workload=memstress size=192M ws=192M secs=$SECS" \
	--vm name=files,mem=256M --append "workload=cache size=160M secs=$((SECS + 4))" \
	>"$OUT/console.txt" 2>"$OUT/vmm.txt" &
VMM=$!

# Follow the stats file: one table row per second.
python3 - "$STATS" "$VMM" <<'PY'
import json, os, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
VMS = ("web1", "web2", "db", "batch", "files")
W = 25  # one VM's columns
print(f"{'':>5} {'':>5} {'':>5} {'':>5} |" + "".join(f"{n:^{W}}|" for n in VMS))
print(f"{'t(s)':>5} {'state':>5} {'free':>5} {'saved':>5} |" + "".join(
    f" {'cons':>4} {'shrd':>4} {'mctl':>4} {'zip':>4} {'swap':>4}|" for n in VMS))
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
            row = f"{r['t']:5.1f} {r['state']:>5} {r['free_mb']:5.0f} {r.get('pshare_saving_mb', 0):5.0f} |"
            for n in VMS:
                v = block.get(n)
                if v is None:
                    row += " " * W + "|"
                    continue
                row += (f" {v['consumed_mb']:4.0f} {v['shrd_mb']:4.0f} {v['mctlsz_mb']:4.0f} {v['zip_mb']:4.0f} "
                        f"{v['swcur_mb']:4.0f}|")
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
echo "MiB columns: saved = host memory sharing saves; cons = consumed host memory (private pages),"
echo "shrd = guest memory on shared frames, mctl = in the VM's balloon (the guest gave it back),"
echo "zip = guest memory in the compression cache (uncompressed size), swap = in the swap file."
echo "vmm exit status: $rc (0: every VM exited 0)"
exit $rc
