#!/usr/bin/env bash
# One image download for many PXE nodes: `appliance pxe` with a payload server also serves
# the profile's pinned Talos image. It fetches the image once from the profile's mirror (a
# private nginx on 127.0.0.1 standing in for the Image Factory) into this machine's cache,
# verifies the pin, points the nodes' profiles at itself (talos.image.mirror in set.args)
# and answers GET .../image/KEY to every node, as often as asked, with Range resume (206),
# the way the install's own download (net/fetch.c) asks. A cache that already holds the
# pinned image is not fetched again; a mirror that serves other bytes is refused and leaves
# nothing in the cache; --no-image serves nothing and leaves the nodes' mirror alone.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/nginx.sh"

P=$ROOT/profiles/demo.yaml
mkdir -p "$T/live" "$T/www" "$T/site"
echo kernel >"$T/live/vmlinuz"
echo initrd >"$T/live/initrd.img"
export APPLIANCE_DEMO_NAS_USER=u APPLIANCE_DEMO_NAS_PASSWORD=p-$$ APPLIANCE_DEMO_GIT_TOKEN=g-$$
export APPLIANCE_DEMO_SOPS_KEY=s-$$ APPLIANCE_DEMO_OP_CREDENTIALS='{}' APPLIANCE_DEMO_OP_TOKEN=o-$$
export APPLIANCE_DEMO_S3_ACCESS_KEY=a-$$ APPLIANCE_DEMO_S3_SECRET_KEY=k-$$
B=$T/talos-secrets.yaml
"$APPLIANCE" talos secrets "$P" --out "$B" >"$T/bundle.out" 2>&1 || { cat "$T/bundle.out"; exit 1; }
sid=$("$APPLIANCE" talos schematic "$P" --id)
key=$sid/v1.10.5/metal-amd64.raw.zst
name=$(echo "$key" | tr / -)
head -c 3M /dev/urandom >"$T/img.zst"
sha=$(sha256sum "$T/img.zst" | cut -d' ' -f1)
mkdir -p "$T/www/image/$sid/v1.10.5"
cp "$T/img.zst" "$T/www/image/$key"
printf 'pins:\n  %s: %s\n' "$key" "$sha" >"$T/site/pins.yaml"
printf 'talos:\n  image:\n    pins: %s\n' "$T/site/pins.yaml" >"$T/site/site.yaml"
nginx_start "$T/www" >/dev/null 2>&1 || { not_ok "nginx"; exit 1; }

# serve NAME ARGS...: appliance pxe with a payload server in the background; sets SPORT
serve() {
	local name=$1 pid
	shift
	"$APPLIANCE" pxe "$P" --site "$T/site/site.yaml" --set "talos.image.mirror=$NGINX_HTTP/" \
		--secrets "$B" --out "$T/$name" --live "$T/live" --listen 127.0.0.1:0 \
		--payload-url http://10.0.2.100:8069/ --cache "$T/cache" --allow-file "$T/site/pins.yaml" "$@" \
		>"$T/$name.log" 2>&1 &
	pid=$!
	at_exit "kill $pid"
	SPID=$pid
	wait_for "$T/$name.log" 'payload server ready|^appliance' "$pid" 30
	SPORT=$(sed -n 's/^pxe: payload server listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/$name.log")
}
fetches() { grep -c "GET /image/$key HTTP" "$NGINX_LOG"; }

serve s1
[ -n "$SPORT" ] && ok "the payload server is up (port $SPORT)" || { not_ok "the payload server is up"; sed 's/^/#   /' "$T/s1.log"; exit 1; }
expect_out "it fetched the image once into its cache and verified it" \
	"^pxe: image $key downloaded once into $T/cache/$name, sha256 $sha as pinned: served to the nodes$" cat "$T/s1.log"
check "the cached copy is the pinned image" test "$(sha256sum <"$T/cache/$name" | cut -d' ' -f1)" = "$sha"
expect_out "the nodes' profiles point at the payload server (set.args)" '^talos.image.mirror=http://10.0.2.100:8069/$' \
	bash -c "cd '$T' && rm -rf x && mkdir x && cd x && cpio -idm --quiet <'$T/s1/site.cpio' && cat appliance/profile/set.args"
for n in 1 2 3; do
	curl -sf -o "$T/got$n" "http://127.0.0.1:$SPORT/image/$key"
	check "node $n: GET /image/KEY gives the whole image" cmp "$T/got$n" "$T/img.zst"
done
curl -sf -H 'Range: bytes=1000000-' -D "$T/h206" -o "$T/part" "http://127.0.0.1:$SPORT/image/$key"
expect_out "a resumed download gets 206" '^HTTP/1.0 206 Partial Content$' tr -d '\r' <"$T/h206"
expect_out "... with its Content-Range" '^Content-Range: bytes 1000000-3145727/3145728$' tr -d '\r' <"$T/h206"
check "... and the rest of the image from that offset" cmp "$T/part" <(tail -c +1000001 "$T/img.zst")
expect_out "a range past the end: 416" '^416$' curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=9999999-' "http://127.0.0.1:$SPORT/image/$key"
expect_out "another image: 404" '^404$' curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/image/$sid/v1.11.0/metal-amd64.raw.zst"
expect_out "the server logs every image transfer" "node -: image \(HTTP 200\): image $key: 3145728 of 3145728 bytes from offset 0$" cat "$T/s1.log"
expect_out "the upstream mirror saw one fetch for four downloads" '^1$' fetches
kill "$SPID"; wait "$SPID" 2>/dev/null

# ---- a warm cache: no fetch at all ---------------------------------------------------------
serve s2
expect_out "warm cache: used as it is" "^pxe: image $key in the cache, $T/cache/$name, sha256 $sha as pinned" cat "$T/s2.log"
expect_out "warm cache: the mirror saw no new fetch" '^1$' fetches
kill "$SPID"; wait "$SPID" 2>/dev/null

# ---- a damaged cache copy is fetched again ---------------------------------------------------
echo garbage >"$T/cache/$name"
serve s3
expect_out "damaged cache copy: fetched again" "^pxe: image $key downloaded once into" cat "$T/s3.log"
expect_out "... the mirror saw the second fetch" '^2$' fetches
kill "$SPID"; wait "$SPID" 2>/dev/null

# ---- a mirror that serves other bytes: refused, nothing cached, nothing served ------------------
rm -f "$T/cache/$name"
head -c 1M /dev/urandom >"$T/www/image/$key"
serve s4
expect_out "wrong bytes on the mirror: exit 1" '^appliance: image from .* has sha256 [0-9a-f]{64}, pinned [0-9a-f]{64}; removed it$' cat "$T/s4.log"
wait "$SPID" 2>/dev/null
check "... the server did not start" test "$?" -eq 1
check "... nothing is left in the cache" test -z "$(ls -A "$T/cache")"
check "... and no tree was written" test ! -e "$T/s4/site.cpio"

# ---- --no-image ------------------------------------------------------------------------------------
serve s5 --no-image
[ -n "$SPORT" ] && ok "--no-image: the payload server is up" || not_ok "--no-image: the payload server is up"
expect_out "--no-image: no image is served (404)" '^404$' curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/image/$key"
check "--no-image: the nodes keep the profile's mirror" bash -c "cd '$T' && rm -rf y && mkdir y && cd y && cpio -idm --quiet <'$T/s5/site.cpio' && ! grep -q 'mirror=http://10.0.2.100' appliance/profile/set.args"
kill "$SPID"
wait "$SPID" 2>/dev/null

# ---- trust on first use: `image fetch` and the pxe/install path agree ---------------------------------
# image fetch downloads through image_cache_get, the path pxe and install take: without a pin
# both refuse the image; a cached copy is never trusted for a first use (downloaded again);
# the hash fetch records is the one the pxe/install path then accepts from the cache as is.
# (The mirror serves the other bytes of the section above.)
tsha=$(sha256sum <"$T/www/image/$key" | cut -d' ' -f1)
tpins=$T/site/tofu-pins.yaml
printf 'pins:\n' >"$tpins"
echo stale >"$T/cache/$name"
tfetch() { "$APPLIANCE" image fetch "$P" --set "talos.image.mirror=$NGINX_HTTP/" --set "talos.image.pins=$tpins" --cache "$T/cache" "$@"; }
expect_rc_out "unpinned: image fetch refuses it" 1 "appliance: image '$key' is not pinned in '$tpins'; refusing to use it" tfetch
serve s6 --set "talos.image.pins=$tpins" --allow-file "$tpins"
expect_out "unpinned: pxe does not serve it either" "^pxe: image $key is not pinned in $tpins: not served; each node downloads it itself$" cat "$T/s6.log"
kill "$SPID"
wait "$SPID" 2>/dev/null
n=$(fetches)
expect_rc_out "trust on first use: image fetch records what the mirror serves now" 0 \
	"^  sha256  $tsha \(trusted on first use, recorded in $tpins\)$" tfetch --trust-on-first-use
check "... the stale cached copy was not trusted: fetched again" test "$(fetches)" -eq $((n + 1))
check "... the cache holds the served bytes" cmp "$T/cache/$name" "$T/www/image/$key"
check "... the pin is in the pins file" grep -q "$tsha" "$tpins"
serve s7 --set "talos.image.pins=$tpins" --allow-file "$tpins"
expect_out "pxe takes the first-use pin: the cached copy as pinned" \
	"^pxe: image $key in the cache, $T/cache/$name, sha256 $tsha as pinned: served to the nodes$" cat "$T/s7.log"
check "... without a new fetch" test "$(fetches)" -eq $((n + 1))
expect_rc_out "image fetch again: from the cache, as pinned" 0 "^  sha256  $tsha \(as pinned\)$" tfetch
check "... without a new fetch" test "$(fetches)" -eq $((n + 1))
