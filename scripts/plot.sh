#!/usr/bin/env bash
# scripts/plot.sh STATS.jsonl OUT.png: the standard panels over time from a
# stats file (vmm run --stats): per VM its memory by state (consumed,
# shared, zero, compressed, swapped, ballooned), the host's state and free
# memory, and cumulative swap-ins per VM.  Needs gnuplot (make deps).
set -euo pipefail
IN=${1:?usage: plot.sh STATS.jsonl OUT.png}
OUTPNG=${2:?usage: plot.sh STATS.jsonl OUT.png}
command -v gnuplot >/dev/null || { echo "plot: gnuplot is missing (make deps)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/memvisor-plot.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# One data file per VM and one for the host; the VM names in order.
python3 - "$IN" "$TMP" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
vms, files, tmax = [], {}, 1.0
state_num = {"high": 0, "soft": 1, "hard": 2, "low": 3}
host = open(f"{out}/host.dat", "w")
for line in open(src):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    tmax = max(tmax, r["t"])
    if r.get("host"):
        host.write(f'{r["t"]} {state_num.get(r["state"], 0)} {r["free_mb"]} {r["budget_mb"]}\n')
        continue
    name = r["vm"]
    if r.get("run_state") not in (None, "running"):
        continue  # after a VM ends, its line repeats its last figures
    if name not in files:
        vms.append(name)
        files[name] = open(f"{out}/vm{len(vms)}.dat", "w")
    g = r.get
    files[name].write(" ".join(str(x) for x in (
        r["t"], g("consumed_mb", 0), g("shrd_mb", 0), g("zero_mb", 0), g("zip_mb", 0),
        g("swcur_mb", 0), g("mctlsz_mb", 0), g("swr", 0))) + "\n")
with open(f"{out}/vms", "w") as f:
    f.write("\n".join(vms) + "\n")
with open(f"{out}/tmax", "w") as f:
    f.write(f"{tmax:.1f}\n")
PY

mapfile -t VMS <"$TMP/vms"
n=${#VMS[@]}
[ "$n" -gt 0 ] || { echo "plot: no VM lines in $IN" >&2; exit 1; }
rows=$(( (n + 2 + 1) / 2 ))

{
	echo "set terminal pngcairo size 1400,$((rows * 340)) font 'sans,10'"
	echo "set output '$OUTPNG'"
	echo "set multiplot layout $rows,2 title 'memvisor: $(basename "$IN")' font 'sans,13'"
	echo "set xrange [0:$(cat "$TMP/tmax")]"
	echo "set xlabel 'time (s)'; set grid; set key top right opaque box font 'sans,9'"
	echo "set style fill solid 0.6 noborder"
	i=1
	for v in "${VMS[@]}"; do
		f="$TMP/vm$i.dat"
		echo "set title 'VM $v: guest memory by where it is (MiB)'; set ylabel 'MiB'; set yrange [0:*]"
		# Stacked: each curve is the sum of itself and those below it.
		echo "plot '$f' u 1:(\$2+\$3+\$4+\$5+\$6+\$7) w filledcurves x1 t 'ballooned' lc rgb '#7b3294', \
			'' u 1:(\$2+\$3+\$4+\$5+\$6) w filledcurves x1 t 'swapped' lc rgb '#d7191c', \
			'' u 1:(\$2+\$3+\$4+\$5) w filledcurves x1 t 'compressed' lc rgb '#fdae61', \
			'' u 1:(\$2+\$3+\$4) w filledcurves x1 t 'zero' lc rgb '#bbbbbb', \
			'' u 1:(\$2+\$3) w filledcurves x1 t 'shared' lc rgb '#2b83ba', \
			'' u 1:2 w filledcurves x1 t 'consumed (private)' lc rgb '#1a9641'"
		i=$((i + 1))
	done
	echo "set title 'host: memory state and free memory'; set ylabel 'state'; set yrange [-0.2:3.2]"
	echo "set ytics ('high' 0, 'soft' 1, 'hard' 2, 'low' 3); set y2label 'free MiB'; set y2tics; set y2range [0:*]"
	echo "plot '$TMP/host.dat' u 1:2 w steps lw 2 lc rgb '#d7191c' t 'state', '' u 1:3 axes x1y2 w lines lc rgb '#2b83ba' t 'free MiB'"
	echo "unset y2tics; unset y2label; set ytics auto; set yrange [0:*]"
	echo "set title 'cumulative swap-ins (pages)'; set ylabel 'pages'"
	printf "plot "
	i=1
	for v in "${VMS[@]}"; do
		[ $i -gt 1 ] && printf ", "
		printf "'%s' u 1:8 w lines lw 2 t '%s'" "$TMP/vm$i.dat" "$v"
		i=$((i + 1))
	done
	echo
	echo "unset multiplot"
} >"$TMP/plot.gp"
gnuplot "$TMP/plot.gp"
echo "plot: $OUTPNG"
