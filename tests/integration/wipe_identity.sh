#!/usr/bin/env bash
# wipe --backup / --restore go by identity, not by name (issue 17, item 3): the index records
# each disk's identity (serial/WWID; the backing file of a loop device; dev+inode of an image
# file) and ends with the sha256 of itself. --restore refuses, with the exact message and
# without writing a byte: another disk that now has the recorded path (a loop device
# re-attached to another image; an image file replaced at the same path) and an edited index.
# Controls: the right disk is restored byte for byte.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/lib/site.sh"
loop_require

PROFILE=$ROOT/profiles/demo.yaml
# an ext4 signature to wipe, and the identity string of a loop device on IMG
sig() { mkfs.ext4 -q -F "$1"; }
loop_id() { printf 'loop-file=%s:%s:%s' "$(stat -c '%Hd' "$1")" "$(stat -c '%Ld' "$1")" "$(stat -c %i "$1")"; }
file_id() { printf 'file=%s:%s:%s' "$(stat -c '%Hd' "$1")" "$(stat -c '%Ld' "$1")" "$(stat -c %i "$1")"; }

inst=$(loop_image inst.img 64M)

# --- a loop device: the same name now on another image --------------------------------
a=$(loop_image a.img 64M)
b=$(loop_image b.img 64M)
sig "$a"
head -c 1M /dev/urandom | dd of="$b" conv=notrunc status=none
dev=$(loop_attach "$a")
loop_guard "$dev"
site_one_node "$T/n.yaml" "$inst" "$dev"
check "wipe --backup --apply of a loop device" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --disk-file "$inst" --backup "$T/bk" --apply
check "the index records the loop device's backing file" grep -qxF "id $(loop_id "$a")" "$T/bk/index"
check "the index ends with its sha256" grep -qE '^sha256 [0-9a-f]{64}$' "$T/bk/index"
loop_detach "$dev"
check "the same device name, now on another image" loop_attach_at "$dev" "$b"
refused_unchanged "restore onto another disk that now has the recorded name: refused" \
	"appliance: disk '$dev' is not the disk the backup was taken from (backup: $(loop_id "$a"); now: $(loop_id "$b")); nothing restored" \
	"$b" "$APPLIANCE" wipe --restore "$T/bk"
loop_detach "$dev"
check "control: the backed-up image on the same name again" loop_attach_at "$dev" "$a"
check "control: restore onto the disk the backup was taken from" "$APPLIANCE" wipe --restore "$T/bk"
expect_out "control: the ext4 signature is back" 'TYPE="ext4"' blkid -p "$dev"
loop_detach "$dev"

# --- an image file replaced at the same path --------------------------------------------
f=$(loop_image f.img 64M)
sig "$f"
site_one_node "$T/f.yaml" "$inst" "$f"
check "wipe --backup --apply of an image file" \
	"$APPLIANCE" wipe "$PROFILE" --site "$T/f.yaml" --node n1 --disk-file "$inst" --disk-file "$f" \
	--backup "$T/bkf" --apply
check "the index records the file's dev and inode" grep -qxF "id $(file_id "$f")" "$T/bkf/index"
old_id=$(file_id "$f")
cp "$f" "$T/f.saved"
truncate -s 64M "$T/other.img"
mv "$T/other.img" "$f"
refused_unchanged "restore onto another file at the recorded path: refused" \
	"appliance: disk '$f' is not the disk the backup was taken from (backup: $old_id; now: $(file_id "$f")); nothing restored" \
	"$f" "$APPLIANCE" wipe --restore "$T/bkf"

# --- an edited index ------------------------------------------------------------------------
cp -r "$T/bkf" "$T/bke"
sed -i "s|^id .*|id $(file_id "$f")|" "$T/bke/index" # point it at the new file
refused_unchanged "an index edited to name another disk: refused by its integrity check" \
	"appliance: backup index '$T/bke/index' fails its integrity check (sha256 $(head -n -1 "$T/bke/index" | sha256sum | cut -d' ' -f1), recorded $(sed -n 's/^sha256 //p' "$T/bke/index")): it was damaged or edited; refusing to restore from it" \
	"$f" "$APPLIANCE" wipe --restore "$T/bke"
