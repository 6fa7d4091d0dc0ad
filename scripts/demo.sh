#!/usr/bin/env bash
# make demo: boot several test-guest VMs in one VMM process and show what
# each does.  Memory reclamation (swap, compression, sharing, ballooning)
# joins this demo as those issues land; today it shows the foundation:
# several VMs with their own vCPU threads, console lines and exit codes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
STATS=$B/demo/stats.jsonl
mkdir -p "$B/demo"

[ -e /dev/kvm ] || { echo "demo: /dev/kvm does not exist: memvisor needs KVM" >&2; exit 1; }

cat <<TXT
memvisor demo: three VMs in one VMM process, each on its own vCPU thread.
  web   256M  memstress: fills 192M, then reads a 64M working set for 3 s
  db    256M  verify: writes 192M of seeded pages, reads them back twice
  idle  128M  hello: prints its boot info and exits
Console lines are prefixed with the VM name; each VM ends with a RESULT line.
Per-second stats go to $STATS.

TXT
set -x
"$B/vmm" run --stats "$STATS" \
	--vm name=web,mem=256M --append "workload=memstress size=192M ws=64M secs=3" \
	--vm name=db,mem=256M --append "workload=verify size=192M seed=42 passes=2" \
	--vm name=idle,mem=128M --append "workload=hello"
{ set +x; } 2>/dev/null
echo
echo "stats file (last lines):"
tail -n 4 "$STATS"
