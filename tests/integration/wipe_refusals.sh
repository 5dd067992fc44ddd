#!/usr/bin/env bash
# The refusal matrix of the disk safety policy, row by row, each with its exact message:
# mounted, held (disk and partition), live medium (mount table and --live/env), unmatched,
# ambiguous, doubly claimed, too small, read-only, unattended without 'wipe: true'.
# Real loop devices and image files made here; NVMe/dm/md/USB rows on a fixture sysfs tree.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/fixtures/disks/fixtures.sh"
. "$ROOT/tests/lib/site.sh"
loop_require

PROFILE=$ROOT/profiles/demo.yaml

# refused DESC EXACT-MESSAGE CMD...: exit 1 and stderr/stdout holds the exact line
refused() {
	local d=$1 msg=$2 rc
	shift 2
	"$@" >"$T/.out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qxF -- "$msg" "$T/.out"; then
		ok "$d"
	else
		not_ok "$d (exit $rc)"
		echo "#   wanted: $msg"
		sed 's/^/#   /' "$T/.out" | tail -15
	fi
}

inst=$(loop_new inst.img 64M)
gpt=$(loop_new gpt.img 512M)
fixture_gpt "$gpt" || not_ok "build the GPT fixture"
ro_img=$(loop_image ro.img 64M)
ro=$(loop_attach "$ro_img" -r)
small=$(loop_new small.img 64M)
spare=$(loop_new spare.img 64M)
loop_guard "$inst" "$gpt" "$ro" "$small" "$spare"

# --- mounted: an ext4 partition of the Ceph disk is mounted ---------------------------
mkdir -p "$T/mnt"
at_exit "umount -l '$T/mnt'"
mount "${gpt}p1" "$T/mnt" || not_ok "mount the fixture's ext4 partition"
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $gpt, wipe: true}"
refused "mounted partition: wipe is refused" \
	"appliance: disk '$gpt' has partition '${gpt}p1' mounted at '$T/mnt'; refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1
refused "mounted partition: wipe --apply is refused too" \
	"appliance: disk '$gpt' has partition '${gpt}p1' mounted at '$T/mnt'; refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --apply
check "mounted partition: the signatures are untouched" blkid -p "${gpt}p1"
umount "$T/mnt"

# a whole-disk mount
mkfs.ext4 -q -F "$spare"
mount "$spare" "$T/mnt" || not_ok "mount the spare disk"
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $spare, wipe: true}"
refused "mounted disk: wipe is refused" \
	"appliance: disk '$spare' is mounted at '$T/mnt'; refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --apply
umount "$T/mnt"

# --- read-only (losetup -r) ----------------------------------------------------------
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $ro, wipe: true}"
refused "read-only disk: wipe is refused" \
	"appliance: disk '$ro' is read-only; refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --apply

# --- too small (minSize) ----------------------------------------------------------------
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $small, minSize: 1Gi, wipe: true}"
refused "too small: wipe is refused" \
	"appliance: node 'n1': nodes[0].cephDisks[0] matches a disk smaller than its minimum size 1Gi; candidates:" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --apply
expect_out "too small: the candidate line says why" \
	"^  $small: matches \\(path '$small' matches '$small'\\) but is too small: 64.0 MiB < minimum 1Gi$" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1

# --- unmatched: a selector that names no disk; a --disk no selector names -----------------
site_nodes "$T/n.yaml" "{path: $inst}" "{path: /dev/does-not-exist, wipe: true}"
refused "unmatched selector: refused" \
	"appliance: node 'n1': nodes[0].cephDisks[0] matches no disk; candidates:" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1
expect_out "unmatched selector: every candidate says why not" \
	"^  $small: no match: path '$small' does not match '/dev/does-not-exist'$" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $small, wipe: true}"
refused "unmatched disk (--disk): refused" \
	"appliance: disk '$spare' is not named by any cephDisks selector of node 'n1'; refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --disk "$spare" --apply

# --- ambiguous and doubly claimed: image files (globs stay inside this test) ------------
for f in a b c; do truncate -s 64M "$T/amb-$f.img"; done
files=(--disk-file "$T/amb-a.img" --disk-file "$T/amb-b.img" --disk-file "$T/amb-c.img")
site_nodes "$T/n.yaml" "{path: '$T/amb-[ab].img'}" "{path: '$T/amb-c.img', wipe: true}"
refused "ambiguous installDisk: refused" \
	"appliance: node 'n1': nodes[0].installDisk matches 2 disks, expected exactly one; candidates:" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 "${files[@]}"
expect_out "ambiguous: both candidates are listed as matches" \
	"^  $T/amb-b.img: matches \\(path '$T/amb-b.img' matches '$T/amb-\\[ab\\].img'\\)$" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 "${files[@]}"
site_nodes "$T/n.yaml" "{path: '$T/amb-a.img'}" "{path: '$T/amb-[bc].img', match: one, wipe: true}"
refused "ambiguous cephDisks (match: one): refused" \
	"appliance: node 'n1': nodes[0].cephDisks[0] matches 2 disks, expected exactly one; candidates:" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 "${files[@]}"
site_nodes "$T/n.yaml" "{path: '$T/amb-a.img'}" "{path: '$T/amb-[ab].img', match: all, wipe: true}"
refused "doubly claimed (installDisk and cephDisks): refused" \
	"appliance: node 'n1': disk '$T/amb-a.img' is claimed by both nodes[0].installDisk and nodes[0].cephDisks[0]" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 "${files[@]}" --apply
site_nodes "$T/n.yaml" "{path: '$T/amb-a.img'}" "{path: '$T/amb-b.img', wipe: true}" "{path: '$T/amb-[bc].img', match: all, wipe: true}"
refused "doubly claimed (two cephDisks entries): refused" \
	"appliance: node 'n1': disk '$T/amb-b.img' is claimed by both nodes[0].cephDisks[0] and nodes[0].cephDisks[1]" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 "${files[@]}"

# --- unattended without 'wipe: true' ---------------------------------------------------
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $small}"
refused "unattended wipe without 'wipe: true': refused" \
	"appliance: nodes[0].cephDisks[0] does not say 'wipe: true'; refusing to wipe '$small' unattended" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --unattended --apply
check "attended dry run of the same entry is allowed" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1

# --- live medium: named by --live / APPLIANCE_LIVE_DISK --------------------------------
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $small, wipe: true}"
refused "live medium (--live): refused" \
	"appliance: disk '$small' carries the running live system; refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --apply --live "$small"
refused "live medium (APPLIANCE_LIVE_DISK): refused" \
	"appliance: disk '$small' carries the running live system; refusing to write" \
	env APPLIANCE_LIVE_DISK="$small" "$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --apply

# --- fixture machine: NVMe disks held by dm / md, USB live stick in the mount table ------
fixture_sysfs "$T/root"
site_nodes "$T/n.yaml" "{transport: nvme, serial: APPL-INSTALL-1}" "{serial: APPL-CEPH-1b, wipe: true}"
refused "held by dm (sysfs holders/): refused" \
	"appliance: disk '/dev/nvme2n1' is held by 'dm-0' (device-mapper: LVM, dm-crypt or multipath); refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --hw-root "$T/root" --apply
site_nodes "$T/n.yaml" "{transport: nvme, serial: APPL-INSTALL-1}" "{serial: APPL-CEPH-1c, wipe: true}"
refused "partition held by md: refused" \
	"appliance: disk '/dev/nvme3n1' has partition '/dev/nvme3n1p1' held by 'md127' (md RAID); refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --hw-root "$T/root" --apply
site_nodes "$T/n.yaml" "{transport: nvme, serial: APPL-INSTALL-1}" "{model: 'LIVE STICK', wipe: true}"
refused "live medium (mounted at /run/live/medium): refused" \
	"appliance: disk '/dev/sda' carries the running live system; refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --hw-root "$T/root" --apply
site_nodes "$T/n.yaml" "{transport: nvme, serial: APPL-INSTALL-1}" "{transport: nvme, serial: 'APPL-CEPH-1*', match: all, wipe: true}"
refused "one refused disk stops the whole run before anything is erased" \
	"appliance: disk '/dev/nvme2n1' is held by 'dm-0' (device-mapper: LVM, dm-crypt or multipath); refusing to write" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --hw-root "$T/root" --apply
check "... and the BlueStore label on the allowed disk is still there" \
	bash -c "blkid -p '$T/root/dev/nvme1n1' | grep -q ceph_bluestore"

# --- JSON carries the refusal too -------------------------------------------------------
site_nodes "$T/n.yaml" "{path: $inst}" "{path: $ro, wipe: true}"
"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --apply --json >"$T/j" 2>/dev/null
check "read-only in --json: ok=false and the message" /usr/bin/python3 -c "
import json,sys
j=json.load(open('$T/j'))
assert j['ok'] is False, j
assert j['error'] == \"disk '$ro' is read-only; refusing to write\", j['error']"

# --- usage errors ----------------------------------------------------------------------
expect_fail "no --node: usage error (exit 2)" 2 "$APPLIANCE" wipe "$PROFILE"
expect_fail "--backup without --apply: usage error (exit 2)" 2 "$APPLIANCE" wipe "$PROFILE" --node n1 --backup "$T/x"
expect_fail "unknown option: usage error (exit 2)" 2 "$APPLIANCE" wipe "$PROFILE" --node n1 --bogus
expect_fail "unknown node: exit 2" 2 "$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node nope
check "--help exits 0" "$APPLIANCE" wipe --help
