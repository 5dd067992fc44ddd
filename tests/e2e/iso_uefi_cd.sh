#!/usr/bin/env bash
# The ISO as a CD under OVMF (UEFI), with the site embedded in the live system
# (iso/build.sh --profile) and the unattended entry as the menu default: the live system
# installs demo-1 (found by its MAC) and the host checks the disk images.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"

e2e_begin

GRUB_DEFAULT=1 GRUB_TIMEOUT=0 check "iso/build.sh with the site embedded" bash "$ROOT/iso/build.sh" \
	--out "$T/iso" --appliance "$APPLIANCE" --mkinitramfs "$MKINITRAMFS" --profile "$T/site" \
	--cmdline "console=ttyS0,115200n8"

e2e_node_disks demo1 1
e2e_ovmf_args iso-uefi
e2e_qemu iso-uefi 420 "${OVMF_ARGS[@]}" \
	-drive "if=none,id=cd,media=cdrom,format=raw,readonly=on,file=$T/iso/appliance.iso" -device ide-cd,drive=cd,bootindex=0 \
	-netdev "$(e2e_netdev)" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
	-smbios type=1,serial=APPL-DEMO-1 "${DISK_ARGS[@]}"
rc=$?
[ $rc -eq 0 ] && ok "QEMU powered off by itself ($(cat "$T/iso-uefi.secs") s)" || not_ok "QEMU powered off by itself (exit $rc)"
check "profile embedded in the live system" grep -aq 'profile embedded in the live system' "$T/iso-uefi.serial"
check "booted under UEFI (efivarfs present, boot order step ran)" grep -aq 'boot-order' "$T/iso-uefi.serial"
e2e_check_install iso-uefi demo-1 "$T/demo1"
