#!/usr/bin/env bash
# One cluster identity per site (issue 20, item 3): install and plan never generate a Talos
# secrets bundle for a profile of several nodes unless told (--new-cluster); a bundle that is
# read must be the one talos.caFingerprint records, and a site of several nodes must record it.
# Runs on the simulated demo machine (profiles/demo.yaml has three nodes).
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32

demo_setup_tap
# DEMO_ARGS without the site's bundle and fingerprint (the demo's site overlay records it)
grep -v caFingerprint "$DEMO_SITE" >"$T/site-nofp.yaml"
BASE=()
for ((i = 0; i < ${#DEMO_ARGS[@]}; i++)); do
	case "${DEMO_ARGS[i]} ${DEMO_ARGS[i + 1]:-}" in
	"--secrets "* | "--set talos.caFingerprint="*) i=$((i + 1)) ;;
	"--site $DEMO_SITE") BASE+=(--site "$T/site-nofp.yaml"); i=$((i + 1)) ;;
	*) BASE+=("${DEMO_ARGS[i]}") ;;
	esac
done
before=$(demo_disk_hashes)

# ---- no bundle, three nodes: refused, nothing generated ---------------------------------------
"$APPLIANCE" install "${BASE[@]}" --state-dir "$T/s1" --apply --unattended >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] && ok "install without a bundle, 3 nodes: exit 1" || not_ok "install without a bundle, 3 nodes: exit $rc"
grep -q "the 3 nodes of this site must share one: create it once with 'appliance talos secrets" "$T/out" &&
	ok "install without a bundle: says how to make the one bundle" || { not_ok "install without a bundle: message"; tail -5 "$T/out" | sed 's/^/#   /'; }
[ ! -e "$T/s1/talos-secrets.yaml" ] && ok "install without a bundle: no bundle generated" || not_ok "install generated $T/s1/talos-secrets.yaml"
[ "$(demo_disk_hashes)" = "$before" ] && ok "install without a bundle: no disk changed" || not_ok "install without a bundle changed a disk"
expect_fail "plan without a bundle, 3 nodes: exit 1" 1 "$APPLIANCE" plan "${BASE[@]}" --state-dir "$T/s1"
expect_out "plan without a bundle: preflight-secrets names --new-cluster" 'preflight-secrets.*--new-cluster' \
	"$APPLIANCE" plan "${BASE[@]}" --state-dir "$T/s1"

# ---- told: --new-cluster ------------------------------------------------------------------------
expect_rc_out "--new-cluster: plan says it will generate the bundle" 0 'will generate a new Talos secrets bundle' \
	"$APPLIANCE" plan "${BASE[@]}" --state-dir "$T/s2" --new-cluster
expect_rc_out "install --help documents --new-cluster" 0 '^  --new-cluster ' "$APPLIANCE" install --help

# ---- one node: a new bundle is fine ----------------------------------------------------------------
cat >"$T/one.yaml" <<'EOT'
nodes:
  - name: demo-1
    role: controlplane
    identity: {macs: ["52:54:00:12:34:01"]}
    installDisk: {serial: APPL-INSTALL-1}
    cephDisks:
      - {serial: APPL-CEPH-1A, wipe: true}
      - {serial: APPL-CEPH-1B, wipe: true}
EOT
expect_rc_out "one-node site: plan generates the bundle without --new-cluster" 0 'will generate a new Talos secrets bundle' \
	"$APPLIANCE" plan "${BASE[@]}" --state-dir "$T/s3" --site "$T/one.yaml"

# ---- a bundle is checked wherever it is read ------------------------------------------------------
"$APPLIANCE" talos secrets "$ROOT/profiles/demo.yaml" --out "$T/other.yaml" >/dev/null 2>&1
expect_fail "another cluster's bundle: plan exit 1" 1 "$APPLIANCE" plan "${DEMO_ARGS[@]}" --secrets "$T/other.yaml"
expect_out "another cluster's bundle: named" "secrets bundle '$T/other.yaml' is another cluster's" \
	"$APPLIANCE" plan "${DEMO_ARGS[@]}" --secrets "$T/other.yaml"
expect_rc_out "a bundle without talos.caFingerprint on a 3-node site: refused with the fingerprint to add" 1 \
	"the profile records no talos.caFingerprint, and its 3 nodes must share one cluster: if '$DEMO_SECRETS' is this site's bundle, add 'caFingerprint: $DEMO_FP'" \
	"$APPLIANCE" plan "${BASE[@]}" --secrets "$DEMO_SECRETS"
expect_rc_out "talos gen refuses another cluster's bundle" 2 "is another cluster's" \
	"$APPLIANCE" talos gen "$ROOT/profiles/demo.yaml" --secrets "$T/other.yaml" --out "$T/gen" --set "talos.caFingerprint=$DEMO_FP"
expect_fail "the site's own bundle and fingerprint: plan exit 0" 0 "$APPLIANCE" plan "${DEMO_ARGS[@]}"

# ---- README's main job makes the bundle first -------------------------------------------------------
awk '/^## The main job/,/^## Documentation/' "$ROOT/README.md" >"$T/main-job"
check "README main job: talos secrets before install" /usr/bin/python3 -c '
import sys
t = open(sys.argv[1]).read()
a, b = t.find("appliance talos secrets"), t.find("appliance install")
assert 0 <= a < b, (a, b)' "$T/main-job"
