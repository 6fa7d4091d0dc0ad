#!/usr/bin/env bash
# Run a libFuzzer harness for SECS seconds from a copy of the committed
# seeds (the repository is not written), and say what it did.
# usage: tests/fuzz/run.sh FUZZER SEEDS_DIR SECS
set -u
FUZZER=${1:?usage: run.sh FUZZER SEEDS_DIR SECS}
SEEDS=${2:?usage: run.sh FUZZER SEEDS_DIR SECS}
SECS=${3:?usage: run.sh FUZZER SEEDS_DIR SECS}
WORK=$(mktemp -d /tmp/memvisor-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/corpus" "$WORK/crashes"
cp "$SEEDS"/* "$WORK/corpus/"
"$FUZZER" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$WORK/crashes/" -close_fd_mask=1 \
	"$WORK/corpus" >"$WORK/log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/log")
echo "fuzz: $(basename "$FUZZER"): ${runs:-?} inputs in $SECS s from $(ls "$SEEDS" | wc -l) seeds, corpus grew to $(ls "$WORK/corpus" | wc -l), crashes $(ls "$WORK/crashes" | wc -l)"
if [ $rc -ne 0 ] || [ -n "$(ls "$WORK/crashes")" ]; then
	echo "fuzz: FAIL (exit $rc); the input that failed:" >&2
	tail -40 "$WORK/log" >&2
	for f in "$WORK"/crashes/*; do [ -e "$f" ] && od -An -tx1 "$f" | head -20 >&2; done
	exit 1
fi
