#!/usr/bin/env bash
# The PXE tree served the way a site serves it: `appliance pxe --serve` runs dnsmasq in
# proxy-DHCP mode next to the site's own DHCP server (a second dnsmasq playing the
# router). Everything lives in private network namespaces joined by a bridge (10.0.2.0/24,
# nothing leaves the machine); QEMU sits on a tap device of that bridge.
#   - SeaBIOS: QEMU's iPXE ROM asks DHCP as iPXE and gets boot.ipxe from the proxy, which
#     chains the node's script by MAC (demo-3).
#   - OVMF without the NIC's iPXE option ROM (romfile=): the firmware's own PXE client gets
#     ipxe.efi from the proxy (tag !ipxe, X86-64_EFI), iPXE then gets boot.ipxe; the MAC is
#     unknown, so the default script boots and the live system identifies the machine by
#     DMI serial (demo-2).
# The live system runs the check action (validate + disk selectors): the install itself
# is covered by the other e2e tests, whose guests reach the test servers on 127.0.0.1.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"

e2e_require_qemu
[ "$(id -u)" -eq 0 ] || skip_all "!!! needs root for network namespaces: the proxy-DHCP e2e test did NOT run"
command -v dnsmasq >/dev/null 2>&1 || skip_all "!!! dnsmasq not installed: the proxy-DHCP e2e test did NOT run (make deps)"
ip netns add "appl-probe-$$" 2>/dev/null || skip_all "!!! cannot create network namespaces here: the proxy-DHCP e2e test did NOT run"
ip netns del "appl-probe-$$"
e2e_assets

LAN=appl-lan-$$ RTR=appl-rtr-$$ PXE=appl-pxe-$$
at_exit "ip netns del $LAN; ip netns del $RTR; ip netns del $PXE"
for ns in "$LAN" "$RTR" "$PXE"; do ip netns add "$ns"; done
lan() { ip netns exec "$LAN" "$@"; }
lan ip link add br0 type bridge
lan ip link set br0 up
lan ip link set lo up
for peer in "$RTR:10.0.2.1" "$PXE:10.0.2.2"; do
	ns=${peer%%:*} addr=${peer#*:}
	lan ip link add "v-${ns##*-}-${addr##*.}" type veth peer name eth0 netns "$ns"
	lan ip link set "v-${ns##*-}-${addr##*.}" master br0 up
	ip netns exec "$ns" ip addr add "$addr/24" dev eth0
	ip netns exec "$ns" ip link set eth0 up
	ip netns exec "$ns" ip link set lo up
done
lan ip tuntap add tap0 mode tap
lan ip link set tap0 master br0 up
ok "namespaces: a bridged LAN 10.0.2.0/24 with the router (10.0.2.1) and the PXE server (10.0.2.2)"

# the site's router: plain DHCP, knows nothing about PXE
ip netns exec "$RTR" dnsmasq -k --conf-file=/dev/null --port=0 --interface=eth0 --bind-interfaces \
	--dhcp-range=10.0.2.50,10.0.2.99,255.255.255.0,1h --dhcp-leasefile="$T/router.leases" \
	--pid-file --log-facility="$T/router.log" --user=root &
at_exit "kill $!"

# dnsmasq serves TFTP as an unprivileged user: it must reach the tree
chmod 0755 "$T"
mkdir -p "$T/site"
cp "$ROOT/profiles/demo.yaml" "$T/site/profile.yaml"
check "appliance pxe builds the tree" "$APPLIANCE" pxe "$T/site/profile.yaml" --out "$T/pxe" --live "$LIVE_DIR" \
	--kernel-args "console=ttyS0,115200n8 appliance.action=check"
ip netns exec "$PXE" "$APPLIANCE" pxe "$T/site/profile.yaml" --out "$T/pxe" --live "$LIVE_DIR" \
	--kernel-args "console=ttyS0,115200n8 appliance.action=check" --serve eth0 >"$T/serve.log" 2>&1 &
SERVE=$!
at_exit "kill $SERVE"
for _ in $(seq 600); do grep -q 'proxy on subnet' "$T/serve.log" && break; sleep 0.1; done
expect_out "appliance pxe --serve runs dnsmasq (proxy-DHCP + TFTP) on the interface" \
	'proxy on subnet 10.0.2.0' cat "$T/serve.log"
expect_out "--serve hands nothing to the user dnsmasq serves TFTP as: site.cpio (no secret in it) stays root's" \
	"^644 root\$" stat -c '%a %U' "$T/pxe/site.cpio"
check "--serve: no file of the tree belongs to anyone but root" bash -c "[ -z \"\$(find '$T/pxe' ! -user root)\" ]"

# SeaBIOS: iPXE ROM -> proxy gives boot.ipxe -> mac-52-54-00-12-34-03.ipxe
e2e_node_disks d3 3
lan timeout --kill-after=5 300 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -machine q35 -nographic -no-reboot \
	-monitor none -display none -serial "file:$T/proxy-bios.serial" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:03 -smbios type=1,serial=APPL-DEMO-3 "${DISK_ARGS[@]}" \
	-boot n >"$T/proxy-bios.qemu.log" 2>&1 </dev/null
expect_out "SeaBIOS: proxy-DHCP boot through the node's iPXE script, check passed" \
	'APPLIANCE RESULT: ok action=check exit=0 node=demo-3' e2e_result proxy-bios
check "SeaBIOS: the proxy served boot.ipxe over TFTP" grep -q 'sent .*/boot.ipxe to 10.0.2.' "$T/serve.log"
check "SeaBIOS: the router leased the address" grep -q '52:54:00:12:34:03' "$T/router.leases"

# OVMF: firmware PXE -> ipxe.efi -> iPXE -> boot.ipxe (unknown MAC) -> identify by DMI serial
e2e_node_disks d2 2
e2e_ovmf_args proxy-uefi
lan timeout --kill-after=5 300 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -machine q35 -nographic -no-reboot \
	-monitor none -display none -serial "file:$T/proxy-uefi.serial" "${OVMF_ARGS[@]}" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:02,romfile=,bootindex=0 -smbios type=1,serial=APPL-DEMO-2 \
	"${DISK_ARGS[@]}" >"$T/proxy-uefi.qemu.log" 2>&1 </dev/null
check "UEFI: the proxy served ipxe.efi to the firmware's PXE client" grep -q 'sent .*/ipxe.efi to 10.0.2.' "$T/serve.log"
expect_out "UEFI: iPXE then booted the live system, which identified demo-2 (check passed)" \
	'APPLIANCE RESULT: ok action=check exit=0 node=auto' e2e_result proxy-uefi
