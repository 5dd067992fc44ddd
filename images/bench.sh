#!/usr/bin/env bash
# make bench-image: the image writer against the physical limit and the usual tools, in one
# run, on loop devices with direct I/O this script made (detached at exit), for each image
# size in BENCH_IMAGE_MIBS (default "256 4096": the cost must be linear in the data).
#
# Each image is synthetic, Talos-like (images/mkimage.sh): one third random data, the rest
# long zero runs, zstd -3. Every run starts from the same state: the target's image extent
# overwritten with garbage, no journal, every source in the page cache. Best of
# BENCH_IMAGE_REPS (default 3) runs each: the machine is shared, noise only adds.
#
#   limit       dd oflag=direct conv=fsync of the image's non-zero 4 KiB blocks alone
#   zstd|dd     zstd -dc IMG.zst | dd oflag=direct conv=fsync
#   bmaptool    bmaptool copy with the bmap (bmaptool create made it) and with --nobmap
#   ours        appliance image write IMG.zst DEV (every byte read back and compared),
#               from the file, with --sha256, and from nginx on 127.0.0.1
#   stages      each alone: read (curl from nginx), decompress (zstd -dc), write (ours
#               from the uncompressed image), read back (dd iflag=direct of the image's
#               extent once ours wrote it: what the honest read-back costs at least)
#   peak RSS    /usr/bin/time -v of every run of ours
# Targets: ours <= 1.5x the limit, <= 0.5x zstd|dd, <= 0.6x bmaptool with a bmap, from
# nginx <= 1.1x the slowest stage alone, peak RSS <= 64 MiB. Speed is measured here only,
# never asserted in a test. Next to each ratio against the limit the script prints the
# floors no writer that reads every byte back can go under: decompression alone / limit
# and read-back alone / limit (ours runs them on two cores, overlapped).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/loop.sh"
. "$ROOT/tests/lib/nginx.sh"
trap - INT TERM
loop_require
for t in bmaptool zstd nginx curl openssl /usr/bin/time /usr/bin/python3; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done

# a private copy: a rebuild of installer/appliance during the run must not break it
cp "$APPLIANCE" "$T/appliance" && APPLIANCE=$T/appliance
sizes=${BENCH_IMAGE_MIBS:-256 4096}
reps=${BENCH_IMAGE_REPS:-3}
mkdir -p "$T/www"
nginx_start "$T/www" || exit 1

secs() { # secs CMD...: run, print elapsed seconds (3 decimals); nothing when it failed
	local s e
	s=$(date +%s.%N)
	"$@" >"$T/last.out" 2>&1 || { echo "bench-image: '$*' failed:" >&2; tail -5 "$T/last.out" >&2; return; }
	e=$(date +%s.%N)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}
ratio() { echo "$1 $2" | awk '{ if ($1 > 0 && $2 > 0) printf "%.2f", $1 / $2; else print "n/a" }'; }
verdict() { # verdict VALUE MAX
	echo "$1 $2" | awk '{ if ($1 == "n/a" || $1 == "") print "n/a"; else if ($1 <= $2) print "met"; else print "NOT met" }'
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# nonzero IMG OUT: OUT = the image's non-zero 4 KiB blocks, back to back (what the limit writes)
nonzero() {
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import sys
z = bytes(4096)
with open(sys.argv[1], 'rb') as f, open(sys.argv[2], 'wb') as o:
    while True:
        b = f.read(4 << 20)
        if not b:
            break
        for i in range(0, len(b), 4096):
            blk = b[i:i + 4096]
            if blk != z[:len(blk)]:
                o.write(blk)
EOF
}

bench_size() {
	local mib=$1 img dev gb rss_kb slow boot
	local t_lim t_zdd t_bmap t_nobmap t_ours t_sha t_net t_read t_unz t_raw t_rb
	img=$T/talos$mib.raw
	echo "bench-image: building a ${mib} MiB synthetic image (one third random data)..."
	boot=$((mib - 100 - 1 - 1 - 4))
	[ "$mib" -ge 1246 ] || boot=""
	"$ROOT/images/mkimage.sh" --size-mib "$mib" ${boot:+--boot-mib "$boot"} --fill 33 --seed 42 "$img" || exit 1
	zstd -q -3 -T0 -f "$img" -o "$img.zst"
	bmaptool -q create -o "$img.bmap" "$img" 2>/dev/null || bmaptool create -o "$img.bmap" "$img"
	nonzero "$img" "$img.nz"
	ln -f "$img.zst" "$T/www/talos$mib.raw.zst"
	dev=$(loop_new "disk$mib.img" $((mib + 512))M) || exit 1
	loop_guard "$dev"
	# direct I/O between the loop device and its backing file: writes and reads reach the
	# disk as they would on a real one, instead of being absorbed by a second page cache
	losetup --direct-io=on "$dev" 2>/dev/null || echo "bench-image: note: no direct I/O on $dev"
	gb=$T/garbage$mib
	(
		set +o pipefail
		openssl enc -aes-256-ctr -nosalt -pass pass:bench -pbkdf2 -iter 1 </dev/zero 2>/dev/null |
			head -c $((mib << 20)) >"$gb"
	)

	# the same start for every tool: garbage over the image's extent, flushed; no journal;
	# every source in the page cache
	fresh() {
		loop_guard "$dev"
		dd if="$gb" of="$dev" bs=4M oflag=direct conv=fsync status=none
		rm -f "$T"/*.journal
		sync
		cat "$img.zst" "$img" "$img.nz" >/dev/null
	}
	ours() { # ours NAME SOURCE [ARGS...]
		local n=$1 src=$2
		shift 2
		/usr/bin/time -v -o "$T/time.$n" "$APPLIANCE" image write "$src" "$dev" --journal "$T/$n.journal" \
			--apply "$@" || return 1
		sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time.$n" >>"$T/rss$mib"
	}
	best() { # best VAR CMD...: the fastest of $reps runs
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
	: >"$T/rss$mib"
	local load0
	load0=$(load)
	best t_lim dd if="$img.nz" of="$dev" bs=4M oflag=direct conv=fsync status=none
	best t_zdd sh -c "zstd -dc '$img.zst' | dd of='$dev' bs=4M iflag=fullblock oflag=direct conv=fsync status=none"
	best t_bmap bmaptool -q copy --bmap "$img.bmap" "$img.zst" "$dev"
	best t_nobmap bmaptool -q copy --nobmap "$img.zst" "$dev"
	best t_ours ours file "$img.zst"
	best t_sha ours sha "$img.zst" --sha256 "$(sha256sum <"$img.zst" | cut -d' ' -f1)"
	best t_net ours net "$NGINX_HTTP/talos$mib.raw.zst"
	best t_read curl -s -o /dev/null "$NGINX_HTTP/talos$mib.raw.zst"
	best t_unz sh -c "zstd -dc '$img.zst' >/dev/null"
	best t_raw ours raw "$img"
	# the read-back alone, of the image ours just wrote (its zero runs as the device keeps
	# them): not refilled with garbage in between, that would be a different read
	t_rb=""
	for _ in $(seq 1 "$reps"); do
		local t
		loop_guard "$dev"
		t=$(secs dd if="$dev" of=/dev/null bs=4M count=$((mib / 4)) iflag=direct status=none)
		if [ -n "$t" ] && { [ -z "$t_rb" ] || awk "BEGIN { exit !($t < $t_rb) }"; }; then t_rb=$t; fi
	done
	slow=$(printf '%s\n' "$t_read" "$t_unz" "$t_raw" | sort -g | tail -1)
	rss_kb=$(sort -n "$T/rss$mib" | tail -1)

	printf '\nbench-image: %s MiB image (%s MiB of non-zero data, %s MiB zstd) on %s, loop device with direct I/O, best of %s\n' \
		"$mib" "$(($(stat -c %s "$img.nz") >> 20))" "$(($(stat -c %s "$img.zst") >> 20))" "$dev" "$reps"
	printf '  load average before: %s, after: %s\n' "$load0" "$(load)"
	printf '  %-52s %8s s\n' \
		"limit: dd oflag=direct of the non-zero bytes alone" "$t_lim" \
		"zstd -dc | dd oflag=direct conv=fsync" "$t_zdd" \
		"bmaptool copy (with bmap)" "$t_bmap" \
		"bmaptool copy --nobmap" "$t_nobmap" \
		"appliance image write (file, read back)" "$t_ours" \
		"appliance image write --sha256 (file, read back)" "$t_sha" \
		"appliance image write (from nginx, read back)" "$t_net" \
		"  stage alone: read (curl from nginx)" "$t_read" \
		"  stage alone: decompress (zstd -dc)" "$t_unz" \
		"  stage alone: write (ours from the raw image)" "$t_raw" \
		"  stage alone: read back (dd iflag=direct, image)" "$t_rb"
	local r
	r=$(ratio "$t_ours" "$t_lim")
	printf '  ratio ours / limit                 %5s  (target <= 1.5: %s)\n' "$r" "$(verdict "$r" 1.5)"
	printf '    floor: decompression alone / limit %5s, read-back alone / limit %5s\n' \
		"$(ratio "$t_unz" "$t_lim")" "$(ratio "$t_rb" "$t_lim")"
	r=$(ratio "$t_ours" "$t_zdd")
	printf '  ratio ours / zstd|dd               %5s  (target <= 0.5: %s)\n' "$r" "$(verdict "$r" 0.5)"
	printf '    floor: decompression alone / zstd|dd %5s, read-back alone / zstd|dd %5s\n' \
		"$(ratio "$t_unz" "$t_zdd")" "$(ratio "$t_rb" "$t_zdd")"
	r=$(ratio "$t_ours" "$t_bmap")
	printf '  ratio ours / bmaptool with bmap    %5s  (target <= 0.6: %s)\n' "$r" "$(verdict "$r" 0.6)"
	printf '  ratio ours / bmaptool --nobmap     %5s\n' "$(ratio "$t_ours" "$t_nobmap")"
	printf '  ratio ours --sha256 / limit        %5s\n' "$(ratio "$t_sha" "$t_lim")"
	r=$(ratio "$t_net" "$slow")
	printf '  ratio from nginx / slowest stage   %5s  (slowest %s s; target <= 1.1: %s)\n' "$r" "$slow" \
		"$(verdict "$r" 1.1)"
	r=$(echo "${rss_kb:-0}" | awk '{printf "%.1f", $1 / 1024}')
	printf '  peak RSS of ours                   %5s MiB  (target <= 64: %s)\n' "$r" "$(verdict "$r" 64)"
	loop_detach "$dev"
	rm -f "$gb" "$img" "$img.nz" "$T/disk$mib.img"
}

for mib in $sizes; do
	bench_size "$mib"
done
