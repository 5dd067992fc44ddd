#!/usr/bin/env bash
# Networks without DHCP: the live system takes a static address from the kernel command
# line (appliance.ip=/gw=/dns=/dev=) or from the stick's appliance/network.env (read
# literally); when no NIC gets an address it lists every NIC with its driver, MAC and link
# state (and any firmware the kernel could not load) and the install stops with that reason.
#   static-cmdline: QEMU user networking (restrict=on); the address is not the one QEMU's
#       DHCP would hand out (10.0.2.15), and the profile is fetched over HTTP from nginx on
#       the host through guestfwd, which only routes when the static address works.
#   static-stick:   the same address from network.env on a FAT stick (label APPLIANCE),
#       selected by the NIC's MAC (DEV=, upper case), written with CRLF line ends.
#   no-dhcp:        the NIC sits on a UDP socket to a closed port on 127.0.0.1 (no DHCP
#       server behind it): the console lists the NIC and the install stops (reason
#       no-network) before anything runs.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/lib/nginx.sh"

e2e_require_qemu
e2e_assets
mkdir -p "$T/www"
cp "$ROOT/profiles/demo.yaml" "$T/www/profile.yaml"
nginx_start "$T/www" >"$T/nginx.out" 2>&1 || { not_ok "nginx"; cat "$T/nginx.out"; exit 1; }
NGINX_PORT=${NGINX_HTTP##*:}
KERNEL=(-kernel "$LIVE_DIR/vmlinuz" -initrd "$LIVE_DIR/initrd.img")
BASE="console=ttyS0,115200n8 quiet appliance.poweroff=1"
MAC=52:54:00:12:34:77

# a FAT stick labelled APPLIANCE with the profile and (optionally) network.env
stick() { # stick FILE [NETWORK-ENV-CONTENT]
	truncate -s 16M "$1"
	mformat -i "$1" -v APPLIANCE :: >/dev/null
	mmd -i "$1" ::/appliance
	mcopy -i "$1" "$ROOT/profiles/demo.yaml" ::/appliance/profile.yaml
	if [ -n "${2:-}" ]; then
		printf '%s' "$2" >"$T/network.env"
		mcopy -i "$1" "$T/network.env" ::/appliance/network.env
	fi
}
STICK_DEV=(-device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=stick)

# ---- static address from the kernel command line ---------------------------------------
e2e_qemu static-cmdline 240 "${KERNEL[@]}" \
	-append "$BASE appliance.ip=10.0.2.77/24 appliance.gw=10.0.2.2 appliance.dns=10.0.2.3 appliance.profile=http://$E2E_GUEST_HOST:8080/profile.yaml appliance.action=check" \
	-netdev "$(e2e_netdev)" -device "virtio-net-pci,netdev=n0,mac=$MAC"
check "cmdline: the static address is used (not DHCP)" grep -aq 'APPLIANCE: network eth0 10.0.2.77 (static)' "$T/static-cmdline.serial"
check "cmdline: the profile came over HTTP through it" grep -aq "profile from http://$E2E_GUEST_HOST:8080/profile.yaml" "$T/static-cmdline.serial"
check "cmdline: nginx served the profile to the guest" grep -q 'GET /profile.yaml HTTP/1.[01]" 200' "$NGINX_LOG"
res=$(e2e_result static-cmdline)
[[ "$res" == *"APPLIANCE RESULT: ok action=check exit=0"* ]] && ok "cmdline: check ran ($res)" ||
	{ not_ok "cmdline: check ran (got '$res')"; e2e_show static-cmdline; }

# ---- static address from the stick's network.env ------------------------------------------
stick "$T/stick-static.img" "$(printf '# written on Windows: CRLF line ends\r\nIP=10.0.2.78/24\r\nGW=10.0.2.2\r\nDEV=%s\r\n' "$(echo "$MAC" | tr 'a-f' 'A-F')")"
e2e_qemu static-stick 240 "${KERNEL[@]}" -append "$BASE appliance.action=check" \
	-drive "if=none,id=stick,format=raw,file=$T/stick-static.img" "${STICK_DEV[@]}" \
	-netdev "$(e2e_netdev)" -device "virtio-net-pci,netdev=n0,mac=$MAC"
check "stick: network.env's address on the NIC named by its MAC" grep -aq 'APPLIANCE: network eth0 10.0.2.78 (static)' "$T/static-stick.serial"
check "stick: the profile from the stick" grep -aq 'profile from the stick' "$T/static-stick.serial"
res=$(e2e_result static-stick)
[[ "$res" == *"APPLIANCE RESULT: ok action=check exit=0"* ]] && ok "stick: check ran ($res)" ||
	{ not_ok "stick: check ran (got '$res')"; e2e_show static-stick; }

# ---- no DHCP, no static address: every NIC listed, the install stops -----------------------
stick "$T/stick-plain.img"
p1=$(free_port) p2=$(free_port)
e2e_qemu no-dhcp 240 "${KERNEL[@]}" -append "$BASE appliance.unattended=1" \
	-drive "if=none,id=stick,format=raw,file=$T/stick-plain.img" "${STICK_DEV[@]}" \
	-netdev "socket,id=n0,udp=127.0.0.1:$p1,localaddr=127.0.0.1:$p2" -device "virtio-net-pci,netdev=n0,mac=$MAC"
expect_out "no-dhcp: says no interface got an address" '^APPLIANCE: no network address on any interface$' tr -d '\r' <"$T/no-dhcp.serial"
expect_out "no-dhcp: lists the NIC with MAC, driver and link" "APPLIANCE: nic eth0 mac $MAC driver virtio_net link (up|down)" \
	tr -d '\r' <"$T/no-dhcp.serial"
check "no-dhcp: says how to give a static address" grep -aq 'the install stops; give a static address with appliance.ip=' "$T/no-dhcp.serial"
res=$(e2e_result no-dhcp)
[[ "$res" == *"APPLIANCE RESULT: failed action=install exit=1 "*"reason=no-network"* ]] && ok "no-dhcp: install stopped ($res)" ||
	{ not_ok "no-dhcp: install stopped with reason no-network (got '$res')"; e2e_show no-dhcp; }
