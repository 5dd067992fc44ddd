#!/usr/bin/env bash
# appliance disks: inventory from sysfs + libblkid on a fixture machine (NVMe, dm/md
# holders, USB live stick) and on real loop devices (GPT with ext4/xfs, mounted, read-only),
# image files, selector resolution with a profile, and --json listing what the text lists.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/fixtures/disks/fixtures.sh"
loop_require

PROFILE=$ROOT/profiles/demo.yaml

# --- fixture machine -----------------------------------------------------------------
fixture_sysfs "$T/root"
"$APPLIANCE" disks --hw-root "$T/root" >"$T/fx" 2>&1
check "fixture: disks exits 0" test $? -eq 0
has() { grep -qxF -- "$1" "$T/fx"; }
# pair A B: line B right after line A (a disk's size line, then its flags)
pair() { awk -v a="$1" -v b="$2" 'prev == a && $0 == b { f = 1 } { prev = $0 } END { exit !f }' "$T/fx"; }
check "fixture: NVMe disk with model, serial, WWID" has "/dev/nvme1n1  256.0 MiB  nvme  model=QEMU NVMe Ctrl serial=APPL-CEPH-1a wwid=eui.000000000000000a"
check "fixture: sizes and flags" pair "  size 268435456 bytes, sectors 512/4096" "  rotational=no removable=no read-only=no discard=yes"
check "fixture: BlueStore signature with offset" has "  signature: ceph_bluestore at 0x0 (other)"
check "fixture: by-path link" has "  by-path: /dev/disk/by-path/pci-0000:00:05.0-nvme-1"
check "fixture: disk held by dm-0" has "  held: nvme2n1 held by dm-0"
check "fixture: partition held by md127" has "  held: nvme3n1p1 held by md127"
check "fixture: USB stick transport" has "/dev/sda  64.0 MiB  usb  model=LIVE STICK serial=- wwid=-"
check "fixture: removable, rotational" pair "  size 67108864 bytes, sectors 512/4096" "  rotational=yes removable=yes read-only=no discard=yes"
check "fixture: live medium (mounted at /run/live/medium)" has "  live system: yes (never written)"
check "fixture: the live mount is listed" has "  mounted: /dev/sda1 on /run/live/medium"
check "fixture: dm-0 and md127 are not listed as disks" bash -c "! grep -qE '^/dev/(dm-0|md127) ' '$T/fx'"
expect_out "fixture: --live names another disk as live" "^  live system: yes" \
	bash -c "'$APPLIANCE' disks --hw-root '$T/root' --live /dev/nvme0n1 | sed -n '/^\\/dev\\/nvme0n1 /,/^\\/dev\\/nvme1n1 /p'"

"$APPLIANCE" disks --hw-root "$T/root" --json >"$T/fx.json"
check "fixture --json: parses and lists every disk and fact the text lists" /usr/bin/python3 -c "
import json, re
j = json.load(open('$T/fx.json'))
by = {d['path']: d for d in j['disks']}
text = [l.split()[0] for l in open('$T/fx') if l.startswith('/')]
assert sorted(by) == sorted(text), (sorted(by), text)
n = by['/dev/nvme1n1']
assert n['transport'] == 'nvme' and n['serial'] == 'APPL-CEPH-1a' and n['wwid'] == 'eui.000000000000000a'
assert n['model'] == 'QEMU NVMe Ctrl' and n['size'] == 268435456
assert n['logical_sector_size'] == 512 and n['physical_sector_size'] == 4096
assert n['signatures'][0]['type'] == 'ceph_bluestore' and n['signatures'][0]['offset'] == 0
assert n['by_path'] == ['/dev/disk/by-path/pci-0000:00:05.0-nvme-1']
assert by['/dev/nvme2n1']['holders'] == ['nvme2n1 held by dm-0']
assert by['/dev/nvme3n1']['partitions'][0]['holders'] == ['md127']
s = by['/dev/sda']
assert s['live'] and s['removable'] and s['rotational'] and s['transport'] == 'usb'
assert s['partitions'][0]['mounts'] == ['/run/live/medium']"

# selectors against the fixture machine: the demo profile's own node demo-1
"$APPLIANCE" disks --hw-root "$T/root" "$PROFILE" --node demo-1 >"$T/sel" 2>&1
check "demo-1 against the fixture: the selectors resolve (exit 0)" test $? -eq 0
check "selection report: installDisk resolved to one disk" grep -qxF "nodes[0].installDisk: 1 disk" "$T/sel"
check "selection report: cephDisks (match: all) resolved to three disks" grep -qxF "nodes[0].cephDisks[0]: 3 disks" "$T/sel"
check "selection report: why a disk matches" \
	grep -qxF "  /dev/nvme1n1: matches (serial 'APPL-CEPH-1a' matches 'APPL-CEPH-1*', transport 'nvme' matches 'nvme')" "$T/sel"
check "selection report: why a disk does not (other serial)" \
	grep -qxF "  /dev/nvme0n1: no match: serial 'APPL-INSTALL-1' does not match 'APPL-CEPH-1*'" "$T/sel"
check "selection report: why a disk does not (no serial at all)" \
	grep -qxF "  /dev/sda: no match: has no serial (wanted 'APPL-CEPH-1*')" "$T/sel"
check "role lines on the disks" grep -qxF "  role: nodes[0].installDisk" "$T/sel"
"$APPLIANCE" disks --hw-root "$T/root" "$PROFILE" --node demo-1 --json >"$T/sel.json"
check "--json selection: roles per disk and the report" /usr/bin/python3 -c "
import json
j = json.load(open('$T/sel.json'))
by = {d['path']: d for d in j['disks']}
assert by['/dev/nvme0n1']['roles'] == ['nodes[0].installDisk']
assert by['/dev/nvme1n1']['roles'] == ['nodes[0].cephDisks[0]']
assert j['selection']['ok'] is True and 'nodes[0].cephDisks[0]: 3 disks' in j['selection']['report']"

# --- real loop devices -------------------------------------------------------------------
gpt=$(loop_new gpt.img 320M)
ro=$(loop_attach "$(loop_image ro.img 32M)" -r)
loop_guard "$gpt" "$ro"
fixture_gpt "$gpt" || not_ok "build the GPT fixture"
mkdir -p "$T/mnt"
at_exit "umount -l '$T/mnt'"
mount "${gpt}p1" "$T/mnt" || not_ok "mount p1"
# --disk: list only this test's devices (no test opens a device it did not create)
"$APPLIANCE" disks --disk "$gpt" --disk "$ro" >"$T/real" 2>&1
check "real: disks exits 0" test $? -eq 0
block() { sed -n "\\|^$1 |,/^\\/dev\\//p" "$T/real"; }
block "$gpt" >"$T/gblock"
check "real: loop transport and size" grep -qE "^$gpt  320.0 MiB  loop  " "$T/gblock"
check "real: backing file" grep -qxF "  backing file: $(readlink -f "$T/gpt.img")" "$T/gblock"
check "real: GPT partition table" grep -qxF "  partition table: gpt" "$T/gblock"
check "real: partition 2 extent" grep -qxF "  partition 2: ${gpt}p2 start 17825792 size 314572800" "$T/gblock"
check "real: gpt signatures at both ends + PMBR" bash -c "grep -qxF '  signature: gpt at 0x200 (partition_table' '$T/gblock' || grep -q '  signature: gpt at 0x200 (partition_table' '$T/gblock' && grep -q '  signature: gpt at 0x13fffe00' '$T/gblock' && grep -q '  signature: PMBR at 0x1fe' '$T/gblock'"
check "real: ext4 in partition 1 with its label" grep -qE "^  signature: ext4 at 0x100438 \\(filesystem, partition 1, label 'FIXEXT4', uuid [0-9a-f-]+\\)$" "$T/gblock"
check "real: xfs in partition 2 with its label" grep -qE "^  signature: xfs at 0x1100000 \\(filesystem, partition 2, label 'FIXXFS', uuid [0-9a-f-]+\\)$" "$T/gblock"
check "real: the mount point" grep -qxF "  mounted: ${gpt}p1 on $T/mnt" "$T/gblock"
expect_out "real: losetup -r: its size" "^  size 33554432 bytes, sectors 512/512$" block "$ro"
expect_out "real: losetup -r shows read-only" "^  rotational=(yes|no) removable=no read-only=yes" block "$ro"

"$APPLIANCE" disks --disk "$gpt" --disk "$ro" --json >"$T/real.json"
check "real --json: the same disks, signatures and mounts as the text" /usr/bin/python3 -c "
import json
j = json.load(open('$T/real.json'))
by = {d['path']: d for d in j['disks']}
text = [l.split()[0] for l in open('$T/real') if l.startswith('/')]
assert sorted(by) == sorted(text)
g = by['$gpt']
types = sorted((s['type'], s['offset'], s['partition']) for s in g['signatures'])
assert types == sorted([('gpt', 0x200, 0), ('gpt', 0x13fffe00, 0), ('PMBR', 0x1fe, 0), ('ext4', 0x100438, 1), ('xfs', 0x1100000, 2)]), types
assert g['mounts'] == ['${gpt}p1 on $T/mnt'] and g['partitions'][0]['mounts'] == ['$T/mnt']
assert by['$ro']['read_only'] is True"

# --- image files ------------------------------------------------------------------------
truncate -s 64M "$T/file.img"
printf 'bluestore block device\n' | dd of="$T/file.img" conv=notrunc status=none
expect_out "image file: listed with transport file and its signature" \
	"^  signature: ceph_bluestore at 0x0 \\(other\\)$" "$APPLIANCE" disks --hw-root "$T/root" --disk-file "$T/file.img"
expect_out "image file: path is the file" "^$T/file.img  64.0 MiB  file  " "$APPLIANCE" disks --hw-root "$T/root" --disk-file "$T/file.img"

# --- errors -----------------------------------------------------------------------------
expect_fail "missing root: exit 1" 1 "$APPLIANCE" disks --hw-root "$T/nope"
expect_out "... with the path and the reason" "^appliance: cannot list disks in '$T/nope/sys/block': No such file or directory$" "$APPLIANCE" disks --hw-root "$T/nope"
expect_fail "missing image file: exit 1" 1 "$APPLIANCE" disks --disk-file "$T/missing.img"
expect_out "... naming it" "^appliance: image file '$T/missing.img': No such file or directory$" "$APPLIANCE" disks --disk-file "$T/missing.img"
expect_fail "PROFILE without --node: usage error" 2 "$APPLIANCE" disks "$PROFILE"
expect_fail "unknown option: usage error" 2 "$APPLIANCE" disks --bogus
expect_fail "--disk with PROFILE: usage error" 2 "$APPLIANCE" disks --disk "$gpt" "$PROFILE" --node demo-1
check "--help exits 0" "$APPLIANCE" disks --help
