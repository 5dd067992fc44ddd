#!/usr/bin/env bash
# kill -9 of `appliance image write` at 10 random points (a rate-limited nginx keeps the
# write going long enough), then a re-run: the disk must read back as the image and the
# re-run must write less than a full write does (the journal's chunks that read back
# correct are skipped).
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/lib/nginx.sh"

for t in nginx sgdisk mkfs.vfat mcopy zstd openssl; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done
loop_require

img=$T/talos.raw
"$ROOT/images/mkimage.sh" --size-mib 96 --boot-mib 40 --fill 50 --seed 11 --tail-bytes 4096 "$img" ||
	{ not_ok "mkimage"; exit 1; }
isize=$(stat -c %s "$img")
mkdir -p "$T/www"
zstd -q -3 "$img" -o "$T/www/talos.raw.zst"
nginx_start "$T/www" 24m || { not_ok "nginx starts"; exit 1; }
url=$NGINX_HTTP/talos.raw.zst

lo=$(loop_new disk.img 128M) || { not_ok "attach a loop device"; exit 1; }
loop_guard "$lo"
openssl enc -aes-256-ctr -nosalt -pass pass:kill -pbkdf2 -iter 1 </dev/zero 2>/dev/null | head -c $((128 << 20)) >"$T/garbage"
refill() { dd if="$T/garbage" of="$lo" bs=4M oflag=direct status=none; }
written_of() { sed -n 's/^  written  \([0-9]*\) bytes.*/\1/p' "$1"; }

# the cost of a full write, for comparison
refill
"$APPLIANCE" image write "$T/www/talos.raw.zst" "$lo" --keep-backup-gpt --journal "$T/full.j" --apply >"$T/full.out" 2>&1
full=$(written_of "$T/full.out")
check "a full write works ($full bytes of data written)" test -n "$full"

for i in 1 2 3 4 5 6 7 8 9 10; do
	refill
	j=$T/kill$i.journal
	rm -f "$j"
	"$APPLIANCE" image write "$url" "$lo" --keep-backup-gpt --journal "$j" --apply >"$T/kill$i.out" 2>&1 &
	pid=$!
	# a random point: after 1..16 journaled chunks, plus 0-250 ms
	want=$((1 + RANDOM % 16))
	while kill -0 "$pid" 2>/dev/null; do
		n=$(($( (wc -l <"$j") 2>/dev/null || echo 1) - 1))
		[ "$n" -ge "$want" ] && break
		sleep 0.02
	done
	sleep "0.$(printf '%03d' $((RANDOM % 250)))"
	kill -9 "$pid" 2>/dev/null && how="killed after >= $want journaled chunks" || how="finished before the kill"
	wait "$pid" 2>/dev/null
	"$APPLIANCE" image write "$url" "$lo" --keep-backup-gpt --journal "$j" --apply >"$T/rerun$i.out" 2>&1
	rc=$?
	w=$(written_of "$T/rerun$i.out")
	if [ "$rc" -eq 0 ] && cmp -s -n "$isize" "$img" "$lo" && [ -n "$w" ] && [ "$w" -lt "$full" ]; then
		ok "kill -9 point $i ($how): re-run reads back as the image, wrote $w of $full bytes"
	else
		not_ok "kill -9 point $i ($how): re-run rc=$rc, wrote '${w}' of $full bytes"
		sed 's/^/#   /' "$T/rerun$i.out" | tail -10
	fi
done
