#!/usr/bin/env bash
# Refusals surface through `install --apply` unchanged, before any disk is touched: an
# unmatched or ambiguous machine identity, an ambiguous disk selector, a NAS that refuses the
# credentials or is down. Each row: exit 1, the exact message, "no disk was changed", and the
# disks' sha256 unchanged.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"

export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32
demo_setup_tap
auto=()
skip_next=0
for a in "${DEMO_ARGS[@]}"; do
	if [ $skip_next = 1 ]; then skip_next=0; elif [ "$a" = --node ]; then skip_next=1; else auto+=("$a"); fi
done
net=$DEMO_HW/sys/class/net/eth0/address
dmi=$DEMO_HW/sys/class/dmi/id/product_serial
before=$(demo_disk_hashes)

# refusal DESC MESSAGE-REGEX install-args...
refusal() {
	local desc=$1 re=$2 rc
	shift 2
	"$APPLIANCE" install "$@" --apply --unattended >"$T/out" 2>&1
	rc=$?
	if [ $rc -ne 1 ]; then
		not_ok "$desc: exit 1 (got $rc)"
		sed 's/^/#   /' "$T/out" | tail -10
		return
	fi
	if grep -qE -- "$re" "$T/out" && grep -qx 'appliance: no disk was changed' "$T/out"; then
		ok "$desc: refused with its message"
	else
		not_ok "$desc: message (wanted /$re/ and 'no disk was changed')"
		sed 's/^/#   /' "$T/out" | tail -10
	fi
	[ "$(demo_disk_hashes)" = "$before" ] && ok "$desc: disks untouched" || not_ok "$desc: a disk changed"
	[ ! -e "$DEMO_STATE/journal/write-image" ] && ok "$desc: nothing journaled past the refusal" ||
		not_ok "$desc: write-image was journaled"
}

echo 52:54:00:99:99:99 >"$net"
echo SOMEONE-ELSE >"$dmi"
refusal "unmatched machine" \
	"^appliance: identify: no node of the profile matches this machine \(seen: macs 52:54:00:99:99:99, serial SOMEONE-ELSE, uuid 5a1d3c1e-0000-4000-8000-000000000001\); pass --node NAME or add one of these identities to the node$" \
	"${auto[@]}" --auto

echo 52:54:00:12:34:01 >"$net"
echo APPL-DEMO-2 >"$dmi"
refusal "machine matching two nodes" \
	"^appliance: identify: several nodes match this machine: 'demo-1' \(mac 52:54:00:12:34:01\), 'demo-2' \(serial APPL-DEMO-2\) \(seen: macs 52:54:00:12:34:01, serial APPL-DEMO-2, uuid [0-9a-f-]+\); pass --node NAME$" \
	"${auto[@]}" --auto
echo APPL-DEMO-1 >"$dmi"

refusal "ambiguous install disk selector" \
	"^appliance: resolve-disks: node 'demo-1': nodes\[0\].installDisk matches 3 disks, expected exactly one; candidates:$" \
	"${DEMO_ARGS[@]}" --set 'nodes[0].installDisk.serial=APPL-*'
check "ambiguous disk: every candidate listed with why" grep -qE \
	"^  /dev/nvme1n1: matches \(serial 'APPL-CEPH-1A' matches 'APPL-\*', transport 'nvme' matches 'nvme'\) but is too small: 32.0 MiB < minimum 48Mi \(talos.installDiskMinSize\)$" "$T/out"

refusal "--node names another machine's node" \
	"^appliance: resolve-disks: .*nodes\[1\].installDisk matches no disk" \
	"${auto[@]}" --node demo-2
check "--node names another machine's node: warned" grep -qE \
	"^      warn      this machine's identity matches node 'demo-1', not 'demo-2'$" "$T/out"

refusal "unmatched install disk selector" \
	"^appliance: resolve-disks: .*nodes\[0\].installDisk matches no disk" \
	"${DEMO_ARGS[@]}" --set 'nodes[0].installDisk.serial=NOT-THERE'

refusal "unattended wipe of a Ceph disk the profile does not opt in" \
	"^appliance: resolve-disks: nodes\[0\].cephDisks\[0\] does not say 'wipe: true'; refusing to wipe '/dev/nvme1n1' unattended$" \
	"${DEMO_ARGS[@]}" --set 'nodes[0].cephDisks[0].wipe=false'

APPLIANCE_DEMO_NAS_PASSWORD=wrong-password refusal "NAS refuses the credentials" \
	"^appliance: preflight-nas: nas check failed: smb://127.0.0.1:$SMBD_PORT/k8s: the server refused the credentials: permission denied$" \
	"${DEMO_ARGS[@]}"
check "the wrong password is not printed" bash -c "! grep -q wrong-password '$T/out'"

refusal "NAS down" \
	"^appliance: preflight-nas: nas check failed: cannot connect to 127.0.0.1:1: connection refused" \
	"${DEMO_ARGS[@]}" --set nas.port=1

refusal "library folder missing on the NAS" \
	"^appliance: preflight-nas: nas check failed: smb://127.0.0.1:$SMBD_PORT/k8s/no-such-folder" \
	"${DEMO_ARGS[@]}" --set nas.library=no-such-folder

# image files given with --disk-file resolve by path glob, but Talos cannot find a disk by
# such a path on the real machine: refused when the config renders, before any disk is written
mkdir -p "$T/files" "$T/emptyroot/sys/block"
truncate -s 192M "$T/files/install.img"
truncate -s 32M "$T/files/ceph-a.img"
demo_old_bluestore "$T/files/ceph-a.img"
cat >"$T/files.yaml" <<EOF
nodes:
  - name: filenode
    role: controlplane
    hostname: filenode.local
    identity: {macs: ["52:54:00:12:34:77"]}
    installDisk: {path: "$T/files/install.img"}
    cephDisks:
      - {path: "$T/files/ceph-*.img", match: all, wipe: true}
EOF
files_before=$(sha256sum "$T"/files/*.img)
"$APPLIANCE" install "${DEMO_ARGS[@]}" --site "$T/files.yaml" --node filenode --hw-root "$T/emptyroot" \
	--state-dir "$T/state-files" --disk-file "$T/files/install.img" --disk-file "$T/files/ceph-a.img" \
	--apply --unattended >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] && ok "--disk-file install disk by path: exit 1" || not_ok "--disk-file: exit $rc"
expect_out "--disk-file: the image files are resolved by their path globs" \
	"done: install $T/files/install.img; ceph $T/files/ceph-a.img" cat "$T/out"
expect_out "--disk-file: refused by the Talos config, with the reason" \
	"^appliance: render-config: node 'filenode': installDisk cannot be expressed as a Talos install disk" cat "$T/out"
[ "$(sha256sum "$T"/files/*.img)" = "$files_before" ] && ok "--disk-file: image files untouched" ||
	not_ok "--disk-file: an image file changed"

# --config FILE that is no machine config (empty, not YAML, YAML but no config): invalid input,
# exit 2 naming the file and what is wrong, refused before anything is written (it used to exit 1
# from preflight-secrets with the earlier steps journaled; a non-YAML file even installed, exit 0)
nosec=()
skip_next=0
for a in "${DEMO_ARGS[@]}"; do
	if [ $skip_next = 1 ]; then skip_next=0; elif [ "$a" = --secrets ]; then skip_next=1; else nosec+=("$a"); fi
done
mkdir -p "$T/cfg"
: >"$T/cfg/empty.yaml"
printf 'version: v1alpha1\nmachine:\n  token: hunter2-not-real\n  type: [controlplane\n' >"$T/cfg/broken.yaml"
printf -- '- machine\n- cluster\n' >"$T/cfg/list.yaml"
cp "$ROOT/profiles/demo.yaml" "$T/cfg/profile.yaml"
cfg_refused() { # DESC MESSAGE-REGEX FILE COMMAND...: exit 2, the message, no state, disks unchanged
	local d=$1 re=$2 f=$3 rc
	shift 3
	rm -rf "$T/state-cfg"
	"$APPLIANCE" "$@" "${nosec[@]}" --state-dir "$T/state-cfg" --config "$f" >"$T/out" 2>&1
	rc=$?
	if [ $rc -eq 2 ] && grep -qE -- "$re" "$T/out" && ! grep -q hunter2 "$T/out"; then ok "$d: exit 2, named"; else
		not_ok "$d: exit $rc, wanted 2 and /$re/"
		sed 's/^/#   /' "$T/out" | tail -5
	fi
	[ ! -e "$T/state-cfg" ] && [ "$(demo_disk_hashes)" = "$before" ] && ok "$d: nothing written (no state, journal or disk)" ||
		{ not_ok "$d: something was written"; ls -R "$T/state-cfg" 2>&1 | head -5 | sed 's/^/#   /'; }
}
cfg_refused "install --config of an empty file" \
	"^appliance: --config: machine config '$T/cfg/empty.yaml' is empty$" "$T/cfg/empty.yaml" install --apply --unattended
cfg_refused "install --config of a file that is not YAML (no value echoed)" \
	"^appliance: --config: $T/cfg/broken.yaml:5:1: YAML syntax error: did not find expected ',' or ']'" \
	"$T/cfg/broken.yaml" install --apply --unattended
cfg_refused "install --config of a YAML list" \
	"^appliance: --config: $T/cfg/list.yaml:1:1: a document of a machine config is a list, not a mapping$" \
	"$T/cfg/list.yaml" install --apply --unattended
cfg_refused "install --config of the profile instead of a machine config" \
	"^appliance: --config: machine config '$T/cfg/profile.yaml' has no v1alpha1 document with a 'machine:' mapping" \
	"$T/cfg/profile.yaml" install --apply --unattended
cfg_refused "install --config of a missing file" \
	"^appliance: --config: cannot open '$T/cfg/nope.yaml': No such file or directory$" "$T/cfg/nope.yaml" install --apply --unattended
cfg_refused "plan --config of an empty file" "^appliance: --config: machine config '$T/cfg/empty.yaml' is empty$" \
	"$T/cfg/empty.yaml" plan
"$APPLIANCE" talos config-volume "$ROOT/profiles/demo.yaml" --node demo-1 --config "$T/cfg/empty.yaml" --out "$T/cfg/vol.iso" >"$T/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -qxF "appliance: --config: machine config '$T/cfg/empty.yaml' is empty" "$T/out" && [ ! -e "$T/cfg/vol.iso" ] &&
	ok "talos config-volume --config of an empty file: exit 2, named, no volume written" ||
	{ not_ok "talos config-volume --config empty: exit $rc"; sed 's/^/#   /' "$T/out"; }
# control: the machine config talos gen renders for the node passes the check
"$APPLIANCE" talos gen "$ROOT/profiles/demo.yaml" --site "$DEMO_SITE" --secrets "$DEMO_SECRETS" --node demo-1 --out "$T/cfg/gen" >"$T/out" 2>&1 ||
	{ not_ok "talos gen for the control"; sed 's/^/#   /' "$T/out"; }
"$APPLIANCE" plan "${nosec[@]}" --state-dir "$T/state-cfg" --config "$T/cfg/gen/demo-1.yaml" >"$T/out" 2>&1
rc=$?
[ $rc -ne 2 ] && ! grep -q -- '--config:' "$T/out" && ok "control: plan --config of a rendered machine config passes the check (exit $rc)" ||
	{ not_ok "control: a rendered machine config refused (exit $rc)"; sed 's/^/#   /' "$T/out" | tail -5; }
rm -rf "$T/state-cfg"

# on a terminal, --apply without --unattended shows the plan and asks; anything but "yes" stops
echo no | script -qec "$APPLIANCE install ${DEMO_ARGS[*]} --apply" /dev/null >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] && ok "interactive install answered 'no': exit 1" || not_ok "interactive 'no': exit $rc"
expect_out "interactive install: the plan is shown before the question" \
	"^      write     /dev/nvme0n1 .*the whole disk is overwritten" cat "$T/out"
expect_out "interactive install: asks, then stops" \
	"Type 'yes' to install node 'demo-1': appliance: not confirmed; nothing was changed" cat "$T/out"
[ "$(demo_disk_hashes)" = "$before" ] && ok "interactive 'no': disks untouched" || not_ok "interactive 'no': a disk changed"

# two installs never share a state directory
mkdir -p "$DEMO_STATE"
flock "$DEMO_STATE/lock" sleep 30 &
holder=$!
at_exit "kill $holder"
sleep 0.2
refusal "state directory in use by another install" \
	"^appliance: state directory '$DEMO_STATE' is in use by another install$" "${DEMO_ARGS[@]}"
kill $holder
wait $holder 2>/dev/null

# plan shows the same refusals (same code path)
expect_fail "plan refuses the same way (exit 1)" 1 "$APPLIANCE" plan "${DEMO_ARGS[@]}" --set nas.port=1
expect_out "plan: same message" "^appliance: preflight-nas: nas check failed: cannot connect to 127.0.0.1:1" \
	"$APPLIANCE" plan "${DEMO_ARGS[@]}" --set nas.port=1

# the profile can say "never ask" (install.unattended: true): on a terminal it installs
# without a question, as --unattended does (the live system's interactive entry included)
echo no | script -qec "$APPLIANCE install ${DEMO_ARGS[*]} --state-dir $T/state-unattended --apply --set install.unattended=true" /dev/null >"$T/out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "install.unattended: installs on a terminal (exit 0)" || { not_ok "install.unattended: exit $rc"; tail -5 "$T/out" | sed 's/^/#   /'; }
if grep -q "Type 'yes'" "$T/out"; then not_ok "install.unattended: it asked"; else ok "install.unattended: no question asked"; fi
[ "$(demo_disk_hashes)" != "$before" ] && ok "install.unattended: the disks were installed" || not_ok "install.unattended: disks unchanged"
