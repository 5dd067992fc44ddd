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
alloc() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1") / MiB)); } # MiB allocated
before=$(alloc "$T/disk.img")
check "write onto a garbage-filled loop device" \
	"$APPLIANCE" image write "$img.zst" "$dev" --keep-backup-gpt --journal "$T/jd" --apply
check "the device reads back as the image, zeros included" cmp -n "$isize" "$img" "$dev"
# How a loop device's zero runs (about 880 MiB here) are zeroed (target.c,
# loop_zeroes_in_place): a fully allocated backing file on ext4 with extents keeps its
# blocks (BLKZEROOUT: the loop driver's FALLOC_FL_ZERO_RANGE, unwritten extents; punching
# them out was about 100x slower); a sparse one stays sparse, and elsewhere (tmpfs)
# punching frees them. Other filesystems: not checked.
fs=$(stat -f -c %t "$T")
extents=no
[ "$fs" = ef53 ] && lsattr "$T/disk.img" 2>/dev/null | cut -d' ' -f1 | grep -q e && extents=yes
after=$(alloc "$T/disk.img")
if [ "$extents" = yes ]; then
	check "the fully allocated backing file keeps its blocks ($before MiB before, $after after)" \
		test "$after" -ge $((before - 64))
elif [ "$fs" = 1021994 ]; then
	check "on tmpfs the zero runs are punched out ($before MiB before, $after after)" \
		test "$after" -le $((before - 512))
else
	diag "$T is on $(stat -f -c %T "$T") without extents: how zero runs are zeroed is not checked"
fi
if [ "$extents" = yes ] || [ "$fs" = 1021994 ]; then
	sdev=$(loop_new sparse.img $((1024 * MiB))) || { not_ok "loop device"; exit 1; }
	loop_guard "$sdev"
	losetup --direct-io=on "$sdev" 2>/dev/null || true
	check "write onto a loop device over a sparse file" \
		"$APPLIANCE" image write "$img.zst" "$sdev" --keep-backup-gpt --journal "$T/js" --apply
	check "... which reads back as the image" cmp -n "$isize" "$img" "$sdev"
	check "... and stays sparse: its zero runs are not allocated ($(alloc "$T/sparse.img") MiB)" \
		test "$(alloc "$T/sparse.img")" -le 64
fi
expect_out "a re-run with the journal writes nothing (every piece journaled)" 'written  0 bytes' \
	"$APPLIANCE" image write "$img.zst" "$dev" --keep-backup-gpt --journal "$T/jd" --apply
check "... and the device still reads back as the image" cmp -n "$isize" "$img" "$dev"

f=$T/file.img
truncate -s $((1024 * MiB)) "$f"
garbage "$f" 1024
check "write onto a garbage-filled image file" \
	"$APPLIANCE" image write "$img.zst" "$f" --keep-backup-gpt --journal "$T/jf" --apply
check "the file reads back as the image, zeros included" cmp -n "$isize" "$img" "$f"
