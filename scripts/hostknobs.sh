# Sourced by the measuring scripts that run the kernel's peers (KSM, host swap,
# zswap, a memory cgroup): every host setting they change goes through here,
# is written down first, and is put back by knobs_restore (call it from the
# EXIT trap); knobs_check then says whether the host is as it was found.
# Needs: TMP (a scratch directory).

declare -A KNOB_WAS=()      # sysfs file -> its value before the first change
KNOB_ORDER=()               # the files, in the order of their first change
KNOB_SWAPS=()               # swap files this script turned on
KNOB_CGROUPS=()             # memory cgroups this script made
KSM=/sys/kernel/mm/ksm
ZSW=/sys/module/zswap/parameters
# The settings knobs_check compares before and after (recorded at source time).
KNOB_WATCH="$KSM/run $KSM/pages_to_scan $KSM/sleep_millisecs $ZSW/enabled $ZSW/compressor"
declare -A KNOB_FOUND=()
for _f in $KNOB_WATCH; do [ -r "$_f" ] && KNOB_FOUND[$_f]=$(cat "$_f"); done
unset _f

# knob_set FILE VALUE: write VALUE into the sysfs FILE, its old value kept for knobs_restore.
knob_set() {
	if [ -z "${KNOB_WAS[$1]+x}" ]; then
		KNOB_WAS[$1]=$(cat "$1") || return 1
		KNOB_ORDER+=("$1")
	fi
	echo "$2" >"$1"
}

# swap_up FILE MIB: a swap file of MIB MiB, made and turned on (removed again by knobs_restore).
swap_up() {
	{ fallocate -l "${2}M" "$1" && chmod 600 "$1" && mkswap "$1" >/dev/null && swapon "$1"; } 2>"$TMP/swap_up.err" ||
		{ rm -f "$1"; return 1; }
	KNOB_SWAPS+=("$1")
}

# cgroup_up DIR MIB: a cgroup-v1 memory group DIR whose limit is MIB MiB (swap not limited).
cgroup_up() {
	{ mkdir "$1" && echo $(($2 << 20)) >"$1/memory.limit_in_bytes"; } 2>"$TMP/cgroup_up.err" || return 1
	KNOB_CGROUPS+=("$1")
}

# knobs_restore: every change above undone, the latest first; quiet, never fails.
knobs_restore() {
	local i f
	for f in "${KNOB_CGROUPS[@]}"; do
		[ ! -d "$f" ] || rmdir "$f" 2>/dev/null || true
	done
	KNOB_CGROUPS=()
	for f in "${KNOB_SWAPS[@]}"; do
		! grep -q "^$f " /proc/swaps || swapoff "$f" 2>/dev/null || true
		rm -f "$f"
	done
	KNOB_SWAPS=()
	# KSM: pages it merged are unmerged before ksmd goes back to its old state.
	[ -z "${KNOB_WAS[$KSM/run]+x}" ] || echo 2 >"$KSM/run" 2>/dev/null || true
	for ((i = ${#KNOB_ORDER[@]} - 1; i >= 0; i--)); do
		f=${KNOB_ORDER[$i]}
		echo "${KNOB_WAS[$f]}" >"$f" 2>/dev/null || true
	done
	KNOB_ORDER=()
	KNOB_WAS=()
}

# knobs_check: one line saying what the host is left with; fails if anything
# this script changed is not as it was found.
knobs_check() {
	local f bad="" ours
	for f in $KNOB_WATCH; do
		[ -z "${KNOB_FOUND[$f]+x}" ] || [ "$(cat "$f")" = "${KNOB_FOUND[$f]}" ] ||
			bad="$bad ${f##*/}=$(cat "$f") (was ${KNOB_FOUND[$f]})"
	done
	ours=$(awk 'NR > 1 && $1 ~ /memvisor/ {print $1}' /proc/swaps | tr '\n' ' ')
	[ -z "$ours" ] || bad="$bad swap still on: $ours"
	for f in /sys/fs/cgroup/memory/memvisor-*; do
		[ ! -d "$f" ] || bad="$bad cgroup left: $f"
	done
	if [ -n "$bad" ]; then
		echo "host NOT as found:$bad"
		return 1
	fi
	echo "host as found: no swap of ours, no cgroup of ours, KSM run=${KNOB_FOUND[$KSM/run]:-?}" \
		"pages_to_scan=${KNOB_FOUND[$KSM/pages_to_scan]:-?} sleep_millisecs=${KNOB_FOUND[$KSM/sleep_millisecs]:-?}," \
		"zswap enabled=${KNOB_FOUND[$ZSW/enabled]:-?} compressor=${KNOB_FOUND[$ZSW/compressor]:-?}"
}
