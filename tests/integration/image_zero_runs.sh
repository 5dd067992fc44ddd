#!/usr/bin/env bash
# appliance image write: zero runs longer than one zeroing piece (256 MiB; image.c ZERO_PIECE)
# are zeroed and read back in pieces while the rest is decoded. An image with runs just
# under one piece, just over one piece (cut after a data chunk whose tail starts it),
# over one piece (a second piece without such a chunk, ending inside a chunk) and a run
# to the end, onto a garbage-filled loop device and a garbage-filled image file: the
# target reads back as the image, zeros included; a re-run skips all it journaled.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
loop_require
for t in zstd openssl; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done

MiB=$((1024 * 1024))
img=$T/runs.raw
truncate -s $((900 * MiB)) "$img"
data() { # data OFFSET BYTES: random bytes at OFFSET
	openssl rand "$2" | dd of="$img" bs=4096 seek=$(($1 / 4096)) conv=notrunc status=none iflag=fullblock
}
data 0 $((1 * MiB))                                # chunk 0: written last
data $((2 * MiB + 4096)) 8192                      # a run from inside chunk 1's tail, 12 KiB under a piece
data $((258 * MiB)) 4096                           # a run from inside chunk 129, a piece and 2 MiB
data $((258 * MiB + 2 * MiB + 256 * MiB)) $((MiB)) # a run of a piece and 16 MiB, ending in a chunk
data $((790 * MiB + 12288)) 4096                   # then zeros to the end: 110 MiB, under a piece
isize=$(stat -c %s "$img")
zstd -q -3 "$img" -o "$img.zst"

garbage() { # garbage TARGET MiB
	openssl enc -aes-256-ctr -nosalt -pass pass:garbage$RANDOM -pbkdf2 -iter 1 </dev/zero 2>/dev/null |
		head -c "$(($2 * MiB))" | dd of="$1" bs=4M conv=notrunc,fsync status=none iflag=fullblock
}

dev=$(loop_new disk.img $((1024 * MiB))) || { not_ok "loop device"; exit 1; }
loop_guard "$dev"
losetup --direct-io=on "$dev" 2>/dev/null || diag "no direct I/O on $dev"
garbage "$dev" 1024
alloc() { echo $(($(stat -c %b "$T/disk.img") * $(stat -c %B "$T/disk.img") / MiB)); }
before=$(alloc)
check "write onto a garbage-filled loop device" \
	"$APPLIANCE" image write "$img.zst" "$dev" --keep-backup-gpt --journal "$T/jd" --apply
check "the device reads back as the image, zeros included" cmp -n "$isize" "$img" "$dev"
# on a loop device the zero runs (about 880 MiB here) are zeroed in place (BLKZEROOUT: the
# loop driver's FALLOC_FL_ZERO_RANGE keeps the backing file's blocks), not punched out
# (freeing them: about 100x slower on ext4), where the backing file's filesystem is one
# known to have ZERO_RANGE (ext4, XFS, Btrfs; target.c); elsewhere punching stays first
case $(stat -f -c %t "$T") in
ef53 | 58465342 | 9123683e)
	after=$(alloc)
	check "the backing file keeps its blocks ($before MiB allocated before, $after after)" \
		test "$after" -ge $((before - 64))
	;;
*) diag "$T is on $(stat -f -c %T "$T"): the loop device's zero runs are punched, not checked" ;;
esac
expect_out "a re-run with the journal writes nothing (every piece journaled)" 'written  0 bytes' \
	"$APPLIANCE" image write "$img.zst" "$dev" --keep-backup-gpt --journal "$T/jd" --apply
check "... and the device still reads back as the image" cmp -n "$isize" "$img" "$dev"

f=$T/file.img
truncate -s $((1024 * MiB)) "$f"
garbage "$f" 1024
check "write onto a garbage-filled image file" \
	"$APPLIANCE" image write "$img.zst" "$f" --keep-backup-gpt --journal "$T/jf" --apply
check "the file reads back as the image, zeros included" cmp -n "$isize" "$img" "$f"
