#!/usr/bin/env bash
# Rebuild end to end on the demo site (scripts/demo.sh: image files as NVMe disks under a
# machine root, real smbd, image mirror): first install, then the site is lost (disks
# zeroed, state dir gone; only the secrets bundle, kept off-site, survives), then
# `rebuild --apply --node demo-1` with that bundle: the new machine config carries the same
# CAs and cluster id, the database is rendered to recover from the store and archive under a
# new name, the NAS tree hash is unchanged, and the S3 store is untouched.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
. "$ROOT/tests/servers/s3rver.sh"
. "$ROOT/tests/lib/apid.sh"

PY=/usr/bin/python3
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE"

demo_setup >"$T/setup.log" 2>&1 || {
	not_ok "demo site set up"
	sed 's/^/#   /' "$T/setup.log" | tail -20
	exit 1
}
ok "demo site set up"

# ---- first install ------------------------------------------------------------------------
"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended >"$T/install1.log" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "first install --apply exits 0" || {
	not_ok "first install --apply exits 0 (got $rc)"
	tail -10 "$T/install1.log" | sed 's/^/#   /'
	exit 1
}
ids() { # CONFIG: cluster id, secret and every CA certificate of a machine config, one line each
	$PY - "$1" <<'EOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if not d or "machine" not in d:
        continue
    c, m = d["cluster"], d["machine"]
    print("cluster.id", c.get("id"))
    print("cluster.secret", c.get("secret"))
    print("machine.ca", m["ca"]["crt"])
    for k in ("ca", "aggregatorCA"):
        if k in c:
            print("cluster." + k, c[k]["crt"])
    if "etcd" in c:
        print("cluster.etcd.ca", c["etcd"]["ca"]["crt"])
EOF
}
ids "$DEMO_STATE/nodes/demo-1/config.yaml" >"$T/ids.before"
check "first install: machine config has a cluster id and CAs" test "$(wc -l <"$T/ids.before")" -ge 4

# the operator's talosconfig from the first life of the site
SETS=()
for ((i = 1; i < ${#DEMO_ARGS[@]}; i++)); do
	[ "${DEMO_ARGS[i]}" = --set ] && SETS+=(--set "${DEMO_ARGS[i + 1]}")
done
"$APPLIANCE" talos gen "$ROOT/profiles/demo.yaml" --secrets "$DEMO_SECRETS" --out "$T/workstation" \
	"${SETS[@]}" >"$T/gen.log" 2>&1
[ -s "$T/workstation/talosconfig" ] && ok "first life: talosconfig written" ||
	{ not_ok "first life: talosconfig written"; tail -5 "$T/gen.log" | sed 's/^/#   /'; }

# ---- keep off-site, then lose the site ------------------------------------------------------
mkdir -p "$T/offsite"
cp "$DEMO_SECRETS" "$T/offsite/secrets.yaml"
FP=$($PY - "$T/offsite/secrets.yaml" <<'EOF'
import base64, hashlib, sys, yaml
b = yaml.safe_load(open(sys.argv[1]))
print(hashlib.sha256(base64.b64decode(b["certs"]["os"]["crt"])).hexdigest())
EOF
)
for d in nvme0n1 nvme1n1 nvme2n1; do
	s=$(stat -c %s "$DEMO_HW/dev/$d")
	rm -f "$DEMO_HW/dev/$d" && truncate -s "$s" "$DEMO_HW/dev/$d"
done
CACHE=$T/cache-keep
mv "$DEMO_STATE/cache" "$CACHE" 2>/dev/null
rm -rf "$DEMO_STATE"
mkdir -p "$DEMO_STATE"
[ -d "$CACHE" ] && mv "$CACHE" "$DEMO_STATE/cache" # the image cache (no mirror in some trees)
ok "site lost: disks zeroed, state dir gone, bundle kept off-site"

# ---- the backups --------------------------------------------------------------------------------
s3rver_start keiretsu
SRV=demo/immich/postgres/immich-postgres
s3_put "$SRV/base/20261122T230000/backup.info" "20 hours" "status=DONE"
s3_put "$SRV/wals/0000000100000000/000000010000000000000007.gz" "2 hours"
S3_BEFORE=$(cd "$S3_DIR/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
export APPLIANCE_DEMO_S3_ACCESS_KEY=S3RVER
# The site ran Immich before the disaster: its library holds uploads (a rebuild
# refuses an empty library: that would be the wrong folder, or lost data).
mkdir -p "$T/nas/k8s/immich/library/admin" && head -c 4096 /dev/urandom >"$T/nas/k8s/immich/library/admin/IMG_1000.jpg"
chown -R "$APPLIANCE_DEMO_NAS_USER" "$T/nas/k8s/immich"
nas_hash() { (cd "$T/nas/k8s" && find . -print0 | sort -z | xargs -0 -n1 sh -c \
	'if [ -f "$0" ]; then echo "$0 $(sha256sum <"$0")"; else echo "$0/"; fi' | sha256sum); }
NAS_BEFORE=$(nas_hash)

# ---- a failing preflight touches no disk ------------------------------------------------------------
before=$(demo_disk_hashes)
APPLIANCE_DEMO_S3_ACCESS_KEY=NOT-A-KEY "$APPLIANCE" rebuild "${DEMO_ARGS[@]}" --secrets "$T/offsite/secrets.yaml" \
	--apply --out "$T/home-kubernetes" --set "talos.caFingerprint=$FP" \
	--set "apps.immich.database.primary.endpoint=$S3_URL" >"$T/refused.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "InvalidAccessKeyId" "$T/refused.log" && grep -q "rebuild stopped before touching any disk" "$T/refused.log" &&
	[ "$(demo_disk_hashes)" = "$before" ] && [ ! -e "$DEMO_STATE/nodes" ] &&
	ok "rebuild --apply --node with an unknown access key stops; no disk, no state touched" ||
	{ not_ok "rebuild --apply --node with an unknown access key stops (exit $rc)"; tail -5 "$T/refused.log" | sed 's/^/#   /'; }

# ---- rebuild ----------------------------------------------------------------------------------------
"$APPLIANCE" rebuild "${DEMO_ARGS[@]}" --secrets "$T/offsite/secrets.yaml" --apply --out "$T/home-kubernetes" \
	--set "talos.caFingerprint=$FP" --set "apps.immich.database.primary.endpoint=$S3_URL" >"$T/rebuild.log" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "rebuild --apply --node demo-1 exits 0" || {
	not_ok "rebuild --apply --node demo-1 exits 0 (got $rc)"
	tail -15 "$T/rebuild.log" | sed 's/^/#   /'
}
expect_out "rebuild: preflight found the backup" '^  ok   backups  s3://keiretsu/demo/immich/postgres/immich-postgres/: 1 base backup, newest completed 20261122T230000' cat "$T/rebuild.log"
check "rebuild: the node was installed again" test -s "$DEMO_STATE/nodes/demo-1/config.yaml"
ids "$DEMO_STATE/nodes/demo-1/config.yaml" >"$T/ids.after"
check "rebuild: the new machine config carries the same CAs and cluster id" cmp "$T/ids.before" "$T/ids.after"
check "rebuild: the install disk holds Talos again" test -n "$(sgdisk -p "$DEMO_HW/dev/nvme0n1" 2>/dev/null | grep metal-iso)"
check "rebuild: the database recovers from the old serverName" \
	grep -rq 'serverName: immich-postgres$' "$T/home-kubernetes"
check "rebuild: new backups go under a new serverName" \
	grep -rq 'serverName: immich-postgres-recovery$' "$T/home-kubernetes"
check "rebuild: the NAS tree hash is unchanged" test "$(nas_hash)" = "$NAS_BEFORE"
check "rebuild: the S3 store is unchanged" \
	test "$(cd "$S3_DIR/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)" = "$S3_BEFORE"

# ---- the existing talosconfig keeps working with the rebuilt node --------------------------------
# The rebuilt node's config volume, as Talos names it (kernel name, no /dev/): the metal-iso
# partition of its install disk. demo-1's installDisk is a selector, so bootstrap needs it as
# --config-volume to scrub it (without, it refuses to guess and exits 1).
CV=$(sgdisk -p "$DEMO_HW/dev/nvme0n1" 2>/dev/null | awk '$NF == "metal-iso" {print "nvme0n1p" $1}')
check "rebuild: the rebuilt install disk has one metal-iso partition" test "$(echo "$CV" | grep -c .)" = 1
# the rebuilt node's apid (stand-in) has a server certificate from the bundle's OS CA, as Talos
# makes, and the partition backs Talos' platform/metal/config volume
apid_start "$T/offsite/secrets.yaml" --volume "$CV=platform/metal/config"
"$APPLIANCE" bootstrap "$ROOT/profiles/demo.yaml" --talosconfig "$T/workstation/talosconfig" \
	--endpoint "127.0.0.1:$(cat "$T/apid.port")" --kubeconfig "$T/kubeconfig" --wait 20s \
	--config-volume "$CV" >"$T/bootstrap.log" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "rebuild: bootstrap with the talosconfig from before the disaster exits 0" || {
	not_ok "rebuild: bootstrap with the talosconfig from before the disaster exits 0 (got $rc)"
	tail -10 "$T/bootstrap.log" | sed 's/^/#   /'
}
expect_out "rebuild: the talosconfig from before the disaster bootstraps the rebuilt node" '^etcd: bootstrapped on demo-1$' \
	cat "$T/bootstrap.log"
check "rebuild: bootstrap wrote the node's kubeconfig" cmp "$T/kubeconfig" "$T/kubeconfig.src"
expect_out "rebuild: the rebuilt node's config volume is scrubbed" \
	"^config volume: $CV on demo-1 overwritten with zeroes, partition dropped$" cat "$T/bootstrap.log"
check "rebuild: ... asked of Talos with ZEROES, skip_volume_check and drop_partition" \
	grep -qx "BlockDeviceWipe device=$CV method=ZEROES skip_volume_check=true drop_partition=true" "$T/apid/calls"
