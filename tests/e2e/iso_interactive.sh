#!/usr/bin/env bash
# The stick's default menu entry, interactive: the live system shows the plan and asks on
# the console (here the serial port, driven through a QEMU pipe). "no" changes nothing;
# "yes" installs demo-1. OVMF (UEFI), the ISO written to a USB stick, the site on the stick
# (the other combinations: iso_bios_stick.sh, iso_uefi_cd.sh).
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"

e2e_begin

cp "$ISO" "$T/stick.img"
truncate -s 1G "$T/stick.img"
off=""
while read -r _ start; do
	[ "$(blkid -p -O $((start * 512)) -s LABEL -o value "$T/stick.img" 2>/dev/null)" = APPLIANCE ] && off=$((start * 512))
done < <(partx -g -o NR,START "$T/stick.img" 2>/dev/null)
S="$T/stick.img@@$off"
# menu entry 0 (interactive) without waiting; the serial port is the console
printf 'set default=0\nset timeout=0\nset appliance_console="console=tty0 console=ttyS0,115200n8"\n' >"$T/grub.cfg"
check "copy the site onto the stick" mcopy -o -i "$S" "$T/site/profile.yaml" "$T/site/site.yaml" \
	"$T/site/pins.yaml" "$T/site/secrets.env" "$T/site/talos-secrets.yaml" "$T/grub.cfg" ::/appliance/
e2e_node_disks demo1 1

# answer NAME WORD: boot, wait for the question, type WORD
answer() {
	local name=$1 word=$2 pid start
	rm -f "$T/$name.in" "$T/$name.out"
	mkfifo "$T/$name.in" "$T/$name.out"
	: >"$T/$name.serial"
	cat "$T/$name.out" >>"$T/$name.serial" &
	start=$(date +%s)
	e2e_ovmf_args "$name"
	timeout --kill-after=5 420 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -machine q35 -nographic -no-reboot \
		-monitor none -display none -serial "pipe:$T/$name" "${OVMF_ARGS[@]}" -device qemu-xhci,id=xhci \
		-drive "if=none,id=stick,format=raw,file=$T/stick.img" -device usb-storage,bus=xhci.0,drive=stick,bootindex=0 \
		-netdev "$(e2e_netdev)" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
		-smbios type=1,serial=APPL-DEMO-1 "${DISK_ARGS[@]}" >"$T/$name.qemu.log" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 1200); do
		grep -aq "Type 'yes' to install" "$T/$name.serial" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.25
	done
	if grep -aq "Type 'yes' to install" "$T/$name.serial"; then
		ok "$name: the plan, then the question on the console"
		printf '%s\n' "$word" >"$T/$name.in"
	else
		not_ok "$name: the plan, then the question on the console"
		e2e_show "$name"
	fi
	wait $pid
	diag "$name: QEMU exit $? after $(($(date +%s) - start)) s"
}

before=$(sha256sum "$T/demo1/install.raw" "$T/demo1/ceph-a.raw" "$T/demo1/ceph-b.raw")
answer iso-no no
expect_out "iso-no: the plan listed the image write" 'write +/dev/nvme0n1' cat "$T/iso-no.serial"
expect_out "iso-no: 'no' changes nothing" 'not confirmed; nothing was changed' cat "$T/iso-no.serial"
expect_out "iso-no: summary says failed" 'APPLIANCE RESULT: failed action=install exit=1' e2e_result iso-no
check "iso-no: no disk changed" test "$(sha256sum "$T/demo1/install.raw" "$T/demo1/ceph-a.raw" "$T/demo1/ceph-b.raw")" = "$before"

answer iso-yes yes
e2e_check_install iso-yes demo-1 "$T/demo1"
