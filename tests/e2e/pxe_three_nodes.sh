#!/usr/bin/env bash
# Three nodes of one site PXE-install at the same time from one `appliance pxe --serve`
# (issue 17 item 8), the way a site serves them: private network namespaces joined by a
# bridge (10.0.2.0/24, nothing leaves the machine), a plain dnsmasq as the site's router
# handing out addresses, `appliance pxe --serve eth0` in its own namespace as proxy-DHCP +
# TFTP (dnsmasq) and payload server (10.0.2.2:8069), and QEMU guests on tap devices:
#   demo-1  control plane   SeaBIOS: iPXE ROM -> boot.ipxe -> the node's script
#   demo-2  control plane   OVMF without the NIC's option ROM: firmware PXE -> ipxe.efi
#           (made one with --set)  -> iPXE -> boot.ipxe -> the node's script
#   demo-3  worker          SeaBIOS
# They boot at once and install unattended: each fetches its payload by its MAC, the
# Talos image from the admin machine (the test's nginx, standing in for the upstream
# mirror) and checks the NAS (the test's smbd); both listen on the host's 127.0.0.1 and
# are reached at 10.0.2.100 through tests/e2e/lib/nsfwd.py. Then a fourth machine
# claiming demo-1's MAC boots and is refused (HTTP 410): its install fails with
# reason=no-payload. The host checks: each disk holds exactly its own node's payload
# config (the worker's without CA keys), the server's log shows one delivery per node and
# the refusal, the Ceph disks are clean. One image download for many nodes (issue 21):
# `appliance pxe` fetched the pinned image once from the mirror into the admin machine's
# cache ($T/admin-cache), verified it and serves it to the nodes, whose profiles point at
# it: the nginx access log shows one fetch, the server's log one whole transfer per node.
# Budget: TCG on 2 shared cores; guests get 1 vCPU and 1 GiB, every wait is bounded (QEMU
# under `timeout`), everything is killed and the namespaces deleted at exit.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
. "$ROOT/tests/e2e/lib/site.sh"
. "$ROOT/tests/e2e/lib/pxe.sh"

GUEST_SECS=${PXE3_GUEST_SECS:-900}
e2e_require_qemu
[ "$(id -u)" -eq 0 ] || skip_all "!!! needs root for network namespaces: the three-node PXE e2e test did NOT run"
command -v dnsmasq >/dev/null 2>&1 || skip_all "!!! dnsmasq not installed: the three-node PXE e2e test did NOT run (make deps)"
ip netns add "appl-probe-$$" 2>/dev/null || skip_all "!!! cannot create network namespaces here: the three-node PXE e2e test did NOT run"
ip netns del "appl-probe-$$"
e2e_begin

LAN=appl3-lan-$$ RTR=appl3-rtr-$$ PXE=appl3-pxe-$$
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
# the site's servers (mirror, NAS) answer at 10.0.2.100, the address the site overlay names
ip netns exec "$PXE" ip addr add 10.0.2.100/24 dev eth0
for i in 1 2 3 4; do
	lan ip tuntap add "tap$i" mode tap
	lan ip link set "tap$i" master br0 up
done
ok "namespaces: a bridged LAN 10.0.2.0/24: router 10.0.2.1, PXE server 10.0.2.2, site servers 10.0.2.100"

ip netns exec "$RTR" dnsmasq -k --conf-file=/dev/null --port=0 --interface=eth0 --bind-interfaces \
	--dhcp-range=10.0.2.50,10.0.2.99,255.255.255.0,1h --dhcp-leasefile="$T/router.leases" \
	--pid-file --log-facility="$T/router.log" --user=root &
at_exit "kill $!"
/usr/bin/python3 "$ROOT/tests/e2e/lib/nsfwd.py" "$PXE" "$T/nsfwd.ready" \
	"10.0.2.100:8080=$NGINX_PORT" "10.0.2.100:445=$SMBD_PORT" 2>"$T/nsfwd.log" &
at_exit "kill $!"
for _ in $(seq 100); do [ -e "$T/nsfwd.ready" ] && break; sleep 0.1; done
check "the mirror and the NAS answer at 10.0.2.100 inside the LAN" test -e "$T/nsfwd.ready"

# dnsmasq serves TFTP as an unprivileged user: it must reach the tree
chmod 0755 "$T"
ip netns exec "$PXE" "$APPLIANCE" pxe "$T/site/profile.yaml" --site "$T/site/site.yaml" \
	--secrets "$T/site/talos-secrets.yaml" --out "$T/pxe" --live "$LIVE_DIR" --set 'nodes[1].role=controlplane' \
	--kernel-args "console=ttyS0,115200n8" --cache "$T/admin-cache" --serve eth0 \
	>"$T/three.serve.log" 2>"$T/three.serve.err" &
SERVE=$!
at_exit "kill $SERVE"
for _ in $(seq 600); do
	grep -q 'payload server ready' "$T/three.serve.log" 2>/dev/null && grep -q 'proxy on subnet' "$T/three.serve.err" && break
	kill -0 "$SERVE" 2>/dev/null || break
	sleep 0.1
done
expect_out "one appliance pxe --serve: dnsmasq (proxy-DHCP + TFTP) on eth0" 'proxy on subnet 10.0.2.0' cat "$T/three.serve.err"
expect_out "... and the payload server on eth0's address" '^pxe: payload server listening on 10.0.2.2:8069$' cat "$T/three.serve.log"
expect_out "payloads: two control planes with the CA keys, the site's secrets, the NAS credentials" \
	'demo-2.cpio .*controlplane machine config with the cluster CA keys and secrets nasUsername, nasPassword, .*; secrets.env: nasUsername, nasPassword$' cat "$T/three.serve.log"
expect_out "payloads: demo-3 is a worker with no secret" 'demo-3.cpio \(0600, [0-9]+ bytes\): worker machine config \(no secret\)$' cat "$T/three.serve.log"
mkdir -p "$T/payloads"
cp "$T"/pxe.payloads/*.cpio "$T/payloads/"

# guest NAME TAP SECS ARGS...: one QEMU on the LAN in the background (exit code in
# $T/NAME.rc when it ends), 1 vCPU, 1 GiB, serial to $T/NAME.serial
guest() {
	local name=$1 tap=$2 secs=$3
	shift 3
	(
		lan timeout --kill-after=5 "$secs" qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -machine q35 -nographic \
			-no-reboot -monitor none -display none -serial "file:$T/$name.serial" \
			-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" "$@" >"$T/$name.qemu.log" 2>&1 </dev/null
		echo $? >"$T/$name.rc"
	) &
	echo $! >"$T/$name.pid"
	at_exit "pkill -P $! 2>/dev/null; kill $! 2>/dev/null"
}

start=$(date +%s)
e2e_node_disks d1 1
D1=("${DISK_ARGS[@]}")
e2e_node_disks d2 2
D2=("${DISK_ARGS[@]}")
e2e_node_disks d3 3
D3=("${DISK_ARGS[@]}")
e2e_ovmf_args n2
guest n1 tap1 "$GUEST_SECS" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
	-smbios type=1,serial=APPL-DEMO-1 "${D1[@]}" -boot n
guest n2 tap2 "$GUEST_SECS" "${OVMF_ARGS[@]}" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:02,romfile=,bootindex=0 \
	-smbios type=1,serial=APPL-DEMO-2 "${D2[@]}"
guest n3 tap3 "$GUEST_SECS" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:03 \
	-smbios type=1,serial=APPL-DEMO-3 "${D3[@]}" -boot n
sleep 3
for n in n1 n2 n3; do
	if [ -e "$T/$n.rc" ]; then
		not_ok "guest $n started (QEMU exit $(cat "$T/$n.rc"))"
		sed 's/^/#   /' "$T/$n.qemu.log"
		exit 1
	fi
done
ok "three guests started at once (SeaBIOS demo-1, OVMF demo-2, SeaBIOS demo-3)"

# The fourth machine, once demo-1's payload has left: same MAC, no disks of its own.
for _ in $(seq "$GUEST_SECS"); do
	grep -q 'node demo-1: sent' "$T/three.serve.log" && break
	[ -e "$T/n1.rc" ] && break
	sleep 1
done
if grep -q 'node demo-1: sent' "$T/three.serve.log"; then
	ok "demo-1 got its payload ($(($(date +%s) - start)) s after power-on)"
	guest thief tap4 600 -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 -smbios type=1,serial=APPL-THIEF -boot n
else
	not_ok "demo-1 got its payload"
fi
for n in n1 n2 n3 thief; do
	[ -e "$T/$n.pid" ] || continue
	for _ in $(seq $((GUEST_SECS + 10))); do [ -e "$T/$n.rc" ] && break; sleep 1; done
	diag "$n: QEMU exit $(cat "$T/$n.rc" 2>/dev/null || echo none) after $(($(date +%s) - start)) s"
done

i=0
for n in n1 n2 n3; do
	i=$((i + 1))
	rc=$(cat "$T/$n.rc" 2>/dev/null)
	if [ "$rc" = 0 ]; then ok "demo-$i: QEMU powered off by itself"; else
		not_ok "demo-$i: QEMU powered off by itself (exit ${rc:-none})"
		e2e_show "$n"
	fi
	check "demo-$i: the router leased it an address" grep -q "52:54:00:12:34:0$i" "$T/router.leases"
	expect_out "demo-$i fetched its own payload by its MAC" "APPLIANCE: payload for node demo-$i fetched by MAC 52-54-00-12-34-0$i" \
		grep -a 'APPLIANCE: payload' "$T/$n.serial"
	e2e_check_install "$n" "demo-$i" "$T/d$i"
	check "demo-$i: the disk holds exactly demo-$i's payload config" cmp "$(e2e_payload_config "demo-$i")" "$T/$n.cfg/config.yaml"
	expect_out "server log: demo-$i's payload handed out exactly once" '^1$' grep -c "node demo-$i: sent" "$T/three.serve.log"
done
check "dnsmasq served ipxe.efi to the UEFI firmware" grep -q 'sent .*/ipxe.efi to 10.0.2.' "$T/three.serve.err"
check "dnsmasq served boot.ipxe to every machine's iPXE" test "$(grep -c 'sent .*/boot.ipxe to 10.0.2.' "$T/three.serve.err")" -ge 4
check "the worker's disk carries no CA private key (both CA keys empty)" \
	test "$(grep -c '^    key: ""$' "$T/n3.cfg/config.yaml")" = 2
check "each control plane's disk carries its own CA keys" \
	bash -c "grep -q '^    key: LS0' '$T/n1.cfg/config.yaml' && grep -q '^    key: LS0' '$T/n2.cfg/config.yaml'"

# the fourth machine
expect_out "server log: the fourth machine claiming demo-1's MAC was refused (410)" \
	"client 10.0.2.[0-9]+:[0-9]+ mac 52:54:00:12:34:01 node demo-1: refused \(HTTP 410\): node 'demo-1' already got its payload \(delivered at [0-9TZ:-]+ to 10.0.2." \
	cat "$T/three.serve.log"
expect_out "the refusal is loud on the server's stderr" "!!! .*refused from 10.0.2.[0-9]+:[0-9]+ \(mac 52:54:00:12:34:01\)" cat "$T/three.serve.err"
expect_out "the fourth machine installed nothing: no payload" 'APPLIANCE RESULT: failed action=install exit=1 .*reason=no-payload' e2e_result thief
expect_out "the fourth machine says so on its console" 'APPLIANCE: !!! no payload from' grep -a '!!! no payload' "$T/thief.serial"
check "no payload file is left on the admin machine" bash -c "! ls '$T'/pxe.payloads/*.cpio 2>/dev/null"

# One download for many nodes (issue 21): the admin machine fetched the image from the
# upstream mirror (nginx) once, verified it, and served it to each node itself.
expect_out "the upstream mirror's log shows the image fetched exactly once" '^1$' \
	grep -c 'GET /image/.*metal-amd64.raw.zst HTTP' "$NGINX_LOG"
expect_out "the admin machine verified its one download before serving" \
	'^pxe: image .* downloaded once into .*/admin-cache/.*, sha256 [0-9a-f]{64} as pinned: served to the nodes$' cat "$T/three.serve.log"
for i in 1 2 3; do
	expect_out "node $i of 3 got the whole image from the admin machine's payload server" \
		"client [0-9.]+:[0-9]+ mac - node -: image \(HTTP 20[06]\): image .*metal-amd64.raw.zst: ([0-9]+) of \1 bytes" \
		sed -n "$i"p <(grep ': image (HTTP 20[06])' "$T/three.serve.log" | grep -v 'cut off')
done
diag "three-node PXE install: $(($(date +%s) - start)) s from power-on to the last power-off"
