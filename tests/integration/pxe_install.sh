#!/usr/bin/env bash
# A node installs from its PXE payload alone (issue 17 item 1), without QEMU: the admin
# machine renders the payloads (appliance pxe --secrets), then on the simulated machine
# (image files as NVMe disks, real smbd and nginx on 127.0.0.1) `appliance install
# --config` runs with nothing but the profile and what the payload holds, as iso/init
# runs it: no bundle, no secret but the payload's.
#   - control plane demo-1: the NAS credentials came with it (its config carries them),
#     the NAS preflight runs; the config on the disk is the payload's, byte for byte;
#   - worker demo-2 (on a second simulated machine): no secret at all; the NAS preflight
#     says why it is skipped; the install completes.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32

demo_setup_tap
ok "demo site set up (smbd on $SMBD_PORT, mirror ${DEMO_MIRROR:-none})"
P=$DEMO_ROOT_DIR/profiles/demo.yaml
# the site as both machines see it; demo-2's selectors point at the simulated disks
SITE=(--set "nas.port=$SMBD_PORT" --set "talos.image.pins=$DEMO_PINS")
[ -n "$DEMO_MIRROR" ] && SITE+=(--set "talos.image.mirror=$DEMO_MIRROR")
SITE+=(--set "nodes[1].installDisk.serial=APPL-INSTALL-1" --set "nodes[1].cephDisks[0].serial=APPL-CEPH-1*")
mkdir -p "$T/live"
echo k >"$T/live/vmlinuz"
echo i >"$T/live/initrd.img"
"$APPLIANCE" talos secrets "$P" --out "$T/bundle.yaml" >"$T/bundle.log" 2>&1 || { cat "$T/bundle.log"; exit 1; }
check "admin: appliance pxe renders the payloads" "$APPLIANCE" pxe "$P" "${SITE[@]}" --out "$T/pxe" --live "$T/live" \
	--secrets "$T/bundle.yaml" --payload-url http://127.0.0.1:9/ --allow-file "$DEMO_PINS"
for n in 1 2; do
	mkdir -p "$T/node$n"
	(cd "$T/node$n" && cpio -idm --quiet <"$T/pxe.payloads/demo-$n.cpio")
done
# node NAME N ARGS...: install as the live system does: the env holds only the payload's
# KEY=VALUE lines (the admin's APPLIANCE_DEMO_* are gone), overlay from the payload
node() {
	local name=$1 n=$2 envs=()
	shift 2
	[ -f "$T/node$n/payload/secrets.env" ] && mapfile -t envs <"$T/node$n/payload/secrets.env"
	local extra=()
	[ -f "$T/node$n/payload/secrets.yaml" ] && extra=(--site "$T/node$n/payload/secrets.yaml")
	local unset=()
	for v in $(env | grep -o '^APPLIANCE_DEMO_[A-Z0-9_]*'); do unset+=(-u "$v"); done
	env "${unset[@]}" "${envs[@]}" \
		"$APPLIANCE" install "$P" "${SITE[@]}" "${extra[@]}" --node "$name" --config "$T/node$n/payload/config.yaml" "$@"
}

# ---- control plane ----
# ran DESC OUT RC: ok when RC is 0, else the output's tail
ran() {
	if [ "$3" -eq 0 ]; then ok "$1 (exit 0)"; else
		not_ok "$1 (exit $3)"
		tail -20 "$2" | sed 's/^/#   /'
	fi
}
node demo-1 1 --hw-root "$DEMO_HW" --state-dir "$T/state1" --apply --unattended >"$T/cp.out" 2>&1
ran "demo-1 installs from its payload alone" "$T/cp.out" $?
expect_out "demo-1: the NAS preflight ran with the delivered credentials" "^ *done: [0-9]+ checks passed" sed -n "/preflight-nas:/,/^\\[5\\//p" "$T/cp.out"
expect_out "demo-1: 2 of 8 secrets delivered, config pre-rendered" '2 of 8 secrets delivered; pre-rendered machine config' cat "$T/cp.out"
check "demo-1: the config written is the payload's, byte for byte" cmp "$T/node1/payload/config.yaml" "$T/state1/nodes/demo-1/config.yaml"
check "demo-1: no bundle was generated on the node" test ! -e "$T/state1/talos-secrets.yaml"
check "demo-1: no secret value in the output" bash -c "! grep -qF '$APPLIANCE_DEMO_NAS_PASSWORD' '$T/cp.out'"

# ---- worker, on a second simulated machine ----
demo_machine "$T/machine2" >/dev/null 2>&1
node demo-2 2 --hw-root "$T/machine2" --state-dir "$T/state2" --apply --unattended >"$T/w.out" 2>&1
ran "worker demo-2 installs from its payload alone, holding no secret" "$T/w.out" $?
expect_out "demo-2: the NAS preflight says why it is skipped" 'NAS credentials did not come with this node.s config' cat "$T/w.out"
expect_out "demo-2: 0 of 8 secrets delivered" '0 of 8 secrets delivered; pre-rendered machine config' cat "$T/w.out"
check "demo-2: the config written is the payload's" cmp "$T/node2/payload/config.yaml" "$T/state2/nodes/demo-2/config.yaml"

# ---- command-line contract ----
expect_fail "--config with --secrets: usage error" 2 "$APPLIANCE" install "$P" --node demo-1 --config "$T/node1/payload/config.yaml" --secrets "$T/bundle.yaml"
expect_rc_out "--config without --node: says why" 2 "--config is one node's machine config: give it with --node NAME" \
	"$APPLIANCE" install "$P" --auto --config "$T/node1/payload/config.yaml"
: >"$T/empty.yaml"
expect_rc_out "an empty --config is invalid input (exit 2)" 2 "^appliance: --config: machine config '$T/empty.yaml' is empty$" \
	node demo-1 1 --hw-root "$DEMO_HW" --state-dir "$T/state3" --config "$T/empty.yaml"
check "... refused before anything is written (no state folder)" test ! -e "$T/state3"
