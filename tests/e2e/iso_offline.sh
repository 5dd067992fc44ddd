#!/usr/bin/env bash
# A stick that installs offline: the ISO is built with the site's pinned Talos image on its
# writable partition (iso/build.sh --image), written to a stick, and the machine boots it
# with QEMU user networking that reaches nothing (restrict=on, no forward at all: no mirror,
# no NAS). The profile says install.offline, so the plan says the NAS check is skipped; the
# install takes the image from the stick (said on the console) and succeeds.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"

e2e_begin
# the image under the name the install's cache gives it
key=$(sed -n 's/^  \([^:]*\):.*/\1/p' "$T/site/pins.yaml")
name=$(echo "$key" | tr / -)
cp "$T/img/metal.raw.zst" "$T/$name"
# the site's servers are not needed: stop them, nothing may reach them anyway
kill "$SMBD_PID" "$NGINX_PID" 2>/dev/null
wait "$SMBD_PID" "$NGINX_PID" 2>/dev/null

bash "$ROOT/iso/build.sh" --out "$T/iso" --appliance "$APPLIANCE" --mkinitramfs "$MKINITRAMFS" \
	--firmware "$ROOT/build/firmware" --image "$T/$name" >"$T/build.log" 2>&1
check "iso/build.sh --image builds the ISO" test $? -eq 0
expect_out "the build says the stick carries the image" "^iso/build.sh: stick carries image $name " cat "$T/build.log"

e2e_stick "$T/iso/appliance.iso" $(($(stat -c %s "$T/iso/appliance.iso") + 64 * 1048576))
check "the stick's partition holds the image" mdir -i "$S" "::/appliance/images/$name"
printf 'install:\n  offline: true\n' >"$T/site/site-offline.yaml"
check "copy the site onto the stick (mtools)" mcopy -o -i "$S" "$T/site/profile.yaml" "$T/site/site.yaml" \
	"$T/site/site-offline.yaml" "$T/site/pins.yaml" "$T/site/secrets.env" "$T/site/talos-secrets.yaml" "$T/grub.cfg" ::/appliance/

e2e_node_disks demo1 1
e2e_qemu offline 480 -device qemu-xhci,id=xhci \
	-drive "if=none,id=stick,format=raw,file=$T/stick.img" -device usb-storage,bus=xhci.0,drive=stick,bootindex=0 \
	-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
	-smbios type=1,serial=APPL-DEMO-1 "${DISK_ARGS[@]}"
rc=$?
[ $rc -eq 0 ] && ok "QEMU powered off by itself ($(cat "$T/offline.secs") s)" || not_ok "QEMU powered off by itself (exit $rc)"
# the console is 80 columns: the plan's lines wrap and digests are short (unwrap joins them)
tr -d '\r' <"$T/offline.serial" | unwrap >"$T/offline.text"
expect_out "the NAS check is skipped, and the plan says why" 'the NAS at 10.0.2.100 is not checked: install.offline is true' \
	cat "$T/offline.text"
expect_out "the image came from the stick: no download" \
	"image ${key:0:12}\.\.\.${key:64} from /mnt/stick/appliance/images/${name:0:12}\.\.\.${name:64}, sha256 [0-9a-f]{12}\.\.\. as pinned: no download" \
	cat "$T/offline.text"
e2e_check_install offline demo-1 "$T/demo1"
