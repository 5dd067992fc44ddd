#!/usr/bin/env bash
# The install on Talos v1.10.5's real metal-amd64 partition table (images/mkimage.sh --exact),
# then what Talos' first boot does to it (images/talos-firstboot.py: BIOS and BOOT deleted on
# UEFI, STATE in the smallest fitting gap, EPHEMERAL in the largest): the config volume is still
# found by its label and partition name, and a re-run of plan/install refuses the disk that now
# runs Talos. A 4Kn install disk is refused too. Each refusal: exit 1, the exact message, and
# the disks' sha256 unchanged. The install disk is 3200 MiB: more free space after metal-iso
# than BIOS+BOOT leave, as on a real disk, so STATE lands where it would there.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
. "$ROOT/tests/lib/gpt.sh"
command -v mkfs.xfs >/dev/null || skip_all "mkfs.xfs (xfsprogs) is not installed"
cp "$APPLIANCE" "$T/appliance" && APPLIANCE=$T/appliance

export DEMO_DISK_MIB=3200 DEMO_CEPH_MIB=32 DEMO_IMAGE_ARGS="--exact --fill 1"
demo_setup >"$T/setup.log" 2>&1 || {
	not_ok "demo site set up"
	sed 's/^/#   /' "$T/setup.log" | tail -20
	exit 1
}
D=$DEMO_HW/dev/nvme0n1

# ---- the image itself: Talos v1.10.5's table ------------------------------------------------
zstd -q -d -c "$T/img/metal.raw.zst" >"$T/metal.raw"
EFI=C12A7328-F81F-11D2-BA4B-00A0C93EC93B BIOS=21686148-6449-6E6F-744E-656564454649 LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
want_img="1 EFI $EFI 1 1101 -
2 BIOS $BIOS 1102 1 LegacyBIOSBootable
3 BOOT $LINUX 1103 1000 -
4 META $LINUX 2103 1 -"
check "mkimage --exact: Talos v1.10.5's metal-amd64 table (sizes, types, names, attributes)" \
	test "$(gpt_table "$T/metal.raw")" = "$want_img"
check "mkimage --exact: 2247 MiB image (1246 MiB + 1001 MiB for dual boot)" \
	test "$(stat -c %s "$T/metal.raw")" = $((2247 * 1048576))
rm -f "$T/metal.raw"

refusal() { # DESC MESSAGE-REGEX CMD...
	local desc=$1 re=$2 rc before
	shift 2
	before=$(demo_disk_hashes)
	"$@" >"$T/out" 2>&1
	rc=$?
	[ $rc -eq 1 ] && ok "$desc: exit 1" || { not_ok "$desc: exit 1 (got $rc)"; sed 's/^/#   /' "$T/out" | tail -10; }
	grep -qE -- "$re" "$T/out" && ok "$desc: the exact message" ||
		{ not_ok "$desc: message (wanted /$re/)"; sed 's/^/#   /' "$T/out" | tail -10; }
	[ "$(demo_disk_hashes)" = "$before" ] && ok "$desc: disks unchanged" || not_ok "$desc: a disk changed"
}

# ---- a 4Kn install disk is refused (the image is laid out in 512-byte sectors) ---------------
LBS=$DEMO_HW/sys/block/nvme0n1/queue/logical_block_size
echo 4096 >"$LBS"
refusal "install on a 4Kn disk" \
	"^appliance: resolve-disks: install disk '/dev/nvme0n1' has 4096-byte logical sectors; the Talos metal image is laid out for 512-byte sectors \(a 4Kn image is not supported yet\); refusing to write it$" \
	"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended
refusal "plan on a 4Kn disk" "has 4096-byte logical sectors" "$APPLIANCE" plan "${DEMO_ARGS[@]}"
echo 512 >"$LBS"

# ---- install on the real geometry -----------------------------------------------------------
check "install --apply on the exact v1.10.5 image" "$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended
want_disk="$want_img
5 metal-iso $LINUX 2104"
check "install disk: the image's four partitions, then metal-iso (entry 5) after META" \
	test "$(gpt_table "$D" | cut -d' ' -f1-4)" = "$(echo "$want_disk" | cut -d' ' -f1-4)"
check "a re-run before Talos ever booted is a resume, not a refusal" \
	"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended

# ---- Talos' first boot (UEFI) ----------------------------------------------------------------
check "first boot simulated (BIOS/BOOT deleted, STATE and EPHEMERAL created)" \
	/usr/bin/python3 "$ROOT/images/talos-firstboot.py" "$D"
after=$(gpt_table "$D")
echo "$after" | sed 's/^/# /'
check "after first boot: no BIOS, no BOOT" sh -c "! echo '$after' | grep -qE ' (BIOS|BOOT) '"
check "after first boot: STATE 100 MiB in the gap BIOS/BOOT left (entry 2, at 1102 MiB)" \
	sh -c "echo '$after' | grep -qx '2 STATE $LINUX 1102 100 -'"
check "after first boot: EPHEMERAL in the largest gap, after metal-iso" \
	sh -c "echo '$after' | grep -qE '^3 EPHEMERAL $LINUX 21[0-9][0-9] [0-9]+ -$'"
check "after first boot: metal-iso keeps entry 5 and its name (Talos' locator: partition_label)" \
	sh -c "echo '$after' | grep -qE '^5 metal-iso $LINUX 2104 '"
check "after first boot: the config volume is still found by its label (blkid LABEL=metal-iso)" \
	test "$(gpt_label "$D" metal-iso)" = metal-iso

# ---- a re-run refuses the disk that now runs Talos ------------------------------------------
msg="^appliance: resolve-disks: install disk '/dev/nvme0n1' already runs Talos: STATE \(xfs, partition 2\), EPHEMERAL \(xfs, partition 3\), metal-iso \(iso9660, partition 5\); Talos created STATE/EPHEMERAL at its first boot, so this node was installed and booted; refusing to re-image it \(that would discard its etcd member and data\); give --reinstall to overwrite it$"
refusal "install on a disk that runs Talos" "$msg" "$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended
refusal "plan on a disk that runs Talos" "$msg" "$APPLIANCE" plan "${DEMO_ARGS[@]}"
expect_rc_out "plan --reinstall: the disk would be re-imaged, said so" 0 \
	"/dev/nvme0n1 already runs Talos \(STATE \(xfs, partition 2\), EPHEMERAL \(xfs, partition 3\), metal-iso \(iso9660, partition 5\)\); --reinstall: it is re-imaged" \
	"$APPLIANCE" plan "${DEMO_ARGS[@]}" --reinstall
