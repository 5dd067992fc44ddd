#!/usr/bin/env bash
# A QEMU install on Talos v1.10.5's real metal-amd64 geometry (images/mkimage.sh --exact:
# EFI 1101, BIOS 1, BOOT 1000, META 1 MiB; 2247 MiB), under OVMF from the stick: the live
# system writes it to a 3200 MiB NVMe disk and adds metal-iso after META. Then the host does
# to the disk what Talos' first boot does (images/talos-firstboot.py: BIOS and BOOT deleted on
# UEFI, STATE in the smallest fitting gap, EPHEMERAL in the largest): the config volume is
# still found by its label, and a second boot of the same stick refuses to re-image the disk
# that now runs Talos, leaving it unchanged. (tests/integration/install-talos-layout.sh checks
# the same rows without QEMU.)
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"
. "$ROOT/tests/lib/gpt.sh"
command -v sfdisk >/dev/null || skip_all "!!! sfdisk (fdisk) is not installed"

export DEMO_IMAGE_ARGS="--exact --fill 1" E2E_INSTALL_SIZE=3200M
e2e_begin

e2e_stick "$ISO" 1G
check "copy the site onto the stick (mtools)" mcopy -o -i "$S" "$T/site/profile.yaml" "$T/site/site.yaml" \
	"$T/site/pins.yaml" "$T/site/secrets.env" "$T/site/talos-secrets.yaml" "$T/grub.cfg" ::/appliance/

boot() { # NAME: OVMF, the stick, demo-1's NIC and disks
	e2e_ovmf_args "$1"
	e2e_qemu "$1" 600 "${OVMF_ARGS[@]}" -device qemu-xhci,id=xhci \
		-drive "if=none,id=stick,format=raw,file=$T/stick.img" -device usb-storage,bus=xhci.0,drive=stick,bootindex=0 \
		-netdev "$(e2e_netdev)" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
		-smbios type=1,serial=APPL-DEMO-1 "${DISK_ARGS[@]}"
}
e2e_node_disks demo1 1
D=$T/demo1/install.raw
boot exact
rc=$?
[ $rc -eq 0 ] && ok "QEMU powered off by itself ($(cat "$T/exact.secs") s)" || not_ok "QEMU powered off by itself (exit $rc)"
# the image's bytes up to META (the install keeps its own record in META, 2103 MiB on)
cp --sparse=always "$E2E_IMAGE" "$T/img/to-meta.raw"
truncate -s $(((2103 + 2) * 1048576)) "$T/img/to-meta.raw"
E2E_IMAGE=$T/img/to-meta.raw
e2e_check_install exact demo-1 "$T/demo1"
check "install disk: EFI 1101, BIOS 1, BOOT 1000, META 1 MiB, then metal-iso after META" \
	test "$(gpt_table "$D" | cut -d' ' -f1,2,4 | tr '\n' ';')" = "1 EFI 1;2 BIOS 1102;3 BOOT 1103;4 META 2103;5 metal-iso 2104;"

# ---- Talos' first boot, then the same stick again --------------------------------------------
check "first boot simulated (BIOS/BOOT deleted, STATE and EPHEMERAL created)" \
	/usr/bin/python3 "$ROOT/images/talos-firstboot.py" "$D"
after=$(gpt_table "$D")
echo "$after" | sed 's/^/# /'
check "after first boot: STATE and EPHEMERAL, no BIOS or BOOT" \
	sh -c "echo '$after' | grep -q '^2 STATE ' && echo '$after' | grep -q '^3 EPHEMERAL ' && ! echo '$after' | grep -qE ' (BIOS|BOOT) '"
check "after first boot: the config volume is still found by its label" \
	test "$(gpt_label "$D" metal-iso)" = metal-iso
before=$(sha256sum "$D" | cut -d' ' -f1)
boot rerun
expect_out "second boot: the live system refuses the disk that runs Talos" \
	"install disk '/dev/nvme0n1' already runs Talos: STATE \(xfs, partition 2\), EPHEMERAL \(xfs, partition 3\), metal-iso \(iso9660, partition 5\)" \
	tr -d '\r' <"$T/rerun.serial"
expect_out "second boot: the install failed, nothing done" 'APPLIANCE RESULT: failed action=install exit=1' e2e_result rerun
check "second boot: the install disk is unchanged" test "$(sha256sum "$D" | cut -d' ' -f1)" = "$before"
