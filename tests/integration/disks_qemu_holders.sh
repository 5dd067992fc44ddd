#!/usr/bin/env bash
# Real md RAID1 and LVM holders in the live system: build/iso/live boots in QEMU (TCG, no
# network) with four virtual NVMe disks named as profiles/demo.yaml's demo-1 wants them
# (install APPL-INSTALL-1, Ceph APPL-CEPH-1-A/B/C; A and B carry one GPT partition each).
# A small cpio appended to the live initramfs adds /holders-init (rdinit=) which, in the
# guest: assembles an md RAID1 from A's and B's partitions (mdadm), makes an LVM2
# PV/VG/LV on the whole of C (lvm), runs `appliance disks --json` (holders md0 and dm-0
# reported), `appliance wipe demo.yaml --node demo-1 --apply` per disk and for the node
# (each held disk refused with its exact message, nothing erased), then stops the array,
# deactivates the VG and wipes again: every Ceph disk clean. On the host afterwards
# blkid -p and wipefs -n find nothing on the three image files. This host's kernel has no
# md, dm or nvme driver; the guest's has (iso/modules.list), and the live system carries
# mdadm and lvm (iso/build.sh).
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/e2e/lib/qemu.sh"
e2e_require_qemu
for t in sgdisk blkid wipefs python3; do
	command -v $t >/dev/null 2>&1 || skip_all "!!! $t missing: the guest holders test did NOT run (make deps)"
done
e2e_assets
[ -x "$MKINITRAMFS" ] || skip_all "!!! $MKINITRAMFS missing: the guest holders test did NOT run"

d=$T/demo-1
mkdir -p "$d"
truncate -s 2G "$d/install.raw"
truncate -s 1G "$d/ceph-a.raw" "$d/ceph-b.raw" "$d/ceph-c.raw"
for x in a b; do sgdisk -o -n 1:2048:0 -t 1:fd00 -c "1:raid-$x" "$d/ceph-$x.raw" >/dev/null; done
DISK_ARGS=()
for x in install:APPL-INSTALL-1 ceph-a:APPL-CEPH-1-A ceph-b:APPL-CEPH-1-B ceph-c:APPL-CEPH-1-C; do
	DISK_ARGS+=(-drive "file=$d/${x%%:*}.raw,format=raw,if=none,discard=unmap,id=${x%%:*}"
		-device "nvme,drive=${x%%:*},serial=${x#*:}")
done

# The guest's script. Every step prints '<<< NAME', its output, '>>> NAME rc=N'.
cat >"$T/holders-init" <<'EOF'
#!/bin/sh
export PATH=/usr/bin:/usr/sbin:/bin:/sbin LVM_SUPPRESS_FD_WARNINGS=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
echo 1 >/proc/sys/kernel/printk # kernel messages would interleave with the JSON lines
while read -r m; do insmod "$m" 2>/dev/null; done </etc/modules.load
mdev -s
run() { # run NAME CMD...
	n=$1
	shift
	echo "<<< $n"
	"$@" >/tmp/out 2>&1
	rc=$?
	cat /tmp/out
	echo ">>> $n rc=$rc"
}
dev() { # dev SERIAL: the NVMe disk with this serial
	for s in /sys/block/nvme*n1; do
		[ "$(tr -d ' ' <"$s/device/serial")" = "$1" ] && echo "/dev/${s##*/}"
	done
}
A=$(dev APPL-CEPH-1-A) B=$(dev APPL-CEPH-1-B) C=$(dev APPL-CEPH-1-C)
echo "HOLDERS DISKS A=$A B=$B C=$C"
P=/usr/share/appliance/profiles/demo.yaml
W="appliance wipe $P --node demo-1 --apply"
run md-create mdadm --create /dev/md0 --run --assume-clean --level=1 --raid-devices=2 \
	--metadata=1.2 "${A}p1" "${B}p1"
run pvcreate lvm pvcreate -y "$C"
run vgcreate lvm vgcreate vgholders "$C"
run lvcreate lvm lvcreate -y -n lvholders -L 64M vgholders
run held-disks appliance disks --json
run wipe-a $W --disk "$A"
run wipe-b $W --disk "$B"
run wipe-c $W --disk "$C"
run wipe-node $W
run md-stop mdadm --stop /dev/md0
run vg-off lvm vgchange -an vgholders
run md-still-there mdadm --examine "${A}p1"
run wipe-free $W
run clean-disks appliance disks --json
sync
echo "HOLDERS DONE"
poweroff -f
EOF
printf 'file /holders-init %s 0755\n' "$T/holders-init" >"$T/extra.list"
"$MKINITRAMFS" -c gzip -o "$T/extra.cpio.gz" "$T/extra.list" >/dev/null
cat "$LIVE_DIR/initrd.img" "$T/extra.cpio.gz" >"$T/initrd.img"

e2e_qemu guest 240 -kernel "$LIVE_DIR/vmlinuz" -initrd "$T/initrd.img" \
	-append "console=ttyS0 rdinit=/holders-init" -nic none "${DISK_ARGS[@]}"
tr -d '\r' <"$T/guest.serial" | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' >"$T/log"
if grep -q '^HOLDERS DONE$' "$T/log"; then ok "guest: the script ran to the end"; else
	not_ok "guest: the script ran to the end"
	e2e_show guest
fi
eval "$(sed -n 's/^HOLDERS DISKS //p' "$T/log")" # A=/dev/nvmeXn1 B=... C=...
A=${A:-?} B=${B:-?} C=${C:-?}
diag "Ceph disks in the guest: A=$A B=$B C=$C"
# step NAME: that step's output; rc NAME: its exit code
step() { awk -v n="$1" '$0 == "<<< " n {on = 1; next} $0 ~ "^>>> " n " rc=" {on = 0} on' "$T/log"; }
rc() { sed -n "s/^>>> $1 rc=//p" "$T/log"; }
step_rc() { # step_rc DESC NAME CODE
	local got
	got=$(rc "$2")
	if [ "$got" = "$3" ]; then ok "$1"; else
		not_ok "$1 (exit '${got:-none}', wanted $3)"
		step "$2" | tail -15 | sed 's/^/#   /'
	fi
}
has() { step "$1" | grep -qxF -- "$2"; }

step_rc "mdadm --create: RAID1 md0 from ${A}p1 and ${B}p1" md-create 0
step_rc "lvm pvcreate on $C" pvcreate 0
step_rc "lvm vgcreate vgholders" vgcreate 0
step_rc "lvm lvcreate vgholders/lvholders (device-mapper)" lvcreate 0
step_rc "appliance disks --json with the holders active" held-disks 0

# the JSON facts, checked with python3: DISKS_JSON_CHECK STEP MODE
json_check() {
	step "$1" | python3 -c '
import json, sys
mode, a, b, c = sys.argv[1:5]
doc = json.loads(sys.stdin.read())
by = {d["path"]: d for d in doc["disks"]}
def want(cond, what):
    if not cond:
        sys.exit("%s: %s" % (what, json.dumps({p: {k: by[p][k] for k in ("partitions", "holders", "signatures")} for p in (a, b, c) if p in by})[:1500]))
for p in (a, b, c):
    want(p in by, "%s listed" % p)
n = lambda p: p.rsplit("/", 1)[1]
if mode == "held":
    for p in (a, b):
        want(len(by[p]["partitions"]) == 1 and by[p]["partitions"][0]["holders"] == ["md0"], "%sp1 held by md0" % p)
        want(by[p]["holders"] == ["%sp1 held by md0" % n(p)], "%s: holders lists md0" % p)
        want(any(s["type"] == "linux_raid_member" and s["partition"] == 1 for s in by[p]["signatures"]), "%s: linux_raid_member in partition 1" % p)
    want(by[c]["holders"] == ["%s held by dm-0" % n(c)], "%s held by dm-0" % c)
    want([s["type"] for s in by[c]["signatures"]] == ["LVM2_member"], "%s: LVM2_member" % c)
else:
    for p in (a, b, c):
        want(by[p]["holders"] == [] and by[p]["partitions"] == [] and by[p]["signatures"] == [] and by[p]["partition_table"] is None,
             "%s: no holder, partition or signature" % p)
' "$2" "$A" "$B" "$C"
}
check "disks --json: ${A}p1 and ${B}p1 held by md0 (linux_raid_member), $C held by dm-0 (LVM2_member)" \
	json_check held-disks held

# every held disk refused with its exact message, exit 1
md_msg() { echo "appliance: disk '$1' has partition '$1p1' held by 'md0' (md RAID); refusing to write"; }
dm_msg="appliance: disk '$C' is held by 'dm-0' (device-mapper: LVM, dm-crypt or multipath); refusing to write"
step_rc "wipe --apply --disk $A: refused (exit 1)" wipe-a 1
check "wipe --disk $A: '$(md_msg "$A")'" has wipe-a "$(md_msg "$A")"
step_rc "wipe --apply --disk $B: refused (exit 1)" wipe-b 1
check "wipe --disk $B: '$(md_msg "$B")'" has wipe-b "$(md_msg "$B")"
step_rc "wipe --apply --disk $C: refused (exit 1)" wipe-c 1
check "wipe --disk $C: '$dm_msg'" has wipe-c "$dm_msg"
step_rc "wipe --apply (the whole node): refused (exit 1)" wipe-node 1
one_refusal() { has wipe-node "$(md_msg "$A")" || has wipe-node "$(md_msg "$B")" || has wipe-node "$dm_msg"; }
check "wipe (the whole node): a held disk refused, with its message" one_refusal
nothing_wiped() { ! for s in wipe-a wipe-b wipe-c wipe-node; do step $s; done | grep ': wiped '; }
check "the refused wipes erased nothing (no 'wiped' line)" nothing_wiped

step_rc "mdadm --stop /dev/md0" md-stop 0
step_rc "lvm vgchange -an vgholders" vg-off 0
step_rc "after the refusals the md superblock is still on ${A}p1 (mdadm --examine)" md-still-there 0
step_rc "wipe --apply with the holders gone: ok (exit 0)" wipe-free 0
for p in "$A" "$B" "$C"; do
	check "wipe: $p wiped and clean" bash -c "grep -qE '^$p: wiped [0-9]+ regions, discarded, .*clean' '$T/log'"
done
check "disks --json after the wipe: no holder, partition or signature on A, B, C" json_check clean-disks clean

# the image files on the host: nothing left for blkid or wipefs
for x in a b c; do
	f=$d/ceph-$x.raw
	check "host: blkid -p finds nothing on ceph-$x.raw" bash -c "blkid -p '$f'; [ \$? = 2 ]"
	check "host: wipefs -n finds nothing on ceph-$x.raw" bash -c "out=\$(wipefs -n '$f') && [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
done
check "host: the install disk was never written (no block allocated)" test "$(stat -c %b "$d/install.raw")" = 0
diag "guest: $(cat "$T/guest.secs") s in QEMU"
