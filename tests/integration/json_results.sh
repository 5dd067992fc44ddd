#!/usr/bin/env bash
# --json on the commands that report one result (issue 20, item 7): talos secrets and
# image fetch / write / add-config print one object on stdout ({command, fields..., ok,
# exit, error}) that python3 -m json.tool parses, with the fields a script needs; a failure
# still prints valid JSON naming the error, with a non-zero exit; no secret value in it.
# (bootstrap: bootstrap.sh; rebuild: rebuild.sh; pxe: pxe.sh.) nginx on 127.0.0.1 only.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/nginx.sh"

for t in nginx sgdisk zstd; do
	command -v "$t" >/dev/null || skip_all "$t is missing"
done
export APPLIANCE_FETCH_BACKOFF_MS=50
P=$ROOT/profiles/demo.yaml
A=$APPLIANCE

# ---- talos secrets ----------------------------------------------------------------------------------
"$A" talos secrets "$P" --out "$T/ts.yaml" --json >"$T/ts.json" 2>"$T/ts.err"
check "talos secrets --json: exit 0" test $? -eq 0
json_check "talos secrets --json: out, caFingerprint, ok" "$T/ts.json" \
	"d['command'] == 'talos secrets' and d['ok'] and d['exit'] == 0 and d['error'] is None and d['out'] == '$T/ts.yaml' and len(d['caFingerprint']) == 64 and d['previous'] is None"
check "talos secrets --json: nothing else on stdout" test "$(wc -l <"$T/ts.json")" = 1
# no secret of the bundle in the object: none of its base64 values appears
check "talos secrets --json: no key material" python3 -c "
import json, sys, yaml
b = yaml.safe_load(open(sys.argv[1])); out = open(sys.argv[2]).read()
def walk(v):
    if isinstance(v, dict): [walk(x) for x in v.values()]
    elif isinstance(v, str) and len(v) >= 16: assert v not in out, v[:8]
walk(b)" "$T/ts.yaml" "$T/ts.json"
"$A" talos secrets "$P" --out "$T/ts.yaml" --json >"$T/ts2.json" 2>/dev/null
check "talos secrets --json, bundle exists: exit 1" test $? -eq 1
json_check "talos secrets --json failure: valid JSON with the error" "$T/ts2.json" \
	"not d['ok'] and d['exit'] == 1 and 'already exists' in d['error']"
"$A" talos secrets "$P" --out "$T/ts.yaml" --rotate --json >"$T/ts3.json" 2>/dev/null
json_check "talos secrets --rotate --json: names the kept previous bundle" "$T/ts3.json" \
	"d['ok'] and d['previous'] and d['previous'] != d['out']"
"$A" talos secrets "$T/none.yaml" --out "$T/x.yaml" --json >"$T/ts4.json" 2>/dev/null
check "talos secrets --json, invalid profile: exit 2" test $? -eq 2
json_check "talos secrets --json, invalid profile: the error names it" "$T/ts4.json" \
	"not d['ok'] and d['exit'] == 2 and 'none.yaml' in d['error']"

# ---- image write / add-config on an image file ------------------------------------------------------
truncate -s 64M "$T/disk.img"
"$ROOT/images/mkimage.sh" --size-mib 16 --boot-mib 4 --fill 50 --seed 5 "$T/talos.raw" >/dev/null 2>&1 ||
	{ not_ok "mkimage"; exit 1; }
"$A" image write "$T/talos.raw" "$T/disk.img" --json >"$T/w0.json" 2>/dev/null
check "image write --json (dry run): exit 0" test $? -eq 0
json_check "image write --json (dry run): source, device, sizes, partitions, apply false" "$T/w0.json" \
	"d['command'] == 'image write' and d['ok'] and d['apply'] is False and d['device'] == '$T/disk.img' and d['deviceSize'] == 64 << 20 and d['imageSize'] > 0 and len(d['partitions']) > 0"
sha=$(sha256sum "$T/talos.raw" | cut -d' ' -f1)
"$A" image write "$T/talos.raw" "$T/disk.img" --sha256 "$sha" --apply --json >"$T/w1.json" 2>"$T/w1.err"
check "image write --apply --json: exit 0" test $? -eq 0
json_check "image write --apply --json: bytes written and verified, the source's hash" "$T/w1.json" \
	"d['ok'] and d['apply'] and d['verified'] == d['imageSize'] and d['written'] + d['zeroed'] + d['skipped'] >= d['imageSize'] and d['sourceSha256'] == '$sha'"
check "image write --apply --json: nothing but the object on stdout" test "$(wc -l <"$T/w1.json")" = 1
"$A" image write "$T/nosuch.raw" "$T/disk.img" --json >"$T/w2.json" 2>/dev/null
check "image write --json, missing source: exit 1" test $? -eq 1
json_check "image write --json failure: valid JSON with the error" "$T/w2.json" \
	"not d['ok'] and d['exit'] == 1 and 'nosuch.raw' in d['error']"
"$A" image write "$T/talos.raw" "$T/disk.img" --sha256 nothex --json >"$T/w3.json" 2>/dev/null
check "image write --json, bad --sha256: exit 2" test $? -eq 2
json_check "image write --json usage error: valid JSON" "$T/w3.json" "d['exit'] == 2 and 'sha256' in d['error']"
head -c 300K /dev/urandom >"$T/vol.iso"
"$A" image add-config "$T/disk.img" --volume "$T/vol.iso" --json >"$T/c0.json" 2>/dev/null
json_check "image add-config --json (dry run): action, partition, apply false" "$T/c0.json" \
	"d['command'] == 'image add-config' and d['ok'] and d['apply'] is False and d['action'] == 'create' and d['name'] == 'metal-iso' and d['size'] >= d['volumeBytes']"
"$A" image add-config "$T/disk.img" --volume "$T/vol.iso" --apply --json >"$T/c1.json" 2>/dev/null
json_check "image add-config --apply --json: the partition written" "$T/c1.json" "d['ok'] and d['apply'] and d['partno'] >= 1"
"$A" image add-config "$T/disk.img" --volume "$T/none.iso" --json >"$T/c2.json" 2>/dev/null
check "image add-config --json, missing volume: exit 2" test $? -eq 2
json_check "image add-config --json failure: valid JSON with the error" "$T/c2.json" "not d['ok'] and 'none.iso' in d['error']"

# ---- image fetch from nginx on 127.0.0.1 -----------------------------------------------------------
schem=$("$A" talos schematic "$P" --id) || { not_ok "schematic id"; exit 1; }
key="$schem/v1.10.5/metal-amd64.raw.zst"
mkdir -p "$T/www/image/$schem/v1.10.5"
zstd -q -3 "$T/talos.raw" -o "$T/www/image/$key"
want=$(sha256sum <"$T/www/image/$key" | cut -d' ' -f1)
nginx_start "$T/www" || { not_ok "nginx starts"; exit 1; }
printf 'pins:\n' >"$T/pins.yaml"
F=(--set "talos.image.mirror=$NGINX_HTTP/" --set "talos.image.pins=$T/pins.yaml" --cache "$T/cache")
"$A" image fetch "$P" "${F[@]}" --json >"$T/f0.json" 2>/dev/null
check "image fetch --json, not pinned: exit 1" test $? -eq 1
json_check "image fetch --json failure: the key and the error" "$T/f0.json" \
	"not d['ok'] and d['key'] == '$key' and 'not pinned' in d['error']"
"$A" image fetch "$P" "${F[@]}" --trust-on-first-use --json >"$T/f1.json" 2>/dev/null
json_check "image fetch --trust-on-first-use --json: downloaded, recorded, full sha256" "$T/f1.json" \
	"d['ok'] and d['source'] == 'download' and d['recorded'] and d['sha256'] == '$want' and d['file'].startswith('$T/cache/')"
"$A" image fetch "$P" "${F[@]}" --json >"$T/f2.json" 2>/dev/null
json_check "image fetch --json, cached and pinned: from the cache" "$T/f2.json" \
	"d['ok'] and d['source'] == 'cache' and not d['recorded'] and d['sha256'] == '$want'"

# ---- the edges: an unknown subcommand still answers in JSON; --help prints only the help ----
"$A" image fetchh --json >"$T/u.json" 2>/dev/null
check "image --json, unknown subcommand: exit 2" test $? -eq 2
json_check "image --json, unknown subcommand: valid JSON naming it" "$T/u.json" "d['command'] == 'image' and 'fetchh' in d['error']"
"$A" image fetch --help --json >"$T/h.out" 2>&1
check "image fetch --help --json: the help text only, no JSON after it" bash -c "grep -q '^usage: appliance image' '$T/h.out' && ! grep -q '\"command\"' '$T/h.out'"
