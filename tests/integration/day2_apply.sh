#!/usr/bin/env bash
# appliance apply against the simulated site of tests/lib/day2.sh: dry run
# with the diff each node reports (secrets redacted), node-by-node apply in
# order (control planes one at a time, then workers), a reboot the command
# waits through, refusals (cluster identity, a config the node rejects, a
# no-reboot change that needs one), a node that does not come back, and a
# re-run that finds nothing left to do.
. "$(dirname "$0")/../lib/tap.sh"
PY=/usr/bin/python3
. "$ROOT/tests/lib/day2.sh"

day2_site
OPTS=("${SITE[@]}" "${EP[@]}" --secrets "$T/secrets.yaml" --wait 20s --state-dir "$T/state")
ap() { "$APPLIANCE" apply "$PROFILE" "${OPTS[@]}" "$@"; }
conf_sums() { for n in $DAY2_NODES; do sha256sum <"$T/nodes/$n/config.yaml"; done; }
applies() { cat "$T"/nodes/*/calls | grep -c "^ApplyConfiguration mode=[0-9] dry_run=0"; }

# ---- nothing to do --------------------------------------------------------------
expect_out "apply: nodes that run the profile's config have nothing to do" \
	'every node already runs the profile.s config' ap --apply
if [ "$(applies)" = 0 ]; then ok "apply: nothing was applied"; else not_ok "apply: applied $(applies) times"; fi

# ---- versions are upgrade's to move: a profile behind or ahead of the nodes is refused ----------
# after `appliance upgrade` with a profile not updated (found by the new-user review): the
# rendered config moved the kubelet and control-plane images back without a word. cp1 runs
# Kubernetes 1.33.3 (the images in its running config, as upgrade --kubernetes leaves them),
# w1 runs Talos v1.10.6; the profile still says 1.33.2 and v1.10.5
cp "$T/nodes/cp1/config.yaml" "$T/cp1.yaml"
sed -i 's#\(image: ghcr.io/siderolabs/[a-z-]*\):v1\.33\.2$#\1:v1.33.3#; s#\(image: registry.k8s.io/[a-z-]*\):v1\.33\.2$#\1:v1.33.3#' \
	"$T/nodes/cp1/config.yaml"
grep -q 'kubelet:v1.33.3$' "$T/nodes/cp1/config.yaml" || not_ok "apply: the test did not move cp1 to 1.33.3"
day2_node_set w1 version '"v1.10.6"'
all_applies() { cat "$T"/nodes/*/calls | grep -c "^ApplyConfiguration"; }
N0=$(all_applies)
expect_fail "apply: a profile behind the nodes is refused" 1 ap --apply
for re in 'node cp1 runs Kubernetes 1.33.3 but the profile says 1.33.2: apply never moves a version back; put the version the site runs in the profile (talos.kubernetesVersion: 1.33.3) or use appliance upgrade' \
	'node w1 runs Talos v1.10.6 but the profile says v1.10.5: apply never moves a version back; put the version the site runs in the profile (talos.version: v1.10.6) or use appliance upgrade'; do
	grep -qF -- "$re" "$T/.out" && ok "apply: says '${re:0:50}...'" || { not_ok "apply: says '$re'"; sed 's/^/#   /' "$T/.out" | tail -30; }
done
[ "$(all_applies)" = "$N0" ] && ok "apply: a profile behind the nodes sends no ApplyConfiguration, not even a dry run" ||
	not_ok "apply: sent ApplyConfiguration to a node the profile is behind"
cp "$T/cp1.yaml" "$T/nodes/cp1/config.yaml"
day2_node_set w1 version '"v1.10.5"'
expect_fail "apply: a profile ahead of the nodes (Kubernetes) is refused" 1 ap --set talos.kubernetesVersion=v1.33.3
grep -qF 'node cp1 runs Kubernetes 1.33.2 but the profile says 1.33.3: apply does not move versions; use appliance upgrade to move versions' "$T/.out" &&
	ok "apply: a newer Kubernetes says to use appliance upgrade" || { not_ok "apply: newer Kubernetes message"; sed 's/^/#   /' "$T/.out" | tail -30; }
expect_fail "apply: a profile ahead of the nodes (Talos) is refused" 1 ap --set talos.version=v1.10.6 --node w1
grep -qF 'node w1 runs Talos v1.10.5 but the profile says v1.10.6: apply does not move versions; use appliance upgrade to move versions' "$T/.out" &&
	ok "apply: a newer Talos says to use appliance upgrade" || { not_ok "apply: newer Talos message"; sed 's/^/#   /' "$T/.out" | tail -30; }
[ "$(all_applies)" = "$N0" ] && ok "apply: a profile ahead of the nodes sends no ApplyConfiguration" ||
	not_ok "apply: sent ApplyConfiguration for a newer version"

# ---- a change: dry run first ------------------------------------------------------
# (a change of each node's install disk: versions are not apply's to move, see below)
BEFORE=$(conf_sums)
K8S=(--set 'nodes[0].installDisk.serial=APPL-B-1' --set 'nodes[1].installDisk.serial=APPL-B-2' --set 'nodes[2].installDisk.serial=APPL-B-3' --set 'nodes[3].installDisk.serial=APPL-B-4')
expect_out "apply: the dry run shows Talos' diff" '^ +\+ +serial: APPL-B-4$' ap "${K8S[@]}"
out=$(last_out)
for re in '^ +- +serial: APPL-INSTALL-4$' 'Dry run summary:' \
	'Applied configuration without a reboot \(skipped in dry-run\)\.' 're-run with --apply'; do
	grep -qE -- "$re" <<<"$out" && ok "apply: dry run shows /$re/" || { not_ok "apply: dry run shows /$re/"; echo "$out" | sed 's/^/#   /' | head -40; }
done
# Talos' "Config diff:\n\n" printed a line of only spaces (found by the new-user review)
if grep -qE '^ +$' <<<"$out" || ! grep -A1 'Config diff:$' <<<"$out" | grep -qE '^ +--- a$'; then
	not_ok "apply: a blank line after Config diff:"; grep -A2 'Config diff:' <<<"$out" | cat -A | sed 's/^/#   /'
else ok "apply: the diff follows Config diff: with no line of only spaces"; fi
if grep -q canary <<<"$out" || grep -qE '[A-Za-z0-9+/=]{60}' <<<"$out"; then not_ok "apply: a secret or key in the diff"; else ok "apply: no secret value and no key material in the diff"; fi
if [ "$(conf_sums)" = "$BEFORE" ] && [ "$(applies)" = 0 ]; then ok "apply: a dry run changes no node"; else not_ok "apply: the dry run changed a node"; fi

# ---- --apply: node by node, control planes first -------------------------------------
check "apply --apply: every node applied" ap "${K8S[@]}" --apply
order=$(for n in $DAY2_NODES; do stat -c '%Y.%y %n' "$T/nodes/$n/config.yaml"; done | sort | awk '{print $NF}' | xargs -n1 dirname | xargs -n1 basename | tr '\n' ' ')
if [ "$order" = "cp1 cp2 cp3 w1 " ]; then ok "apply: order cp1 cp2 cp3 w1"; else not_ok "apply: order was '$order'"; fi
if grep -q 'serial: APPL-B-4' "$T/nodes/w1/config.yaml"; then ok "apply: the worker runs the new config"; else not_ok "apply: w1 config unchanged"; fi
expect_out "apply: a re-run finds nothing to do" 'every node already runs the profile.s config' ap "${K8S[@]}" --apply

# ---- a change that needs a reboot; a reboot the command waits through -----------------------
ROLE=(--set 'nodes[3].role=controlplane' --node w1)
expect_out "apply: Talos decides a reboot is needed (a change of machine.type)" \
	'Applied configuration with a reboot \(skipped in dry-run\)' ap "${ROLE[@]}"
expect_fail "apply --mode no-reboot: a change that needs a reboot is refused" 1 ap "${ROLE[@]}" --mode no-reboot
grep -q "this config change can't be applied in immediate mode" "$T/.out" && grep -q "^ *[-+]  type: " "$T/.out" &&
	ok "apply: the refusal gives Talos' words and its diff" || { not_ok "apply: no-reboot refusal message"; sed 's/^/#   /' "$T/.out"; }
# Talos' diff keeps machine.token beside machine.type as context: shown redacted, indented
W1_TOKEN=$("$PY" -c 'import sys, yaml; print(next(yaml.safe_load_all(open(sys.argv[1])))["machine"]["token"])' "$T/gen/w1.yaml")
if [ -n "$W1_TOKEN" ] && ! grep -qF "$W1_TOKEN" "$T/.out" && grep -qE '^ +[ -]  token: <redacted>$' "$T/.out"; then
	ok "apply: the refusal's diff does not show the machine token"
else not_ok "apply: the machine token in the refusal"; sed "s/$W1_TOKEN/<TOKEN>/g; s/^/#   /" "$T/.out"; fi
K8S4=(--set 'nodes[3].installDisk.serial=APPL-C-4' --node w1 --mode reboot)
check "apply --mode reboot --apply: waits for the node to reboot and come back" ap "${K8S4[@]}" --apply
grep -q "w1 is down (rebooting)" "$T/.out" && grep -q "w1: 9 services running: 8 healthy, 1 health unknown" "$T/.out" &&
	ok "apply: saw the node go down, come back and its services healthy" || { not_ok "apply: reboot progress"; sed 's/^/#   /' "$T/.out"; }
grep -q "reboot: up" "$T/nodes/w1/calls" && ok "apply: the stand-in rebooted" || not_ok "apply: no reboot"

# ---- killed while a node reboots: the re-run finds it applied and waits for it -------------------
day2_node_set cp1 reboot_seconds 6
"$APPLIANCE" apply "$PROFILE" "${OPTS[@]}" --set 'nodes[0].installDisk.serial=APPL-D-1' --node cp1 --mode reboot --apply \
	>"$T/killed.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "reboot: down" "$T/nodes/cp1/calls" && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
krc=$?
# it died silently with 143 (found by the new-user review): now exit 1 and how to continue
[ "$krc" = 1 ] && grep -q '^appliance: stopped; re-run the same command to continue: the journal resumes$' "$T/killed.out" &&
	ok "apply: killed, it exits 1 and says to re-run" || { not_ok "apply: killed (rc $krc)"; tail -3 "$T/killed.out" | sed 's/^/#   /'; }
grep -q 'status=started\|started' "$T/state/apply/journal/apply-cp1" 2>/dev/null && ok "apply: the journal has cp1 started" ||
	{ not_ok "apply: journal of cp1"; ls -R "$T/state" | sed 's/^/#   /'; }
# a re-run at once, while cp1 still reboots: it said only "cannot connect ... check that the node
# is up" (found by the new-user review); now it names the earlier run and what to do
expect_rc_out "apply: a re-run while the interrupted node reboots is refused, saying why" 1 \
	'an earlier run applied this config to cp1 and stopped before it came back: if it is still rebooting, wait until it answers \(appliance status\), then re-run: the journal resumes it' \
	ap --set 'nodes[0].installDisk.serial=APPL-D-1' --node cp1 --mode reboot --apply
for _ in $(seq 1 150); do [ "$(grep -c 'reboot: up' "$T/nodes/cp1/calls")" -ge 1 ] && break; sleep 0.2; done
day2_node_set cp1 reboot_seconds 1
expect_fail "apply: the run after the kill exits 0" 0 ap --set 'nodes[0].installDisk.serial=APPL-D-1' --node cp1 --mode reboot --apply
has_re() { grep -qE -- "$2" "$T/.out" && ok "$1" || { not_ok "$1"; sed 's/^/#   /' "$T/.out" | tail -20; }; }
has_re "apply: the re-run resumes cp1 from the journal" 'resuming: cp1 was applied by an earlier run; waiting for it'
has_re "apply: and waits for its etcd" 'cp1: etcd has every control plane'
[ "$(grep -c 'ApplyConfiguration mode=0 dry_run=0' "$T/nodes/cp1/calls")" = 1 ] && ok "apply: cp1 not applied twice" ||
	not_ok "apply: cp1 applied $(grep -c 'ApplyConfiguration mode=0 dry_run=0' "$T/nodes/cp1/calls") times"
expect_out "apply: then nothing is left" 'every node already runs the profile.s config' ap --set 'nodes[0].installDisk.serial=APPL-D-1' --node cp1

# ---- --mode try: live, not persisted, rolled back by Talos unless applied again ---------------------
TRY=(--set 'nodes[3].installDisk.serial=APPL-E-4' --node w1)
check "apply --mode try --try-timeout 3s: applied" ap "${TRY[@]}" --mode try --try-timeout 3s --apply
grep -q '^ApplyConfiguration mode=4 dry_run=0 bytes=[0-9]* try_mode_timeout=3s$' "$T/nodes/w1/calls" &&
	ok "apply --mode try: TRY with try_mode_timeout 3s sent" || { not_ok "apply --mode try: request"; grep '^Apply' "$T/nodes/w1/calls" | tail -3 | sed 's/^/#   /'; }
for re in "The config is applied in 'try' mode and will be automatically reverted back in 3s" \
	'applied in try mode: each node goes back to its previous config 3s after its apply; to keep it, re-run with --mode no-reboot --apply before then'; do
	grep -qF -- "$re" "$T/.out" && ok "apply --mode try: says '$re'" || { not_ok "apply --mode try: says '$re'"; sed 's/^/#   /' "$T/.out" | tail -20; }
done
if ! grep -q 'serial: APPL-E-4' "$T/nodes/w1/config.yaml" && grep -q 'serial: APPL-E-4' "$T/nodes/w1/active.yaml"; then
	ok "apply --mode try: the node runs it, its persisted config is unchanged"; else not_ok "apply --mode try: persisted/active"; fi
for _ in $(seq 1 100); do grep -q "rolling back the configuration" "$T/nodes/w1/calls" && break; sleep 0.1; done
expect_out "apply: after the try timeout Talos rolled it back: the diff is there again" \
	'^ +\+ +serial: APPL-E-4$' ap "${TRY[@]}"
# Talos cancels a pending rollback at the start of any ApplyConfiguration not in TRY
# mode, dry runs included (v1alpha1_server.go): the plan after a try must not be one
N_RB=$(grep -c "rolling back the configuration" "$T/nodes/w1/calls")
check "apply --mode try --try-timeout 5s: applied again" ap "${TRY[@]}" --mode try --try-timeout 5s --apply
expect_out "apply: the plan right after a try says the node runs it on trial" \
	'w1 runs this config on trial \(an earlier --mode try\): Talos rolls it back unless it is applied again' ap "${TRY[@]}"
grep -q '^ApplyConfiguration mode=[0-35] dry_run=1' <(sed -n '/try_mode_timeout=5s$/,$p' "$T/nodes/w1/calls") &&
	not_ok "apply: the plan sent a non-TRY dry run, which cancels the rollback" ||
	ok "apply: the plan of a node on trial asks in TRY mode only"
for _ in $(seq 1 150); do [ "$(grep -c "rolling back the configuration" "$T/nodes/w1/calls")" -gt "$N_RB" ] && break; sleep 0.1; done
[ "$(grep -c "rolling back the configuration" "$T/nodes/w1/calls")" -gt "$N_RB" ] &&
	ok "apply: the plan after a try left Talos' rollback in place (it happened)" ||
	not_ok "apply: the plan's dry run confirmed the tried config: no rollback"
check "apply --mode try (default timeout 60s): applied" ap "${TRY[@]}" --mode try --apply
expect_out "apply: the run after a try says the node runs it on trial" \
	'w1 runs this config on trial \(an earlier --mode try\): Talos rolls it back unless it is applied again; --apply keeps it \(no-reboot\)' ap "${TRY[@]}"
check "apply: a run after the try keeps it" ap "${TRY[@]}" --apply
grep -q 'serial: APPL-E-4' "$T/nodes/w1/config.yaml" && [ ! -e "$T/nodes/w1/active.yaml" ] &&
	[ "$(grep -c '^ApplyConfiguration mode=1 dry_run=0' "$T/nodes/w1/calls")" -ge 1 ] &&
	ok "apply: the tried config is persisted by the confirming apply" || not_ok "apply: confirm did not persist"
expect_out "apply: then nothing is left to do" 'every node already runs the profile.s config' ap "${TRY[@]}"
expect_fail "apply --mode try: a change that needs a reboot is refused (checked as no-reboot)" 1 ap "${ROLE[@]}" --mode try
grep -q "this config change can't be applied in immediate mode" "$T/.out" && ok "apply --mode try: Talos' refusal shown" ||
	{ not_ok "apply --mode try: refusal"; sed 's/^/#   /' "$T/.out" | tail; }

# ---- refusals ---------------------------------------------------------------------------
BEFORE=$(conf_sums)
N0=$(applies)
expect_fail "apply: a new control plane endpoint is refused" 1 ap --set talos.endpoint=https://k8s.elsewhere.test:6443
for re in "cluster\.controlPlane\.endpoint \(the control plane endpoint\): 'https://k8s\.demo\.test:6443' -> 'https://k8s\.elsewhere\.test:6443'" \
	"refusing: the profile and secrets bundle would change the cluster's identity on cp1" 'nothing applied'; do
	grep -qE -- "$re" "$T/.out" && ok "apply: identity refusal says /$re/" || { not_ok "apply: identity refusal says /$re/"; sed 's/^/#   /' "$T/.out" | head -30; }
done
"$APPLIANCE" talos secrets "$PROFILE" --out "$T/other.yaml" >/dev/null 2>&1
# another bundle: the nodes do not even accept its client certificate
expect_fail "apply: another site's secrets bundle is refused" 1 "$APPLIANCE" apply "$PROFILE" "${SITE[@]}" "${EP[@]}" --secrets "$T/other.yaml" --timeout 5s
if [ "$(conf_sums)" = "$BEFORE" ] && [ "$(applies)" = "$N0" ]; then ok "apply: refusals change no node"; else not_ok "apply: a refusal changed a node"; fi

K8S2=(--set 'nodes[0].installDisk.serial=APPL-G-1' --set 'nodes[1].installDisk.serial=APPL-G-2' --set 'nodes[2].installDisk.serial=APPL-G-3' --set 'nodes[3].installDisk.serial=APPL-G-4')
day2_node_set cp2 refuse_apply '"1 error occurred:\n\t* machine.install.disk: disk /dev/nvme9n1 not found"'
expect_fail "apply: a config the node rejects stops before anything is applied" 1 ap "${K8S2[@]}" --apply
grep -q 'machine.install.disk: disk /dev/nvme9n1 not found' "$T/.out" && ok "apply: the node's validation error is shown" ||
	{ not_ok "apply: validation error"; sed 's/^/#   /' "$T/.out"; }
if [ "$(applies)" = "$N0" ]; then ok "apply: a refusal on cp2 applies nothing, not even to cp1"; else not_ok "apply: applied despite a refusal"; fi
day2_node_set cp2 refuse_apply '""'

# ---- a node whose Talos runs a sequence: refused before anything is sent --------------------
# Talos itself would take a REBOOT-mode apply (the sequence takeover cancels the upgrade):
# the MachineStatus stage (runtime/MachineStatuses.runtime.talos.dev) says so first
day2_node_set cp2 stage '"upgrading"'
CP2_APPLIES=$(grep -c "^ApplyConfiguration" "$T/nodes/cp2/calls")
expect_fail "apply --apply: refused while a node is upgrading" 1 ap "${K8S2[@]}" --apply
grep -qF "node cp2 is upgrading (Talos reports stage 'upgrading'); wait until it is running and re-run" "$T/.out" &&
	ok "apply: says the node is upgrading and what to do" || { not_ok "apply: upgrading message"; sed 's/^/#   /' "$T/.out"; }
if [ "$(grep -c "^ApplyConfiguration" "$T/nodes/cp2/calls")" != "$CP2_APPLIES" ]; then not_ok "apply: sent ApplyConfiguration to an upgrading node"
else ok "apply: nothing sent to the upgrading node, not even a dry run"; fi
if [ "$(applies)" = "$N0" ]; then ok "apply: an upgrading node applies nothing, not even to cp1"; else not_ok "apply: applied despite an upgrading node"; fi
day2_node_set cp2 stage '"resetting"'
expect_out "apply --apply: refused while a node resets" "node cp2 is resetting \\(Talos reports stage 'resetting'\\)" \
	ap "${K8S2[@]}" --apply
# the dry run alone changes nothing: not refused
day2_node_set cp2 stage '"upgrading"'
expect_fail "apply: the dry run of an upgrading node still runs" 0 ap "${K8S2[@]}"
day2_node_set cp2 stage 'null'
# a Talos without the resource API (UNIMPLEMENTED): noted, not refused
day2_node_set w1 machine_status_unimplemented true
check "apply --apply: a node without the resource API is applied" ap "${K8S2[@]}" --node w1 --mode no-reboot --apply
grep -q "w1 does not report its stage (no resource API: .*UNIMPLEMENTED.*); not checked" "$T/.out" &&
	ok "apply: says the stage of w1 was not checked" || { not_ok "apply: no-resource-API note"; sed 's/^/#   /' "$T/.out"; }
grep -q "w1: no resource API, Talos' readiness not checked (its services are healthy)" "$T/.out" &&
	ok "apply: the wait goes by w1's services alone" || { not_ok "apply: no-resource-API wait"; sed 's/^/#   /' "$T/.out"; }
day2_node_set w1 machine_status_unimplemented false

# ---- a node that does not come back ---------------------------------------------------------
day2_node_set cp2 after_reboot '"down"'
expect_fail "apply: a node that does not come back stops the run" 1 ap --set 'nodes[0].installDisk.serial=APPL-H-1' --set 'nodes[1].installDisk.serial=APPL-H-2' --set 'nodes[2].installDisk.serial=APPL-H-3' --set 'nodes[3].installDisk.serial=APPL-H-4' \
	--mode reboot --apply --wait 4s
for re in 'node cp2 did not come back \(its Talos API does not answer\) within 4s' \
	'stopped at node cp2; the nodes before it are applied'; do
	grep -qE -- "$re" "$T/.out" && ok "apply: says /$re/" || { not_ok "apply: says /$re/"; sed 's/^/#   /' "$T/.out" | tail -20; }
done
if grep -q "ApplyConfiguration mode=0 dry_run=0" "$T/nodes/cp3/calls" 2>/dev/null; then
	not_ok "apply: went on to cp3"
else ok "apply: did not go on to cp3 after cp2 failed"; fi

# ---- another apply holds the journal: say which command, not "install" ----------------------
mkdir -p "$T/state/apply"
flock "$T/state/apply/lock" sleep 30 &
holder=$!
at_exit "kill $holder"
sleep 0.2
expect_fail "apply: a journal held by another run is refused" 1 ap --set 'nodes[3].installDisk.serial=APPL-J-4' --apply
grep -qF "state directory '$T/state/apply' is in use by another apply" "$T/.out" &&
	ok "apply: the lock message names apply" || { not_ok "apply: lock message"; sed 's/^/#   /' "$T/.out"; }
kill $holder; wait $holder 2>/dev/null

# ---- usage --------------------------------------------------------------------------------
expect_fail "apply: --talosconfig cannot render configs" 2 "$APPLIANCE" apply "$PROFILE" --talosconfig /dev/null
expect_out "apply: unknown mode" "--mode 'retry': expected auto, no-reboot, reboot, staged or try" ap --mode retry
expect_out "apply: --try-timeout without --mode try" "apply: --try-timeout goes with --mode try" ap --try-timeout 30s
expect_out "apply: --try-timeout needs a unit" "--try-timeout '60': a duration needs a unit, as in the profile; did you mean '60s'\?" ap --mode try --try-timeout 60
expect_out "appliance help lists apply" '^  apply ' "$APPLIANCE" help
