#!/usr/bin/env bash
# appliance render: golden trees, schema validation of every document,
# determinism, --check/--diff/--json/--only app, foreign files, recovery, and
# one profile per consistency rule (each breaks one reference with --set).
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT" || exit 1
VALIDATE="/usr/bin/python3 $ROOT/tests/lib/k8s_validate.py"
GOLDEN=$ROOT/tests/golden/render

# ---- CLI contract ------------------------------------------------------------
expect_out "--help prints usage and exits 0" '^usage: appliance render PROFILE' "$APPLIANCE" render --help
check "--help exit code 0" "$APPLIANCE" render --help
expect_fail "unknown option is a usage error" 2 "$APPLIANCE" render profiles/demo.yaml --bogus
expect_out "unknown option message" "^appliance render: unknown option '--bogus'" "$APPLIANCE" render profiles/demo.yaml --bogus
expect_fail "no profile is a usage error" 2 "$APPLIANCE" render --out "$T/x"
expect_fail "--only takes only 'app'" 2 "$APPLIANCE" render profiles/demo.yaml --out "$T/x" --only platform
expect_out "--only message" "^appliance render: --only: expected 'app', got 'platform'" "$APPLIANCE" render profiles/demo.yaml --out "$T/x" --only platform
expect_fail "--server-name needs --recovery" 2 "$APPLIANCE" render profiles/demo.yaml --out "$T/x" --server-name s
expect_fail "--check and --diff exclude each other" 2 "$APPLIANCE" render profiles/demo.yaml --out "$T/x" --check --diff

# ---- golden trees, schemas, determinism ------------------------------------------
for p in immich demo; do
	out=$T/$p
	check "$p: render writes the tree" "$APPLIANCE" render "profiles/$p.yaml" --out "$out"
	if diff -r "$GOLDEN/$p" "$out" >"$T/golden.diff" 2>&1; then
		ok "$p: tree equals tests/golden/render/$p"
	else
		not_ok "$p: tree differs from tests/golden/render/$p (make render-golden to accept)"
		head -40 "$T/golden.diff" | sed 's/^/#   /'
	fi
	mapfile -t files < <(cd "$out" && find . -name '*.yaml' | sort)
	if (cd "$out" && $VALIDATE --vars "$(find . -name cluster-settings.yaml)" "${files[@]}") >"$T/val.out" 2>&1; then
		ok "$p: every document validates ($(tail -1 "$T/val.out"))"
	else
		not_ok "$p: schema validation"
		sed 's/^/#   /' "$T/val.out" | head -30
	fi
	if grep -q 'NO SCHEMA' "$T/val.out"; then not_ok "$p: kinds without schema: $(grep 'NO SCHEMA' "$T/val.out")"; else ok "$p: every kind has a schema"; fi
	(cd "$out" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/sum1"
	expect_rc_out "$p: second render writes nothing" 0 ': 0 written, [0-9]+ unchanged$' "$APPLIANCE" render "profiles/$p.yaml" --out "$out"
	(cd "$out" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/sum2"
	if cmp -s "$T/sum1" "$T/sum2"; then ok "$p: second render is byte-identical"; else not_ok "$p: second render changed bytes"; fi
	check "$p: --check on the result exits 0" "$APPLIANCE" render "profiles/$p.yaml" --out "$out" --check
done

# the tree is buildable: every kustomization.yaml entry exists, every file is listed by its
# directory's kustomization.yaml, and every Flux Kustomization path is a directory with one
cat >"$T/layout.py" <<'PY'
import os, sys, yaml
top = sys.argv[1]
root = os.path.join(top, sys.argv[2])
bad = []
listed = set()
for d, _, fs in os.walk(root):
    if "kustomization.yaml" not in fs:
        bad.append(f"{d}: no kustomization.yaml"); continue
    k = yaml.safe_load(open(os.path.join(d, "kustomization.yaml")))
    for r in k.get("resources", []):
        if "://" in r: continue
        p = os.path.normpath(os.path.join(d, r)); listed.add(p)
        if not (os.path.isfile(p) or os.path.isfile(os.path.join(p, "kustomization.yaml"))):
            bad.append(f"{d}/kustomization.yaml: {r} does not exist")
paths = set()
for d, _, fs in os.walk(root):
    for f in fs:
        full = os.path.join(d, f)
        if f == "kustomization.yaml": continue
        if full not in listed: bad.append(f"{full}: not listed by {d}/kustomization.yaml")
        for doc in yaml.safe_load_all(open(full)):
            if doc and doc["kind"] == "Kustomization" and doc["apiVersion"].startswith("kustomize.toolkit"):
                paths.add(doc["spec"]["path"].replace("${CLUSTER_NAME}", sys.argv[3]))
for p in sorted(paths):
    d = os.path.join(top, p)
    if not os.path.isfile(os.path.join(d, "kustomization.yaml")):
        bad.append(f"Flux path {p}: no kustomization.yaml")
# every app/ directory is reconciled by some Flux Kustomization
for d, _, fs in os.walk(root):
    if os.path.basename(d) == "app" and "./" + os.path.relpath(d, top) not in paths:
        bad.append(f"{d}: no Flux Kustomization reconciles it")
print("\n".join(bad) or f"ok: {len(paths)} Flux paths")
sys.exit(1 if bad else 0)
PY
check "immich: tree layout is buildable" /usr/bin/python3 "$T/layout.py" "$T/immich" clusters/talos-robbinsdale talos-robbinsdale
check "demo: tree layout is buildable" /usr/bin/python3 "$T/layout.py" "$T/demo" clusters/talos-demo talos-demo

# kustomize builds every directory Flux reconciles (offline; remote bases are left out)
if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
	for p in immich demo; do
		bad=0 n=0
		while read -r k; do
			d=$(dirname "$k")
			if grep -q '://' "$k"; then diag "$p: not built offline (remote resource): ${d#"$T/"}"; continue; fi
			n=$((n + 1))
			kubectl kustomize "$d" >"$T/kbuild.yaml" 2>"$T/kbuild.err" || { bad=1; diag "kustomize build ${d#"$T/"}: $(head -3 "$T/kbuild.err")"; }
		done < <(find "$T/$p" -path '*/app/kustomization.yaml' | sort; find "$T/$p" -maxdepth 3 -path '*/clusters/*/kustomization.yaml')
		if [ "$bad" -eq 0 ] && [ "$n" -gt 5 ]; then ok "$p: kubectl kustomize builds all $n Flux paths"; else not_ok "$p: kustomize build"; fi
	done
	# what kustomize builds for every Flux path validates after Flux-style substitution
	for p in immich demo; do
		rm -f "$T/built-"*.yaml
		i=0
		while read -r k; do
			d=$(dirname "$k")
			grep -q '://' "$k" && continue
			i=$((i + 1))
			kubectl kustomize "$d" >"$T/built-$i.yaml" 2>/dev/null
		done < <(find "$T/$p" -name kustomization.yaml | sort)
		if (cd "$T" && $VALIDATE --vars "$(find "$T/$p" -name cluster-settings.yaml)" built-*.yaml) >"$T/val.out" 2>&1; then
			ok "$p: everything kubectl kustomize builds validates ($(tail -1 "$T/val.out"))"
		else
			not_ok "$p: built output validation"; sed 's/^/#   /' "$T/val.out" | head
		fi
	done
else
	ok "kubectl kustomize build # SKIP kubectl not installed"
fi

# docs/render.md carries the generated graph of the Kustomizations, unchanged
"$APPLIANCE" render profiles/immich.yaml --graph >"$T/graph.md"
sed -n '/^<!-- graph:begin -->$/,/^<!-- graph:end -->$/p' docs/render.md | sed '1d;$d' >"$T/graph.doc"
if [ -s "$T/graph.md" ] && cmp -s "$T/graph.md" "$T/graph.doc"; then
	ok "docs/render.md's Kustomization graph equals render --graph"
else
	not_ok "docs/render.md's graph differs from render --graph (paste the output between the markers)"
	diff "$T/graph.doc" "$T/graph.md" | head -10 | sed 's/^/#   /'
fi
grep -q '^| `immich` | `cloudnative-pg`, .*`gateways`, `prometheus-operator-crds` | - | HelmRelease Ready, CNPG Cluster Ready' "$T/graph.md" &&
	ok "--graph: immich waits for the gateways and the monitoring CRDs" || not_ok "--graph: immich row"

# The production facts (spec values with their YAML types, read back by PyYAML, YAML 1.1)
# are one table: tests/integration/spec_facts.sh. Here only what is not a site fact.
cat >"$T/readback.py" <<'PY'
import sys, yaml
docs = {}
for f in sys.argv[1:]:
    for d in yaml.safe_load_all(open(f)):
        if d: docs[(d["kind"], d["metadata"]["name"] if "metadata" in d else f)] = d
hr = docs[("HelmRelease", "immich")]
assert hr["spec"]["timeout"] == "15m", hr["spec"].get("timeout")  # releaseTimeout: Helm's wait
ks = docs[("Kustomization", "immich")]
assert ks["spec"]["wait"] is True and ks["spec"]["retryInterval"] == "1m", ks["spec"]
print("ok")
PY
# the Cilium HelmRelease carries exactly the profile's values, with their YAML types
cat >"$T/cilium.py" <<'PY'
import sys, yaml
hr = yaml.safe_load(open(sys.argv[1]).read().split("\n", 1)[1])
v = hr["spec"]["values"]
assert hr["metadata"] == {"name": "cilium", "namespace": "kube-system"}, hr["metadata"]
assert hr["spec"]["releaseName"] == "cilium" and hr["spec"]["chart"]["spec"]["version"] == "1.18.0"
assert v["ipam"] == {"mode": "kubernetes"} and v["kubeProxyReplacement"] is True
assert v["k8sServiceHost"] == "localhost" and v["k8sServicePort"] == 7445
assert v["cgroup"] == {"autoMount": {"enabled": False}, "hostRoot": "/sys/fs/cgroup"}
assert "SYS_MODULE" not in v["securityContext"]["capabilities"]["ciliumAgent"]
assert v["bgpControlPlane"] == {"enabled": True}, v
print("ok")
PY
check "immich: the Cilium HelmRelease has the profile's values (Talos' required ones included)" \
	/usr/bin/python3 "$T/cilium.py" "$T/immich/clusters/talos-robbinsdale/platform/cilium/app/helmrelease.yaml"
app=$T/immich/clusters/talos-robbinsdale/apps/immich
check "immich: the release timeout and the Kustomization wait read back (PyYAML, YAML 1.1)" /usr/bin/python3 "$T/readback.py" "$app"/app/*.yaml "$app"/ks.yaml

# every file reads the same with a YAML 1.1 reader (PyYAML) and a YAML 1.2 reader (ruamel.yaml)
cat >"$T/readers.py" <<'PY'
import sys, yaml
from ruamel.yaml import YAML
y12 = YAML(typ="safe", pure=True)
want = dict(a.split("=", 1) for a in sys.argv[1].split(",") if a)
seen = {}
for f in sys.argv[2:]:
    a = list(yaml.safe_load_all(open(f)))
    b = list(y12.load_all(open(f)))
    assert a == b, f"{f}: YAML 1.1 and 1.2 readers disagree"
    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(v, str): seen.setdefault(k, set()).add(v)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                if isinstance(v, str): seen.setdefault("[]", set()).add(v)
                walk(v)
    for d in a: walk(d)
for k, v in want.items():
    assert v in seen.get(k, ()), f"{k}: {v!r} not read back as a string (have {seen.get(k)})"
print("ok")
PY
for p in immich demo; do
	mapfile -t files < <(find "$T/$p" -name '*.yaml' | sort)
	check "$p: YAML 1.1 and 1.2 readers read every file the same" /usr/bin/python3 "$T/readers.py" "" "${files[@]}"
done
tricky=(--set apps.immich.route.homerName=on --set apps.immich.route.homerCategory=0777
	--set apps.immich.route.homerIcon=0x1F --set apps.immich.route.homerDescription=23:00
	--set apps.immich.route.homerKeywords=1.10 --set 'apps.immich.route.hostnames[0]=yes' --set 'site.domains[0]=yes'
	--set gitops.branch=no --set site.vars.EXTRA=1e3)
check "render with ambiguous scalars (on, 0777, 0x1F, 23:00, 1.10, yes, no, 1e3)" "$APPLIANCE" render profiles/immich.yaml --out "$T/tricky" "${tricky[@]}"
mapfile -t files < <(find "$T/tricky" -name '*.yaml' | sort)
check "ambiguous scalars read back as the same strings by YAML 1.1 and 1.2 readers" /usr/bin/python3 "$T/readers.py" \
	"item.homer.rajsingh.info/name=on,item.homer.rajsingh.info/category=0777,item.homer.rajsingh.info/icon=0x1F,item.homer.rajsingh.info/description=23:00,item.homer.rajsingh.info/keywords=1.10,[]=yes,branch=no,EXTRA=1e3" "${files[@]}"

# yemit's random-string property test, dumped: both readers read every string back unchanged
[ -x "$ROOT/build/tests/base/test_yemit" ] || make -C "$ROOT" -s build/tests/base/test_yemit >/dev/null 2>&1
if [ -x "$ROOT/build/tests/base/test_yemit" ]; then
	YEMIT_DUMP=$T/yemit "$ROOT/build/tests/base/test_yemit" >/dev/null 2>&1
	check "yemit: 3000 random hostile strings read back the same by YAML 1.1 and 1.2 readers" /usr/bin/python3 -c '
import json, sys, yaml
from ruamel.yaml import YAML
want = json.load(open(sys.argv[1] + ".json"))
a = yaml.safe_load(open(sys.argv[1] + ".yaml"))
b = YAML(typ="safe", pure=True).load(open(sys.argv[1] + ".yaml"))
bad = [(w, x, y) for w, x, y in zip(want, a, b) if not (w == x == y)]
assert len(a) == len(b) == len(want) == 3000 and not bad, bad[:5]
' "$T/yemit"
else
	not_ok "yemit reader check: cannot build build/tests/base/test_yemit"
fi

# ---- drift: --check / --diff / --json ------------------------------------------------
out=$T/immich
pg=clusters/talos-robbinsdale/apps/immich/app/pg.yaml
sed -i 's/instances: 1/instances: 2/' "$out/$pg"
expect_fail "--check exits 1 after a file is edited" 1 "$APPLIANCE" render profiles/immich.yaml --out "$out" --check
expect_out "--check lists the drifted file" "^changed $pg\$" "$APPLIANCE" render profiles/immich.yaml --out "$out" --check
expect_fail "--diff exits 1 on drift" 1 "$APPLIANCE" render profiles/immich.yaml --out "$out" --diff
expect_out "--diff shows a unified diff" '^\+  instances: 1$' "$APPLIANCE" render profiles/immich.yaml --out "$out" --diff
"$APPLIANCE" render profiles/immich.yaml --out "$out" --check --json >"$T/check.json"
if /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
bad = [f["path"] for f in j["files"] if f["state"] != "unchanged"]
assert j["mode"] == "check" and j["drifted"] == 1 and bad == [sys.argv[2]], (j["drifted"], bad)
assert j["stale"] == []
assert all(len(f["sha256"]) == 64 for f in j["files"])
' "$T/check.json" "$pg"; then ok "--check --json names the drifted file"; else not_ok "--check --json"; fi
rm "$out/clusters/talos-robbinsdale/apps/immich/app/redis.yaml"
expect_rc_out "--check lists a missing file" 1 '^missing clusters/talos-robbinsdale/apps/immich/app/redis.yaml$' "$APPLIANCE" render profiles/immich.yaml --out "$out" --check
expect_rc_out "render repairs drift" 0 ': 2 written, [0-9]+ unchanged$' "$APPLIANCE" render profiles/immich.yaml --out "$out"
check "--check exits 0 again" "$APPLIANCE" render profiles/immich.yaml --out "$out" --check

# ---- stale generated files: listed by --check, removed by render ---------------------
S=(--set platform.volsync.enabled=false --set 'apps.immich.dependsOn[3]=rook-ceph')
expect_fail "--check after disabling a component exits 1" 1 "$APPLIANCE" render profiles/immich.yaml --out "$out" "${S[@]}" --check
expect_out "--check lists its files as stale" '^stale clusters/talos-robbinsdale/platform/volsync/app/helmrelease.yaml$' "$APPLIANCE" render profiles/immich.yaml --out "$out" "${S[@]}" --check
expect_rc_out "render removes them" 0 '^removed clusters/talos-robbinsdale/flux/repositories/volsync.yaml \(no longer rendered\)$' "$APPLIANCE" render profiles/immich.yaml --out "$out" "${S[@]}"
if [ -z "$(find "$out" -path '*volsync*')" ]; then ok "no volsync file or directory left"; else not_ok "volsync files left"; fi
check "--check clean after disabling" "$APPLIANCE" render profiles/immich.yaml --out "$out" "${S[@]}" --check
check "render back to the profile" "$APPLIANCE" render profiles/immich.yaml --out "$out"
check "--check clean again" "$APPLIANCE" render profiles/immich.yaml --out "$out" --check

# ---- files the tool did not generate are left alone ------------------------------------
echo "keep me" >"$out/clusters/talos-robbinsdale/apps/immich/app/extra.yaml"
echo "mine" >"$out/notes.md"
printf 'kind: Mine\n' >"$out/$pg"
expect_fail "a foreign file at a rendered path: render refuses" 1 "$APPLIANCE" render profiles/immich.yaml --out "$out"
expect_out "... and names it" "^appliance: render: '$out/$pg' was not generated by appliance render; refusing to overwrite it\$" "$APPLIANCE" render profiles/immich.yaml --out "$out"
if [ "$(cat "$out/$pg")" = "kind: Mine" ]; then ok "foreign file untouched"; else not_ok "foreign file was overwritten"; fi
expect_rc_out "--check reports it as foreign" 1 "^foreign $pg\$" "$APPLIANCE" render profiles/immich.yaml --out "$out" --check
rm "$out/$pg"
check "render after removing it" "$APPLIANCE" render profiles/immich.yaml --out "$out"
if [ "$(cat "$out/clusters/talos-robbinsdale/apps/immich/app/extra.yaml")" = "keep me" ] && [ "$(cat "$out/notes.md")" = mine ]; then
	ok "unrelated files untouched"
else
	not_ok "unrelated files changed"
fi

# ---- --json, --only app, recovery --------------------------------------------------
"$APPLIANCE" render profiles/demo.yaml --out "$T/j" --json >"$T/w.json"
if /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["mode"] == "write" and j["written"] is True and j["objects"] > 50
assert all(f["state"] == "new" for f in j["files"])
' "$T/w.json"; then ok "--json describes the written files"; else not_ok "--json"; fi
check "--only app renders" "$APPLIANCE" render profiles/immich.yaml --out "$T/only" --only app
n=$(cd "$T/only" && find . -type f | grep -vc '^./clusters/talos-robbinsdale/apps/immich/')
if [ "$n" -eq 0 ] && [ -f "$T/only/clusters/talos-robbinsdale/apps/immich/app/helmrelease.yaml" ] && [ ! -e "$T/only/clusters/talos-robbinsdale/flux" ]; then
	ok "--only app writes only apps/immich"
else
	not_ok "--only app wrote $n files outside apps/immich"
fi
if diff -r "$GOLDEN/immich/clusters/talos-robbinsdale/apps/immich" "$T/only/clusters/talos-robbinsdale/apps/immich" >/dev/null; then
	ok "--only app: same app files as the full render"
else
	not_ok "--only app differs from the full render"
fi
check "--recovery renders" "$APPLIANCE" render profiles/immich.yaml --out "$T/rec" --recovery --server-name immich-postgres-r2
rpg=$T/rec/clusters/talos-robbinsdale/apps/immich/app/pg.yaml
if grep -q '^      source: origin$' "$rpg" && grep -q '^      serverName: immich-postgres-r2$' "$rpg" && ! grep -q initdb "$rpg"; then
	ok "--recovery: bootstrap.recovery, new serverName"
else
	not_ok "--recovery output"
	sed 's/^/#   /' "$rpg"
fi
(cd "$T/rec" && $VALIDATE clusters/talos-robbinsdale/apps/immich/app/pg.yaml) >"$T/val.out" 2>&1 && ok "--recovery: pg.yaml validates" || { not_ok "--recovery: pg.yaml validation"; sed 's/^/#   /' "$T/val.out"; }
grep -q '^        serverName: immich-postgresql-ceph$' "$rpg" && ok "--recovery: restores from the production archive immich-postgresql-ceph" || not_ok "--recovery: source serverName"
grep -q '^      database: immich$' "$rpg" && grep -q '^      owner: immich$' "$rpg" && grep -q '^        name: immich-postgres-user$' "$rpg" &&
	ok "--recovery: bootstrap.recovery sets database, owner and secret" || not_ok "--recovery: database/owner/secret"
[ -f "$T/rec/clusters/talos-robbinsdale/apps/immich/app/pg-restore.yaml" ] && ok "--recovery: the restore Cluster is rendered" || not_ok "--recovery: no pg-restore.yaml"
[ ! -e "$T/immich/clusters/talos-robbinsdale/apps/immich/app/pg-restore.yaml" ] && ok "normal render: no restore Cluster (a fresh archive is empty)" || not_ok "normal render has pg-restore.yaml"
# the MinIO object store is opt-in (off by default); production turns it on (the spec's s3-backup-minio.yaml)
[ ! -e "$T/demo/clusters/talos-demo/apps/immich/app/s3-backup-minio.yaml" ] && ok "the MinIO object store is opt-in (off by default)" || not_ok "MinIO store rendered by default"
grep -q '^    endpointURL: http://minio-hl.home.svc.cluster.local:9000$' "$T/immich/clusters/talos-robbinsdale/apps/immich/app/s3-backup-minio.yaml" 2>/dev/null &&
	grep -q '^- s3-backup-minio.yaml$' "$T/immich/clusters/talos-robbinsdale/apps/immich/app/kustomization.yaml" &&
	ok "production: the MinIO secondary store (s3-backup-minio.yaml) is rendered and listed" || not_ok "production: no s3-backup-minio.yaml"
expect_fail "--recovery into the source archive is refused" 2 "$APPLIANCE" render profiles/immich.yaml --out "$T/rec2" --recovery --server-name immich-postgresql-ceph
expect_out "... with the reason" "recovery would write new backups under serverName 'immich-postgresql-ceph', the archive it recovers from" "$APPLIANCE" render profiles/immich.yaml --out "$T/rec2" --recovery --server-name immich-postgresql-ceph
[ -e "$T/rec2" ] && not_ok "refused recovery wrote files" || ok "refused recovery wrote nothing"

# ---- consistency: one broken reference per rule, nothing written --------------------------
R="clusters/talos-robbinsdale/apps/immich"
rule() {
	local name=$1 set=$2 msg=$3 dir=$T/rule-$_tap_n
	shift 3
	"$APPLIANCE" render profiles/immich.yaml --out "$dir" --set "$set" "$@" >"$T/.out" 2>&1
	local rc=$?
	if [ "$rc" -eq 2 ] && grep -qF -- "$msg" "$T/.out" && [ ! -e "$dir" ]; then
		ok "rule: $name"
	else
		not_ok "rule: $name (exit $rc)"
		sed 's/^/#   /' "$T/.out" | head -10
	fi
}
rule "HelmRelease database secret exists" apps.immich.database.secret=other \
	"appliance: render: HelmRelease immich/immich ($R/app/helmrelease.yaml) refers to Secret or OnePasswordItem 'immich/other' (set by apps.immich.database.secret), but no such object is rendered"
rule "HelmRelease redis secret exists" apps.immich.redis.secret=other \
	"appliance: render: Dragonfly immich/dragonfly-immich ($R/app/redis.yaml) refers to Secret or OnePasswordItem 'immich/other' (set by apps.immich.redis.secret), but no such object is rendered"
rule "SMB volumes need the SMB CSI driver" platform.smbCsi.enabled=false \
	"appliance: render: PersistentVolume immich-unas-pics uses CSI driver 'smb.csi.k8s.io' (apps.immich.storage.driver), but platform.smbCsi is disabled: nothing installs the driver or its node-stage Secret"
rule "HTTPRoute gateways exist" 'apps.immich.route.gateways[1]=other' \
	"appliance: render: HTTPRoute immich/immich ($R/app/httproute.yaml) refers to Gateway 'home/other' (set by apps.immich.route.gateways), but no such object is rendered"
rule "gateway names as configured" platform.gateway.public=web \
	"appliance: render: HTTPRoute immich/immich ($R/app/httproute.yaml) refers to Gateway 'home/public' (set by apps.immich.route.gateways), but no such object is rendered"
rule "dependsOn names a rendered Kustomization" 'apps.immich.dependsOn[0]=nope' \
	"appliance: render: Kustomization flux-system/immich ($R/ks.yaml) refers to Kustomization 'flux-system/nope' (set by apps.immich.dependsOn), but no such object is rendered"
rule "dependsOn component is enabled" platform.volsync.enabled=false \
	"appliance: render: Kustomization flux-system/immich ($R/ks.yaml) refers to Kustomization 'flux-system/volsync' (set by apps.immich.dependsOn), but no such object is rendered"
rule "database StorageClass exists" apps.immich.database.storageClass=other \
	"appliance: render: Cluster immich/immich-postgres ($R/app/pg.yaml) refers to StorageClass 'other' (set by apps.immich.database.storageClass), but no such object is rendered"
rule "no duplicate Cluster" apps.immich.database.restoreCluster=immich-postgres \
	"appliance: render: Cluster immich/immich-postgres is defined twice: in $R/app/pg.yaml and in $R/app/pg-restore.yaml" --recovery
rule "no duplicate volume" apps.immich.storage.photos.name=immich-unas \
	"appliance: render: PersistentVolume immich-unas is defined twice: in $R/app/unas.yaml and in $R/app/unas.yaml"
rule "no duplicate OnePasswordItem" apps.immich.redisItem.name=immich-postgres-user \
	"appliance: render: OnePasswordItem immich/immich-postgres-user is defined twice: in $R/app/secret.yaml and in $R/app/secret.yaml"
rule "BGP announcements need Cilium's BGP control plane" platform.cilium.values.bgpControlPlane.enabled=false \
	"appliance: render: platform.cilium.loadBalancer.announce is bgp, but platform.cilium.values.bgpControlPlane.enabled is not true: Cilium would not peer with the router"
rule "L2 announcements only for a pool inside the LAN" platform.cilium.loadBalancer.announce=l2 \
	"appliance: render: platform.cilium.loadBalancer.cidr '10.69.0.0/16' is not inside site.lan.cidr '192.168.50.0/24': L2 announcements only reach addresses on the LAN (use announce: bgp for a routed pool)"
rule "BGP needs the peer" platform.cilium.loadBalancer.bgp.peerAddress=null \
	"appliance: render: platform.cilium.loadBalancer.announce is bgp: set platform.cilium.loadBalancer.bgp.localASN, .peerASN and .peerAddress"
# ---- the reconcile check: one rule each -----------------------------------------------------
P="clusters/talos-robbinsdale/platform"
rule "a kind's CRD comes from a Kustomization it waits for" 'apps.immich.dependsOn[7]=volsync' \
	"appliance: render: Kustomization immich applies HTTPRoute immich/immich ($R/app/httproute.yaml) but does not wait for 'envoy-gateway', which installs its CRD: add 'envoy-gateway' to apps.immich.dependsOn"
rule "ServiceMonitors need the monitoring CRDs first" 'apps.immich.dependsOn[8]=volsync' \
	"appliance: render: Kustomization immich applies ServiceMonitor (from apps.immich.metrics) ($R/app/helmrelease.yaml) but does not wait for 'prometheus-operator-crds', which installs its CRD: add 'prometheus-operator-crds' to apps.immich.dependsOn"
rule "a kind whose installer is disabled" platform.certManager.enabled=false \
	"appliance: render: Issuer (from platform.barmanPlugin.manifest) ($P/barman-cloud-plugin/app/kustomization.yaml) needs the CRD of Issuer, but platform.certManager is disabled: enable it or remove what uses it"
rule "every Kustomization has retryInterval and timeout" gitops.retryInterval=null \
	"appliance: render: Kustomization cluster (clusters/talos-robbinsdale/flux/cluster.yaml) has no retryInterval or timeout: a failure would wait the whole interval; set gitops.retryInterval and gitops.timeout"
rule "every variable resolves" 'apps.immich.database.primary.destinationPath=s3://bucket/${LOCATION}/${NOPE}/' \
	"undefined variable \${NOPE}; define it under site.vars or site.secretVars"
rule "the required substitution ConfigMap is named" gitops.settingsConfigMap=null \
	"appliance: gitops.flux.namespace, gitops.repository and gitops.settingsConfigMap must be set"
rule "every Flux path has a kustomization.yaml (barman's is its manifest list)" platform.barmanPlugin.version=null \
	"appliance: render: Kustomization barman-cloud-plugin ($P/barman-cloud-plugin/ks.yaml) reconciles 'platform/barman-cloud-plugin/app', which has no kustomization.yaml"
# without the Tailscale operator the ts gateway does not exist and the route attaches to public only
"$APPLIANCE" render profiles/immich.yaml --out "$T/nots" --set platform.tailscale.enabled=false >/dev/null 2>&1
if [ ! -e "$T/nots/$P/gateways/app/ts.yaml" ] && ! grep -q 'name: ts$' "$T/nots/$R/app/httproute.yaml" &&
	grep -q 'name: public$' "$T/nots/$R/app/httproute.yaml"; then
	ok "tailscale disabled: no ts gateway, the route attaches to public only"
else
	not_ok "tailscale disabled: ts gateway or route parent left"
fi
expect_rc_out "tailscale disabled while the route names ts: validate says so, at the route's entry" 0 \
	"^--set apps.immich.route.gateways:1:2: warning: apps.immich.route.gateways\[0\]: gateway 'ts' is the Tailscale gateway, and platform.tailscale is off: the route attaches only to the other gateways \(turn platform.tailscale on, or drop 'ts'\)$" \
	"$APPLIANCE" validate profiles/immich.yaml --set platform.tailscale.enabled=false --set 'apps.immich.route.gateways=[ts,public]'
"$APPLIANCE" validate profiles/immich.yaml --set platform.tailscale.enabled=false --set 'apps.immich.route.gateways=[public]' >"$T/pub.out" 2>&1
check "... and not when the route names only public" bash -c "! grep -q 'is the Tailscale gateway' '$T/pub.out'"
rule "route hostnames are covered by the gateways' certificate" 'apps.immich.route.hostnames[1]=photos.example.org' \
	"appliance: render: apps.immich.route.hostnames: 'photos.example.org' is not a site domain or a name directly under one (site.domains): the gateways' certificate would not cover it"
rule "summary line" apps.immich.database.secret=other "appliance: render: 2 problems; nothing written"
"$APPLIANCE" render profiles/immich.yaml --out "$T/pj" --json --set apps.immich.database.secret=other >"$T/p.json" 2>/dev/null
if /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["written"] is False and len(j["problems"]) == 2 and "apps.immich.database.secret" in j["problems"][0]
' "$T/p.json"; then ok "--json lists the consistency problems"; else not_ok "--json problems"; cat "$T/p.json" | sed 's/^/#   /'; fi
# with --only app the platform is not rendered: references into it are not checked
check "--only app does not check platform references" "$APPLIANCE" render profiles/immich.yaml --out "$T/only2" --only app --set platform.smbCsi.enabled=false

# ---- the validator itself fails loudly ------------------------------------------------
cat >"$T/bad.yaml" <<'Y'
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: x
spec:
  accesModes: [ReadWriteMany]
---
apiVersion: homer.rajsingh.info/v1alpha1
kind: Dashboard
metadata:
  name: d
Y
$VALIDATE "$T/bad.yaml" >"$T/val.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "^FAIL $T/bad.yaml PersistentVolumeClaim x spec: Additional properties are not allowed ('accesModes' was unexpected)" "$T/val.out" &&
	grep -q "^NO SCHEMA $T/bad.yaml homer.rajsingh.info/v1alpha1 Dashboard$" "$T/val.out"; then
	ok "validator rejects an unknown field and lists a kind without schema"
else
	not_ok "validator on a bad document (exit $rc)"
	sed 's/^/#   /' "$T/val.out"
fi

# an ACME issuer without its e-mail: the problem names only the key that is missing
# (it once listed all four acme keys, three of which have defaults)
expect_rc_out "acme without acmeEmail: refused, naming only acmeEmail" 2 \
	'^appliance: render: platform\.certManager\.issuerType is acme: set platform\.certManager\.acmeEmail$' \
	"$APPLIANCE" render profiles/immich.yaml --out "$T/acme" --set platform.certManager.acmeEmail=

# --check says its verdict on stderr (stdout stays the list of files): it once printed nothing
# at all when the tree was up to date
"$APPLIANCE" render profiles/demo.yaml --out "$T/verdict" >/dev/null 2>&1
expect_rc_out "--check without drift: says 'no drift'" 0 "^no drift: the [0-9]+ files under $T/verdict/clusters/talos-demo are what the profile renders$" \
	"$APPLIANCE" render profiles/demo.yaml --out "$T/verdict" --check
"$APPLIANCE" render profiles/demo.yaml --out "$T/verdict" --check 2>/dev/null >"$T/verdict.out"
[ ! -s "$T/verdict.out" ] && ok "--check without drift: nothing on stdout" || not_ok "--check without drift: stdout: $(cat "$T/verdict.out")"
expect_rc_out "--check with drift: counts it" 1 "^drift: 1 file under $T/verdict/clusters/talos-demo differs from what the profile renders" \
	"$APPLIANCE" render profiles/demo.yaml --out "$T/verdict" --check --set apps.immich.imageTag=v9.9.9

# ACME without acmeTokenItem: the site provides the Cloudflare token Secret (SOPS), as it
# provides the app's Secrets without 1Password; render once refused it ('no such object')
rm -rf "$T/acme-own"
expect_rc_out "acme without acmeTokenItem: rendered" 0 '^rendered ' \
	"$APPLIANCE" render profiles/demo.yaml --out "$T/acme-own" --set platform.certManager.issuerType=acme \
	--set platform.certManager.acmeEmail=admin@example.org
ci=$T/acme-own/clusters/talos-demo/platform/cluster-issuers/app
grep -q '^            name: cloudflare-api-token$' "$ci/clusterissuer.yaml" 2>/dev/null && [ ! -e "$ci/token.yaml" ] &&
	ok "acme without acmeTokenItem: the issuer names the site's token Secret, no OnePasswordItem" ||
	not_ok "acme without acmeTokenItem: $(ls "$ci" 2>&1)"
