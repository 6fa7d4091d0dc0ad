#!/usr/bin/env bash
# make demo: three overcommitted VMs in one VMM process while the host's
# memory budget is lowered in steps through the control socket, so the
# host walks through ESX's states (high, soft, hard, low) and back, and
# each reclamation technique shows when its state comes.  In a terminal
# it runs `vmmctl top`; without one it prints a line a second.  It ends
# with the plot of what happened (build/demo/demo.png) and what it means.
# Every guest checks its own memory; nothing is lost, nobody is killed.
# DEMO_BUILD=build/test runs the VMM and guest of the ASan/UBSan build
# (`make build/test/vmm build/test/guest.elf` first) instead.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${DEMO_BUILD:-$ROOT/build}
CTL=$ROOT/build/vmmctl
OUT=$B/demo
STATS=$OUT/stats.jsonl
SOCK=$OUT/control.sock
STEP=${DEMO_STEP:-6}                 # seconds between budget changes
# MiB; the guests hold about 310 MiB once web1 and web2 share: 300 leaves
# less free memory than the soft state's threshold, 220 is about what they
# hold without db's cache (hard), 170 well below (low).
BUDGETS=(1024 300 220 170 1024)
SECS=$((STEP * ${#BUDGETS[@]}))
mkdir -p "$OUT"
rm -f "$STATS" "$SOCK" "$OUT/steps.txt"

[ -e /dev/kvm ] || { echo "demo: /dev/kvm does not exist: memvisor needs KVM" >&2; exit 1; }

cat <<TXT
memvisor demo: 3 VMs x 256 MiB = 768 MiB of guest memory. The host's budget starts at
${BUDGETS[0]} MiB and changes every ${STEP} s through the control socket (vmmctl host-mem):
$(printf '%s MiB -> ' "${BUDGETS[@]}" | sed 's/ -> $//')
  web1, web2  dup: the same 96M in both (one seed, like two VMs booted from one image); the
              sharing scanner finds the twins and keeps one copy (SHRD), in every state
  db          oltp: a database server, a 96M buffer pool taking transactions (text: it
              compresses) beside 112M of file cache it read at start and no longer uses;
              its balloon driver runs between transactions
What to watch: high: sharing only. soft: the balloon takes db's idle cache (MCTLSZ).
hard: the VMM compresses (ZIP) and swaps (SWCUR) the idlest pages itself. low: faults
also wait for memory. Back at ${BUDGETS[-1]} MiB the balloon deflates. Stats: $STATS

TXT
"$B/vmm" run --host-mem "${BUDGETS[0]}M" --share-rate 100000 --share-cpu 100 --stats "$STATS" --control "$SOCK" \
	--vm name=web1,mem=256M --append "workload=dup size=96M seed=9 secs=$SECS rewrite=2" \
	--vm name=web2,mem=256M --append "workload=dup size=96M seed=9 secs=$SECS rewrite=2" \
	--vm name=db,mem=256M --append "workload=oltp db=96M cache=112M pattern=text secs=$SECS" \
	>"$OUT/console.txt" 2>"$OUT/vmm.txt" &
VMM=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done

# The budget steps, on their own clock.
(
	for b in "${BUDGETS[@]:1}"; do
		sleep "$STEP"
		kill -0 $VMM 2>/dev/null || exit 0
		"$CTL" --control "$SOCK" host-mem "${b}M" >/dev/null 2>&1 || true
		echo "$(date +%T) host-mem ${b}M" >>"$OUT/steps.txt"
	done
) &
STEPPER=$!

if [ -t 0 ] && [ -t 1 ]; then
	# Time to read the above before the live view takes the screen.
	echo "vmmctl top starts in 5 s (q leaves it; the demo goes on to its end)"
	sleep 5
	"$CTL" --control "$SOCK" top || true
else
	# No terminal: one line a second from the stats file.
	python3 - "$STATS" "$VMM" "$OUT/steps.txt" <<'PY'
import json, os, sys, time
path, pid, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3]
VMS = ("web1", "web2", "db")
W = 31
print(f"{'':>5} {'':>5} {'':>6} {'':>5} |" + "".join(f"{n:^{W}}|" for n in VMS))
print(f"{'t(s)':>5} {'state':>5} {'budget':>6} {'free':>5} |" + "".join(
    f" {'cons':>4} {'shrd':>4} {'mctl':>4} {'zip':>4} {'swap':>4} {'in/s':>5}|" for n in VMS))
pos, block = 0, {}
def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while True:
    try:
        with open(path) as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        data = ""
    cut = data.rfind("\n") + 1
    pos += cut
    for line in data[:cut].splitlines():
        r = json.loads(line)
        if "vm" in r:
            block[r["vm"]] = r
        elif r.get("host"):
            row = f"{r['t']:5.1f} {r['state']:>5} {r['budget_mb']:6.0f} {r['free_mb']:5.0f} |"
            for n in VMS:
                v = block.get(n)
                if v is None or v["run_state"] != "running":
                    row += " " * W + "|"
                    continue
                row += (f" {v['consumed_mb']:4.0f} {v['shrd_mb']:4.0f} {v['mctlsz_mb']:4.0f} {v['zip_mb']:4.0f} "
                        f"{v['swcur_mb']:4.0f} {v['swr_s']:5.0f}|")
            print(row, flush=True)
            block = {}
    if not alive() and not data:
        break
    time.sleep(0.3)
PY
fi
rc=0
wait $VMM || rc=$?
kill $STEPPER 2>/dev/null || true
wait $STEPPER 2>/dev/null || true

echo
echo "guest results:"
grep RESULT "$OUT/console.txt" | sed 's/^/  /'
echo "budget steps: $(tr '\n' ';' <"$OUT/steps.txt" 2>/dev/null | sed 's/;$//; s/;/; /g')"
"$ROOT/scripts/plot.sh" "$STATS" "$OUT/demo.png" >/dev/null && echo "plot of what happened: $OUT/demo.png"
echo
# What happened, from the stats file.
python3 - "$STATS" "$OUT/console.txt" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
vm = lambda n, k: max((r.get(k, 0) for r in rows if r.get("vm") == n and r["run_state"] == "running"), default=0)
last = [r for r in rows if r.get("host")][-1]
spent = ", ".join(f"{s} {last.get(s + '_s', 0):.1f} s" for s in ("high", "soft", "hard", "low"))
saving = max((r.get("pshare_saving_mb", 0) for r in rows if r.get("host")), default=0)
bad = sum(int(m) for m in re.findall(r"bad_pages=(\d+)", open(sys.argv[2]).read()))
print(f"What happened: the host spent {spent}. Page sharing found web1's and web2's "
      f"identical pages and saved up to {saving:.0f} MiB, in every state. When memory ran short "
      f"(soft), the allocation policy set db's balloon target and db's own driver gave up to "
      f"{vm('db', 'mctlsz_mb'):.0f} MiB of its idle file cache, which cost it nothing. When that was not "
      f"enough (hard, low), the VMM took pages itself: up to {vm('db', 'zip_mb'):.0f} MiB of db's text "
      f"went into the compression cache and up to "
      f"{max(vm(n, 'swcur_mb') for n in ('web1', 'web2', 'db')):.0f} MiB to swap files, the idlest first; "
      f"faults on them brought them back. When the budget came back the balloon deflated. No VM was "
      f"paused or killed, and every guest checked its memory at the end: {bad} bad pages in all.")
PY
echo
echo "vmm exit status: $rc (0: every VM exited 0)"
exit $rc
