# The runner the shell test suites share (tests/integration/run.sh,
# tests/kvm/run.sh), sourced after the suite has set WORK, OUT, ERR and
# FILTER.  A test is a function: `expect CONDITION` records a broken
# expectation and goes on, so one run shows them all (set -e does not
# hold inside an `if`, so failures are counted, not trapped).  A suite may
# define test_clean (0 when nothing else went wrong, e.g. no sanitizer
# report) and set TAIL_LINES (how much of a failed test's output to show).

pass=0
fail=0
failed_names=()
FAILED=0
RC=0

expect() {
	if ! eval "$1"; then
		echo "    expected: $1" >&2
		FAILED=1
		return 1
	fi
}

declare -F test_clean >/dev/null || test_clean() { return 0; }

run_test() {
	local name=$1 t0=$SECONDS
	if [ -n "$FILTER" ] && [[ $name != *$FILTER* ]]; then
		return
	fi
	: >"$WORK/expect.log"
	FAILED=0
	RC=0
	: >"$OUT"
	: >"$ERR"
	"$name" 2>>"$WORK/expect.log"
	if [ "$FAILED" -eq 0 ] && test_clean; then
		pass=$((pass + 1))
		echo "ok - $name ($((SECONDS - t0)) s)"
	else
		fail=$((fail + 1))
		failed_names+=("$name")
		echo "not ok - $name (exit $RC)"
		cat "$WORK/expect.log"
		sed 's/^/    stdout: /' "$OUT" | tail -n "${TAIL_LINES:-15}"
		sed 's/^/    stderr: /' "$ERR" | tail -n "${TAIL_LINES:-15}"
	fi
}
