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
