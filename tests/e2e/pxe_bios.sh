#!/usr/bin/env bash
# PXE under SeaBIOS: QEMU's iPXE ROM fetches boot.ipxe over the user network's TFTP
# (restrict=on; only guestfwd to the test's smbd, nginx and the PXE payload server on
# 127.0.0.1), chains the node's script by MAC (demo-3), boots the live system with
# site.cpio (no secret in it), the live system fetches demo-3's payload by its MAC from
# `appliance pxe`'s payload server and installs demo-3 unattended. The host then checks
# the disk images, the payload server's log and that the payload was handed out once.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"
. "$ROOT/tests/e2e/lib/pxe.sh"

e2e_begin

check "appliance pxe builds the tree and serves the payloads" e2e_pxe_serve bios --kernel-args "console=ttyS0,115200n8"
check "tree: per-MAC script for demo-3" grep -q 'appliance.node=demo-3' "$T/pxe/mac-52-54-00-12-34-03.ipxe"

e2e_node_disks demo3 3
e2e_qemu pxe-bios 420 -netdev "$(e2e_netdev ",tftp=$T/pxe,bootfile=boot.ipxe")" \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:03 -smbios type=1,serial=APPL-DEMO-3 \
	"${DISK_ARGS[@]}" -boot n
rc=$?
[ $rc -eq 0 ] && ok "QEMU powered off by itself ($(cat "$T/pxe-bios.secs") s)" || not_ok "QEMU powered off by itself (exit $rc)"
expect_out "booted through the node's iPXE script" 'node=demo-3' e2e_result pxe-bios
expect_out "the live system fetched demo-3's payload by its MAC" 'APPLIANCE: payload for node demo-3 fetched by MAC 52-54-00-12-34-03' \
	grep -a 'APPLIANCE: payload' "$T/pxe-bios.serial"
e2e_check_install pxe-bios demo-3 "$T/demo3"
check "the disk holds exactly the payload's config" cmp "$(e2e_payload_config demo-3)" "$T/pxe-bios.cfg/config.yaml"
expect_out "the server logged the one delivery" '^1$' grep -c 'mac 52:54:00:12:34:03 node demo-3: sent' "$T/bios.serve.log"
