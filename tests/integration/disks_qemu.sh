#!/usr/bin/env bash
# appliance disks on real NVMe and USB devices: the live system (build/iso/live) boots in
# QEMU with three virtual NVMe disks (serials as profiles/demo.yaml names them, one with an
# old ext4, one with an old GPT) and a USB stick holding the profile (FAT labelled
# APPLIANCE, the live medium). appliance.action=check runs `appliance disks PROFILE --node
# demo-1` in the guest; the serial log must show the real sysfs facts (NVMe serial
# trimmed, model, transport from the device path), the signatures, the stick as the live
# medium, and the selectors resolved. This kernel has no nvme driver; the guest's has.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
e2e_require_qemu
if ! command -v mkfs.vfat >/dev/null 2>&1 || ! command -v mcopy >/dev/null 2>&1; then
	skip_all "!!! dosfstools/mtools missing: the guest disks test did NOT run (make deps)"
fi
e2e_assets

# demo-1's disks as profiles/demo.yaml names them (install APPL-INSTALL-1, Ceph APPL-CEPH-1*)
d=$T/demo-1
mkdir -p "$d"
truncate -s 2G "$d/install.raw"
truncate -s 1G "$d/ceph-a.raw" "$d/ceph-b.raw"
mkfs.ext4 -q -F -L old-data "$d/ceph-a.raw"
sgdisk -o -n 1:2048:+512M -c 1:old-osd "$d/ceph-b.raw" >/dev/null # (sgdisk -q -o writes nothing)
printf 'bluestore block device\n' | dd of="$d/ceph-b.raw" bs=1M seek=1 conv=notrunc status=none
DISK_ARGS=()
for x in install:APPL-INSTALL-1 ceph-a:APPL-CEPH-1-A ceph-b:APPL-CEPH-1-B; do
	DISK_ARGS+=(-drive "file=$d/${x%%:*}.raw,format=raw,if=none,discard=unmap,id=${x%%:*}"
		-device "nvme,drive=${x%%:*},serial=${x#*:}")
done
truncate -s 64M "$T/stick.img"
mkfs.vfat -n APPLIANCE "$T/stick.img" >/dev/null
mmd -i "$T/stick.img" ::appliance
mcopy -i "$T/stick.img" "$ROOT/profiles/demo.yaml" ::appliance/profile.yaml

e2e_qemu guest 240 -kernel "$LIVE_DIR/vmlinuz" -initrd "$LIVE_DIR/initrd.img" \
	-append "console=ttyS0 appliance.action=check appliance.node=demo-1" -nic none \
	"${DISK_ARGS[@]}" \
	-device qemu-xhci -drive "if=none,id=stick,file=$T/stick.img,format=raw" -device usb-storage,drive=stick
tr -d '\r' <"$T/guest.serial" | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' >"$T/log"
has() { grep -qE -- "$1" "$T/log"; }
res=$(e2e_result guest)
if [[ "$res" == *"APPLIANCE RESULT: ok action=check exit=0"* ]]; then ok "guest: check ok ($res)"; else
	not_ok "guest: check ok (got '${res:-nothing}')"
	e2e_show guest
fi
check "NVMe install disk: model, trimmed serial, transport from sysfs" \
	has '^/dev/nvme[0-9]n1  2\.0 GiB  nvme  model=QEMU NVMe Ctrl serial=APPL-INSTALL-1 wwid=[^ ]+$'
check "NVMe Ceph disk A: serial" has '^/dev/nvme[0-9]n1  1\.0 GiB  nvme  model=QEMU NVMe Ctrl serial=APPL-CEPH-1-A '
check "NVMe Ceph disk A: the old ext4 with its label" has "^  signature: ext4 at 0x438 \\(filesystem, label 'old-data', uuid "
check "NVMe Ceph disk B: the old GPT" has '^  partition table: gpt$'
check "NVMe Ceph disk B: both GPT headers and the PMBR" \
	bash -c "grep -q '^  signature: gpt at 0x3ffffe00 ' '$T/log' && grep -q '^  signature: PMBR at 0x1fe ' '$T/log'"
check "NVMe Ceph disk B: BlueStore inside partition 1" has '^  signature: ceph_bluestore at 0x100000 \(other, partition 1\)$'
check "NVMe: 512-byte sectors" has '^  size 1073741824 bytes, sectors 512/512$'
check "NVMe: not rotational, discard" has '^  rotational=no removable=no read-only=no discard=yes$'
check "USB stick: transport usb" has '^/dev/sd[a-z]  64\.0 MiB  usb  model=QEMU HARDDISK '
check "USB stick: the live medium (never written)" has '^  live system: yes \(never written\)$'
check "selectors: installDisk resolves to one disk" has '^nodes\[0\]\.installDisk: 1 disk$'
check "selectors: cephDisks (match: all) resolves to both Ceph disks" has '^nodes\[0\]\.cephDisks\[0\]: 2 disks$'
check "selectors: the stick says why it does not match" \
	has "^  /dev/sd[a-z]: no match: (has no serial|serial '[^']*' does not match) "
