#!/usr/bin/env bash
# The first hour with your own site (issue 20, "done when"): a 3-node profile built from
# `appliance init` plus `appliance identify` run on three machines (the simulated demo machine
# and two fixture machines of tests/fixtures/machines), filled in, validated, planned with the
# NAS down (every step still shown), then installed on the demo machine with --auto.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
. "$ROOT/tests/fixtures/machines/machines.sh"
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=200

demo_setup_tap
A=$APPLIANCE

# ---- init ------------------------------------------------------------------------------------
"$A" init --name lake --nodes 3 --out "$T/site.yaml" 2>"$T/init.err"
[ $? -eq 0 ] && [ -s "$T/site.yaml" ] && ok "init writes the starter profile" || not_ok "init: $(cat "$T/init.err")"
expect_fail "init never replaces a file" 1 "$A" init --out "$T/site.yaml"
expect_out "init --help has examples" '^  appliance init --name lakehouse --nodes 3 --out site.yaml' "$A" init --help
grep -q '^  cluster: talos-lake$' "$T/site.yaml" && [ "$(grep -vc '^wrote ' "$T/init.err")" = 0 ] && ok "init --name lake: cluster talos-lake, no hint" || not_ok "init --name lake: $(cat "$T/init.err")"
# the old spelling still works for one release, and says (once, on stderr) what it is now
"$A" init --site lake --nodes 1 >"$T/old.yaml" 2>"$T/old.err"
rc=$?
[ $rc -eq 0 ] && grep -q '^  cluster: talos-lake$' "$T/old.yaml" &&
	[ "$(cat "$T/old.err")" = "appliance init: --site is now --name (--site names an overlay file in the other commands)" ] &&
	ok "init --site lake: still works, one line of hint on stderr" || { not_ok "init --site lake: exit $rc"; sed 's/^/#   /' "$T/old.err"; }
if "$A" init --help | grep -q -- '--site'; then not_ok "init --help still names --site"; else ok "init --help names --name, not --site"; fi
markers=$(grep -v '^ *#' "$T/site.yaml" | grep -c '<CHOOSE')
"$A" validate "$T/site.yaml" >"$T/v0" 2>&1
rc=$?
reported=$(grep -c ': still to choose: .*<CHOOSE' "$T/v0")
[ $rc -eq 2 ] && [ "$reported" = "$markers" ] && [ "$(grep -c ': error: ' "$T/v0")" = "$markers" ] &&
	ok "validate reports each of the $markers choices once, at its line, and nothing else" ||
	{ not_ok "validate of the starter: exit $rc, $reported of $markers markers"; head -5 "$T/v0" | sed 's/^/#   /'; }
[ "$(grep -c 'role: controlplane' "$T/site.yaml")" = 3 ] && ok "init --nodes 3: three control planes" || not_ok "init: control planes"
expect_fail "init --nodes 0: usage error" 2 "$A" init --nodes 0

# ---- identify on each machine ------------------------------------------------------------------
fixture_machine "$T/m2" 2
fixture_machine "$T/m3" 3
# Talos' minimum system disk (10Gi, talos.installDiskMinSize) is far above these image disks:
# identify suggests none of them, and says why
"$A" identify --hw-root "$DEMO_HW" --name lake-1 >"$T/n0" 2>&1
grep -q '^    installDisk: {}' "$T/n0" && grep -q '^    # no disk of at least 10.0 GiB found' "$T/n0" &&
	grep -q '^    # too small for Talos (under its minimum system disk of 10.0 GiB,$' "$T/n0" &&
	grep -q '^    # talos.installDiskMinSize), not suggested: .*, 192.0 MiB, ' "$T/n0" &&
	ok "identify suggests no disk under Talos' minimum, and says why" || not_ok "identify small disks: $(cat "$T/n0")"
expect_fail "identify --min-size of a non-size: usage error" 2 "$A" identify --hw-root "$DEMO_HW" --min-size big
# the simulated machines' disks are image files of 32-200 MiB: the test lowers the minimum
"$A" identify --hw-root "$DEMO_HW" --name lake-1 --min-size 16Mi >"$T/n1" 2>&1 && ok "identify on the demo machine" || not_ok "identify: $(cat "$T/n1")"
"$A" identify --hw-root "$T/m2" --name lake-2 --min-size 16Mi >"$T/n2" 2>&1
"$A" identify --hw-root "$T/m3" --name lake-3 --min-size 16Mi >"$T/n3" 2>&1
grep -q 'macs: \["52:54:00:12:34:01"\]' "$T/n1" && grep -q 'serial: "APPL-DEMO-1"' "$T/n1" &&
	ok "identify: the machine's MAC and DMI serial" || not_ok "identify: identity"
grep -q 'installDisk: {serial: "APPL-INSTALL-1"}' "$T/n1" && ok "identify: the install disk by its serial" || not_ok "identify: install disk"
grep -q '^    #   - {serial: "APPL-CEPH-1A", wipe: true}' "$T/n1" && ok "identify: the other disks as commented Ceph candidates" ||
	not_ok "identify: ceph candidates"
grep -q 'FIX2-STICK' "$T/n2" && not_ok "identify lists the removable stick" || ok "identify: a removable stick is not offered"
grep -q 'installDisk: {serial: "FIX2-BOOT"}' "$T/n2" && ok "identify on a fixture machine: its boot disk" || not_ok "identify fixture: $(grep installDisk "$T/n2")"
"$A" identify --hw-root "$T/m2" --json >"$T/n2.json"
check "identify --json: identity and one unique selector per disk" /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["macs"] == ["52:54:00:20:00:02"] and j["serial"] == "FIXTURE-2", j
sels = [d["selector"] for d in j["disks"]]
assert len(set(sels)) == len(sels) == 4, sels' "$T/n2.json"
expect_out "identify --help has examples" '^  appliance identify --name lake-1 > lake-1.yaml' "$A" identify --help
# a new site's help names no production node and no path that does not exist
"$A" identify --help | grep -qE 'tank|tests/fixture-machine' && not_ok "identify --help: a production name or a missing path" ||
	ok "identify --help: examples are a new site's"

# ---- the site's profile: the node blocks, the choices made ---------------------------------------
# node lake-1 is the demo machine: its Ceph disks are given to Ceph
sed -i -e 's/^    # cephDisks:/    cephDisks:/' -e 's/^    #   - /      - /' "$T/n1"
/usr/bin/python3 - "$T/site.yaml" "$T/n1" "$T/n2" "$T/n3" <<'PY'
import sys, re
site, blocks = sys.argv[1], sys.argv[2:]
lines = open(site).read().split("\n")
out, skip = [], False
for l in lines:
    if l == "nodes:":
        out.append(l)
        for b in blocks:
            out += [x for x in open(b).read().split("\n") if x and not x.startswith("# ")]
        skip = True
        continue
    if skip and (l.startswith("  ") or l.startswith("#")):
        continue
    skip = False
    out.append(l)
choices = {
    "site.domains": "lake.test", "lan.cidr": "10.0.2.0/24", "lan.gateway": "10.0.2.2",
    "talos.endpoint": "https://k8s.lake.test:6443", "talos.vip": "10.0.2.25", "nas.address": "127.0.0.1",
    "nas.share": "k8s", "nas.photos": "pics", "nas.library": "immich",
    "gitops.url": "http://127.0.0.1:3000/lake/home-kubernetes.git",
    "primary.endpoint": "http://127.0.0.1:4568", "primary.destinationPath": "s3://backups/lake/immich/",
    "loadBalancer.cidr": "10.0.2.240/28",
}
text = "\n".join(out)
for key, val in [("domains", '"lake.test"'), ("cidr", choices["lan.cidr"]), ("gateway", choices["lan.gateway"]),
                 ("endpoint: \"https", choices["talos.endpoint"]), ("vip", choices["talos.vip"]),
                 ("address", choices["nas.address"]), ("share", "k8s"), ("photos", "pics"), ("library", "immich"),
                 ("url", choices["gitops.url"]), ("cidr", choices["loadBalancer.cidr"]),
                 ("endpoint", choices["primary.endpoint"]),
                 ("destinationPath", choices["primary.destinationPath"])]:
    k = key.split(":")[0]
    text, n = re.subn(r'(\n\s*%s: )(\[)?"[^"\n]*<CHOOSE[^"\n]*"(\])?' % re.escape(k),
                      lambda m: m.group(1) + (("[" + val + "]") if m.group(2) else val), text, count=1)
    assert n == 1, key
open(site, "w").write(text)
PY
[ $? -eq 0 ] && ok "the node blocks pasted and the choices made" || not_ok "assembling the profile"
grep -v '^ *#' "$T/site.yaml" | grep -q '<CHOOSE' && not_ok "a marker is left" || ok "no marker left"
mkdir -p "$T/secrets"
echo "deploy key (test)" >"$T/secrets/deploy-key"
echo "-----BEGIN PGP PRIVATE KEY BLOCK----- (test)" >"$T/secrets/sops-gpg.asc"
export NAS_USERNAME=$APPLIANCE_DEMO_NAS_USER NAS_PASSWORD=$APPLIANCE_DEMO_NAS_PASSWORD
export S3_ACCESS_KEY=$APPLIANCE_DEMO_S3_ACCESS_KEY S3_SECRET_KEY=$APPLIANCE_DEMO_S3_SECRET_KEY
"$A" validate "$T/site.yaml" >"$T/v1" 2>&1 && ok "the site's profile validates" || { not_ok "validate"; head -10 "$T/v1" | sed 's/^/#   /'; }
# the image pins live beside the profile, not at the built-in ../images/pins.yaml (the repository's)
"$A" config "$T/site.yaml" 2>&1 | grep -q '^    pins: pins.yaml$' && ok "init: the image pins file is beside the profile" ||
	not_ok "init: talos.image.pins is not pins.yaml"

# ---- one cluster identity ---------------------------------------------------------------------------
"$A" talos secrets "$T/site.yaml" --out "$T/lake-secrets.yaml" >"$T/ts" 2>&1
FP=$(sed -n 's/^OS CA fingerprint: //p' "$T/ts")
[ ${#FP} = 64 ] && ok "talos secrets: the bundle and its fingerprint" || not_ok "talos secrets: $(cat "$T/ts")"
sed -i "s/^  # caFingerprint: <64 hex digits>/  caFingerprint: $FP/" "$T/site.yaml"
grep -q "^  caFingerprint: $FP" "$T/site.yaml" && ok "the fingerprint recorded in the profile" || not_ok "fingerprint not recorded"

# ---- the image pinned, the effective profile -----------------------------------------------------------
sid=$("$A" talos schematic "$T/site.yaml" --id)
key=$sid/v1.10.5/metal-amd64.raw.zst
printf 'pins:\n  %s: %s\n' "$key" "$(sha256sum "$T/img/metal.raw.zst" | cut -d' ' -f1)" >"$T/site-pins.yaml"
ARGS=(--hw-root "$DEMO_HW" --state-dir "$T/state" --secrets "$T/lake-secrets.yaml" --set "nas.port=$SMBD_PORT"
	--set nas.minFree=1Mi --set "talos.image.pins=$T/site-pins.yaml" --set "gitops.out=$T/gitops")
if [ -n "${DEMO_MIRROR:-}" ]; then
	mkdir -p "$T/www/image/$sid/v1.10.5"
	ln -f "$T/img/metal.raw.zst" "$T/www/image/$key"
	ARGS+=(--set "talos.image.mirror=$DEMO_MIRROR")
else
	mkdir -p "$T/state/cache" && cp "$T/img/metal.raw.zst" "$T/state/cache/$(echo "$key" | tr / -)"
fi
# plan refuses an install disk under Talos' minimum, naming the disk, its size and the minimum
"$A" plan "$T/site.yaml" --auto "${ARGS[@]}" >"$T/plan-small" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'installDisk matches a disk smaller than its minimum size 10Gi (talos.installDiskMinSize)' "$T/plan-small" &&
	grep -qE '/dev/[a-z0-9]+: matches .* but is too small: 192.0 MiB < minimum 10Gi' "$T/plan-small" &&
	ok "plan refuses an install disk under Talos' minimum: the disk, its size, the minimum" ||
	{ not_ok "plan of a small install disk: exit $rc"; grep -i 'small\|error' "$T/plan-small" | head -5 | sed 's/^/#   /'; }
ARGS+=(--set talos.installDiskMinSize=48Mi)
"$A" config "$T/site.yaml" >"$T/effective.yaml" 2>&1
grep -q '^  immich:' "$T/effective.yaml" && grep -q 'version: v1.10.5' "$T/effective.yaml" &&
	grep -q 'nasPassword: env:NAS_PASSWORD' "$T/effective.yaml" && ok "config: the profile with its defaults, secrets as references" ||
	not_ok "config output"
grep -q -- "$NAS_PASSWORD" "$T/effective.yaml" && not_ok "config printed a secret value" || ok "config prints no secret value"
"$A" validate "$T/effective.yaml" >/dev/null 2>&1 && ok "the effective profile validates on its own" || not_ok "config output does not validate"

# ---- plan with the NAS down: every step still shown -------------------------------------------------------
"$A" plan "$T/site.yaml" --auto "${ARGS[@]}" --set nas.port=1 >"$T/plan" 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(grep -cE '^\[[0-9]+/13\] ' "$T/plan")" = 13 ] && ok "plan with the NAS down: exit 1, all 13 steps shown" ||
	{ not_ok "plan with the NAS down: exit $rc"; tail -5 "$T/plan" | sed 's/^/#   /'; }
grep -A3 '^\[8/13\] write-image' "$T/plan" | grep -q 'todo' && ok "plan with the NAS down: write-image still planned" || not_ok "write-image not planned"
grep -q "identify: node 'lake-1' matched by identity\|node 'lake-1' matched by identity" "$T/plan" && ok "plan --auto: this machine is lake-1" || not_ok "plan --auto did not find lake-1"

# ---- install the demo machine ---------------------------------------------------------------------------
before=$(demo_disk_hashes)
"$A" install "$T/site.yaml" --auto "${ARGS[@]}" --apply --unattended >"$T/install" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "install --auto --apply on the demo machine: exit 0" || { not_ok "install: exit $rc"; tail -8 "$T/install" | sed 's/^/#   /'; }
[ "$(demo_disk_hashes)" != "$before" ] && [ -s "$T/state/nodes/lake-1/config.yaml" ] &&
	ok "the machine was installed as lake-1" || not_ok "nothing installed"
grep -q "cluster 'talos-lake'" "$T/install" && ok "install: joins cluster talos-lake" || not_ok "install: cluster name"
