#!/usr/bin/env bash
# appliance image fetch is bounded (issue 17, item 4): against a real nginx on 127.0.0.1,
# a cache on a small tmpfs that fills up leaves no DEST.part behind (a resume could only fill
# it again), and an image larger than talos.image.maxSize is refused with its message and
# nothing left in the cache. The deadline of the whole transfer (talos.image.fetchTimeout)
# is exercised against a stalling server in tests/unit/net/test_fetch.c.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/nginx.sh"

command -v nginx >/dev/null || skip_all "nginx is missing"
[ "$(id -u)" -eq 0 ] || skip_all "mounting a tmpfs needs root"
export APPLIANCE_FETCH_BACKOFF_MS=50

schem=$("$APPLIANCE" talos schematic "$ROOT/profiles/demo.yaml" --id) || { not_ok "schematic id"; exit 1; }
key="$schem/v1.10.5/metal-amd64.raw.zst"
name=$(echo "$key" | tr / -)
www=$T/www
mkdir -p "$www/image/$schem/v1.10.5"
head -c 3M /dev/urandom >"$www/image/$key"
pins=$T/pins.yaml
printf 'pins:\n  "%s": %s\n' "$key" "$(sha256sum <"$www/image/$key" | cut -d' ' -f1)" >"$pins"
nginx_start "$www" || { not_ok "nginx starts"; exit 1; }

cache=$T/cache
mkdir -p "$cache"
mount -t tmpfs -o size=1m tmpfs "$cache" || skip_all "cannot mount a tmpfs"
at_exit "umount -l '$cache'"
fetch() {
	"$APPLIANCE" image fetch "$ROOT/profiles/demo.yaml" --set "talos.image.mirror=$NGINX_HTTP/" \
		--set "talos.image.pins=$pins" --cache "$cache" "$@"
}

expect_fail "a cache that fills up: exit 1" 1 fetch
cp "$T/.out" "$T/full.out"
check "a cache that fills up: the exact message" grep -qxF \
	"appliance: download of '$NGINX_HTTP/image/$key': cannot store the data: No space left on device; removed '$cache/$name.part'" "$T/full.out"
check "a cache that fills up: no .part is left" test ! -e "$cache/$name.part"
check "a cache that fills up: the cache is empty again" test -z "$(ls -A "$cache")"
umount "$cache"

expect_fail "an image past talos.image.maxSize: exit 1" 1 fetch --set talos.image.maxSize=1Mi
cp "$T/.out" "$T/big.out"
check "an image past talos.image.maxSize: the exact message" grep -qxF \
	"appliance: download of '$NGINX_HTTP/image/$key' is larger than 1.0 MiB; refusing the rest; removed '$cache/$name.part'" "$T/big.out"
check "an image past talos.image.maxSize: nothing is left in the cache" test -z "$(ls -A "$cache")"

check "control: within the bounds the same image is fetched and verified" fetch
check "control: the cached file is the served file" cmp "$cache/$name" "$www/image/$key"
