#!/usr/bin/env bash
# make bench-iso: the live ISO's build time and size, and in QEMU (TCG, 1 GiB, 2 vCPUs)
# the time from power-on to the installer starting and to the end of a full unattended
# install of the demo site (SeaBIOS + the ISO on a USB stick, OVMF + the ISO as a CD).
# Baselines measured in the same run: grub-mkrescue alone on the same tree (the floor of
# the ISO build), and the kernel's own boot to the live init's first line (the floor of
# boot-to-installer).
. "$(dirname "$0")/../../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"

command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "bench-iso: SKIPPED: no qemu-system-x86_64"; exit 0; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

make -C "$ROOT" -s "$ROOT/build/iso/mkinitramfs" installer/appliance >/dev/null
t0=$(now)
bash "$ROOT/iso/build.sh" --out "$T/iso" --appliance "$APPLIANCE" --mkinitramfs "$ROOT/build/iso/mkinitramfs" >"$T/build.log" 2>&1 ||
	{ cat "$T/build.log"; exit 1; }
t1=$(now)
grub-mkrescue -o "$T/floor.iso" "$T/iso/work/isoroot" >/dev/null 2>&1
t2=$(now)
iso_s=$(secs "$t0" "$t1")
floor_s=$(secs "$t1" "$t2")
echo "bench-iso: make iso (iso/build.sh): ${iso_s} s; grub-mkrescue alone on the same tree: ${floor_s} s (ratio $(awk -v a="$iso_s" -v b="$floor_s" 'BEGIN { printf "%.1f", a / b }'))"
echo "bench-iso: ISO $(($(stat -c %s "$T/iso/appliance.iso") / 1048576)) MiB, initramfs $(($(stat -c %s "$T/iso/live/initrd.img") / 1048576)) MiB, kernel $(($(stat -c %s "$T/iso/live/vmlinuz") / 1048576)) MiB"

e2e_site_setup >"$T/setup.log" 2>&1 || { tail -20 "$T/setup.log"; exit 1; }

# run NAME ARGS...: QEMU in the background; poll the serial log for the two marks
run() {
	local name=$1 start up inst end pid
	shift
	start=$(now)
	qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -machine q35 -nographic -no-reboot -monitor none -display none \
		-serial "file:$T/$name.serial" "$@" >"$T/$name.log" 2>&1 </dev/null &
	pid=$!
	up="" inst=""
	while kill -0 "$pid" 2>/dev/null; do
		[ -z "$up" ] && grep -aq 'APPLIANCE: live system' "$T/$name.serial" 2>/dev/null && up=$(now)
		[ -z "$inst" ] && grep -aq 'APPLIANCE: installer starting' "$T/$name.serial" 2>/dev/null && inst=$(now)
		if awk -v a="$start" -v b="$(now)" 'BEGIN { exit !(b - a > 600) }'; then kill "$pid"; break; fi
		sleep 0.2
	done
	wait "$pid"
	end=$(now)
	echo "bench-iso: $name: power-on to live init $(secs "$start" "${up:-$end}") s, to installer $(secs "$start" "${inst:-$end}") s, full unattended install to power-off $(secs "$start" "$end") s ($(e2e_result "$name" | sed 's/.*APPLIANCE RESULT: //'))"
}

cp "$T/iso/appliance.iso" "$T/stick.img"
truncate -s 1G "$T/stick.img"
off=""
while read -r _ start; do
	[ "$(blkid -p -O $((start * 512)) -s LABEL -o value "$T/stick.img" 2>/dev/null)" = APPLIANCE ] && off=$((start * 512))
done < <(partx -g -o NR,START "$T/stick.img")
printf 'set default=1\nset timeout=0\nset appliance_console="console=tty0 console=ttyS0,115200n8"\n' >"$T/grub.cfg"
mcopy -o -i "$T/stick.img@@$off" "$T/site/profile.yaml" "$T/site/site.yaml" "$T/site/pins.yaml" \
	"$T/site/secrets.env" "$T/site/talos-secrets.yaml" "$T/grub.cfg" ::/appliance/
e2e_node_disks b1 1
run seabios-stick -device qemu-xhci,id=xhci -drive "if=none,id=stick,format=raw,file=$T/stick.img" \
	-device usb-storage,bus=xhci.0,drive=stick,bootindex=0 -netdev "$(e2e_netdev)" \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 "${DISK_ARGS[@]}"

GRUB_DEFAULT=1 GRUB_TIMEOUT=0 bash "$ROOT/iso/build.sh" --out "$T/iso2" --appliance "$APPLIANCE" \
	--mkinitramfs "$ROOT/build/iso/mkinitramfs" --profile "$T/site" --cmdline "console=ttyS0,115200n8" >/dev/null 2>&1
e2e_node_disks b2 1
e2e_ovmf_args ovmf
run ovmf-cd "${OVMF_ARGS[@]}" -drive "if=none,id=cd,media=cdrom,format=raw,readonly=on,file=$T/iso2/appliance.iso" \
	-device ide-cd,drive=cd,bootindex=0 -netdev "$(e2e_netdev)" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
	"${DISK_ARGS[@]}"
