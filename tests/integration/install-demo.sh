#!/usr/bin/env bash
# The demo flow as a test: plan, install --apply on the simulated node demo-1 (image files as
# NVMe disks under a machine root, real smbd and nginx on 127.0.0.1), then the result, a re-run
# that skips everything, a changed profile that invalidates exactly the affected steps, and the
# command-line contract.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32 # smaller than `make demo`: the test hashes every disk often

demo_setup_tap
ok "demo site set up (3 NVMe image disks, smbd on $SMBD_PORT, mirror ${DEMO_MIRROR:-none})"

json_steps() { # FILE STATUS: step names whose step-end has STATUS, space separated
	/usr/bin/python3 -c '
import json, sys
out = [e["step"] for e in map(json.loads, open(sys.argv[1])) if e["event"] == "step-end" and e["status"] == sys.argv[2]]
print(" ".join(out))' "$1" "$2"
}

# ---- plan: shows every destructive action, changes nothing ----------------------------
before=$(demo_disk_hashes)
"$APPLIANCE" plan "${DEMO_ARGS[@]}" >"$T/plan.txt" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "plan exits 0" || { not_ok "plan exits 0 (got $rc)"; sed 's/^/#   /' "$T/plan.txt" | tail -20; }
for re in \
	'^      write     /dev/nvme0n1 \(192.0 MiB\): the whole disk is overwritten with Talos image [0-9a-f]{12}\.\.\./v1.10.5/metal-amd64.raw.zst' \
	"^      partition /dev/nvme0n1: add GPT partition 'metal-iso' after the image's last partition" \
	'^      erase     /dev/nvme1n1: signature ceph_bluestore at offset 1048576' \
	'^      erase     /dev/nvme1n1: signature gpt at offset 512' \
	'^      erase     /dev/nvme2n1: signature LVM2_member at offset 536' \
	"^      firmware  add a boot entry for /dev/nvme0n1's EFI partition .* \(now 0000,0001\)" \
	'^      file      render the GitOps tree for cluster .talos-demo. into ' \
	'^      install   /dev/nvme0n1 \(serial APPL-INSTALL-1\) is the install disk' \
	'^      ceph      /dev/nvme2n1 \(serial APPL-CEPH-1B\) is a Ceph disk'; do
	if grep -qE -- "$re" "$T/plan.txt"; then ok "plan lists: $re"; else not_ok "plan lists: $re"; fi
done
[ "$(demo_disk_hashes)" = "$before" ] && ok "plan changed no disk" || not_ok "plan changed a disk"
[ ! -e "$DEMO_STATE" ] && ok "plan writes nothing, not even the state directory" || not_ok "plan created $DEMO_STATE"

"$APPLIANCE" plan "${DEMO_ARGS[@]}" --json >"$T/plan.json" 2>"$T/plan.err"
check "plan --json: every line is a JSON object" /usr/bin/python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    assert isinstance(json.loads(l), dict); n += 1
assert n > 20, n' "$T/plan.json"
planned=$(json_steps "$T/plan.json" todo)
[ "$planned" = "preflight-image render-config write-image config-partition wipe-ceph boot-order gitops" ] &&
	ok "plan --json: steps to do" || not_ok "plan --json: steps to do: '$planned'"

# ---- install ----------------------------------------------------------------------------
"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended --json >"$T/install.json" 2>"$T/install.err"
rc=$?
[ $rc -eq 0 ] && ok "install --apply exits 0" || {
	not_ok "install --apply exits 0 (got $rc)"
	tail -5 "$T/install.json" "$T/install.err" | sed 's/^/#   /'
}
done_steps=$(json_steps "$T/install.json" "done")
want="identify inventory resolve-disks preflight-nas preflight-image preflight-secrets render-config write-image config-partition wipe-ceph boot-order gitops summary"
[ "$done_steps" = "$want" ] && ok "install ran every step" || not_ok "install ran: '$done_steps'"
# what plan said it would change is what install changed: the CHANGE steps
for s in write-image config-partition wipe-ceph boot-order gitops; do
	case " $planned " in *" $s "*) ;; *) not_ok "plan did not list $s" ;; esac
done
ok "every step install changed was listed by plan"

sgdisk -p "$DEMO_HW/dev/nvme0n1" >"$T/gpt.txt" 2>&1
expect_out "install disk: EFI, BIOS, BOOT, META from the image" \
	'^ +4 +323584 +325631 +1024.0 KiB +8300 +META' cat "$T/gpt.txt"
expect_out "install disk: metal-iso partition after META" \
	'^ +5 +325632 +[0-9]+ +1024.0 KiB +8300 +metal-iso' cat "$T/gpt.txt"
start=$(awk '$NF == "metal-iso" {print $2}' "$T/gpt.txt")
size=$(stat -c %s "$DEMO_STATE/nodes/demo-1/metal-iso.iso")
check "metal-iso partition holds the node's config volume" \
	cmp -n "$size" <(dd if="$DEMO_HW/dev/nvme0n1" bs=512 skip="$start" status=none) "$DEMO_STATE/nodes/demo-1/metal-iso.iso"
check "the node's machine config validates against the Talos 1.10 schema" \
	/usr/bin/python3 "$ROOT/tests/lib/talos_validate.py" "$SCHEMAS/talos" 10 "$DEMO_STATE/nodes/demo-1/config.yaml"
check "config.yaml of the state dir is 0600" test "$(stat -c %a "$DEMO_STATE/nodes/demo-1/config.yaml")" = 600
for d in nvme1n1 nvme2n1; do
	out=$(wipefs "$DEMO_HW/dev/$d" 2>&1)
	[ -z "$out" ] && ok "ceph disk $d is clean" || { not_ok "ceph disk $d is clean"; echo "$out" | sed 's/^/#   /'; }
done
ev=$DEMO_HW/sys/firmware/efi/efivars
order=$(od -An -tx2 -j4 "$ev/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c" | tr -s ' ')
[ "$order" = " 0002 0000 0001" ] && ok "BootOrder: new entry first, old order kept after it" || not_ok "BootOrder is '$order'"
check "Boot0002 is labelled for the appliance" grep -qa "T.a.l.o.s" "$ev/Boot0002-8be4df61-93ca-11d2-aa0d-00e098032b8c"
expect_out "previous BootOrder recorded" '^BootOrder=0000,0001$' cat "$DEMO_STATE/bootorder.previous"
check "GitOps tree rendered" test -s "$T/home-kubernetes/clusters/talos-demo/flux/gitrepository.yaml"

# ---- secrets never in outputs -------------------------------------------------------------
leak=0
for v in "$APPLIANCE_DEMO_NAS_PASSWORD" "$APPLIANCE_DEMO_GIT_TOKEN" "$APPLIANCE_DEMO_SOPS_KEY" "$APPLIANCE_DEMO_OP_TOKEN"; do
	grep -rqF -- "$v" "$T/plan.txt" "$T/plan.json" "$T/install.json" "$T/install.err" "$DEMO_STATE/journal" && leak=1
done
[ $leak -eq 0 ] && ok "no secret value in plan/install output or the journal" || not_ok "a secret value leaked"

# ---- re-run: everything is done and still checks out --------------------------------------
after=$(demo_disk_hashes)
"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended --json >"$T/rerun.json" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "re-run exits 0" || not_ok "re-run exits 0 (got $rc)"
skipped=$(json_steps "$T/rerun.json" skip)
[ "$skipped" = "preflight-nas preflight-image preflight-secrets render-config write-image config-partition wipe-ceph boot-order gitops" ] &&
	ok "re-run skips every journaled step" || not_ok "re-run skipped: '$skipped'"
[ "$(demo_disk_hashes)" = "$after" ] && ok "re-run changed no disk" || not_ok "re-run changed a disk"

# ---- a result that no longer checks out is redone ------------------------------------------
printf 'bluestore block device\n' | dd of="$DEMO_HW/dev/nvme2n1" conv=notrunc status=none
expect_rc_out "plan: a Ceph disk carrying a signature again is redone" 0 \
	"redo      result no longer checks out: '/dev/nvme2n1' carries ceph_bluestore again" \
	"$APPLIANCE" plan "${DEMO_ARGS[@]}"
check "install redoes the wipe" "$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended
check "nvme2n1 clean again" test -z "$(wipefs "$DEMO_HW/dev/nvme2n1")"

# ---- a changed profile invalidates the steps it affects, and plan says so ---------------------
"$APPLIANCE" plan "${DEMO_ARGS[@]}" --set 'nodes[0].hostname=renamed.local' --json >"$T/changed.json" 2>&1
[ "$(json_steps "$T/changed.json" redo)" = "render-config config-partition" ] &&
	ok "changed hostname: render-config and config-partition redo" ||
	not_ok "changed hostname: redo '$(json_steps "$T/changed.json" redo)'"
expect_out "plan names the changed input" 'inputs changed since the last run \(node.hostname, config.sha256\)' \
	cat "$T/changed.json"
expect_out "plan says why config-partition runs again" "runs again because 'render-config' runs" cat "$T/changed.json"

# ---- a BIOS machine: nothing written to firmware, the user is told what to do ----------------
mkdir -p "$T/bios-sys"
cp -a "$DEMO_HW/sys/class" "$T/bios-sys/"
"$APPLIANCE" install "${DEMO_ARGS[@]}" --state-dir "$T/state-bios" --sysfs "$T/bios-sys" --apply --unattended \
	>"$T/bios.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "BIOS machine: install exits 0" || { not_ok "BIOS machine: exit $rc"; tail -5 "$T/bios.out" | sed 's/^/#   /'; }
expect_out "BIOS machine: the summary says what to do" \
	"this machine boots with BIOS: choose '/dev/nvme0n1' first in the firmware boot menu" cat "$T/bios.out"
expect_out "BIOS machine: boot-order recorded as bios" '^result=bios$' cat "$T/state-bios/journal/boot-order"

# ---- identity and the command line ---------------------------------------------------------
auto_args=()
skip_next=0
for a in "${DEMO_ARGS[@]}"; do
	if [ $skip_next = 1 ]; then skip_next=0; elif [ "$a" = --node ]; then skip_next=1; else auto_args+=("$a"); fi
done
expect_out "--auto finds demo-1 by its MAC" "done: node 'demo-1' matched by identity" \
	"$APPLIANCE" plan "${auto_args[@]}" --auto
expect_out "--auto says what this machine is" "info +this machine: macs 52:54:00:12:34:01, serial APPL-DEMO-1" \
	"$APPLIANCE" plan "${auto_args[@]}" --auto
expect_rc_out "plan --help" 0 '^usage: appliance plan PROFILE' "$APPLIANCE" plan --help
expect_rc_out "install --help documents the exit codes" 0 '^exit codes: 0 ok, 1 a step failed' "$APPLIANCE" install --help
expect_fail "unknown option: exit 2" 2 "$APPLIANCE" install "${DEMO_ARGS[@]}" --bogus
expect_fail "--node and --auto together: exit 2" 2 "$APPLIANCE" plan "${DEMO_ARGS[@]}" --auto
expect_out "--node and --auto together: message" 'give exactly one of --node NAME and --auto' \
	"$APPLIANCE" plan "${DEMO_ARGS[@]}" --auto
expect_fail "unknown node: exit 2" 2 "$APPLIANCE" plan "${auto_args[@]}" --node nope
expect_out "unknown node: message" "appliance: node 'nope' is not in profile" "$APPLIANCE" plan "${auto_args[@]}" --node nope
expect_fail "plan has no --apply" 2 "$APPLIANCE" plan "${DEMO_ARGS[@]}" --apply
