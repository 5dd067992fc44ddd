#!/usr/bin/env bash
# appliance image add-config: the metal-iso partition right after META (libfdisk),
# replaced in place on a re-run, grown when the volume grows, free space after it kept
# as one region; on image files and a loop device.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"

for t in sgdisk mkfs.vfat mcopy zstd openssl; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done
last_has() {
	if grep -qE -- "$2" "$T/.out"; then ok "$1"; else not_ok "$1 (no match for /$2/)"; sed 's/^/#   /' "$T/.out" | tail -20; fi
}
rand() { openssl enc -aes-256-ctr -nosalt -pass "pass:$2" -pbkdf2 -iter 1 </dev/zero 2>/dev/null | head -c "$1"; }

img=$T/talos.raw
"$ROOT/images/mkimage.sh" --size-mib 64 --boot-mib 24 --seed 5 "$img" || { not_ok "mkimage"; exit 1; }
zstd -q -3 "$img" -o "$img.zst"
rand 300000 vol1 >"$T/vol1.iso"
rand 300000 vol2 >"$T/vol2.iso"
rand 2600000 vol3 >"$T/vol3.iso"
meta_end=$(( ($(sgdisk -i 4 "$img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p') + 1) * 512 ))

rand $((160 << 20)) disk >"$T/disk.img"
check "write the image" "$APPLIANCE" image write "$img.zst" "$T/disk.img" --journal "$T/j" --apply

before=$(sha256sum <"$T/disk.img")
expect_out "dry run: would create partition 5 after META" \
	"would create partition 5 'metal-iso' on $T/disk.img at byte $meta_end, 1.0 MiB" \
	"$APPLIANCE" image add-config "$T/disk.img" --volume "$T/vol1.iso"
check "dry run changes nothing" test "$before" = "$(sha256sum <"$T/disk.img")"

check "add-config creates the partition" "$APPLIANCE" image add-config "$T/disk.img" --volume "$T/vol1.iso" --apply
last_has "reports it" "created partition 5 'metal-iso' on $T/disk.img at byte $meta_end, 1.0 MiB; wrote $T/vol1.iso \(300000 bytes\)"
check "sgdisk -v finds no problem" sh -c "sgdisk -v '$T/disk.img' | grep -q 'No problems found'"
check "partition 5 is named metal-iso" sh -c "sgdisk -i 5 '$T/disk.img' | grep -q \"Partition name: 'metal-iso'\""
check "the volume is in the partition" cmp -n 300000 -i "$meta_end:0" "$T/disk.img" "$T/vol1.iso"
check "the rest of the partition reads as zeros" cmp -n $((1048576 - 300000)) -i $((meta_end + 300000)):0 "$T/disk.img" /dev/zero
check "partitions 1-4 are the image's" sh -c "for i in 1 2 3 4; do [ \"\$(sgdisk -i \$i '$img')\" = \"\$(sgdisk -i \$i '$T/disk.img')\" ] || exit 1; done"
largest=$(sgdisk -v "$T/disk.img" | tr '\n' ' ' | sed -n 's/.*the largest of which is \([0-9]*\).*/\1/p')
check "the space after metal-iso stays one free region ($largest sectors)" test "$largest" -gt $(((160 - 66) * 2048))

check "re-run replaces the volume in place" "$APPLIANCE" image add-config "$T/disk.img" --volume "$T/vol2.iso" --apply
last_has "re-run reuses partition 5" "reused partition 5 'metal-iso'"
check "new volume in place" cmp -n 300000 -i "$meta_end:0" "$T/disk.img" "$T/vol2.iso"
check "still 5 partitions" test "$(sgdisk -p "$T/disk.img" | grep -c '^ *[0-9]')" -eq 5

check "a bigger volume grows the partition" "$APPLIANCE" image add-config "$T/disk.img" --volume "$T/vol3.iso" --apply
last_has "reports the growth" "grew partition 5 'metal-iso' on $T/disk.img at byte $meta_end, 3.0 MiB"
check "bigger volume in place" cmp -n 2600000 -i "$meta_end:0" "$T/disk.img" "$T/vol3.iso"
check "sgdisk -v still clean" sh -c "sgdisk -v '$T/disk.img' | grep -q 'No problems found'"

# failures
rand $((8 << 20)) raw >"$T/nogpt.img"
expect_fail "no GPT: exit 1" 1 "$APPLIANCE" image add-config "$T/nogpt.img" --volume "$T/vol1.iso" --apply
last_has "no GPT: message" "appliance: '$T/nogpt.img' has no GPT partition table"
cp "$img" "$T/full.img"
expect_fail "no room after META: exit 1" 1 "$APPLIANCE" image add-config "$T/full.img" --volume "$T/vol1.iso" --apply
last_has "no room: message" "appliance: no room on '$T/full.img' for a 1048576-byte 'metal-iso' partition after byte $meta_end"
expect_fail "missing --volume: exit 2" 2 "$APPLIANCE" image add-config "$T/disk.img"
expect_fail "missing volume file: exit 2" 2 "$APPLIANCE" image add-config "$T/disk.img" --volume "$T/none.iso"
last_has "missing volume file: message" "appliance: config volume '$T/none.iso': No such file or directory"

# on a loop device
loop_require
lo=$(loop_new loop.img 128M) || { not_ok "attach a loop device"; exit 1; }
loop_guard "$lo"
check "write the image to $lo" "$APPLIANCE" image write "$img.zst" "$lo" --journal "$T/jl" --apply
check "add-config on $lo" "$APPLIANCE" image add-config "$lo" --volume "$T/vol1.iso" --apply
check "volume on $lo" cmp -n 300000 -i "$meta_end:0" "$lo" "$T/vol1.iso"
check "sgdisk -v on $lo clean" sh -c "sgdisk -v '$lo' | grep -q 'No problems found'"
