#!/usr/bin/env bash
# The ISO written to a USB stick (appliance image write), under SeaBIOS: the site profile, its
# secrets and the stick's boot settings (unattended, no menu timeout) are copied onto the
# stick's writable FAT partition (label APPLIANCE) with mtools, as a user would with any
# OS. The live system installs demo-1 unattended, keeps its journal and log on the stick,
# and the host checks the disk images and the stick.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"

e2e_begin

e2e_stick "$ISO" 1G
check "stick has appliance/README.txt and grub.cfg" mdir -i "$S" ::/appliance/grub.cfg
check "copy the site onto the stick (mtools)" mcopy -o -i "$S" "$T/site/profile.yaml" "$T/site/site.yaml" \
	"$T/site/pins.yaml" "$T/site/secrets.env" "$T/site/talos-secrets.yaml" "$T/grub.cfg" ::/appliance/

e2e_node_disks demo1 1
e2e_qemu iso-bios 420 -device qemu-xhci,id=xhci \
	-drive "if=none,id=stick,format=raw,file=$T/stick.img" -device usb-storage,bus=xhci.0,drive=stick,bootindex=0 \
	-netdev "$(e2e_netdev)" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
	-smbios type=1,serial=APPL-DEMO-1 "${DISK_ARGS[@]}"
rc=$?
[ $rc -eq 0 ] && ok "QEMU powered off by itself ($(cat "$T/iso-bios.secs") s)" || not_ok "QEMU powered off by itself (exit $rc)"
check "profile read from the stick" grep -aq 'profile from the stick' "$T/iso-bios.serial"
e2e_check_install iso-bios demo-1 "$T/demo1"
expect_out "stick: result in appliance/logs/result.txt" '^ok action=install exit=0' mtype -i "$S" ::/appliance/logs/result.txt
expect_out "stick: install log in appliance/logs/install.log" 'write-image' mtype -i "$S" ::/appliance/logs/install.log
expect_out "stick: journal in appliance/state/journal" 'write-image' mdir -b -i "$S" ::/appliance/state/journal
