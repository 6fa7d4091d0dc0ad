#!/usr/bin/env bash
# Build a stock Linux guest from Debian packages, for memvisor's Linux-guest path:
#   build/linux/vmlinuz            Debian 12's cloud kernel (linux-image-cloud-amd64)
#   build/linux/initramfs.cpio.gz  busybox-static, the virtio modules, a static
#                                  memstress (guest/'s workloads as a process), /init
# Nothing is installed: the packages are fetched with `apt-get download` into
# build/linux/debs and unpacked with `dpkg-deb -x`. Quick and quiet when the
# outputs are up to date.
#
# The guest's /init reads the kernel command line:
#   mv.run=report            MemTotal, MemFree and the balloon's state
#   mv.run=shell             an interactive busybox sh on the console
#   mv.run=memstress ARGS    /bin/memstress ARGS (memstress-host's arguments, e.g.
#                            workload=memstress size=64M ws=16M passes=3); ARGS are
#                            every word after mv.run=... (a lone `--` is skipped, and
#                            `mv.run=memstress -- ARGS` keeps ARGS out of init's env)
#   mv.run=balloon-watch     MemTotal/MemFree every second for mv.secs=N (default 10)
#   mv.run=reboot            reboot -f at once
#   mv.run=panic             crash the kernel on purpose (sysrq c)
#   mv.after=N               after the run, stay up N seconds more, then MemFree again
#   mv.compact=SECS          while the run goes, compact all memory every SECS seconds
#                            (fractions allowed): the guest kernel migrates its pages,
#                            copying them to other guest-physical pages; at the end
#                            /proc/vmstat's pgmigrate_success and compact_isolated
# then prints `mv-guest: done rc=N` and powers off (poweroff -f). Every line it
# prints starts with `mv-guest: ` and is `key=value` pairs.
#
#   scripts/linux-guest.sh                 build (or check) the two outputs
#   scripts/linux-guest.sh --modules M...  print the .ko paths of modules M and of
#                                          what they depend on, in load order
#                                          (for scripts/kvm-harness.sh)
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/.."

OUT=build/linux
DEBS=$OUT/debs
KROOT=$OUT/kernel          # the kernel package, unpacked
BBROOT=$OUT/busybox        # busybox-static, unpacked
STAGE=$OUT/root            # the initramfs's tree
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon)

log() { echo "linux-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- host tools ---------------------------------------------------------------
scripts/deps.sh >&2
for t in apt-get apt-cache dpkg-deb cpio gzip objcopy gcc make; do
	command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh should have installed it)"
done

# --- fetching packages ----------------------------------------------------------
apt_updated=0
apt_update() {
	[ $apt_updated = 1 ] && return 1
	log "apt-get update"
	apt-get update -qq >&2 || true
	apt_updated=1
}

# apt-cache show PKG's FIELD (its candidate), cached in $DEBS until apt's lists
# change (apt-cache takes most of a second a call)
show() {
	local memo=$DEBS/.show-$1
	if [ ! -s "$memo" ] || [ /var/lib/apt/lists -nt "$memo" ]; then
		mkdir -p "$DEBS"
		apt-cache show --no-all-versions "$1" >"$memo" 2>/dev/null || : >"$memo"
	fi
	sed -n "s/^$2: //p" "$memo" | head -n 1
}

# candidate VERSION of package $1, empty when apt does not know it
candidate() { show "$1" Version; }

# download PKG VERSION into $DEBS (apt's output to stderr, without its note
# that root downloads unsandboxed)
download() {
	(cd "$DEBS" && apt-get download -q "$1=$2") 2>&1 | grep -v 'unsandboxed as root' >&2 || true
}

# fetch PKG: print the path of its .deb in $DEBS, downloading it unless cached.
# Offline with a cached .deb of PKG, the newest cached one is used.
fetch() {
	local pkg=$1 ver deb
	ver=$(candidate "$pkg")
	if [ -z "$ver" ] && apt_update; then ver=$(candidate "$pkg"); fi
	if [ -z "$ver" ]; then
		deb=$(ls -t "$DEBS/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
		[ -n "$deb" ] || die "apt does not know package $pkg"
		log "apt does not know $pkg; using the cached $deb"
		echo "$deb"
		return
	fi
	deb=$DEBS/${pkg}_${ver//:/%3a}_amd64.deb
	if [ ! -s "$deb" ]; then
		mkdir -p "$DEBS"
		log "downloading $pkg $ver"
		download "$pkg" "$ver"
		if [ ! -s "$deb" ] && apt_update; then
			ver=$(candidate "$pkg")
			deb=$DEBS/${pkg}_${ver//:/%3a}_amd64.deb
			download "$pkg" "$ver"
		fi
		[ -s "$deb" ] || die "could not download $pkg $ver"
	fi
	echo "$deb"
}

# The metapackage only depends on the versioned image package: resolve it.
kernel_pkg() {
	local deps
	deps=$(show linux-image-cloud-amd64 Depends)
	if [ -z "$deps" ] && apt_update; then deps=$(show linux-image-cloud-amd64 Depends); fi
	if [ -z "$deps" ]; then  # offline: the newest cached image
		ls -t "$DEBS"/linux-image-6.*-cloud-amd64_*.deb 2>/dev/null | head -n 1 | xargs -r basename | cut -d_ -f1
		return
	fi
	grep -o 'linux-image-[0-9][^ ,]*-cloud-amd64' <<<"$deps" | head -n 1
}

# unpack DEB DIR: dpkg-deb -x into DIR unless DIR already holds that .deb
unpack() {
	local deb=$1 dir=$2
	if [ "$(cat "$dir/.deb" 2>/dev/null)" != "$(basename "$deb")" ]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		# the Makefile includes every build/**/*.d as a dependency file:
		# drop the package's *.d (conf.d-style folders, not needed here)
		find "$dir" -name '*.d' -prune -exec rm -rf {} +
		basename "$deb" >"$dir/.deb"
	fi
}

kpkg=$(kernel_pkg)
[ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64's image package"
kdeb=$(fetch "$kpkg")
unpack "$kdeb" "$KROOT"
KVER=$(basename "$(ls -d "$KROOT"/lib/modules/*/ | head -n 1)")
MODDIR=$KROOT/lib/modules/$KVER
[ -f "$KROOT/boot/vmlinuz-$KVER" ] || die "no boot/vmlinuz-$KVER in $kdeb"

# --- modules: names to .ko paths, dependencies first ------------------------------
# A module's dependencies come from its own .modinfo (the package has no
# modules.dep: depmod runs at install time). Built-in modules are skipped.
declare -A KO=() SEEN=()
index_modules() {
	local f n
	while IFS= read -r f; do
		n=${f##*/}
		n=${n%.ko}
		KO[${n//-/_}]=${f#"$KROOT"/}
	done < <(find "$MODDIR/kernel" -name '*.ko')
}
builtin() {
	sed 's|.*/||; s|\.ko$||; s|-|_|g' "$MODDIR/modules.builtin" 2>/dev/null | grep -qx "$1"
}
# resolve NAME: append NAME's dependencies, then NAME, to ORDER (or note built-in)
ORDER=()
resolve() {
	local m=${1//-/_} d deps
	[ -n "${SEEN[$m]:-}" ] && return
	SEEN[$m]=1
	if [ -z "${KO[$m]:-}" ]; then
		if builtin "$m"; then log "module $m is built in: skipped"; return; fi
		die "module $m: no $m.ko in $kpkg and not built in"
	fi
	deps=$(objcopy -O binary --only-section=.modinfo "$KROOT/${KO[$m]}" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p')
	for d in ${deps//,/ }; do resolve "$d"; done
	ORDER+=("$m")
}

index_modules
if [ "${1:-}" = --modules ]; then
	shift
	for m in "$@"; do resolve "$m"; done
	for m in "${ORDER[@]}"; do echo "$KROOT/${KO[$m]}"; done
	exit 0
fi
[ $# -eq 0 ] || die "usage: $0 [--modules NAME...]"
for m in "${MODULES[@]}"; do resolve "$m"; done

bbdeb=$(fetch busybox-static)
unpack "$bbdeb" "$BBROOT"
[ -x "$BBROOT/bin/busybox" ] || die "no bin/busybox in $bbdeb"

# --- memstress, static: the objects of build/memstress-host, linked -static ------
mkdir -p "$OUT"
read -r -a msobjs <<<"$(make -s --no-print-directory --eval 'mv-print-hostms: ; @echo $(HOST_MS_OBJS)' mv-print-hostms)"
[ ${#msobjs[@]} -gt 0 ] || die "no HOST_MS_OBJS from the Makefile"
make -s --no-print-directory "${msobjs[@]}"
relink=0
[ -x "$OUT/memstress" ] || relink=1
for o in "${msobjs[@]}"; do if [ "$o" -nt "$OUT/memstress" ]; then relink=1; fi; done
if [ $relink = 1 ]; then
	log "linking $OUT/memstress (static)"
	gcc -static -no-pie -o "$OUT/memstress" "${msobjs[@]}"
fi

# --- up to date? ------------------------------------------------------------------
VMLINUZ=$OUT/vmlinuz
INITRD=$OUT/initramfs.cpio.gz
uptodate=1
for o in "$VMLINUZ" "$INITRD"; do
	[ -s "$o" ] || { uptodate=0; continue; }
	for i in "$SELF" "$KROOT/.deb" "$BBROOT/.deb" "$OUT/memstress"; do
		if [ "$i" -nt "$o" ]; then uptodate=0; fi
	done
done
# the .deb stamps are rewritten on every unpack, so a changed package shows
if [ $uptodate = 1 ]; then
	log "up to date: $VMLINUZ ($KVER), $INITRD"
	exit 0
fi

# --- the initramfs's tree ------------------------------------------------------------
log "building $INITRD ($KVER)"
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,run}
cp "$BBROOT/bin/busybox" "$STAGE/bin/busybox"
while IFS= read -r a; do
	[ "$a" = bin/busybox ] || [ -L "$STAGE/$a" ] || ln -s /bin/busybox "$STAGE/$a"
done < <("$BBROOT/bin/busybox" --list-full)
[ -L "$STAGE/bin/sh" ] || ln -s /bin/busybox "$STAGE/bin/sh"
# the kernel opens /dev/console before /init runs
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || log "cannot mknod dev/console (not root?)"

: >"$STAGE/etc/mv-modules"
for m in "${ORDER[@]}"; do
	mkdir -p "$STAGE/$(dirname "${KO[$m]}")"
	cp "$KROOT/${KO[$m]}" "$STAGE/${KO[$m]}"
	echo "$m /${KO[$m]}" >>"$STAGE/etc/mv-modules"
done
cp "$MODDIR/modules.builtin" "$STAGE/lib/modules/$KVER/" 2>/dev/null || true
cp "$OUT/memstress" "$STAGE/bin/memstress"

cat >"$STAGE/init" <<'EOF'
#!/bin/sh
# /init of memvisor's Linux guest (written by scripts/linux-guest.sh).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
say() { echo "mv-guest: $*"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs tmpfs /tmp
say "init uptime_s=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"

loaded=
while read -r name path; do
	if insmod "$path" 2>/tmp/insmod.err; then
		loaded="$loaded${loaded:+,}$name"
	else
		say "module=$name error=\"$(head -n 1 /tmp/insmod.err)\""
	fi
done </etc/mv-modules
say "modules=$loaded"

# mv.run=MODE takes every later word as its arguments (but mv.*= words and a
# lone `--`); mv.secs=N for balloon-watch.
set -f
run=report secs=10 args= after=0 linger=0 compact=
for w in $(cat /proc/cmdline); do
	case $w in
	mv.run=*) run=${w#mv.run=}; after=1 ;;
	mv.secs=*) secs=${w#mv.secs=} ;;
	mv.after=*) linger=${w#mv.after=} ;;
	mv.compact=*) compact=${w#mv.compact=} ;;
	mv.*=*) ;;
	--) ;;
	*) [ $after = 1 ] && args="$args $w" ;;
	esac
done
set +f

meminfo() { sed -n "s/^$1: *\([0-9]*\) kB/\1/p" /proc/meminfo; }
vmstat() { sed -n "s/^$1 //p" /proc/vmstat; }

balloon() {
	dev=
	for d in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
		[ -e "$d" ] && dev="$dev${dev:+,}${d##*/}"
	done
	if [ -n "$dev" ]; then say "balloon_bound=1 balloon_dev=$dev"; else say "balloon_bound=0"; fi
	# pages in the balloon: inflated minus deflated (BALLOON_COMPACTION's counters)
	inf=$(vmstat balloon_inflate) def=$(vmstat balloon_deflate)
	[ -n "$inf" ] && say "balloon_pages=$((inf - def)) balloon_inflate=$inf balloon_deflate=$def"
	if [ -r /sys/kernel/debug/virtio-balloon ]; then
		tr -s ' \t' '_' </sys/kernel/debug/virtio-balloon | sed -n 's/^\([A-Za-z_]*\):_*\([0-9]*\).*/mv-guest: balloon_\1=\2/p'
	fi
}

report() {
	say "memtotal_kb=$(meminfo MemTotal)"
	say "memfree_kb=$(meminfo MemFree)"
	say "memavailable_kb=$(meminfo MemAvailable)"
	devs=
	for d in /sys/bus/virtio/devices/virtio*; do
		[ -e "$d" ] && devs="$devs${devs:+,}${d##*/}:$(cat "$d/device")"
	done
	say "virtio_devices=${devs:-none}"
	balloon
}

rc=0
say "run=$run args=\"${args# }\""
# mv.compact=SECS: page migration inside the guest while the run goes.
compactor=
if [ -n "$compact" ]; then
	(while echo 1 >/proc/sys/vm/compact_memory; do sleep "$compact"; done) &
	compactor=$!
fi
case $run in
report) report; rc=$? ;;
shell)
	say "shell: exit it to power off"
	setsid cttyhack sh -l
	rc=$? ;;
memstress)
	# shellcheck disable=SC2086
	/bin/memstress $args
	rc=$? ;;
balloon-watch)
	i=0
	while [ $i -lt "$secs" ]; do
		inf=$(vmstat balloon_inflate) def=$(vmstat balloon_deflate)
		say "t=$i memtotal_kb=$(meminfo MemTotal) memfree_kb=$(meminfo MemFree) balloon_pages=$((${inf:-0} - ${def:-0}))"
		sleep 1
		i=$((i + 1))
	done
	report ;;
reboot)
	say "done rc=0"
	reboot -f
	sleep 1000000 ;;
panic)
	say "panicking on purpose (sysrq c)"
	echo c >/proc/sysrq-trigger
	sleep 1000000 ;;
*) say "error=\"unknown mv.run=$run\""; rc=2 ;;
esac
if [ -n "$compactor" ]; then
	kill "$compactor"
	say "compact_every_s=$compact pgmigrate_success=$(vmstat pgmigrate_success) compact_isolated=$(vmstat compact_isolated)"
fi
# mv.after=N: stay up N seconds more (free page reporting, the balloon), then report again.
if [ "$linger" -gt 0 ] 2>/dev/null; then
	sleep "$linger"
	say "after=$linger memfree_kb=$(meminfo MemFree)"
fi
say "done rc=$rc"
poweroff -f
sleep 1000000
EOF
chmod 755 "$STAGE/init"

tmp=$INITRD.tmp
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 -n >"$tmp"
mv "$tmp" "$INITRD"
cp "$KROOT/boot/vmlinuz-$KVER" "$VMLINUZ.tmp"
mv "$VMLINUZ.tmp" "$VMLINUZ"
echo "$KVER" >"$OUT/kernel-version"
log "built $VMLINUZ ($KVER, $(du -k "$VMLINUZ" | cut -f1) KiB) and $INITRD ($(du -k "$INITRD" | cut -f1) KiB; modules: ${ORDER[*]})"
