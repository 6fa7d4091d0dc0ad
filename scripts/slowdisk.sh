#!/usr/bin/env bash
# A slow disk for experiments: an ext4 filesystem on a loop device whose
# I/O is throttled, per process, by a cgroup-v1 blkio group (IOPS and
# bandwidth, both ways), so a swap file on it behaves like a disk of that
# class.  Device-mapper's dm-delay would do this below the filesystem, but
# this kernel has no device-mapper; blkio throttling is what it offers.
#
#   slowdisk.sh up DIR [SIZE_MB [IOPS [MBPS]]]   make and mount it at DIR
#                                                (default 2048 MiB, 150 IOPS, 120 MB/s:
#                                                a 7200-rpm disk)
#   slowdisk.sh run DIR CMD...                   run CMD with its I/O to DIR throttled
#   slowdisk.sh cgroup DIR                       the blkio group's directory
#   slowdisk.sh down DIR                         unmount, free the loop device, remove all
#
# Only I/O to that loop device is throttled; everything else CMD does runs
# at full speed.  `down` puts everything back (the image lives in DIR.img).
set -euo pipefail

die() { echo "slowdisk: $*" >&2; exit 1; }
cg_of() { echo "/sys/fs/cgroup/blkio/memvisor-slowdisk-$(basename "$1")-$(stat -c %i "$1.img")"; }

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: slowdisk.sh up|run|cgroup|down DIR ..."
case $cmd in
up)
	size=${3:-2048} iops=${4:-150} mbps=${5:-120}
	[ -d /sys/fs/cgroup/blkio ] || die "no cgroup-v1 blkio controller at /sys/fs/cgroup/blkio"
	[ ! -e "$dir.img" ] || die "$dir.img exists (slowdisk.sh down $dir first)"
	mkdir -p "$dir"
	truncate -s "${size}M" "$dir.img"
	mkfs.ext4 -q -F "$dir.img"
	mount -o loop "$dir.img" "$dir"
	dev=$(losetup -j "$dir.img" | cut -d: -f1 | head -n1)
	mm=$(lsblk -dno MAJ:MIN "$dev" | tr -d ' ')
	cg=$(cg_of "$dir")
	mkdir -p "$cg"
	for way in read write; do
		echo "$mm $iops" >"$cg/blkio.throttle.${way}_iops_device"
		echo "$mm $((mbps * 1000000))" >"$cg/blkio.throttle.${way}_bps_device"
	done
	echo "slowdisk: $dir on $dev ($mm), ${size} MiB ext4, $iops IOPS and $mbps MB/s each way for 'slowdisk.sh run'"
	;;
run)
	shift 2
	cg=$(cg_of "$dir")
	[ -d "$cg" ] || die "no slow disk at $dir (slowdisk.sh up $dir first)"
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@"
	;;
cgroup)
	cg_of "$dir"
	;;
down)
	if [ -e "$dir.img" ]; then
		cg=$(cg_of "$dir")
		mountpoint -q "$dir" && umount "$dir"
		[ -d "$cg" ] && rmdir "$cg"
		rm -f "$dir.img"
	fi
	rmdir "$dir" 2>/dev/null || true
	;;
*)
	die "unknown command '$cmd' (up, run, cgroup, down)"
	;;
esac
