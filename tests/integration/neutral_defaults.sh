#!/usr/bin/env bash
# Neutral defaults (issue 20 item 1): a new site's profile, written by `appliance init` and
# filled in with a site of its own, carries nothing of the production site: not in the
# effective profile (the built-in defaults merged), not in the rendered GitOps tree, not in
# the Talos machine configs. init writes only what the components it turns on need (no
# MINIO_* without the secondary store), and where the backups go has no default: validate
# asks for it at FILE:LINE with an example. Nothing here talks to a network.
. "$(dirname "$0")/../lib/tap.sh"
A=$APPLIANCE

# What names the production site (spec/immich-deployment.md, spec/site.md): its bucket and
# S3 service, LAN, NAS volumes and share, repository, domains, place, vault paths, MinIO,
# shared Flux sources, NVMe-only pool, node names, gateway namespace and names.
PROD='keiretsu|digitaloceanspaces|nyc3|192\.168\.50\.|unas|home-kubernetes|rajsingh|lukehouge|robbinsdale'
PROD+='|vaults/K8s|minio-hl|immich-postgres-backups|common-settings|common-secrets|America/Chicago'
# its pod and service ranges (the defaults are Talos's own: 10.244.0.0/16, 10.96.0.0/12)
PROD+='|10\.1\.0\.0/16|10\.0\.0\.0/16'
# its LoadBalancer range (site.md); a new site chooses its own (no default)
PROD+='|10\.69\.'
PROD+='|replicated-nvme|deviceClass: nvme|\b(tank|titan|stone|silver)\b|namespace: home$|name: ts$|- ts$|\bts\b.*gateway|share: k8s$|: pics$'

# ---- init: only what the enabled components need ----------------------------------------------
"$A" init --name lake --nodes 3 --out "$T/site.yaml" 2>/dev/null
check "init writes the starter" test -s "$T/site.yaml"
grep -q 'MINIO_' "$T/site.yaml" && not_ok "init writes MINIO_* though the secondary store is off" ||
	ok "init: no MINIO_* variable (the secondary store is off)"
grep -q '^    COMMON_S3_ACCESS_KEY: s3AccessKey$' "$T/site.yaml" && ok "init: the primary store's S3 variables" ||
	not_ok "init: COMMON_S3_ACCESS_KEY missing"

# the starter filled in with a site of its own (addresses: 127.0.0.1 and a documentation LAN)
/usr/bin/python3 - "$T/site.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
n = {"i": 0}
def node(m):
    n["i"] += 1
    return m.group(1) + ('"52:54:00:00:00:%02x"' % n["i"]) + m.group(2)
s = re.sub(r'(macs: \[)"<CHOOSE[^"]*"(\])', node, s)
s = re.sub(r'(installDisk: \{serial: )"<CHOOSE[^"]*"(\})', lambda m: m.group(1) + '"LAKE-DISK"' + m.group(2), s)
choices = [("domains", '["lake.example"]'), ("cidr", "192.0.2.0/24"), ("gateway", "192.0.2.1"),
           ("endpoint", "https://k8s.lake.example:6443"), ("vip", "192.0.2.25"), ("address", "127.0.0.1"),
           ("cidr", "192.0.2.240/28"),
           ("share", "media"), ("photos", "photos"), ("library", "immich"),
           ("url", "http://127.0.0.1:3000/lake/cluster.git"), ("endpoint", "http://127.0.0.1:9000"),
           ("destinationPath", "s3://lake-backups/${LOCATION}/immich/")]
for key, val in choices:
    s, k = re.subn(r'(\n\s*%s: )\[?"[^"\n]*<CHOOSE[^"\n]*"\]?' % key, lambda m: m.group(1) + val, s, count=1)
    assert k == 1, key
assert "<CHOOSE" not in re.sub(r"#.*", "", s)
open(p, "w").write(s)
PY
check "the starter filled in" test $? -eq 0
check "the filled-in starter validates" "$A" validate "$T/site.yaml"

# ---- nothing of the production site -----------------------------------------------------------------
# the effective profile: every built-in default a new site gets
"$A" config "$T/site.yaml" >"$T/config.yaml" 2>"$T/config.err"
check "config of the new site" test -s "$T/config.yaml"
if grep -nEi "$PROD" "$T/config.yaml" >"$T/hits"; then
	not_ok "the effective profile names the production site"
	sed 's/^/#   /' "$T/hits" | head -20
else
	ok "the effective profile (defaults merged) names nothing of the production site"
fi
# the ranges a new site gets: Talos's own (pkg/machinery/constants DefaultIPv4PodNet,
# DefaultIPv4ServiceNet); no LoadBalancer range but the one the site chose
for kv in 'podCIDR: 10.244.0.0/16' 'serviceCIDR: 10.96.0.0/12'; do
	grep -q "^  $kv\$" "$T/config.yaml" && ok "the new site's $kv" || not_ok "the new site's ${kv%%:*} is not ${kv#*: }"
done
grep -q 'loadBalancerCIDR' "$T/config.yaml" && not_ok "the new site has a built-in talos.loadBalancerCIDR" ||
	ok "no built-in LoadBalancer range"
# an assertion that can fail: the production profile's own effective profile is caught
"$A" config "$ROOT/profiles/immich.yaml" 2>/dev/null | grep -Eiq "$PROD" &&
	ok "the same grep finds the production facts in profiles/immich.yaml" ||
	not_ok "the production grep finds nothing in profiles/immich.yaml"

"$A" render "$T/site.yaml" --out "$T/gitops" >"$T/render.out" 2>&1
check "render of the new site" test -d "$T/gitops/clusters/talos-lake"
if grep -rnEi "$PROD" "$T/gitops" >"$T/hits" || find "$T/gitops" | grep -Ei "$PROD" >>"$T/hits"; then
	not_ok "the rendered tree names the production site"
	sed 's/^/#   /' "$T/hits" | head -20
else
	ok "the rendered tree (files and their names) names nothing of the production site"
fi
grep -qx -- '  - cidr: 192.0.2.240/28' "$T/gitops/clusters/talos-lake/platform/cilium-lb/app/pool.yaml" &&
	[ -s "$T/gitops/clusters/talos-lake/platform/cilium-lb/app/l2.yaml" ] &&
	ok "the LoadBalancer pool is the site's range, announced with l2" || not_ok "the LB pool is not the site's"
grep -rqF 'destinationPath: "s3://lake-backups/${LOCATION}/immich/"' "$T/gitops" &&
	ok "the backups go where the site said" || not_ok "the ObjectStore is not the site's"

# the secrets the configs carry: test stand-ins beside the profile and in the environment
mkdir -p "$T/secrets"
echo "deploy key (test)" >"$T/secrets/deploy-key"
echo "sops key (test)" >"$T/secrets/sops-gpg.asc"
export NAS_USERNAME=test NAS_PASSWORD=test S3_ACCESS_KEY=test S3_SECRET_KEY=test
"$A" talos secrets "$T/site.yaml" --out "$T/talos-secrets.yaml" >"$T/ts" 2>&1
FP=$(sed -n 's/^OS CA fingerprint: //p' "$T/ts")
"$A" talos gen "$T/site.yaml" --secrets "$T/talos-secrets.yaml" --out "$T/talos" \
	--set "talos.caFingerprint=$FP" >"$T/gen.out" 2>&1
[ -s "$T/talos/lake-1.yaml" ] && ok "talos gen of the new site (init names the nodes lake-1, ...)" || { not_ok "talos gen"; sed 's/^/#   /' "$T/gen.out" | tail -3; }
if grep -rnEi "$PROD" "$T/talos" >"$T/hits"; then
	not_ok "the Talos configs name the production site"
	sed 's/^/#   /' "$T/hits" | head -20
else
	ok "the Talos machine configs name nothing of the production site"
fi

cp "$T/site.yaml" "$T/full.yaml"

# ---- where the backups go: required, with an example ---------------------------------------------
# the starter's apps block (only the backup location) taken out
sed -i -e '/^apps:/,/^$/d' "$T/site.yaml"
grep -q '^apps:' "$T/site.yaml" && not_ok "apps block still there"
"$A" validate "$T/site.yaml" >"$T/v" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -qE "site.yaml:[0-9]+:[0-9]+: error: apps.immich.database.primary.destinationPath: required: .*e\.g\. 's3://" "$T/v" &&
	grep -qE "site.yaml:[0-9]+:[0-9]+: error: apps.immich.database.primary.endpoint: required: .*e\.g\. 'https://" "$T/v" &&
	[ "$(grep -c ': error: ' "$T/v")" = 2 ] &&
	ok "no backup location: validate names both keys at FILE:LINE with an example, exit 2" ||
	{ not_ok "no backup location (exit $rc)"; sed 's/^/#   /' "$T/v" | head -5; }
# the second store asks for its own location and variables once it is turned on
"$A" validate "$T/site.yaml" --set apps.immich.database.primary.endpoint=http://127.0.0.1:9000 \
	--set 'apps.immich.database.primary.destinationPath=s3://b/' \
	--set apps.immich.database.secondary.enabled=true >"$T/v2" 2>&1
grep -c ': error: apps.immich.database.secondary.' "$T/v2" | grep -qx 4 &&
	grep -q "secondary.accessKeyVar: variable 'MINIO_ACCESS_KEY' is not provided by site.secretVars" "$T/v2" &&
	ok "secondary on: its location and its MINIO_* variables are asked for" ||
	{ not_ok "secondary on"; sed 's/^/#   /' "$T/v2" | head -6; }
# the NAS share and its folders have no default either
"$A" validate "$T/site.yaml" --set nas.share=null --set nas.photos=null >"$T/v3" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -qE "site.yaml:[0-9]+:[0-9]+: error: nas.share: required: .*e\.g\. 'media'" "$T/v3" &&
	grep -qE "site.yaml:[0-9]+:[0-9]+: error: nas.photos: required: .*e\.g\. 'photos'" "$T/v3" &&
	ok "no NAS share or photo folder: validate names each with an example" ||
	{ not_ok "no NAS share (exit $rc)"; sed 's/^/#   /' "$T/v3" | head -5; }
# without the app nothing is asked
check "apps.immich off: no backup location needed" "$A" validate "$T/site.yaml" --set apps.immich.enabled=false

# ---- the LoadBalancer range: required while the pool is rendered, with an example ----------------
# the filled-in starter's platform block (only the range and its announcement) taken out
sed -e '/^platform:/,/^$/d' "$T/full.yaml" >"$T/site.yaml"
grep -q '^platform:' "$T/site.yaml" && not_ok "platform block still there"
"$A" validate "$T/site.yaml" >"$T/v4" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -qE "site.yaml:[0-9]+:[0-9]+: error: platform.cilium.loadBalancer.cidr: required: set it to a free range of your LAN, e\.g\. 192\.168\.1\.240/28, announced with l2" "$T/v4" &&
	[ "$(grep -c ': error: ' "$T/v4")" = 1 ] &&
	ok "no LoadBalancer range: validate names platform.cilium.loadBalancer.cidr with an example, exit 2" ||
	{ not_ok "no LoadBalancer range (exit $rc)"; sed 's/^/#   /' "$T/v4" | head -5; }
# a range nothing announces: valid, but warned about (unreachable from the LAN)
"$A" validate "$T/site.yaml" --set platform.cilium.loadBalancer.cidr=192.0.2.240/28 >"$T/v5" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -qE "warning: platform.cilium.loadBalancer.cidr: nothing announces the LoadBalancer range 192\.0\.2\.240/28: its addresses will be unreachable from the LAN" "$T/v5" &&
	ok "a range without announce: warned about, still valid" ||
	{ not_ok "a range without announce (exit $rc)"; sed 's/^/#   /' "$T/v5" | head -5; }
"$A" validate "$T/site.yaml" --set platform.cilium.loadBalancer.cidr=192.0.2.240/28 \
	--set platform.cilium.loadBalancer.announce=l2 >"$T/v6" 2>&1
grep -q 'nothing announces' "$T/v6" && not_ok "warned though the range is announced" ||
	ok "an announced range: no warning"

tap_done 2>/dev/null || true
