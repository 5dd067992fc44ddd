#!/usr/bin/env bash
# appliance image fetch / write from URLs against a real nginx on 127.0.0.1 (HTTP Range,
# TLS with a test CA), a proxy that drops connections mid-body, and python's http.server
# (which ignores Range). Pins: unpinned refused, trust on first use, wrong pin.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/nginx.sh"

for t in nginx sgdisk mkfs.vfat mcopy zstd openssl curl; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done
export APPLIANCE_FETCH_BACKOFF_MS=50 # keep retries quick in tests

last_has() {
	if grep -qE -- "$2" "$T/.out"; then ok "$1"; else not_ok "$1 (no match for /$2/)"; sed 's/^/#   /' "$T/.out" | tail -20; fi
}
proxy_start() { # proxy_start UPSTREAM_PORT DROPS CUT: sets PROXY_PORT
	PROXY_PORT=$(free_port)
	rm -f "$T/proxy.ready"
	/usr/bin/python3 "$ROOT/tests/fixtures/image/dropproxy.py" "$PROXY_PORT" "$1" "$2" "$3" "$T/proxy.ready" &
	local pid=$!
	at_exit "kill $pid"
	for _ in $(seq 1 100); do [ -s "$T/proxy.ready" ] && break; sleep 0.05; done
	PROXY_PID=$pid
}

schem=$("$APPLIANCE" talos schematic "$ROOT/profiles/demo.yaml" --id) || { not_ok "schematic id"; exit 1; }
key="$schem/v1.10.5/metal-amd64.raw.zst"
www=$T/www
mkdir -p "$www/image/$schem/v1.10.5"
img=$T/talos.raw
"$ROOT/images/mkimage.sh" --size-mib 48 --boot-mib 12 --fill 50 --seed 3 "$img" || { not_ok "mkimage"; exit 1; }
zstd -q -3 "$img" -o "$www/image/$key"
zsize=$(stat -c %s "$www/image/$key")
want=$(sha256sum <"$www/image/$key" | cut -d' ' -f1)
nginx_start "$www" || { not_ok "nginx starts"; exit 1; }
ok "nginx serves on $NGINX_HTTP and $NGINX_HTTPS"

pins=$T/pins.yaml
cache=$T/cache
name=$(echo "$key" | tr / -)
fetch() { # fetch MIRROR [ARGS...]
	local m=$1
	shift
	"$APPLIANCE" image fetch "$ROOT/profiles/demo.yaml" --set "talos.image.mirror=$m" \
		--set "talos.image.pins=$pins" --cache "$cache" "$@"
}

# ---- pins
expect_fail "unpinned image refused: exit 1" 1 fetch "$NGINX_HTTPS/" --ca-file "$NGINX_CA"
last_has "unpinned image refused: message" \
	"appliance: image '$key' is not pinned in '$pins'; refusing to use it \(pass --trust-on-first-use"
check "nothing downloaded while unpinned" test ! -e "$cache/$name"

check "trust on first use over HTTPS with the test CA" fetch "$NGINX_HTTPS/" --ca-file "$NGINX_CA" --trust-on-first-use
last_has "reports the recorded hash" "sha256  $want \(trusted on first use, recorded in $pins\)"
check "pin recorded in the pins file" grep -q "\"$key\": $want" "$pins"
check "cached file is the served file" cmp "$cache/$name" "$www/image/$key"

n=$(wc -l <"$NGINX_LOG")
check "second fetch uses the cache" fetch "$NGINX_HTTPS/" --ca-file "$NGINX_CA"
last_has "second fetch: cached, as pinned" "cached  $cache/$name"
check "second fetch made no request" test "$(wc -l <"$NGINX_LOG")" -eq "$n"

expect_fail "HTTPS without the test CA: exit 1" 1 fetch "$NGINX_HTTPS/" --cache "$T/cache2"
last_has "HTTPS without the test CA: message" \
	"appliance: download of '$NGINX_HTTPS/image/$key' failed after 1 attempt: SSL certificate problem"

bad=$(printf '%064d' 1)
printf 'pins:\n  "%s": %s\n' "$key" "$bad" >"$T/badpins.yaml"
expect_fail "wrong pin: exit 1" 1 "$APPLIANCE" image fetch "$ROOT/profiles/demo.yaml" \
	--set "talos.image.mirror=$NGINX_HTTP/" --set "talos.image.pins=$T/badpins.yaml" --cache "$T/cache3"
last_has "wrong pin: message" \
	"^appliance: image from '$NGINX_HTTP/image/$key' has sha256 $want, pinned $bad; removed it \\(the pin is in '$T/badpins.yaml'\\)$"
check "wrong pin: download removed" test ! -e "$T/cache3/$name"

printf 'pins:\n  "%s": not-a-hash\n' "$key" >"$T/junkpins.yaml"
expect_fail "malformed pins file: exit 2" 2 "$APPLIANCE" image fetch "$ROOT/profiles/demo.yaml" \
	--set "talos.image.mirror=$NGINX_HTTP/" --set "talos.image.pins=$T/junkpins.yaml" --cache "$T/cache3"
last_has "malformed pins file: message" "appliance: $T/junkpins.yaml: pin '$key' is not a lower-case sha256 hex digest"

# ---- resume a partial download with Range
mkdir -p "$T/cache4"
head -c $((zsize / 3)) "$www/image/$key" >"$T/cache4/$name.part"
check "resume from a .part file" fetch "$NGINX_HTTP/" --cache "$T/cache4"
check "resumed file is complete and right" cmp "$T/cache4/$name" "$www/image/$key"
check "nginx answered 206 to the resume" grep -q '" 206 ' "$NGINX_LOG"

# ---- connection dropped mid-download: retry, resume where it stopped
port=${NGINX_HTTP##*:}
proxy_start "$port" 1 $((zsize / 2))
check "dropped connection: download completes" fetch "http://127.0.0.1:$PROXY_PORT/" --cache "$T/cache5"
last_has "dropped connection: resumed, not restarted" "retry 1, resuming at byte [1-9][0-9]*"
check "dropped connection: file is right" cmp "$T/cache5/$name" "$www/image/$key"
kill "$PROXY_PID"

# ---- a server that ignores Range: clean restart, no stale prefix
hport=$(free_port)
(cd "$www" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$hport") >"$T/http.log" 2>&1 &
hpid=$!
at_exit "kill $hpid"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$hport/" && break; sleep 0.05; done
mkdir -p "$T/cache6"
head -c 1000000 /dev/urandom >"$T/cache6/$name.part"
check "server ignoring Range: download completes" fetch "http://127.0.0.1:$hport/" --cache "$T/cache6"
check "server ignoring Range: restarted cleanly (no stale bytes)" cmp "$T/cache6/$name" "$www/image/$key"

# ---- image write straight from URLs (streaming, same faults)
truncate -s 64M "$T/d1.img"
check "write from HTTPS" "$APPLIANCE" image write "$NGINX_HTTPS/image/$key" "$T/d1.img" --ca-file "$NGINX_CA" \
	--sha256 "$want" --keep-backup-gpt --journal "$T/j1" --apply
check "write from HTTPS: reads back as the image" cmp -n "$(stat -c %s "$img")" "$img" "$T/d1.img"

proxy_start "$port" 2 $((zsize / 3))
truncate -s 64M "$T/d2.img"
check "write through two dropped connections" "$APPLIANCE" image write "http://127.0.0.1:$PROXY_PORT/image/$key" \
	"$T/d2.img" --sha256 "$want" --keep-backup-gpt --journal "$T/j2" --apply
last_has "stream resumed with Range" "retry 2, resuming at byte [1-9][0-9]*"
check "dropped stream: reads back as the image" cmp -n "$(stat -c %s "$img")" "$img" "$T/d2.img"
kill "$PROXY_PID"

proxy_start "$hport" 1 $((zsize / 2))
truncate -s 64M "$T/d3.img"
check "stream from a server ignoring Range, dropped once" "$APPLIANCE" image write \
	"http://127.0.0.1:$PROXY_PORT/image/$key" "$T/d3.img" --sha256 "$want" --keep-backup-gpt --journal "$T/j3" --apply
check "ignored Range: the stream skipped what it had (reads back as the image)" \
	cmp -n "$(stat -c %s "$img")" "$img" "$T/d3.img"
kill "$PROXY_PID"

# a download is hashed as it streams: a wrong pin is known at the end, and the disk is
# left without a partition table (it never looks bootable)
cp "$img" "$T/d4.img" && truncate -s 64M "$T/d4.img" # a bootable-looking disk first
check "before the wrong pin: the disk has a GPT header" \
	sh -c "dd if='$T/d4.img' bs=512 skip=1 count=1 status=none | grep -aq 'EFI PART'"
bad=$(printf '%064d' 0)
expect_fail "download with a wrong --sha256: exit 1" 1 "$APPLIANCE" image write "$NGINX_HTTP/image/$key" "$T/d4.img" \
	--sha256 "$bad" --journal "$T/j4" --apply
last_has "download with a wrong --sha256: message" \
	"appliance: sha256 of '$NGINX_HTTP/image/$key' is $want, expected $bad; disk '$T/d4.img' left without a partition table"
check "download with a wrong --sha256: no GPT header on the disk" \
	sh -c "! dd if='$T/d4.img' bs=512 skip=1 count=1 status=none | grep -aq 'EFI PART'"

expect_fail "HTTP 404: exit 1" 1 "$APPLIANCE" image write "$NGINX_HTTP/image/nope.raw.zst" "$T/d3.img" --apply
last_has "HTTP 404: message" "appliance: cannot read image '$NGINX_HTTP/image/nope.raw.zst': download of '$NGINX_HTTP/image/nope.raw.zst' failed: HTTP 404"

dead=$(free_port)
expect_fail "nothing listening: exit 1 after retries" 1 "$APPLIANCE" image write "http://127.0.0.1:$dead/x.raw.zst" \
	"$T/d3.img" --apply
last_has "nothing listening: message" \
	"download of 'http://127.0.0.1:$dead/x.raw.zst' failed after 7 attempts: Failed to connect to 127.0.0.1 port $dead"
