#!/usr/bin/env bash
# The disk policy follows loop devices (issue 17, item 2). Each bypass the attack found is
# one row: the writer is refused with its exact message and the target is unchanged (hash
# before and after). Rows: the backing file of a mounted loop device (image write), a second
# loop device on that file, --disk-file on it (wipe), a loop stacked on the live disk, the
# lower device of a stack whose upper one is mounted. Controls: the same writes go through
# when nothing in the stack is in use, so every refusal here can fail.
# Loop devices and image files are made here and detached at exit, even on failure.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/lib/site.sh"
loop_require

PROFILE=$ROOT/profiles/demo.yaml
# a block device's default write journal goes to the state folder: the test's own
export APPLIANCE_STATE_DIR=$T/state

# an ext4 that does not write by itself once mounted (no lazy init)
mkext4() { mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$1"; }

# stack NAME: an image file $stack_img, a loop device $lo on it and a loop device $hi on $lo
stack() {
	stack_img=$(loop_image "$1.img" 64M)
	lo=$(loop_attach "$stack_img")
	hi=$(loop_attach "$lo")
	loop_guard "$lo" "$hi"
}

head -c 1M /dev/urandom >"$T/src.raw"
mkdir -p "$T/m1" "$T/m2"
at_exit "umount -l '$T/m1'"
at_exit "umount -l '$T/m2'"

# --- 1. the backing file of a mounted loop device -------------------------------------
f1=$(loop_image f1.img 64M)
mkext4 "$f1"
l1=$(loop_attach "$f1")
loop_guard "$l1"
mount "$l1" "$T/m1" || not_ok "mount the loop device on f1.img"
refused_unchanged "image write onto the backing file of a mounted loop device: refused" \
	"appliance: disk '$f1' backs loop device '$l1': disk '$l1' is mounted at '$T/m1'; refusing to write" \
	"$f1" "$APPLIANCE" image write "$T/src.raw" "$f1" --apply

# --- 2. a second loop device on the same file -----------------------------------------
l1b=$(loop_attach "$f1")
loop_guard "$l1b"
refused_unchanged "image write onto a second loop device on that file: refused" \
	"appliance: disk '$l1b' is a loop device on '$f1': disk '$f1' backs loop device '$l1': disk '$l1' is mounted at '$T/m1'; refusing to write" \
	"$f1" "$APPLIANCE" image write "$T/src.raw" "$l1b" --apply

# --- 3. --disk-file on it (wipe) -------------------------------------------------------
inst=$(loop_image inst.img 64M)
site_one_node "$T/n.yaml" "$inst" "$f1"
refused_unchanged "wipe --disk-file on the backing file of a mounted loop device: refused" \
	"appliance: disk '$f1' backs loop device '$l1': disk '$l1' is mounted at '$T/m1'; refusing to write" \
	"$f1" "$APPLIANCE" wipe "$PROFILE" --site "$T/n.yaml" --node n1 --disk-file "$inst" --disk-file "$f1" --apply
umount "$T/m1"

# controls: with the loop device idle, the same file and the second loop device are writable
check "control: the backing file of an idle loop device is writable" \
	"$APPLIANCE" image write "$T/src.raw" "$f1" --apply
check "control: a second loop device on an idle file is writable" \
	"$APPLIANCE" image write "$T/src.raw" "$l1b" --apply
check "the loop device's write journal is in APPLIANCE_STATE_DIR (image-${l1b##*/}.journal)" \
	test -s "$T/state/image-${l1b##*/}.journal"
loop_detach "$l1b"
loop_detach "$l1"

# --- 4. a loop stacked on the live disk ------------------------------------------------
stack live
live_img=$stack_img live=$lo stacked=$hi
refused_unchanged "image write onto a loop device stacked on the live disk (--live): refused" \
	"appliance: disk '$stacked' is a loop device on '$live': disk '$live' carries the running live system; refusing to write" \
	"$live_img" env APPLIANCE_LIVE_DISK="$live" "$APPLIANCE" image write "$T/src.raw" "$stacked" --apply
check "control: the same stack is writable when the lower disk is not live" \
	"$APPLIANCE" image write "$T/src.raw" "$stacked" --apply
loop_detach "$stacked"
loop_detach "$live"

# --- 5. the lower device of a stack whose upper one is mounted ------------------------
stack low
low_img=$stack_img low=$lo up=$hi
mkext4 "$up"
mount "$up" "$T/m2" || not_ok "mount the upper loop device"
refused_unchanged "image write onto the lower device of a stack whose upper one is mounted: refused" \
	"appliance: disk '$low' backs loop device '$up': disk '$up' is mounted at '$T/m2'; refusing to write" \
	"$low_img" "$APPLIANCE" image write "$T/src.raw" "$low" --apply
refused_unchanged "image write onto the file under that stack: refused" \
	"appliance: disk '$low_img' backs loop device '$low': disk '$low' backs loop device '$up': disk '$up' is mounted at '$T/m2'; refusing to write" \
	"$low_img" "$APPLIANCE" image write "$T/src.raw" "$low_img" --apply
umount "$T/m2"
check "control: the lower device is writable once the upper one is unmounted" \
	"$APPLIANCE" image write "$T/src.raw" "$low" --apply

