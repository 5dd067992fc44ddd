#!/usr/bin/env bash
# PXE under OVMF (UEFI): OVMF's network boot loads GRUB's core.efi (grub-mknetdir, in the
# tree `appliance pxe` builds) over the user network's TFTP, GRUB loads the live system and
# site.cpio. The NIC's MAC is not in the profile, so the live system identifies the machine
# by its DMI serial (demo-2) and installs it unattended. The host checks the disk images.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"

e2e_begin

check "appliance pxe builds the tree (with GRUB netboot)" "$APPLIANCE" pxe "$T/site/profile.yaml" \
	--site "$T/site/site.yaml" --include "$T/site/secrets.env" --secrets "$T/site/talos-secrets.yaml" \
	--out "$T/pxe" --live "$LIVE_DIR" --netboot "$NETBOOT_DIR" --kernel-args "console=ttyS0,115200n8"
check "tree: GRUB core.efi" test -s "$T/pxe/grub/x86_64-efi/core.efi"

e2e_node_disks demo2 2
e2e_ovmf_args pxe-uefi
e2e_qemu pxe-uefi 420 "${OVMF_ARGS[@]}" \
	-netdev "$(e2e_netdev ",tftp=$T/pxe,bootfile=grub/x86_64-efi/core.efi")" \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:02,bootindex=0 -smbios type=1,serial=APPL-DEMO-2 \
	"${DISK_ARGS[@]}"
rc=$?
[ $rc -eq 0 ] && ok "QEMU powered off by itself ($(cat "$T/pxe-uefi.secs") s)" || not_ok "QEMU powered off by itself (exit $rc)"
check "booted through GRUB's network boot" grep -aq "Booting .appliance install" "$T/pxe-uefi.serial"
expect_out "the live system identified the machine (no node on the command line)" 'node=auto' e2e_result pxe-uefi
e2e_check_install pxe-uefi demo-2 "$T/demo2"
