# shellcheck shell=bash
# Loop devices for tests: created, recorded and detached by the test itself.
# OWNER: disks work (issue 6). Used by the disk, wipe, image writer, install and e2e tests.
#
# Source it after tap.sh:
#     . "$ROOT/tests/lib/loop.sh"
#
#   loop_require                 skip the whole script (exit 77) unless we are root and
#                                losetup + /dev/loop-control work
#   img=$(loop_image NAME SIZE)  create a sparse image file $T/NAME of SIZE (truncate syntax:
#                                256M, 8G) and print its path
#   dev=$(loop_attach IMG [-r])  attach IMG to a free loop device (-r: read-only), record it,
#                                print /dev/loopN
#   loop_attach_at DEV IMG       attach IMG to the free loop device DEV (a device this test
#                                detached before: the same name for another disk), record it
#   dev=$(loop_new NAME SIZE)    loop_image + loop_attach in one step
#   loop_partx DEV               make the kernel see DEV's partitions (partx -a/-u: no udev here)
#   loop_owned DEV               succeeds only for a device this test attached (recorded, and
#                                still backed by the recorded image file)
#   loop_guard DEV...            like loop_owned but fatal: prints "not ok" and exits 1 (use it
#                                in front of anything that writes to DEV)
#   loop_detach DEV              unmount what is mounted from DEV, partx -d, losetup -d, now
#   loop_list                    the devices this test attached, one per line
#
# Every attached device is detached in an at_exit hook, even when the test fails or is
# interrupted: mounts of it and its partitions are unmounted first (lazily). The hook
# touches only devices still backed by the image file this test attached: a device
# number reused by another test is never detached by mistake. Records live in $T/.loops
# (one "DEVICE<TAB>IMAGE" line each), so $(...) subshells record too.

_LOOP_DB="$T/.loops"
: >"$_LOOP_DB"

loop_require() {
	[ "$(id -u)" -eq 0 ] || skip_all "loop devices need root"
	command -v losetup >/dev/null 2>&1 || skip_all "losetup is missing"
	[ -e /dev/loop-control ] || skip_all "no /dev/loop-control (loop driver)"
}

loop_image() {
	local img="$T/$1"
	truncate -s "$2" "$img" || return 1
	echo "$img"
}

# _loop_backing DEV: the image file behind a loop device (empty when detached).
_loop_backing() {
	local n
	n=$(basename "$1")
	cat "/sys/block/$n/loop/backing_file" 2>/dev/null
}

loop_attach() {
	local img=$1 dev real
	shift
	real=$(readlink -f "$img") || return 1
	dev=$(losetup --find --show "$@" "$real") || return 1
	printf '%s\t%s\n' "$dev" "$real" >>"$_LOOP_DB"
	echo "$dev"
}

loop_attach_at() {
	local dev=$1 real
	real=$(readlink -f "$2") || return 1
	[ -z "$(_loop_backing "$dev")" ] || return 1 # never take over a device in use
	losetup "$dev" "$real" || return 1
	printf '%s\t%s\n' "$dev" "$real" >>"$_LOOP_DB"
}

loop_new() {
	local img
	img=$(loop_image "$1" "$2") || return 1
	loop_attach "$img"
}

loop_list() { cut -f1 "$_LOOP_DB"; }

loop_owned() {
	local dev=$1 img
	img=$(awk -F'\t' -v d="$dev" '$1 == d { print $2 }' "$_LOOP_DB" | tail -1)
	[ -n "$img" ] && [ "$(_loop_backing "$dev")" = "$img" ]
}

loop_guard() {
	local d
	for d in "$@"; do
		if ! loop_owned "$d"; then
			not_ok "refusing to touch '$d': this test did not create it"
			exit 1
		fi
	done
}

loop_partx() {
	loop_guard "$1"
	partx -u "$1" >/dev/null 2>&1 || true
	partx -a "$1" >/dev/null 2>&1 || true
}

loop_detach() {
	local dev=$1
	loop_owned "$dev" || return 0
	# mounts of the device or its partitions, deepest first
	awk -v d="$dev" '$1 == d || index($1, d "p") == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$(printf '%b' "$m")" 2>/dev/null || true; done
	partx -d "$dev" >/dev/null 2>&1 || true
	losetup -d "$dev" 2>/dev/null || true
}

_loop_cleanup() {
	local dev
	[ -f "$_LOOP_DB" ] || return 0
	tac "$_LOOP_DB" | cut -f1 | while read -r dev; do
		loop_detach "$dev"
	done
}
at_exit _loop_cleanup
