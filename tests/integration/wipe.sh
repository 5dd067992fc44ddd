#!/usr/bin/env bash
# appliance wipe on every fixture (GPT+ext4+xfs, MBR+ext4, LVM2 PV, raw BlueStore,
# BlueStore in LVM, md v1.2): the dry run lists exactly what would be erased, --apply
# leaves nothing blkid -p or libblkid can find, --backup + --restore gives back
# byte-identical disks; the whole-disk discard path; a fixture NVMe (image file).
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/lib/site.sh"
. "$ROOT/tests/fixtures/disks/fixtures.sh"
loop_require

PROFILE=$ROOT/profiles/demo.yaml
vg=fx$$

inst=$(loop_new inst.img 64M)
gpt=$(loop_new gpt.img 320M)
mbr=$(loop_new mbr.img 64M)
lvm=$(loop_new lvm.img 64M)
bs=$(loop_new bs.img 64M)
bsl=$(loop_new bsl.img 128M)
md=$(loop_new md.img 64M)
all=("$gpt" "$mbr" "$lvm" "$bs" "$bsl" "$md")
loop_guard "$inst" "${all[@]}"
check "fixture: GPT with ext4 and xfs" fixture_gpt "$gpt"
check "fixture: MBR with ext4" fixture_mbr "$mbr"
check "fixture: LVM2 PV" fixture_lvm "$lvm" "${vg}a"
check "fixture: raw BlueStore" fixture_bluestore "$bs"
check "fixture: BlueStore inside LVM" fixture_bluestore_lvm "$bsl" "${vg}b"
check "fixture: md RAID v1.2 superblock" fixture_md "$md"
pe=$(cat "$T/.bluestore_lvm_pe" 2>/dev/null || echo 1048576)

# blkid -p sees what each fixture should carry
expect_out "blkid: GPT" 'PTTYPE="gpt"' blkid -p "$gpt"
expect_out "blkid: ext4 in p1" 'TYPE="ext4"' blkid -p "${gpt}p1"
expect_out "blkid: xfs in p2" 'TYPE="xfs"' blkid -p "${gpt}p2"
expect_out "blkid: MBR" 'PTTYPE="dos"' blkid -p "$mbr"
expect_out "blkid: LVM2 PV" 'TYPE="LVM2_member"' blkid -p "$lvm"
expect_out "blkid: BlueStore" 'TYPE="ceph_bluestore"' blkid -p "$bs"
expect_out "blkid: LVM2 PV holding the BlueStore LV" 'TYPE="LVM2_member"' blkid -p "$bsl"
expect_out "the BlueStore label sits at the LV's first byte" '^bluestore block device$' \
	bash -c "dd if='$bsl' bs=1 skip=$pe count=22 status=none; echo"
expect_out "blkid: md RAID member" 'TYPE="linux_raid_member"' blkid -p "$md"

site_one_node "$T/n.yaml" "$inst" "${all[@]}"
W=("$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1)

# hash the backing image files (coherent with the loop devices; faster than reading them)
hash_all() { sync; for d in "${all[@]}"; do sha256sum "$(cat "/sys/block/${d#/dev/}/loop/backing_file")"; done; }
hash_all >"$T/before"

# --- dry run: the rows wipefs --no-act would print, plus the GPT/MBR/Rook/discard rows ----
"${W[@]}" >"$T/plan" 2>&1
check "dry run exits 0" test $? -eq 0
row() { grep -qE "^$1 +$2 +$3 +$4 +$5\$" "$T/plan"; }
check "dry run: gpt primary magic" row "$gpt" 0x200 8 signature gpt
check "dry run: gpt backup magic" row "$gpt" 0x13fffe00 8 signature gpt
check "dry run: protective MBR" row "$gpt" 0x1fe 2 signature PMBR
check "dry run: ext4 in partition 1" row "$gpt" 0x100438 2 signature "ext4 \\(partition 1\\)"
check "dry run: xfs in partition 2" row "$gpt" 0x1100000 4 signature "xfs \\(partition 2\\)"
check "dry run: dos table" row "$mbr" 0x1fe 2 signature dos
check "dry run: LVM2 label" row "$lvm" 0x218 8 signature LVM2_member
check "dry run: BlueStore label" row "$bs" 0x0 22 signature ceph_bluestore
check "dry run: md superblock" row "$md" 0x1000 4 signature linux_raid_member
check "dry run: GPT zap of both headers" row "$bs" 0x3ffbe00 16896 gpt gpt-backup
check "dry run: Rook zap at 0" row "$bs" 0x0 204800 rook-zap rook-0
check "dry run: whole-disk discard (loop devices support it)" row "$bs" 0x0 67108864 discard discard
hash_all >"$T/after-dry"
check "dry run changed nothing" cmp "$T/before" "$T/after-dry"

# Rook's 1G/10G offsets exist only on big disks: an 11 GiB sparse image file, dry run only
truncate -s 11G "$T/big.img"
site_one_node "$T/big.yaml" "$inst" "$T/big.img"
"$APPLIANCE" wipe "$PROFILE" --site "$T/big.yaml" --node n1 --disk-file "$T/big.img" >"$T/bigplan" 2>&1
check "dry run: Rook zap at 1 GiB" grep -qE "^$T/big.img +0x40000000 +204800 +rook-zap +rook-1G$" "$T/bigplan"
check "dry run: Rook zap at 10 GiB" grep -qE "^$T/big.img +0x280000000 +204800 +rook-zap +rook-10G$" "$T/bigplan"
check "dry run: no Rook zap at 100 GiB on an 11 GiB disk" bash -c "! grep -q rook-100G '$T/bigplan'"
check "dry run: image files are discarded by punching a hole" grep -qE "^$T/big.img +0x0 +11811160064 +discard +discard$" "$T/bigplan"

# --- JSON dry run lists the same rows -------------------------------------------------
"${W[@]}" --json >"$T/plan.json"
check "--json dry run parses and lists the same rows as the text" /usr/bin/python3 -c "
import json, re
j = json.load(open('$T/plan.json'))
assert j['ok'] and not j['apply']
rows = set()
for d in j['disks']:
    for r in d['regions']:
        rows.add((d['path'], r['offset'], r['length'], r['kind']))
text = set()
for line in open('$T/plan').read().splitlines()[2:]:
    f = line.split()
    text.add((f[0], int(f[1], 16), int(f[2]), f[3]))
assert rows == text, (rows ^ text)
assert len(j['disks']) == 6"

# --- apply with a backup ---------------------------------------------------------------
check "wipe --apply --backup: every disk clean" "${W[@]}" --apply --backup "$T/bk"
cp "$T/.out" "$T/last"
expect_out "the output names the backup and the undo command" "^backup: $T/bk/index \\(undo with: appliance wipe --restore $T/bk\\)$" cat "$T/last"
for d in "${all[@]}"; do
	expect_fail "blkid -p finds nothing on $d (exit 2)" 2 blkid -p "$d"
done
check "the partition nodes are gone" bash -c "! ls '${gpt}p1' '${mbr}p1' 2>/dev/null"
only=()
for d in "${all[@]}"; do only+=(--disk "$d"); done
"$APPLIANCE" disks "${only[@]}" --json >"$T/inv.json"
check "libblkid (appliance disks --json) finds no signature on any wiped disk" /usr/bin/python3 -c "
import json
j = json.load(open('$T/inv.json'))
by = {d['path']: d for d in j['disks']}
for p in '${all[*]}'.split():
    assert by[p]['signatures'] == [], (p, by[p]['signatures'])
    assert by[p]['partitions'] == [], (p, by[p]['partitions'])"
expect_out "no BlueStore label left inside the old LV" '^$' \
	bash -c "dd if='$bsl' bs=1 skip=$pe count=22 status=none | tr -d '\\0'; echo"
check "backup index is private (0600)" test "$(stat -c %a "$T/bk/index")" = 600
expect_fail "a second wipe into the same backup dir is refused" 1 "${W[@]}" --apply --backup "$T/bk"
cp "$T/.out" "$T/last"
expect_out "... with a clear message" "^appliance: backup directory '$T/bk' already holds a backup; choose an empty one$" cat "$T/last"

# --- restore: byte-identical -------------------------------------------------------------
check "wipe --restore" "$APPLIANCE" wipe --restore "$T/bk"
hash_all >"$T/after"
check "restored disks are byte-identical to the originals" cmp "$T/before" "$T/after"
expect_out "restored: GPT is back" 'PTTYPE="gpt"' blkid -p "$gpt"
expect_out "restored: BlueStore is back" 'TYPE="ceph_bluestore"' blkid -p "$bs"
check "restored: the kernel sees the partitions again" test -b "${gpt}p2"

# a damaged backup is refused before anything is written
cp -r "$T/bk" "$T/bk2"
printf 'X' | dd of="$T/bk2/disk3.img" bs=1 seek=5 conv=notrunc status=none
expect_fail "a damaged backup region is refused (exit 1)" 1 "$APPLIANCE" wipe --restore "$T/bk2"
cp "$T/.out" "$T/last"
expect_out "... naming the region and the hashes" "region at offset 0 is damaged \\(sha256 [0-9a-f]{64}, index says [0-9a-f]{64}\\); nothing restored to '$bs'" cat "$T/last"

# an index of version 2 (each region's sha256 taken over its bytes flat, before the hash
# lists of version 3) is still restored: the same backup, its index rewritten that way
cp -r "$T/bk" "$T/bk3"
check "the index is version 3" test "$(head -1 "$T/bk/index")" = "appliance-wipe-backup 3"
/usr/bin/python3 - "$T/bk3" <<'EOF'
import hashlib, sys
d = sys.argv[1]
lines = open(d + '/index').read().splitlines()[:-1]
out, f = ['appliance-wipe-backup 2'], None
for l in lines[1:]:
    w = l.split()
    if w[0] == 'disk':
        f = open(d + '/' + w[2], 'rb')
    elif w[0] == 'region':
        f.seek(int(w[3]))
        data = f.read(int(w[2]))
        data += bytes(int(w[2]) - len(data))  # the sparse file's short tail reads zeros
        w[4] = hashlib.sha256(data).hexdigest()
        l = ' '.join(w)
    out.append(l)
body = '\n'.join(out) + '\n'
open(d + '/index', 'w').write(body + 'sha256 ' + hashlib.sha256(body.encode()).hexdigest() + '\n')
EOF
check "wipe --restore of a version 2 index (flat region hashes)" "$APPLIANCE" wipe --restore "$T/bk3"
hash_all >"$T/after"
check "... the disks are still byte-identical to the originals" cmp "$T/before" "$T/after"

# --- apply without backup: discard path, in parallel ----------------------------------------
check "wipe --apply (discard)" "${W[@]}" --apply
cp "$T/.out" "$T/last"
expect_out "every disk was discarded and is clean" "^$bs: wiped [0-9]+ regions, discarded, [0-9]+ bytes zeroed, clean" cat "$T/last"
for d in "${all[@]}"; do
	expect_fail "after discard: blkid -p finds nothing on $d" 2 blkid -p "$d"
done
"${W[@]}" --apply --json >"$T/apply.json"
check "--json apply: ok, one result per disk, all clean" /usr/bin/python3 -c "
import json
j = json.load(open('$T/apply.json'))
assert j['ok'] and j['apply'] and len(j['results']) == 6
assert all(r['ok'] for r in j['results'])"

# --- a fixture NVMe machine: the device node is an image file (hole punched) -------------
fixture_sysfs "$T/root"
cat >"$T/nv.yaml" <<EOF
nodes:
  - name: n1
    role: controlplane
    hostname: n1.local
    identity: {macs: ["52:54:00:12:34:01"]}
    installDisk: {transport: nvme, serial: APPL-INSTALL-1}
    cephDisks:
      - {transport: nvme, wwid: eui.000000000000000a, wipe: true}
EOF
expect_out "fixture NVMe: the dry run names the BlueStore label" \
	'^/dev/nvme1n1 +0x0 +22 +signature +ceph_bluestore$' \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/nv.yaml" --node n1 --hw-root "$T/root"
check "fixture NVMe: --apply --unattended (wipe: true)" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/nv.yaml" --node n1 --hw-root "$T/root" --apply --unattended
expect_fail "fixture NVMe: blkid -p finds nothing" 2 blkid -p "$T/root/dev/nvme1n1"
