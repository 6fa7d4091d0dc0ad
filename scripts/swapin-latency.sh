#!/usr/bin/env bash
# Guest-observed fault latency for every kind of fault memvisor serves,
# beside the floors under them, on this machine.  Each kind gets a run of
# its own in which (nearly) every faulting access is of that kind; the
# guest times every page access with its TSC and prints the histogram.
#
#   zero        first touch of a page (a zero-filled page; fault-around 16, up to 512 in order)
#   cow         a write to a page shared with another VM (the share breaks)
#   decompress  a read of a page held in the compression cache
#   swapin      a read of a page in the swap file, random order (one page a fault)
#   prefetch    the same in sequential order (the window grows to --prefetch, readahead)
#
# Floors: the bare userfaultfd round trip and raw io_uring QD1 4 KiB reads
# in the swap directory (build/mmbench), and zstd decompression of a text
# page (build/zipbench).
#
# usage: scripts/swapin-latency.sh [--size MB] [--swap-dir DIR] [--out DIR]
#   --size MB       memory each run swaps out and reads back (default 128)
#   --swap-dir DIR  where the swap files go: the device to measure
#                   (default: a fresh directory under /var/tmp)
#   --out DIR       where the table, JSON lines and the PNG go (default build/swapin-latency)
# Needs root (for /dev/kvm) and the build (it runs `make` if a binary is missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
SIZE=128 SWAPDIR="" OUT=$B/swapin-latency
while [ $# -gt 0 ]; do
	case $1 in
	--size) SIZE=${2:?}; shift 2 ;;
	--swap-dir) SWAPDIR=${2:?}; shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "swapin-latency: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case $SIZE in ''|*[!0-9]*) echo "swapin-latency: --size takes a number of MiB" >&2; exit 2 ;; esac
[ "$SIZE" -ge 16 ] && [ "$SIZE" -le 16384 ] || { echo "swapin-latency: --size from 16 to 16384 MiB" >&2; exit 2; }
[ -e /dev/kvm ] || { echo "swapin-latency: /dev/kvm does not exist" >&2; exit 1; }
for bin in vmm guest.elf mmbench zipbench; do
	[ -f "$B/$bin" ] || make -C "$ROOT" --no-print-directory all build/mmbench build/zipbench >/dev/null
done
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/memvisor-swapin.XXXXXX)
made_dir=0
if [ -z "$SWAPDIR" ]; then
	SWAPDIR=$(mktemp -d /var/tmp/memvisor-swapin.XXXXXX)
	made_dir=1
fi
cleanup() { rm -rf "$TMP"; [ $made_dir = 0 ] || rm -rf "$SWAPDIR"; }
trap cleanup EXIT

. "$ROOT/scripts/machine.sh"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
	echo "memvisor swap-in latency, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "  cpu: $cpu, $(nproc) cores; kernel $(uname -r); /dev/kvm from $(kvm_provider)"
	echo "  swap directory: $SWAPDIR on $(disk_of "$SWAPDIR")"
	echo "  each run: ${SIZE} MiB; a fault is an access of 2 us or more (faster ones found the page mapped)"
} | tee "$OUT/latency.txt"

S=${SIZE}M M=$((SIZE * 2 + 64))M
vmm() { "$B/vmm" run --swap-dir "$SWAPDIR" --stats "$TMP/$1.jsonl" "${@:2}" >"$TMP/$1.out" 2>"$TMP/$1.err"; }
vmm zero --mem $M --append "workload=touch size=$S hist=1"
vmm cow --share-rate 1000000 --share-cpu 100 \
	--vm name=vm0,mem=$M --append "workload=memstress size=$S pattern=text seed=5 idle=5 write=1 order=random passes=1 hist=1" \
	--vm name=twin,mem=$M --append "workload=memstress size=$S pattern=text seed=5 idle=12 passes=1"
vmm decompress --vm name=vm0,mem=$M,zip_max_pct=60 \
	--append "workload=memstress size=$S pattern=text pageout=1 order=random passes=1 hist=1"
vmm swapin --no-compress --mem $M --append "workload=memstress size=$S pattern=random pageout=1 order=random passes=1 hist=1"
vmm prefetch --no-compress --mem $M --append "workload=memstress size=$S pattern=random pageout=1 order=seq passes=1 hist=1"
"$B/mmbench" "$SWAPDIR" 16384 >"$TMP/floors"
"$B/zipbench" >"$TMP/zip"

# The table, the JSON lines and the plot's data, from the HIST lines and each run's stats.
python3 - "$TMP" "$OUT" <<'PY' | tee -a "$OUT/latency.txt"
import json, re, sys
tmp, out = sys.argv[1], sys.argv[2]
kinds = [("zero", "first touch (zero fill)", "zero_faults"),
         ("cow", "write to a shared page (COW)", "share_breaks"),
         ("decompress", "compressed page", "unzipped"),
         ("swapin", "swap-in, random", "swapin_faults"),
         ("prefetch", "swap-in, sequential + prefetch", "swapin_faults")]

def hist(kind):
    b = {}
    for line in open(f"{tmp}/{kind}.out"):
        if line.startswith("[vm0] HIST ") and " end " not in line:
            for tok in line.split()[4:]:
                up, n = tok.split(":")
                b[int(up)] = b.get(int(up), 0) + int(n)
    return dict(sorted(b.items()))

def q(b, frac):
    total, acc = sum(b.values()), 0
    for up, n in b.items():
        acc += n
        if acc >= frac * total:
            return up
    return 0

def last_stat(kind, key):
    rows = [json.loads(l) for l in open(f"{tmp}/{kind}.jsonl") if '"vm":"vm0"' in l]
    return rows[-1].get(key, 0) if rows else 0

def floors():
    f = {}
    for line in open(f"{tmp}/floors"):
        w = line.split()
        f[w[0]] = {k: float(v) for k, v in (t.split("=") for t in w[1:] if re.match(r"p\d+_us=", t))}
    for line in open(f"{tmp}/zip"):
        if " pattern=text " in line:
            f["zstd"] = {"p50_us": float(re.search(r"decompress_us=([\d.]+)", line).group(1))}
    return f

print()
print(f"  {'fault kind':34} {'faults':>8} {'p50 us':>8} {'p90 us':>8} {'p99 us':>9} {'max us':>9}  {'VMM count':>10}")
dat = open(f"{out}/hist.dat", "w")
jl = open(f"{out}/latency.jsonl", "w")
for i, (k, label, counter) in enumerate(kinds):
    b = hist(k)
    faults = {up: n for up, n in b.items() if up >= 2000}
    n = sum(faults.values())
    p = [q(faults, x) / 1000 if n else 0 for x in (0.5, 0.9, 0.99, 1.0)]
    vc = last_stat(k, counter)
    print(f"  {label:34} {n:8d} {p[0]:8.1f} {p[1]:8.1f} {p[2]:9.1f} {p[3]:9.1f}  {vc:>10} {counter}")
    jl.write(json.dumps({"kind": k, "faults": n, "p50_us": p[0], "p90_us": p[1], "p99_us": p[2],
                         "max_us": p[3], "vmm_counter": counter, "vmm_count": vc,
                         "buckets_ns": b}) + "\n")
    dat.write(f"# {k}\n")
    for up, c in faults.items():
        dat.write(f"{up / 1000:.3f} {c / n if n else 0:.5f}\n")
    dat.write("\n\n")
fl = floors()
print()
print(f"  {'floor':34} {'p50 us':>17} {'p99 us':>8}")
for key, label in (("uffd", "bare userfaultfd round trip"), ("read", "io_uring 4 KiB read, QD1, swap dir"),
                   ("zstd", "zstd decompress, one text page")):
    v = fl.get(key, {})
    p99 = f"{v['p99_us']:8.1f}" if "p99_us" in v else f"{'-':>8}"
    print(f"  {label:34} {v.get('p50_us', 0):17.1f} {p99}")
    jl.write(json.dumps({"floor": key, **v}) + "\n")
PY

floor() { python3 -c "import json,sys; print(next(r['p50_us'] for r in map(json.loads, open(sys.argv[1])) if r.get('floor') == sys.argv[2]))" "$OUT/latency.jsonl" "$1"; }
uffd=$(floor uffd) rd=$(floor read)
gnuplot <<EOF
set terminal pngcairo size 900,500 font "sans,10" noenhanced
set output "$OUT/latency.png"
set arrow from $uffd, graph 0 to $uffd, graph 1 nohead dashtype 2 lc rgb "gray40"
set label "userfaultfd round trip p50" at $uffd, graph 0.95 right offset -0.5,0 tc rgb "gray40"
set arrow from $rd, graph 0 to $rd, graph 1 nohead dashtype 3 lc rgb "gray40"
set label "QD1 read p50" at $rd, graph 0.88 right offset -0.5,0 tc rgb "gray40"
set title "Guest-observed fault latency by kind ($(kvm_provider), $(uname -r))"
set logscale x
set xlabel "latency (us, log scale)"
set ylabel "share of that kind's faults"
set key top right
set grid
plot for [i=0:4] "$OUT/hist.dat" index i using 1:2 with linespoints pt 7 ps 0.5 title word("zero cow decompress swapin prefetch", i + 1)
EOF
echo
echo "written: $OUT/latency.txt, $OUT/latency.jsonl, $OUT/latency.png"
