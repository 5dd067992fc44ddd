#!/usr/bin/env bash
# appliance image write: round trips on image files and loop devices for every
# compression, odd sizes, garbage-filled targets, GPT relocation, journal re-runs,
# and the failure rows (corrupt, truncated, wrong hash, too small, usage).
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"

for t in sgdisk mkfs.vfat mcopy zstd xz gzip openssl; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done

# a 64 MiB Talos-like image plus 1000 bytes: not a multiple of any block size
img=$T/talos.raw
"$ROOT/images/mkimage.sh" --size-mib 64 --boot-mib 24 --fill 45 --seed 7 --tail-bytes 1000 "$img" ||
	{ not_ok "mkimage.sh builds the test image"; exit 1; }
isize=$(stat -c %s "$img")
zstd -q -3 "$img" -o "$img.zst"
xz -0 -T2 -k "$img"
gzip -1 -k "$img"

garbage() { # garbage FILE MiB: a target full of random bytes
	openssl enc -aes-256-ctr -nosalt -pass pass:garbage$RANDOM -pbkdf2 -iter 1 </dev/zero 2>/dev/null |
		head -c "$(($2 * 1024 * 1024))" >"$1"
}
same() { cmp -n "$isize" "$img" "$1"; }
# last_has DESC REGEX: the previous command's output matches (tap.sh's last_out cannot be
# used as expect_out's command: the redirection empties it first)
last_has() {
	if grep -qE -- "$2" "$T/.out"; then ok "$1"; else not_ok "$1 (no match for /$2/)"; sed 's/^/#   /' "$T/.out" | tail -20; fi
}
no_gpt() { ! dd if="$1" bs=512 skip=1 count=1 status=none | grep -aq 'EFI PART'; }

# ---- every compression onto a garbage-filled image file (exact bytes, zeros included)
for f in "" .zst .xz .gz; do
	garbage "$T/t$f.img" 80
	check "write ${f:-raw} onto a garbage-filled file" \
		"$APPLIANCE" image write "$img$f" "$T/t$f.img" --keep-backup-gpt --journal "$T/j$f" --apply
	check "${f:-raw}: target reads back as the image, zeros included" same "$T/t$f.img"
done
expect_out "format detected from the data" 'image [0-9]+ bytes \(64\.0 MiB, xz\)' \
	"$APPLIANCE" image write "$img.xz" "$T/t.xz.img" --keep-backup-gpt --journal "$T/jx2" --apply

# ---- zero runs are holes in a regular file, not written data
rm -f "$T/empty.img"; : >"$T/empty.img"
check "write into an empty file (grows to the image)" \
	"$APPLIANCE" image write "$img.zst" "$T/empty.img" --journal "$T/je" --apply
check "grown file has the image's size" test "$(stat -c %s "$T/empty.img")" -eq "$isize"
check "grown file reads back as the image" same "$T/empty.img"
alloc=$(($(stat -c %b "$T/empty.img") * 512))
check "zero runs became holes ($alloc bytes allocated of $isize)" test "$alloc" -lt $((isize * 70 / 100))

# ---- the backup GPT moves to the end of a bigger disk, the partitions stay
garbage "$T/big.img" 128
check "write with GPT relocation" "$APPLIANCE" image write "$img.zst" "$T/big.img" --journal "$T/jb" --apply
last_has "reports the moved backup GPT" "backup header moved to the end of the disk"
check "sgdisk -v finds no problem after relocation" sh -c "sgdisk -v '$T/big.img' | grep -q 'No problems found'"
sgdisk -p "$img" 2>/dev/null | sed -n '/^Number/,$p' >"$T/p.img"
sgdisk -p "$T/big.img" 2>/dev/null | sed -n '/^Number/,$p' >"$T/p.big"
check "partitions are the image's" cmp "$T/p.img" "$T/p.big"
check "data between the tables reads back as the image" cmp -i 1048576:1048576 -n $((isize - 2 * 1048576)) "$img" "$T/big.img"
bs=$(sgdisk -p "$T/big.img" | sed -n 's/.*last usable sector is \([0-9]*\).*/\1/p')
check "free space reaches the end of the disk (last usable sector $bs)" test "$bs" -ge $((128 * 2048 - 40))

# ---- a re-run skips what is already on the disk
expect_out "re-run skips chunks that read back correct" 'written  0 bytes' \
	"$APPLIANCE" image write "$img.zst" "$T/t.zst.img" --keep-backup-gpt --journal "$T/j.zst" --apply
last_has "re-run still verifies everything" "verified $isize bytes"

# ---- dry run: says what it would do, changes nothing
garbage "$T/dry.img" 80
before=$(sha256sum <"$T/dry.img")
expect_out "dry run prints the layout" '4  META ' "$APPLIANCE" image write "$img.zst" "$T/dry.img"
last_has "dry run names the device and format" "would write .*talos.raw.zst \(zstd\)"
check "dry run leaves the target alone" test "$before" = "$(sha256sum <"$T/dry.img")"

# ---- failures, each with its exact message
garbage "$T/small.img" 32
expect_fail "target too small: exit 1" 1 "$APPLIANCE" image write "$img.zst" "$T/small.img" --journal "$T/js" --apply
last_has "target too small: message" \
	"appliance: disk '$T/small.img' is too small: image '$img.zst' needs [0-9]+ bytes, the disk has 33554432"
expect_fail "target too small in a dry run: exit 1" 1 "$APPLIANCE" image write "$img.zst" "$T/small.img"

cp "$img.zst" "$T/corrupt.zst"
printf 'corrupt!corrupt!' | dd of="$T/corrupt.zst" bs=1 seek=$(($(stat -c %s "$img.zst") / 2)) conv=notrunc status=none
garbage "$T/c.img" 80
expect_fail "corrupt zstd: exit 1" 1 "$APPLIANCE" image write "$T/corrupt.zst" "$T/c.img" --journal "$T/jc" --apply
last_has "corrupt zstd: message" "appliance: image '$T/corrupt.zst' is corrupt or truncated at [0-9]+ bytes \(zstd\)"
check "corrupt image leaves no partition table" no_gpt "$T/c.img"

head -c $(($(stat -c %s "$img.xz") * 2 / 3)) "$img.xz" >"$T/trunc.xz"
expect_fail "truncated xz: exit 1" 1 "$APPLIANCE" image write "$T/trunc.xz" "$T/c.img" --journal "$T/jt" --apply
last_has "truncated xz: message" "appliance: image '$T/trunc.xz' is corrupt or truncated at [0-9]+ bytes \(xz\)"

head -c $(($(stat -c %s "$img.gz") / 2)) "$img.gz" >"$T/trunc.gz"
expect_fail "truncated gzip: exit 1" 1 "$APPLIANCE" image write "$T/trunc.gz" "$T/c.img" --journal "$T/jg" --apply
last_has "truncated gzip: message" "appliance: image '$T/trunc.gz' is corrupt or truncated at [0-9]+ bytes \(gzip\)"

good=$(sha256sum <"$img.zst" | cut -d' ' -f1)
bad=$(printf '%064d' 0)
# a local file's pin is checked before the first byte: the target keeps every byte it had
garbage "$T/h.img" 80
before=$(sha256sum <"$T/h.img" | cut -d' ' -f1)
expect_fail "wrong --sha256: exit 1" 1 "$APPLIANCE" image write "$img.zst" "$T/h.img" --sha256 "$bad" --journal "$T/jh" --apply
last_has "wrong --sha256: message" \
	"appliance: sha256 of '$img.zst' is $good, expected $bad; nothing was written to '$T/h.img'"
after=$(sha256sum <"$T/h.img" | cut -d' ' -f1)
[ "$before" = "$after" ] && ok "wrong --sha256: the target's bytes are unchanged (sha256 before = after)" ||
	not_ok "wrong --sha256: the target changed ($before -> $after)"
expect_out "right --sha256 is accepted" "sha256 $good \(as expected\)" \
	"$APPLIANCE" image write "$img.zst" "$T/h.img" --sha256 "$good" --journal "$T/jh" --apply

expect_fail "missing source: exit 1" 1 "$APPLIANCE" image write "$T/nope.zst" "$T/h.img" --apply
last_has "missing source: message" "appliance: cannot open image '$T/nope.zst': No such file or directory"
# an image file that does not exist yet: refused before anything, saying how to make one
expect_fail "missing target file: exit 1" 1 "$APPLIANCE" image write "$img.zst" "$T/new.img"
last_has "missing target file: says to create it empty" \
	"appliance: '$T/new.img' does not exist: DEVICE is a disk or an image file; for a new image file create it empty first \('truncate -s 0 $T/new.img'\): it grows to the image's size"
[ ! -e "$T/new.img" ] && ok "missing target file: still not created" || not_ok "missing target file: created"
: >"$T/new.img"
expect_out "an empty image file: the dry run says it grows" "^  to      $T/new.img \(empty: grows to the image's size\)$" \
	"$APPLIANCE" image write "$img.zst" "$T/new.img"
expect_fail "missing arguments: exit 2" 2 "$APPLIANCE" image write "$img.zst"
expect_fail "unknown option: exit 2" 2 "$APPLIANCE" image write "$img.zst" "$T/h.img" --frobnicate
expect_fail "bad --sha256: exit 2" 2 "$APPLIANCE" image write "$img.zst" "$T/h.img" --sha256 xyz
expect_out "--help prints usage" '^usage: appliance image' "$APPLIANCE" image write --help

# ---- loop devices: every compression, garbage first
loop_require
for f in "" .zst .xz .gz; do
	lo=$(loop_new "loop$f.img" 96M) || { not_ok "attach a loop device"; continue; }
	loop_guard "$lo"
	garbage "$T/g" 96 && dd if="$T/g" of="$lo" bs=4M oflag=direct status=none
	check "write ${f:-raw} onto loop device $lo" \
		"$APPLIANCE" image write "$img$f" "$lo" --keep-backup-gpt --journal "$T/jl$f" --apply
	last_has "${f:-raw}: O_DIRECT on $lo" 'with O_DIRECT'
	check "${f:-raw}: $lo reads back as the image (zero runs the device zeroed included)" same "$lo"
done
# the same on a block device, garbage on it: not one byte changes
lo=$(loop_new "pin.img" 96M)
loop_guard "$lo"
garbage "$T/g" 96 && dd if="$T/g" of="$lo" bs=4M oflag=direct status=none
before=$(sha256sum <"$lo" | cut -d' ' -f1)
expect_fail "wrong --sha256 on $lo: exit 1" 1 "$APPLIANCE" image write "$img.zst" "$lo" --sha256 "$bad" --journal "$T/jp" --apply
last_has "wrong --sha256 on $lo: message" "nothing was written to '$lo'"
after=$(sha256sum <"$lo" | cut -d' ' -f1)
[ "$before" = "$after" ] && ok "wrong --sha256 on $lo: its bytes are unchanged (sha256 before = after)" ||
	not_ok "wrong --sha256 on $lo: the device changed ($before -> $after)"
loop_detach "$lo"
lo=$(loop_new "reloc.img" 160M)
loop_guard "$lo"
check "write onto a bigger loop device, GPT relocated" "$APPLIANCE" image write "$img.zst" "$lo" --journal "$T/jr" --apply
check "sgdisk -v on $lo finds no problem" sh -c "sgdisk -v '$lo' | grep -q 'No problems found'"
