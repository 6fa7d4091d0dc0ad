"""What one experiment run left behind: the guests' RESULT lines and the VMM's stats file.

Used by scripts/experiments.sh (PYTHONPATH=scripts), whose sweeps each boot a
set of VMs, let them settle and average the second half of the run.
"""
import json
import re


def results(out_path, workload):
    """The RESULT lines of `workload` in the VMM's stdout."""
    return [l for l in open(out_path) if "RESULT workload=" + workload in l]


def field(lines, key):
    """Integer `key=N` from each RESULT line."""
    return [int(re.search(key + r"=(\d+)", l).group(1)) for l in lines]


def stats_rows(path):
    """The stats file's JSON lines; a killed VMM leaves a cut last line, which is skipped."""
    return [json.loads(l) for l in open(path) if l.rstrip().endswith("}")]


def settled(rows, nvms):
    """The second half of the host rows' times while all `nvms` VMs ran: after they settled."""
    ts = sorted({r["t"] for r in rows if r.get("host") and r.get("vms_running") == nvms})
    return set(ts[len(ts) // 2:])


def mean_sum(rows, times, key):
    """Over `times`, the mean of the VMs' summed `key` (0.0 when there is none)."""
    per_t = {}
    for r in rows:
        if "vm" in r and r["t"] in times:
            per_t[r["t"]] = per_t.get(r["t"], 0) + r[key]
    return round(sum(per_t.values()) / len(per_t), 1) if per_t else 0.0


def reclaimed(rows, times):
    """The four reclamation figures, each a mean_sum, as the sweeps record them."""
    return {"shared_saved_mb": mean_sum(rows, times, "shrdsvd_mb"),
            "ballooned_mb": mean_sum(rows, times, "mctlsz_mb"),
            "swapped_mb": mean_sum(rows, times, "swcur_mb"),
            "compressed_mb": mean_sum(rows, times, "zip_mb")}
