#!/usr/bin/env bash
# The seed paper's Figure 5, scaled to this machine: two VMs at overcommit
# 1.5 (2 x VM_MEM on a budget of 4/3 x VM_MEM), each running memstress.
#   (a) mapped and working set below the budget: no swap-ins
#   (b) mapped above the budget, working set below: swap-ins rise, then flat
#   (c) mapped and working set above the budget: swap-ins keep rising
# Stats go to build/fig5/{a,b,c}.jsonl; plots of mapped memory and
# cumulative swap-ins over time to docs/img/fig5{a,b,c}.png and fig5.png.
# usage: scripts/fig5.sh [SECONDS]   (default 20 s of reading per case)
# Environment: VM_MEM (MiB per VM, default 384); FIG5_FLAGS, extra vmm
# options (scripts/experiments.sh: swap only, as in the paper); FIG5_OUT
# and FIG5_IMG, where data and plots go.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
OUT=${FIG5_OUT:-$B/fig5}
IMG=${FIG5_IMG:-$ROOT/docs/img}
read -r -a FLAGS <<<"${FIG5_FLAGS:-}"
SECS=${1:-20}
VM_MEM=${VM_MEM:-384}                    # MiB per VM
BUDGET=$((VM_MEM * 2 * 2 / 3))           # overcommit 1.5
mkdir -p "$OUT" "$IMG"
[ -x "$B/vmm" ] || { echo "fig5: build first (make)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "fig5: gnuplot missing (make deps)" >&2; exit 1; }

# case SIZE WS: memstress arguments per case, in MiB
declare -A SIZE WS
SIZE[a]=$((VM_MEM / 2));      WS[a]=$((VM_MEM / 4))
SIZE[b]=$((VM_MEM * 7 / 8));  WS[b]=$((VM_MEM / 4))
SIZE[c]=$((VM_MEM * 7 / 8));  WS[c]=$((VM_MEM * 3 / 4))

echo "fig5: 2 VMs x ${VM_MEM} MiB on a host budget of ${BUDGET} MiB (overcommit 1.5), ${SECS} s each"
for c in a b c; do
	echo "== ($c) memstress size=${SIZE[$c]}M ws=${WS[$c]}M in each VM"
	"$B/vmm" run "${FLAGS[@]}" --host-mem "${BUDGET}M" --stats "$OUT/$c.jsonl" \
		--vm name=vm1,mem=${VM_MEM}M --append "workload=memstress size=${SIZE[$c]}M ws=${WS[$c]}M secs=$SECS" \
		--vm name=vm2,mem=${VM_MEM}M --append "workload=memstress size=${SIZE[$c]}M ws=${WS[$c]}M secs=$SECS" \
		2>"$OUT/$c.err" | grep RESULT
	# Columns: t, mapped vm1, mapped vm2, swap-ins vm1, vm2, consumed of both.
	python3 - "$OUT/$c.jsonl" "$OUT/$c.dat" <<'PY'
import json, sys
rows = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "vm" in r:
        rows.setdefault(r["t"], {})[r["vm"]] = r
with open(sys.argv[2], "w") as out:
    out.write("# t mapped1 mapped2 swr1 swr2 consumed\n")
    for t in sorted(rows):
        a, b = rows[t].get("vm1"), rows[t].get("vm2")
        if a and b:
            out.write(f"{t} {a['mapped_mb']} {b['mapped_mb']} {a['swr']} {b['swr']} "
                      f"{a['consumed_mb'] + b['consumed_mb']}\n")
PY
	tail -n 1 "$OUT/$c.dat" | awk -v c="$c" '{printf "   (%s) at %.0f s: mapped %.0f + %.0f MiB, swap-ins %d + %d pages\n", c, $1, $2, $3, $4, $5}'
done

plot_case() { # case title
	cat <<GP
set title "$2"
set xlabel "time (s)"
set ylabel "mapped memory (MiB)"
set y2label "cumulative swap-ins (pages)"
set ytics nomirror
set y2tics
set yrange [0:$((VM_MEM + VM_MEM / 8))]
set y2range [0:10<*]
set key bottom right
plot "$OUT/$1.dat" using 1:2 with lines lw 2 title "mapped vm1", \
     "$OUT/$1.dat" using 1:3 with lines lw 2 dt 2 title "mapped vm2", \
     "$OUT/$1.dat" using 1:(\$4+\$5) axes x1y2 with lines lw 2 title "swap-ins (both VMs)", \
     $BUDGET / 2 with lines dt 3 lc rgb "gray" title "budget / 2"
GP
}
titles_a="(a) mapped and working set below the budget"
titles_b="(b) mapped above the budget, working set below"
titles_c="(c) mapped and working set above the budget"
for c in a b c; do
	t="titles_$c"
	{ echo 'set terminal pngcairo size 800,480 font "sans,10"'; echo "set output '$IMG/fig5$c.png'"; plot_case "$c" "${!t}"; } | gnuplot
done
{
	echo 'set terminal pngcairo size 1500,450 font "sans,9"'
	echo "set output '$IMG/fig5.png'"
	echo 'set multiplot layout 1,3'
	for c in a b c; do t="titles_$c"; plot_case "$c" "${!t}"; done
	echo 'unset multiplot'
} | gnuplot
echo "fig5: plots in $IMG/fig5.png and fig5a/b/c.png, data in $OUT"
