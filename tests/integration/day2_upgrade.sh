#!/usr/bin/env bash
# appliance upgrade against the simulated site of tests/lib/day2.sh: the plan
# and its refusals (a version skew Talos does not allow, Kubernetes too new or
# more than one minor away, etcd short of a member), a rolling Talos upgrade
# through reboots with the Image Factory installer of the profile's schematic,
# an interrupted run that resumes from its journal, the Kubernetes upgrade
# through the machine configs, and the failures after an upgrade: a node that
# does not come back, one that boots the old version again, one that does not
# rejoin etcd.
. "$(dirname "$0")/../lib/tap.sh"
PY=/usr/bin/python3
. "$ROOT/tests/lib/day2.sh"

day2_site
kube_start
for n in $DAY2_NODES; do day2_node_set "$n" settle_seconds 0.5; done
OPTS=("${SITE[@]}" "${EP[@]}" --secrets "$T/secrets.yaml" --state-dir "$T/state")
up() { "$APPLIANCE" upgrade "$PROFILE" "${OPTS[@]}" "$@"; }
upgrades() { cat "$T"/nodes/*/calls | grep -c '^Upgrade '; }
versions() { for n in $DAY2_NODES; do $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"], end=" ")' "$T/nodes/$n/node.json"; done; }
has() { # DESC REGEX: the last output matches
	if grep -qE -- "$2" "$T/.out"; then ok "$1"; else not_ok "$1 (no /$2/)"; sed 's/^/#   /' "$T/.out" | tail -25; fi
}
wait_up() { for _ in $(seq 1 150); do grep -q "reboot: up" "$T/nodes/$1/calls" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
ID=$("$APPLIANCE" talos schematic "$PROFILE" "${SITE[@]}" --id)
IMG="factory.talos.dev/metal-installer/$ID:v1.10.6"

# ---- plan ----------------------------------------------------------------------
expect_fail "upgrade: the plan exits 0" 0 up --talos v1.10.6
# (text shows digests as 12 digits and '...' since 6fe68c3; --json keeps the whole image)
has "upgrade: the plan names the Image Factory installer of the profile's schematic" \
	"^ +write +Talos v1\.10\.5 -> v1\.10\.6 with factory\.talos\.dev/metal-installer/${ID:0:12}\.\.\.:v1\.10\.6$"
has "upgrade: the plan changes nothing without --apply" 'plan only: nothing was upgraded; re-run with --apply'
if [ "$(upgrades)" = 0 ]; then ok "upgrade: no Upgrade call for a plan"; else not_ok "upgrade: a plan called Upgrade"; fi
up --talos v1.10.6 --json >"$T/json.out" 2>&1
$PY -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev[0]["event"] == "begin" and ev[0]["command"] == "upgrade" and ev[-1]["event"] == "end", ev
assert any(sys.argv[2] in json.dumps(e) for e in ev), "no whole installer image"
' "$T/json.out" "$IMG" && ok "upgrade --json: one JSON event per line" || { not_ok "upgrade --json"; sed 's/^/#   /' "$T/json.out" | head; }
expect_fail "upgrade: nothing to do exits 0" 0 up
has "upgrade: nothing to do says so" 'every node already runs the target versions'

# ---- refusals: nothing is upgraded -----------------------------------------------------
day2_node_set w1 version '"v1.7.4"'
expect_fail "upgrade: a version skew Talos does not allow is refused" 1 up --talos v1.10.6 --apply
has "upgrade: the skew refusal gives upstream's rule" \
	'host version 1\.7\.4 is too old to upgrade to Talos 1\.10\.6 \(Talos 1\.10 upgrades from 1\.8\.0 or newer\); upgrade to the newest 1\.8\.x first'
has "upgrade: refused means nothing upgraded" 'refused: nothing was upgraded'
day2_node_set w1 version '"v1.10.5"'
expect_fail "upgrade: Kubernetes newer than the target Talos supports" 1 up --kubernetes v1.34.1 --kubeconfig "$T/kubeconfig"
has "upgrade: says which Kubernetes the Talos supports" \
	'version of Kubernetes 1\.34\.1 is too new to be used with Talos 1\.10\.5 \(supported: 1\.28\.0 to 1\.33\.x\)'
expect_fail "upgrade: Kubernetes more than one minor away" 1 up --talos v1.11.0 --kubernetes v1.32.0 --kubeconfig "$T/kubeconfig"
has "upgrade: a Kubernetes downgrade path is refused" 'unsupported Kubernetes upgrade path 1\.33\.2 -> 1\.32\.0'
# (a downgrade was told "upgrade to 1.34.x first", found by the new-user review)
has "upgrade: a Kubernetes downgrade says it never goes back, not to upgrade further" \
	'1\.33\.2 -> 1\.32\.0: Kubernetes never moves back to an older minor version \(stay on 1\.33\.x\)'
if grep -q 'upgrade to 1\.34\.x first' "$T/.out"; then
	not_ok "upgrade: a downgrade is not told to upgrade to the next minor"
else ok "upgrade: a downgrade is not told to upgrade to the next minor"; fi
cp "$T/etcd.json" "$T/etcd.full"
$PY -c "import json,sys; m=json.load(open(sys.argv[1])); json.dump([x for x in m if x['hostname']!='cp3'], open(sys.argv[1],'w'))" "$T/etcd.json"
expect_fail "upgrade: etcd missing a member is refused before anything" 1 up --talos v1.10.6 --apply
has "upgrade: the etcd refusal names the member" \
	'etcd \(asked cp1\) lacks cp3 \(missing\): upgrading a control plane now could lose etcd quorum'
cp "$T/etcd.full" "$T/etcd.json"
if [ "$(upgrades)" = 0 ]; then ok "upgrade: no refusal called Upgrade"; else not_ok "upgrade: a refusal called Upgrade"; fi

# ---- interrupted: cp2 takes longer than --wait; the re-run resumes --------------------------
day2_node_set cp2 reboot_seconds 4
expect_fail "upgrade: stops at the first node that does not come back in time" 1 up --talos v1.10.6 --apply --wait 2s
has "upgrade: says which node and why" 'node cp2 did not come back \(its Talos API does not answer\) within 2s'
has "upgrade: says how to resume" "stopped at node cp2; the nodes before it are done\. Look at it \(appliance status\), then re-run the same command: the journal in $T/state/upgrade continues from there"
if ! grep -q '^Upgrade ' "$T/nodes/cp3/calls" 2>/dev/null; then ok "upgrade: cp3 not touched after cp2 failed"; else not_ok "upgrade: went on to cp3"; fi
grep -q '"status": *"started"\|status=started\|started' "$T/state/upgrade/journal/talos-cp2" 2>/dev/null &&
	ok "upgrade: the journal has cp2 started" || { not_ok "upgrade: journal of cp2"; cat "$T/state/upgrade/journal/talos-cp2" 2>&1 | sed 's/^/#   /'; }
wait_up cp2 || diag "cp2 never came back"
day2_node_set cp2 reboot_seconds 1
check "upgrade: the re-run finishes" up --talos v1.10.6 --apply --wait 30s --kubeconfig "$T/kubeconfig"
has "upgrade: --kubeconfig waits for the Kubernetes node too" 'w1: Kubernetes node w1 Ready$' 
has "upgrade: the re-run resumes cp2 from the journal" 'resuming: the upgrade of cp2 was started before and it runs v1\.10\.6'
has "upgrade: the re-run waits for cp2's etcd" 'cp2: etcd has every control plane'
if [ "$(versions)" = "v1.10.6 v1.10.6 v1.10.6 v1.10.6 " ]; then ok "upgrade: every node on v1.10.6"; else not_ok "upgrade: versions $(versions)"; fi
for n in $DAY2_NODES; do
	c=$(grep -c "^Upgrade image=$IMG stage=0 force=0$" "$T/nodes/$n/calls")
	if [ "$c" = 1 ]; then ok "upgrade: $n upgraded once, with the factory installer"; else not_ok "upgrade: $n Upgrade calls: $c"; grep '^Upgrade' "$T/nodes/$n/calls" | sed 's/^/#   /'; fi
done
order=$(cat "$T"/nodes/*/calls >/dev/null; for n in $DAY2_NODES; do stat -c '%Y %n' "$T/nodes/$n/node.json"; done | sort -n -s | awk '{print $2}' | xargs -n1 dirname | xargs -n1 basename | tr '\n' ' ')
[ "${order% }" = "cp1 cp2 cp3 w1" ] && ok "upgrade: order cp1 cp2 cp3 w1" || not_ok "upgrade: order '$order'"
expect_out "upgrade: a third run has nothing to do" 'every node already runs the target versions' up --talos v1.10.6 --apply

# ---- Kubernetes: one component at a time through the machine configs, no reboot ----------------
# (step by step in day2_upgrade_k8s.sh)
downs=$(grep -c "reboot: down" "$T/nodes/w1/calls")
check "upgrade --kubernetes: applied" up --talos v1.10.6 --kubernetes v1.33.3 --apply --wait 30s --kubeconfig "$T/kubeconfig"
if grep -q 'image: ghcr.io/siderolabs/kubelet:v1.33.3' "$T/nodes/w1/config.yaml" &&
	grep -q 'image: registry.k8s.io/kube-apiserver:v1.33.3' "$T/nodes/cp3/config.yaml"; then
	ok "upgrade --kubernetes: kubelet and apiserver images moved"; else not_ok "upgrade --kubernetes: configs"; fi
n_apply=$(cat "$T"/nodes/*/calls | grep -c '^ApplyConfiguration mode=2 dry_run=0')
# one no-reboot apply per (component, node): 3 static pods + kubelet on 3 control planes, kubelet on w1
[ "$n_apply" = 13 ] && ok "upgrade --kubernetes: one no-reboot apply per component and node" || not_ok "upgrade --kubernetes: $n_apply applies"
[ "$(grep -c "reboot: down" "$T/nodes/w1/calls")" = "$downs" ] && ok "upgrade --kubernetes: no reboot" || not_ok "upgrade --kubernetes: rebooted"

# ---- killed in the middle (Ctrl-C, a lost SSH session): the re-run resumes -------------------------
day2_node_set cp2 reboot_seconds 6
"$APPLIANCE" upgrade "$PROFILE" "${OPTS[@]}" --talos v1.10.7 --apply --wait 60s >"$T/killed.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q '^Upgrade image=.*:v1.10.7 ' "$T/nodes/cp2/calls" && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -ne 0 ] && grep -q '^Upgrade image=.*:v1.10.7 ' "$T/nodes/cp2/calls" && ! grep -q ':v1.10.7 ' "$T/nodes/cp3/calls" &&
	ok "upgrade: killed while cp2 reboots (cp3 not reached)" || { not_ok "upgrade: the kill (rc $rc)"; sed 's/^/#   /' "$T/killed.out" | tail; }
# it died silently with 143 (found by the new-user review): now exit 1 and how to continue
[ "$rc" = 1 ] && grep -q '^appliance: stopped; re-run the same command to continue: the journal resumes$' "$T/killed.out" &&
	ok "upgrade: killed, it exits 1 and says to re-run" || { not_ok "upgrade: killed (rc $rc)"; tail -3 "$T/killed.out" | sed 's/^/#   /'; }
# a re-run at once, while cp2 still reboots: refused, saying why and what to do (it said only
# "cannot connect ... check that the node is up", found by the new-user review)
for _ in $(seq 1 150); do [ "$(grep -c 'reboot: down' "$T/nodes/cp2/calls")" -ge 2 ] && break; sleep 0.2; done
expect_rc_out "upgrade: a re-run while the interrupted node reboots is refused" 1 \
	'cp2 does not answer, and an earlier run started its upgrade and stopped before it came back: it may still be rebooting; wait until it answers \(appliance status\), then re-run: the journal resumes it' \
	up --talos v1.10.7 --apply --wait 30s
if grep -q ':v1.10.7 ' "$T/nodes/cp3/calls"; then not_ok "upgrade: the refused re-run went on to cp3"; else ok "upgrade: the refused re-run upgraded nothing"; fi
wait_up2() { for _ in $(seq 1 150); do [ "$(grep -c 'reboot: up' "$T/nodes/cp2/calls")" -ge 2 ] && return 0; sleep 0.2; done; return 1; }
wait_up2 || diag "cp2 did not come back after the kill"
day2_node_set cp2 reboot_seconds 1
expect_fail "upgrade: the run after the kill exits 0" 0 up --talos v1.10.7 --apply --wait 30s
has "upgrade: it resumes cp2 from the journal" 'resuming: the upgrade of cp2 was started before and it runs v1\.10\.7'
[ "$(grep -c '^Upgrade image=.*:v1.10.7 ' "$T/nodes/cp2/calls")" = 1 ] && ok "upgrade: cp2 not asked to upgrade twice" ||
	not_ok "upgrade: cp2 asked twice"
if [ "$(versions)" = "v1.10.7 v1.10.7 v1.10.7 v1.10.7 " ]; then ok "upgrade: every node on v1.10.7 after the resume"; else not_ok "upgrade: versions $(versions)"; fi

# ---- the config is left alone: Talos does not rewrite machine.install.image on an upgrade ------------
grep -q "image: factory.talos.dev/metal-installer/$ID:v1.10.5$" "$T/nodes/w1/config.yaml" &&
	ok "upgrade: the node's config keeps the installer image of the install (v1.10.5)" ||
	{ not_ok "upgrade: installer image in w1's config"; grep 'installer' "$T/nodes/w1/config.yaml" | sed 's/^/#   /'; }

# ---- busy: another upgrade holds etcd's upgrade lock (tryLockUpgradeMutex) ----------------------------
printf '{"holder": "cp2", "expires": %s}\n' "$(($(date +%s) + 60))" >"$T/etcd.json.upgrade-mutex"
expect_fail "upgrade: a control plane whose upgrade lock another upgrade holds" 1 up --talos v1.10.8 --node cp1 --apply --wait 10s
has "upgrade: says the node is busy, Talos' words, and to wait and re-run" \
	"node cp1 is busy: an upgrade is in progress \(Talos could not take etcd's upgrade lock, which another upgrade's checks hold: .*UNKNOWN: failed to acquire upgrade mutex: error trying to lock etcd upgrade mutex: mutex: Locked by another session\); wait a minute and re-run"
[ "$(versions)" = "v1.10.7 v1.10.7 v1.10.7 v1.10.7 " ] && ! grep -q "reboot: down" <(tail -n +"$(grep -n ':v1.10.8 ' "$T/nodes/cp1/calls" | head -1 | cut -d: -f1)" "$T/nodes/cp1/calls") &&
	ok "upgrade: the busy node was not upgraded (no reboot)" || not_ok "upgrade: busy: versions $(versions)"
rm -f "$T/etcd.json.upgrade-mutex"
# a member that does not answer: Talos checks every member's health (etcd.go ValidateForUpgrade)
$PY -c "import json,sys; m=json.load(open(sys.argv[1])); m[2]['healthy']=False; json.dump(m, open(sys.argv[1],'w'))" "$T/etcd.json"
expect_fail "upgrade: a control plane with an etcd member that does not answer" 1 up --talos v1.10.8 --node cp1 --apply --wait 10s
has "upgrade: Talos' refusal names the unhealthy member" \
	'cp1 refused the upgrade: .*UNKNOWN: error validating etcd for upgrade: etcd member [0-9a-f]{16} is not healthy; all members must be healthy to perform an upgrade: context deadline exceeded'
cp "$T/etcd.full" "$T/etcd.json"

# ---- --force: skips the etcd checks (ours and Talos'), waits only for the node itself in etcd ----------
$PY -c "import json,sys; m=json.load(open(sys.argv[1])); json.dump([x for x in m if x['hostname']!='cp3'], open(sys.argv[1],'w'))" "$T/etcd.json"
expect_fail "upgrade --force: etcd short of a member is upgraded anyway" 0 up --talos v1.10.8 --node cp2 --apply --force --wait 20s
has "upgrade --force: says what it skips" 'etcd \(asked cp2\) lacks cp3 \(missing\): --force: upgrading anyway; a control plane upgraded now can lose etcd quorum'
has "upgrade --force: waits for the node itself in etcd" 'cp2: back in etcd$'
grep -q "^Upgrade image=factory.talos.dev/metal-installer/$ID:v1.10.8 stage=0 force=1$" "$T/nodes/cp2/calls" &&
	ok "upgrade --force: UpgradeRequest.force sent" || not_ok "upgrade --force: $(grep '^Upgrade' "$T/nodes/cp2/calls" | tail -1)"
cp "$T/etcd.full" "$T/etcd.json"

# ---- another upgrade runs on the node: refused by its MachineStatus stage; with --force asked anyway,
#      and Talos acknowledges the second Upgrade and never runs it (sequence lock)
day2_node_set w1 upgrade_seconds 8
"$APPLIANCE" upgrade "$PROFILE" "${OPTS[@]}" --state-dir "$T/state-other" --talos v1.10.10 --node w1 --apply --wait 30s >"$T/other.out" 2>&1 &
other=$!
for _ in $(seq 1 100); do grep -q '^Upgrade image=.*:v1.10.10 ' "$T/nodes/w1/calls" && break; sleep 0.1; done
expect_fail "upgrade: refused while another upgrade runs on the node" 1 up --talos v1.10.11 --node w1 --apply --wait 20s
has "upgrade: says the node is upgrading and what to do" \
	"node w1 is upgrading \(Talos reports stage 'upgrading'\); wait until it is running and re-run"
grep -q ':v1.10.11 ' "$T/nodes/w1/calls" && not_ok "upgrade: an Upgrade was sent to the upgrading node" ||
	ok "upgrade: nothing sent to the upgrading node"
expect_fail "upgrade --force: a node already upgrading by another run is asked anyway" 1 up --talos v1.10.11 --node w1 --apply --force --wait 20s
has "upgrade --force: says what it skips" \
	"--force: node w1 is upgrading \(Talos reports stage 'upgrading'\).*; asking anyway \(--force skips this check: Talos acknowledges an upgrade while a sequence runs and ignores it\)"
has "upgrade: says another upgrade ran instead of ours" \
	'node w1 came back on Talos v1\.10\.10, neither v1\.10\.7 \(before\) nor v1\.10\.11: another upgrade of it \(talosctl, another appliance run\) was in progress, and Talos acknowledged ours without running it; re-run to upgrade it to v1\.10\.11'
grep -q '^upgrade failed: locked$' "$T/nodes/w1/calls" && ok "upgrade: the stand-in acknowledged the second Upgrade without running it" ||
	not_ok "upgrade: no 'locked' on w1"
wait "$other" && ok "upgrade: the other run finished" || { not_ok "upgrade: the other run"; sed 's/^/#   /' "$T/other.out" | tail; }

# ---- killed while its own upgrade of the node still runs: the re-run waits for it, not refuses --------
"$APPLIANCE" upgrade "$PROFILE" "${OPTS[@]}" --talos v1.10.11 --node w1 --apply --wait 30s >"$T/killed2.out" 2>&1 &
pid=$!
n0=$(grep -c '^Upgrade image=.*:v1.10.11 ' "$T/nodes/w1/calls")
for _ in $(seq 1 100); do [ "$(grep -c '^Upgrade image=.*:v1.10.11 ' "$T/nodes/w1/calls")" -gt "$n0" ] && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
expect_fail "upgrade: the re-run while its own upgrade of w1 still runs exits 0" 0 up --talos v1.10.11 --node w1 --apply --wait 30s
has "upgrade: the re-run finds its own upgrade still running and waits for it" \
	'resuming: the upgrade of w1 started before \(run [0-9]+\) still runs'
[ "$(grep -c '^Upgrade image=.*:v1.10.11 ' "$T/nodes/w1/calls")" = "$((n0 + 1))" ] && ok "upgrade: w1 not asked twice" ||
	not_ok "upgrade: w1 asked $(grep -c '^Upgrade image=.*:v1.10.11 ' "$T/nodes/w1/calls") times (before: $n0)"
day2_node_set w1 upgrade_seconds 0.3

# ---- after the upgrade, each way it can go wrong ---------------------------------------------------
day2_node_set cp3 after_upgrade '"rollback"'
expect_fail "upgrade: a node that boots the old version again" 1 up --talos v1.10.8 --node cp3 --apply --wait 5s --stage
grep -q '^Upgrade image=.*:v1.10.8 stage=1 force=0$' "$T/nodes/cp3/calls" && ok "upgrade --stage: asks for a staged upgrade" ||
	not_ok "upgrade --stage: $(grep '^Upgrade' "$T/nodes/cp3/calls" | tail -1)"
has "upgrade: says Talos went back to the previous version" \
	'node cp3 came back on Talos v1\.10\.7, not v1\.10\.8: the new version did not boot and Talos went back to the previous one'
day2_node_set cp3 after_upgrade '"ok"'

day2_node_set cp1 after_upgrade '"no-etcd"'
expect_fail "upgrade: a control plane that does not rejoin etcd" 1 up --talos v1.10.8 --node cp1 --apply --wait 4s
has "upgrade: names the missing etcd member" \
	'node cp1 did not get every control plane back into etcd within 4s \(last: etcd \(asked cp1\) lacks cp1 \(missing\)\)'
cp "$T/etcd.full" "$T/etcd.json"

# Talos' own readiness (MachineStatus), what talosctl upgrade waits for
# (MachineReadyEventFn): services healthy is not enough while a static pod is not Ready
day2_node_set cp3 unmet '[["staticPods", "kube-system/kube-apiserver-cp3 not ready"]]'
expect_fail "upgrade: a control plane whose static pods are not ready" 1 up --talos v1.10.8 --node cp3 --apply --wait 4s
has "upgrade: names Talos' unmet condition" \
	"node cp3 did not become ready \(Talos' machine status\) within 4s \(last: Talos reports stage running, not ready: staticPods: kube-system/kube-apiserver-cp3 not ready\)"
day2_node_set cp3 unmet '[]'
expect_fail "upgrade: once Talos reports it ready, the re-run finishes" 0 up --talos v1.10.8 --node cp3 --apply --wait 20s
has "upgrade: waited for Talos' readiness" 'cp3: Talos reports it running and ready$'

$PY - "$T/kube/nodes.json" <<'PYEOF'
import json, sys
n = json.load(open(sys.argv[1]))
n[3]["status"]["conditions"][1].update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
json.dump(n, open(sys.argv[1], "w"))
PYEOF
expect_fail "upgrade: a node that does not become Ready in Kubernetes" 1 up --talos v1.10.8 --node w1 --apply --wait 4s --kubeconfig "$T/kubeconfig"
has "upgrade: says what Kubernetes reports for it" \
	'node w1 did not become Ready in Kubernetes within 4s \(last: Kubernetes node w1 not Ready: NodeStatusUnknown: Kubelet stopped posting node status\.\)'

day2_node_set w1 after_upgrade '"down"'
expect_fail "upgrade: a node that never comes back" 1 up --talos v1.10.9 --node w1 --apply --wait 4s
has "upgrade: says it did not come back, and the last error" \
	'node w1 did not come back \(its Talos API does not answer\) within 4s \(last: .*127\.0\.0\.1'

# ---- usage --------------------------------------------------------------------------------------
expect_fail "upgrade --kubernetes with an unreadable talosconfig is a usage error" 2 "$APPLIANCE" upgrade "$PROFILE" --talosconfig /dev/null --kubernetes v1.33.3
# a bad --talos was reported as "--set talos.version:1:1: ..." (found by the new-user review)
expect_rc_out "upgrade: a bad --talos is a usage error naming --talos" 2 \
	"^appliance upgrade: --talos 'vX': expected a version such as v1\.10\.6$" up --talos vX
if grep -q -- '--set' "$T/.out"; then not_ok "upgrade: a bad --talos does not name --set"; else ok "upgrade: a bad --talos does not name --set"; fi
expect_rc_out "upgrade: a bad --kubernetes is a usage error naming --kubernetes" 2 \
	"^appliance upgrade: --kubernetes '1\.33': expected a version such as v1\.33\.3$" up --kubernetes 1.33 --kubeconfig "$T/kubeconfig"
expect_out "appliance help lists upgrade" '^  upgrade ' "$APPLIANCE" help
