#!/usr/bin/env bash
# The live system carries the NIC firmware of firmware/live.list, taken from Debian's
# packages (non-free-firmware included) by iso/firmware.sh with a private apt
# configuration during `make iso` (a build step, like `make deps`: this test itself only
# reads the built files). The ISO lists every file with its package, version and licence
# (FIRMWARE.txt) and carries each package's copyright file; the initramfs holds the files.
# When a package cannot be had (a mirror that refuses: a closed port on 127.0.0.1), the
# fetch says so, the build still succeeds and says what it does not carry.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"

e2e_assets
command -v xorriso >/dev/null || skip_all "!!! xorriso not installed (make deps)"

xorriso -osirrox on -indev "$ISO" -extract /FIRMWARE.txt "$T/FIRMWARE.txt" \
	-extract /licences "$T/licences" >/dev/null 2>&1
check "the ISO carries FIRMWARE.txt" test -s "$T/FIRMWARE.txt"
# every package of the list was fetched into the build folder (the build machine has none installed)
while read -r pkg ver; do
	expect_out "FIRMWARE.txt: files of $pkg $ver with their licence" \
		"^/lib/firmware/[^ ]+  $pkg  $ver  .*licence" cat "$T/FIRMWARE.txt"
	check "the ISO carries $pkg's copyright file" test -s "$T/licences/$pkg.copyright"
done <"$ROOT/build/firmware/packages.txt"
check "every package of firmware/live.list was had" test ! -s "$ROOT/build/firmware/missing.txt"
expect_out "Realtek r8169 firmware listed (rtl8168h-2.fw)" '^/lib/firmware/rtl_nic/rtl8168h-2\.fw  firmware-realtek ' \
	cat "$T/FIRMWARE.txt"
expect_out "the ice DDP package is carried as a file, not a dangling link" \
	'^/lib/firmware/intel/ice/ddp/ice[^ ]*\.pkg  firmware-misc-nonfree ' cat "$T/FIRMWARE.txt"
gzip -dc "$LIVE_DIR/initrd.img" | cpio -it --quiet 2>/dev/null | sed 's|^\./||' >"$T/initrd.list"
# the regular files under lib/firmware (cpio -tv: mode first, path last)
gzip -dc "$LIVE_DIR/initrd.img" | cpio -itv --quiet 2>/dev/null | awk '/^-/ && $NF ~ /^(\.\/)?lib\/firmware\// { sub(/^\.\//, "", $NF); print "/" $NF }' |
	sort >"$T/initrd.fw"
grep '^/lib/firmware/' "$T/FIRMWARE.txt" | cut -d' ' -f1 | sort >"$T/listed.fw"
if [ -s "$T/listed.fw" ] && cmp -s "$T/listed.fw" "$T/initrd.fw"; then
	ok "the initramfs holds exactly the $(wc -l <"$T/listed.fw") firmware files FIRMWARE.txt lists"
else
	not_ok "the initramfs holds exactly the firmware files FIRMWARE.txt lists"
	diff "$T/listed.fw" "$T/initrd.fw" | head -10 | sed 's/^/#   /'
fi
check "the initramfs has rtl_nic/rtl8168h-2.fw" grep -qx 'lib/firmware/rtl_nic/rtl8168h-2.fw' "$T/initrd.list"
check "the initramfs has FIRMWARE.txt" grep -qx 'usr/share/appliance/FIRMWARE.txt' "$T/initrd.list"

# ---- a mirror that refuses: said, not fatal ------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
FIRMWARE_MIRROR=http://127.0.0.1:$port/debian bash "$ROOT/iso/firmware.sh" --out "$T/fw" >"$T/fw.out" 2>&1
check "unreachable mirror: iso/firmware.sh still exits 0" test $? -eq 0
expect_out "unreachable mirror: it says which packages it could not get" \
	'^iso/firmware.sh: could not get firmware-realtek ' cat "$T/fw.out"
check "unreachable mirror: nothing unpacked" test -z "$(ls -A "$T/fw/root")"
bash "$ROOT/iso/build.sh" --out "$T/live" --no-iso --firmware "$T/fw" --appliance "$APPLIANCE" \
	--mkinitramfs "$MKINITRAMFS" >"$T/build.out" 2>&1
check "without the firmware the live system still builds" test $? -eq 0
expect_out "... and the build says what it does not carry" \
	'^iso/build.sh: firmware not carried \(could not get\):.* rtl_nic/\*\.fw\(firmware-realtek\)' cat "$T/build.out"
