#!/usr/bin/env bash
# Integrity stress: guests that check every page of their memory, over and
# over, while the host side forces transitions at random through the
# control socket: the budget (overcommit up to 3), balloon targets set and
# given back to the policy, and sharing-scanner rate bursts.  Every guest
# must end with bad_pages=0 and exit 0.  Prints what it did, for
# docs/reliability.md.
# usage: tests/stress/stress.sh VMM VMMCTL SECONDS [SEED]
set -u
VMM=${1:?usage: stress.sh VMM VMMCTL SECONDS [SEED]}
CTL=${2:?usage: stress.sh VMM VMMCTL SECONDS [SEED]}
SECS=${3:?usage: stress.sh VMM VMMCTL SECONDS [SEED]}
SEED=${4:-$RANDOM}
WORK=$(mktemp -d /tmp/memvisor-stress.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SOCK=$WORK/c.sock
RANDOM=$SEED
GUEST_MB=512   # 4 VMs x 128 MiB

[ -e /dev/kvm ] || { echo "stress: FAIL: /dev/kvm does not exist" >&2; exit 1; }
echo "stress: $SECS s, seed $SEED (tests/stress/stress.sh VMM VMMCTL $SECS $SEED repeats it)"
timeout -k 5 $((SECS + 120)) "$VMM" run --control "$SOCK" --host-mem ${GUEST_MB}M --stats "$WORK/s.jsonl" \
	--vm name=text,mem=128M --append "workload=verify size=100M pattern=text seed=3 secs=$SECS" \
	--vm name=rand,mem=128M --append "workload=verify size=100M seed=4 secs=$SECS" \
	--vm name=files,mem=128M --append "workload=cache size=96M secs=$SECS" \
	--vm name=twin,mem=128M --append "workload=dup size=64M seed=5 secs=$SECS rewrite=50" \
	>"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done

hostmem=0 balloon=0 rate=0 refused=0
end=$((SECONDS + SECS - 2))
while [ $SECONDS -lt $end ] && kill -0 $PID 2>/dev/null; do
	r=$((RANDOM % 100))
	if [ $r -lt 60 ]; then
		# Overcommit between about 0.85 and 3.
		mb=$((GUEST_MB / 3 + RANDOM % (GUEST_MB * 2 / 3 + 80)))
		"$CTL" --control "$SOCK" host-mem ${mb}M >/dev/null 2>&1 && hostmem=$((hostmem + 1)) || refused=$((refused + 1))
	elif [ $r -lt 85 ]; then
		if [ $((RANDOM % 3)) -eq 0 ]; then size=auto; else size=$(( (RANDOM % 64) * 1024 ))K; fi
		"$CTL" --control "$SOCK" balloon files $size >/dev/null 2>&1 && balloon=$((balloon + 1)) || refused=$((refused + 1))
	else
		"$CTL" --control "$SOCK" scan-rate $((1000 + RANDOM * 6)) >/dev/null 2>&1 && rate=$((rate + 1)) || refused=$((refused + 1))
	fi
	sleep 0.$((2 + RANDOM % 6))
done
"$CTL" --control "$SOCK" host-mem ${GUEST_MB}M >/dev/null 2>&1
wait $PID
rc=$?

bad=$(grep -o "bad_pages=[0-9]*" "$WORK/out" | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
results=$(grep -c "RESULT" "$WORK/out")
bytes=$(grep "RESULT workload=verify" "$WORK/out" | tr ' ' '\n' | awk -F= '$1 == "pages" {p = $2} $1 == "passes" {s += p * $2} END {printf "%.1f", s * 4096 / 2^30}')
python3 - "$WORK/s.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
host = [r for r in rows if r.get("host")][-1]
last = {}
for r in rows:
    if "vm" in r:
        last[r["vm"]] = r
sw = sum(r["sww"] for r in last.values()); sr = sum(r["swr"] for r in last.values())
zp = sum(r["zipped"] for r in last.values())
mctl = max((r["mctlsz_mb"] for r in rows if r.get("vm") == "files"), default=0)
print(f"stress: states high {host['high_s']:.1f} s, soft {host['soft_s']:.1f} s, hard {host['hard_s']:.1f} s, "
      f"low {host['low_s']:.1f} s; {sw} pages swapped out, {sr} in, {zp} compressed; balloon up to {mctl:.0f} MiB")
PY
echo "stress: $((hostmem + balloon + rate)) transitions ($hostmem host-mem, $balloon balloon, $rate scan-rate; $refused refused), ${bytes} GiB checked by verify, $results of 4 guests reported, bad pages $bad, vmm exit $rc"
if [ $rc -ne 0 ] || [ "$bad" != 0 ] || [ "$results" != 4 ] || grep -q -E "Sanitizer|runtime error:" "$WORK/err"; then
	echo "stress: FAIL" >&2
	grep -E "RESULT|BAD|error" "$WORK/out" "$WORK/err" | tail -20 >&2
	exit 1
fi
echo "stress: ok"
