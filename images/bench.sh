#!/usr/bin/env bash
# make bench-image: the image writer against the usual tools, in one run, on the same
# loop device. A synthetic 2 GiB Talos-like image, about half zeros, zstd-compressed;
# read-back verification is on (it always is in `appliance image write`).
#
#   ours        appliance image write IMG.zst DEV --apply  (and with --sha256 of the source)
#   dd          zstd -dc IMG.zst | dd of=DEV bs=4M oflag=direct conv=fsync   (target: ours <= 0.6x)
#   bmaptool    bmaptool copy --bmap IMG.bmap IMG.zst DEV                   (target: ours <= 0.9x)
#   pipeline    ours from nginx on 127.0.0.1 vs the slowest stage alone     (target: <= 1.1x)
#               (download alone: curl -o /dev/null; decompress alone: zstd -dc >/dev/null;
#                write alone: ours from the raw image)
#   peak RSS    /usr/bin/time -v of ours                                     (target: <= 64 MiB)
# Before each write the device is discarded (blkdiscard) and the source is in the page
# cache, so every tool starts from the same state. BENCH_IMAGE_MIB changes the image size.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/lib/nginx.sh"
trap - INT TERM
loop_require
for t in bmaptool zstd nginx curl blkdiscard /usr/bin/time; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done

# a private copy: a rebuild of installer/appliance during the run must not break it
cp "$APPLIANCE" "$T/appliance" && APPLIANCE=$T/appliance
mib=${BENCH_IMAGE_MIB:-2048}
img=$T/talos.raw
echo "bench-image: building a ${mib} MiB synthetic image (half zeros)..."
"$ROOT/images/mkimage.sh" --size-mib "$mib" --fill 50 --seed 42 "$img" || exit 1
zstd -q -3 -T0 "$img" -o "$img.zst"
bmaptool -q create -o "$img.bmap" "$img" 2>/dev/null || bmaptool create -o "$img.bmap" "$img"
mkdir -p "$T/www" && ln "$img.zst" "$T/www/talos.raw.zst"
dev=$(loop_new disk.img $((mib + 512))M) || exit 1
loop_guard "$dev"
# direct I/O between the loop device and its backing file: writes and reads reach the disk
# as they would on a real one, instead of being absorbed by a second page cache
losetup --direct-io=on "$dev" 2>/dev/null || echo "bench-image: note: no direct I/O on $dev"
nginx_start "$T/www" || exit 1

secs() { # secs CMD...: run, print elapsed seconds (3 decimals)
	local s e
	s=$(date +%s.%N)
	"$@" >"$T/last.out" 2>&1 || { echo "bench-image: '$*' failed:" >&2; tail -5 "$T/last.out" >&2; return; }
	e=$(date +%s.%N)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
# Same start for every tool: the device discarded, its writes flushed, and the source
# in the page cache (the source and the loop device's backing file share this machine's
# one disk; a cold source would measure that disk's reads, not the writers).
fresh() {
	blkdiscard -f "$dev" 2>/dev/null || dd if=/dev/zero of="$dev" bs=4M oflag=direct status=none
	rm -f "$T"/*.journal
	sync
	cat "$img.zst" "$img" >/dev/null
}
ours() { # ours NAME SOURCE [ARGS...]
	local n=$1 src=$2
	shift 2
	/usr/bin/time -v -o "$T/time.$n" "$APPLIANCE" image write "$src" "$dev" --journal "$T/$n.journal" --apply "$@"
}
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "n/a" }'; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time.$1"; }

best() { # best VAR CMD...: the fastest of $reps runs (this machine is shared; noise only adds)
	local v=$1 b="" t
	shift
	for _ in $(seq 1 "$reps"); do
		fresh
		t=$(secs "$@")
		[ -n "$t" ] || continue
		if [ -z "$b" ] || awk "BEGIN { exit !($t < $b) }"; then b=$t; fi
	done
	printf -v "$v" '%s' "$b"
}
reps=${BENCH_IMAGE_REPS:-3}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t_dd="" t_bmap="" t_ours="" t_sha="" t_raw="" t_dl="" t_unz="" t_net="" # set by best
best t_dd sh -c "zstd -dc '$img.zst' | dd of='$dev' bs=4M oflag=direct conv=fsync status=none"
best t_bmap bmaptool -q copy --bmap "$img.bmap" "$img.zst" "$dev"
best t_ours ours file "$img.zst"
best t_sha ours sha "$img.zst" --sha256 "$(sha256sum <"$img.zst" | cut -d' ' -f1)"
best t_raw ours raw "$img"
best t_dl curl -s -o /dev/null "$NGINX_HTTP/talos.raw.zst"
best t_unz sh -c "zstd -dc '$img.zst' >/dev/null"
best t_net ours net "$NGINX_HTTP/talos.raw.zst"
slow=$(printf '%s\n' "$t_dl" "$t_unz" "$t_raw" | sort -g | tail -1)
rss_kb=$(for r in file sha raw net; do rss $r; done | sort -n | tail -1)

printf '\nbench-image: load average before: %s' "$load0"
printf '\nbench-image: %s MiB image, %s MiB zstd, on %s (loop device, direct I/O), best of %s\n' "$mib" \
	"$(($(stat -c %s "$img.zst") >> 20))" "$dev" "$reps"
printf '  %-46s %8s s\n' "zstd -dc | dd oflag=direct conv=fsync" "$t_dd" \
	"bmaptool copy (with bmap)" "$t_bmap" \
	"appliance image write (file, verified)" "$t_ours" \
	"appliance image write --sha256 (file, verified)" "$t_sha" \
	"  stage alone: download (curl from nginx)" "$t_dl" \
	"  stage alone: decompress (zstd -dc)" "$t_unz" \
	"  stage alone: write (raw image, verified)" "$t_raw" \
	"appliance image write (from nginx, verified)" "$t_net"
printf '  ratio ours / dd          %s   (target <= 0.6)\n' "$(ratio "$t_ours" "$t_dd")"
printf '  ratio ours --sha256 / dd %s\n' "$(ratio "$t_sha" "$t_dd")"
printf '  ratio ours / bmaptool    %s   (target <= 0.9)\n' "$(ratio "$t_ours" "$t_bmap")"
printf '  ratio pipeline / slowest stage (%s s)  %s   (target <= 1.1)\n' "$slow" "$(ratio "$t_net" "$slow")"
printf '  peak RSS                 %s MiB   (target <= 64)\n' "$(echo "$rss_kb" | awk '{printf "%.1f", $1 / 1024}')"
