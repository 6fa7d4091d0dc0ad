#!/usr/bin/env bash
# Install the Debian packages memvisor's build, tests and demo need.
# Does nothing (and needs no network) when they are all present.
set -euo pipefail

packages=(
	gcc make pkg-config libc6-dev linux-libc-dev binutils
	liburing-dev libzstd-dev libxxhash-dev libsodium-dev check
	gnuplot-nox bc python3 tmux util-linux clang valgrind
	qemu-system-x86 cpio e2fsprogs
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
