#!/usr/bin/env bash
# wipe finds and erases signatures at the far end of a disk and of a partition whose sizes are
# not multiples of 256 KiB: ZFS uberblocks in the last vdev label (libblkid's zfs prober reads
# the labels at 0, 256 KiB and 512/256 KiB before the end rounded down to 256 KiB; util-linux
# libblkid/src/superblocks/zfs.c). The probe reads each region's first and last 512 KiB ahead
# (hw_probe_fd): the dry run must still list both, --apply must erase them, and libblkid must
# find nothing afterwards.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/lib/site.sh"
loop_require
command -v sgdisk >/dev/null || skip_all "sgdisk is missing"

PROFILE=$ROOT/profiles/demo.yaml
K=1024
M=$((1024 * K))
size=$((200 * M + 100 * K))        # size % 256K = 100K
pstart=$((2048 * 512))             # partition 1 at 1 MiB
psize=$((196680 * 512))            # 96 MiB + 36 KiB: psize % 256K = 36K
img=$(loop_image edges.img "$size")
inst=$(loop_image inst.img 64M)
sgdisk -n1:2048:+196680 "$img" >/dev/null || { not_ok "sgdisk"; exit 1; }

# four uberblock magics (u64 0x00bab10c, little endian) in the last label of a region;
# prints where libblkid reports the magic (the fourth uberblock's)
uberblocks() { # uberblocks REGION-OFFSET REGION-SIZE
	local label=$(($1 + $2 - 256 * K - $2 % (256 * K))) k
	for k in 0 1 2 3; do
		printf '\x0c\xb1\xba\x00\x00\x00\x00\x00' |
			dd of="$img" bs=1 seek=$((label + 128 * K + k * K)) conv=notrunc status=none
	done
	echo $((label + 128 * K + 3 * K))
}
disk_ub=$(uberblocks 0 "$size")
part_ub=$(uberblocks "$pstart" "$psize")
dev=$(loop_attach "$img")
loop_guard "$dev"
loop_partx "$dev"
site_one_node "$T/n.yaml" "$inst" "$dev"
run() { "$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --disk-file "$inst" "$@"; }

expect_out "fixture: libblkid sees the disk's ZFS label" 'zfs_member' blkid -p -o value -s TYPE "$dev"
run --json >"$T/plan.json" 2>&1
check "dry run lists zfs_member near the end of the disk ($disk_ub)" \
	grep -q "\"offset\":$disk_ub,\"length\":8,\"kind\":\"signature\",\"type\":\"zfs_member\",\"partition\":0" "$T/plan.json"
check "dry run lists zfs_member near the end of partition 1 ($part_ub)" \
	grep -q "\"offset\":$part_ub,\"length\":8,\"kind\":\"signature\",\"type\":\"zfs_member\",\"partition\":1" "$T/plan.json"
expect_out "apply: wiped and clean" "$dev: wiped .* clean" run --apply
expect_fail "libblkid finds nothing on the disk afterwards" 2 blkid -p "$dev"
zero_at() { [ "$(dd if="$dev" bs=1 skip="$1" count=8 status=none | od -An -tx1 | tr -d ' \n')" = 0000000000000000 ]; }
check "the disk's reported uberblock magic is zeroed" zero_at "$disk_ub"
check "the partition's reported uberblock magic is zeroed" zero_at "$part_ub"
