#!/usr/bin/env bash
# appliance image write decodes zstd in place (decoder.c: the chunks are the slots of a
# ring that is zstd's window) and streams frames whose window the ring cannot hold. Every
# shape of zstd input onto a garbage-filled image file must read back as the image:
# several frames one after another, skippable frames first and between frames, a window
# larger than the ring (--long=25: 32 MiB, matches 28 MiB back), a small-window frame
# followed by a large-window one (the decoder switches mid-image), blocks across the
# ring's end (an image of several ring lengths, no multiple of a chunk); a truncated or
# corrupt stream is refused.
. "$(dirname "$0")/../lib/tap.sh"
for t in zstd openssl; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done

MiB=$((1024 * 1024))
# a: 70 MiB + 1000 bytes of random data and zeros in runs of every length
a=$T/a.raw
openssl enc -aes-256-ctr -nosalt -pass pass:a -pbkdf2 -iter 1 </dev/zero 2>/dev/null |
	head -c $((70 * MiB + 1000)) >"$a"
for off in 3 9 10 30 31 47; do
	dd if=/dev/zero of="$a" bs=1M seek="$off" count=$((off % 4 + 1)) conv=notrunc status=none
done
b=$T/b.raw
head -c $((5 * MiB + 512)) "$a" >"$b"
zstd -q -3 "$a" -o "$a.zst"
zstd -q -3 "$b" -o "$b.zst"
# r: 28 MiB of random data twice: --long=25 (a 32 MiB window) finds the copy 28 MiB back,
# further than the ring can keep
r=$T/r.raw
head -c $((28 * MiB)) "$a" >"$r" && head -c $((28 * MiB)) "$a" >>"$r"
zstd -q -3 --long=25 "$r" -o "$r.long.zst"
skippable() { # a skippable frame of N bytes: magic 0x184D2A5X, little-endian size, content
	printf '\x53\x2a\x4d\x18'
	# shellcheck disable=SC2059 # the format is the four size bytes as \x escapes
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) 0)"
	head -c "$1" /dev/urandom
}

write_as() { # write_as DESC EXPECTED SOURCE
	local f=$T/target.img
	openssl enc -aes-256-ctr -nosalt -pass pass:g$RANDOM -pbkdf2 -iter 1 </dev/zero 2>/dev/null |
		head -c $((160 * MiB)) >"$f"
	rm -f "$T/j"
	if "$APPLIANCE" image write "$3" "$f" --keep-backup-gpt --journal "$T/j" --apply >"$T/out" 2>&1 &&
		cmp -n "$(stat -c %s "$2")" "$2" "$f" >>"$T/out" 2>&1; then
		ok "$1"
	else
		not_ok "$1"
		sed 's/^/#   /' "$T/out" | tail -5
	fi
}

write_as "one frame, blocks across the ring's end (70 MiB + 1000 bytes)" "$a" "$a.zst"
cat "$a" "$b" >"$T/ab.raw"
cat "$a.zst" "$b.zst" >"$T/ab.zst"
write_as "two frames one after the other" "$T/ab.raw" "$T/ab.zst"
{ skippable 3000; cat "$b.zst"; skippable 70000; cat "$a.zst"; } >"$T/skip.zst"
cat "$b" "$a" >"$T/ba.raw"
write_as "skippable frames first and between frames" "$T/ba.raw" "$T/skip.zst"
check "... whose copy --long=25 found (compressed to about half)" \
	test "$(stat -c %s "$r.long.zst")" -lt $((30 * MiB))
write_as "a window larger than the ring (--long=25, matches 28 MiB back): streamed" "$r" "$r.long.zst"
cat "$b.zst" "$r.long.zst" >"$T/mixed.zst"
cat "$b" "$r" >"$T/br.raw"
write_as "a small-window frame, then a large-window one (switch mid-image)" "$T/br.raw" "$T/mixed.zst"

head -c $(($(stat -c %s "$a.zst") - 5000)) "$a.zst" >"$T/trunc.zst"
rm -f "$T/j"
expect_fail "a truncated stream is refused (exit 1)" 1 \
	"$APPLIANCE" image write "$T/trunc.zst" "$T/target.img" --journal "$T/j" --apply
cp "$T/.out" "$T/last"
check "... saying so" grep -q "corrupt or truncated" "$T/last"
cp "$a.zst" "$T/bad.zst"
printf 'XXXXXXXX' | dd of="$T/bad.zst" bs=1 seek=$((MiB * 3)) conv=notrunc status=none
rm -f "$T/j"
expect_fail "a corrupt stream is refused (exit 1)" 1 \
	"$APPLIANCE" image write "$T/bad.zst" "$T/target.img" --journal "$T/j" --apply

# The frames' content checksums are checked off the decoder's thread (decoder_check: the
# consumer hashes each chunk in order, zstd is told to ignore them). A byte changed inside
# a stored block is seen by nothing but the checksum: refused, the disk's head left zeroed
# (no partition table). Frames ending exactly on a chunk's end (2 MiB) are checked when
# the next chunk, or the end of the image, comes; one without a checksum is written.
flip() { # flip FILE OFFSET: one byte inverted
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # the format is the byte as an octal escape
	printf "$(printf '\\%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
refused_checksum() { # refused_checksum DESC SOURCE zeroed|unchanged
	local f=$T/target.img
	openssl enc -aes-256-ctr -nosalt -pass pass:h$RANDOM -pbkdf2 -iter 1 </dev/zero 2>/dev/null |
		head -c $((160 * MiB)) >"$f"
	cp "$f" "$T/before.img"
	rm -f "$T/j"
	expect_fail "$1: refused (exit 1)" 1 "$APPLIANCE" image write "$2" "$f" --journal "$T/j" --apply
	cp "$T/.out" "$T/last"
	# the writer's own check (decoder_scan) says it this way; libzstd would say "Restored
	# data doesn't match checksum": this fails if zstd still checked them itself
	check "... because the frame's checksum does not match (the writer's check)" \
		grep -q "the frame's content checksum is [0-9a-f]\{8\}, its bytes hash to" "$T/last"
	if [ "$3" = zeroed ]; then
		check "... the disk's head left zeroed (no partition table)" cmp -s -n 65536 /dev/zero "$f"
	else # found before anything was written
		check "... the disk unchanged (found before the first write)" cmp -s "$T/before.img" "$f"
	fi
}
stored_at() { # stored_at ZST RAW OFFSET: where RAW's 64 bytes at OFFSET are in ZST, as is
	/usr/bin/python3 -c 'import sys; z = open(sys.argv[1], "rb").read(); r = open(sys.argv[2], "rb").read(); n = int(sys.argv[3]); print(z.find(r[n:n + 64]))' "$@"
}
pos=$(stored_at "$a.zst" "$a" $((2 * MiB)))
check "a's random bytes at 2 MiB are stored as they are in its .zst (at $pos)" test "$pos" -gt 0
cp "$a.zst" "$T/flip.zst" && flip "$T/flip.zst" $((pos + 10))
refused_checksum "a byte changed in a stored block (one frame)" "$T/flip.zst" zeroed
# frames of exactly 2 and 4 MiB: each ends on a chunk's end
head -c $((2 * MiB)) "$a" >"$T/c2.raw"
dd if="$a" of="$T/c4.raw" bs=1M skip=14 count=4 status=none # random: stored
zstd -q -3 "$T/c2.raw" -o "$T/c2.zst" && zstd -q -3 "$T/c4.raw" -o "$T/c4.zst"
cat "$T/c2.raw" "$T/c4.raw" "$b" >"$T/c24b.raw"
cat "$T/c2.zst" "$T/c4.zst" "$b.zst" >"$T/c24b.zst"
write_as "frames ending on a chunk's end, then another" "$T/c24b.raw" "$T/c24b.zst"
cat "$T/c2.raw" "$T/c4.raw" >"$T/c24.raw" && cat "$T/c2.zst" "$T/c4.zst" >"$T/c24.zst"
write_as "the last frame ending on the last chunk's end" "$T/c24.raw" "$T/c24.zst"
pos=$(stored_at "$T/c24.zst" "$T/c24.raw" $((5 * MiB)))
check "... whose last frame stores its bytes as they are (at $pos)" test "$pos" -gt 0
cp "$T/c24.zst" "$T/c24bad.zst" && flip "$T/c24bad.zst" $((pos + 10))
refused_checksum "a byte changed in the last frame, which ends on the last chunk's end" "$T/c24bad.zst" zeroed
pos=$(stored_at "$T/c24b.zst" "$T/c24b.raw" $((1 * MiB)))
cp "$T/c24b.zst" "$T/c24bbad.zst" && flip "$T/c24bbad.zst" $((pos + 10))
# the first frame is the first chunk, kept to be written last: its checksum is known
# when the second chunk comes, before anything is written
refused_checksum "a byte changed in the first of three frames (the disk's head)" "$T/c24bbad.zst" unchanged
zstd -q -3 --no-check "$b" -o "$T/nocheck.zst"
write_as "a frame without a checksum" "$b" "$T/nocheck.zst"
