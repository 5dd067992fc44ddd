#!/usr/bin/env bash
# PXE under OVMF (UEFI): OVMF's network boot loads GRUB's core.efi (grub-mknetdir, in the
# tree `appliance pxe` builds) over the user network's TFTP, GRUB sources the node file
# for the NIC's MAC (demo-2) and loads the live system and site.cpio; the live system
# fetches demo-2's payload (a worker's: its machine config, no secret) from the payload
# server and installs it unattended. The host checks the disk images and the server's log.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"
. "$ROOT/tests/e2e/lib/pxe.sh"

e2e_begin

check "appliance pxe builds the tree (with GRUB netboot) and serves the payloads" e2e_pxe_serve uefi \
	--netboot "$NETBOOT_DIR" --kernel-args "console=ttyS0,115200n8"
check "tree: GRUB core.efi" test -s "$T/pxe/grub/x86_64-efi/core.efi"

e2e_node_disks demo2 2
e2e_ovmf_args pxe-uefi
e2e_qemu pxe-uefi 420 "${OVMF_ARGS[@]}" \
	-netdev "$(e2e_netdev ",tftp=$T/pxe,bootfile=grub/x86_64-efi/core.efi")" \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:02,bootindex=0 -smbios type=1,serial=APPL-DEMO-2 \
	"${DISK_ARGS[@]}"
rc=$?
[ $rc -eq 0 ] && ok "QEMU powered off by itself ($(cat "$T/pxe-uefi.secs") s)" || not_ok "QEMU powered off by itself (exit $rc)"
check "booted through GRUB's network boot" grep -aq "Booting .appliance install" "$T/pxe-uefi.serial"
expect_out "GRUB's node file named the node" 'node=demo-2' e2e_result pxe-uefi
e2e_check_install pxe-uefi demo-2 "$T/demo2"
check "the disk holds exactly the payload's config" cmp "$(e2e_payload_config demo-2)" "$T/pxe-uefi.cfg/config.yaml"
expect_out "the server logged the one delivery" '^1$' grep -c 'mac 52:54:00:12:34:02 node demo-2: sent' "$T/uefi.serve.log"
