#!/usr/bin/env bash
# appliance upgrade --kubernetes against the simulated site of tests/lib/day2.sh,
# step by step as talosctl upgrade-k8s (siderolabs/talos v1.10.5
# pkg/cluster/kubernetes/talos_managed.go): pre-checks, the dry-run diff of each
# one-image patch, image pre-pull, kube-apiserver / kube-controller-manager /
# kube-scheduler one at a time across the control planes, then every kubelet,
# then the bootstrap manifests synced (read from cp1 through COSI State/List,
# GET + dry-run PUT + POST/PUT, rollouts waited for: go-kubernetes v0.2.23
# manifests/sync.go, rollout.go); journaled per (component, node) and for the
# sync. Failure paths: an image the registry does not have, a static pod that
# never runs the new image, a Node whose kubelet stays old, an interrupted run
# that resumes, a DaemonSet that never rolls out.
. "$(dirname "$0")/../lib/tap.sh"
PY=/usr/bin/python3
. "$ROOT/tests/lib/day2.sh"

day2_site
kube_start
OPTS=("${SITE[@]}" "${EP[@]}" --secrets "$T/secrets.yaml" --state-dir "$T/state" --kubeconfig "$T/kubeconfig")
up() { "$APPLIANCE" upgrade "$PROFILE" "${OPTS[@]}" "$@" >"$T/.out" 2>&1; }
has() { # DESC REGEX: the last output matches
	if grep -qE -- "$2" "$T/.out"; then ok "$1"; else not_ok "$1 (no /$2/)"; sed 's/^/#   /' "$T/.out" | tail -30; fi
}
applies() { cat "$T"/nodes/*/calls | grep -c '^ApplyConfiguration mode=2 dry_run=0'; }
seed_proxy() { # IMAGE: the cluster's kube-proxy DaemonSet (as kubectl get -o json shows it) runs IMAGE
	$PY - "$T/kube/objects.json" "$1" <<'PYEOF'
import json, os, sys
objs = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
l = {"k8s-app": "kube-proxy", "tier": "node"}
objs["/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"] = {"apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": l, "uid": "u1", "resourceVersion": "7",
                 "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"selector": {"matchLabels": l}, "template": {"metadata": {"labels": l},
             "spec": {"containers": [{"name": "kube-proxy", "image": sys.argv[2]}]}}}}
json.dump(objs, open(sys.argv[1], "w"))
PYEOF
}
img() { grep -E "^ +image: .*/$2:" "$T/nodes/$1/config.yaml" | sed 's/.*://'; }

# ---- usage -------------------------------------------------------------------------------
expect_fail "upgrade --kubernetes without --kubeconfig is a usage error" 2 \
	"$APPLIANCE" upgrade "$PROFILE" "${SITE[@]}" "${EP[@]}" --secrets "$T/secrets.yaml" --kubernetes v1.33.3

# ---- plan: pre-checks, one dry run per (component, node), nothing changed ------------------------
up --kubernetes v1.33.3
rc=$?
[ "$rc" = 0 ] && ok "plan: exits 0" || not_ok "plan: exit $rc"
has "plan: the pre-checks name the lowest version the nodes run" 'lowest Kubernetes version the nodes'"'"' configs run: v1\.33\.2'
has "plan: the pre-checks read each Node's kubelet through the Kubernetes API" 'Kubernetes node w1: kubelet v1\.33\.2, Ready'
has "plan: a patch path removes nothing (go-kubernetes checks.go has no row for it)" 'removed flags, feature gates and APIs: none on this path'
has "plan: kube-apiserver on cp2 is one step" 'kube-apiserver/cp2'
has "plan: the dry-run diff Talos reports for the one-image patch" '^ +-    image: registry\.k8s\.io/kube-scheduler:v1\.33\.2$'
has "plan: ... and its new line" '^ +\+    image: registry\.k8s\.io/kube-scheduler:v1\.33\.3$'
has "plan: the kubelet of the worker" 'kubelet/w1'
has "plan: the bootstrap manifests read from cp1" 'bootstrap manifests Talos renders on cp1, as they are now'
has "plan: a manifest the cluster lacks would be created" '^ +create +apps/v1\.Deployment/kube-system/coredns$'
has "plan: cluster-scoped objects too" '^ +create +rbac\.authorization\.k8s\.io/v1\.ClusterRoleBinding/system-bootstrap-node-bootstrapper$'
if ! grep -q 'kube-proxy' <(grep -E '^ +(create|update|keep) ' "$T/.out"); then ok "plan: no kube-proxy manifest while it is disabled"; else not_ok "plan: kube-proxy listed"; fi
if ! grep -qE '^(POST|PUT) [^ ]+ image' "$T/kube/requests" 2>/dev/null; then ok "plan: nothing written to the Kubernetes API"; else not_ok "plan: wrote $(grep -E '^(POST|PUT)' "$T/kube/requests")"; fi
n_dry=$(cat "$T"/nodes/*/calls | grep -c '^ApplyConfiguration mode=2 dry_run=1')
# 3 static pods x 3 control planes + 4 kubelets (kube-proxy is off in this profile)
[ "$n_dry" = 13 ] && ok "plan: 13 dry runs, one per (component, node)" || not_ok "plan: $n_dry dry runs"
[ "$(applies)" = 0 ] && ok "plan: nothing applied" || not_ok "plan: $(applies) applies"
if ! grep -q ImagePull "$T"/nodes/*/calls; then ok "plan: nothing pulled"; else not_ok "plan: pulled images"; fi
if grep -qE 'canary-|BEGIN .*PRIVATE' "$T/.out"; then not_ok "plan: a secret in the output"; else ok "plan: no secret in the output"; fi

# ---- kube-proxy enabled (a site without Cilium's replacement): its config after the scheduler ----------
for n in cp1 cp2 cp3; do cp "$T/nodes/$n/config.yaml" "$T/nodes/$n/config.noproxy"; sed -i '/^  proxy:$/,/^  [a-z]/{/^    disabled: true$/d}' "$T/nodes/$n/config.yaml"; done
up --kubernetes v1.33.3 --json
$PY - "$T/.out" <<'PYEOF' && ok "kube-proxy: planned on each control plane after the scheduler, before the kubelets (--json)" || { not_ok "kube-proxy plan"; tail -5 "$T/.out" | sed 's/^/#   /'; }
import json, sys
steps = []
for l in open(sys.argv[1]):
    ev = json.loads(l)
    if ev.get("event") == "step-begin" and ev["step"] not in steps:
        steps.append(ev["step"])
k = [s for s in steps if "/" in s and not s.startswith("kubernetes/")]
assert k[9:12] == ["kube-proxy/cp1", "kube-proxy/cp2", "kube-proxy/cp3"], k
assert k[8] == "kube-scheduler/cp3" and k[12] == "kubelet/cp1", k
assert not any(s == "kube-proxy/w1" for s in k), k
PYEOF
has "kube-proxy: in the bootstrap manifests when enabled" '"[^"]*apps/v1\.DaemonSet/kube-system/kube-proxy'
# the cluster runs an older kube-proxy than cp1 renders: the plan shows the change (a dryRun=All PUT)
seed_proxy registry.k8s.io/kube-proxy:v1.33.1
up --kubernetes v1.33.3
has "kube-proxy: the plan shows the DaemonSet would change" '^ +update +apps/v1\.DaemonSet/kube-system/kube-proxy$'
has "kube-proxy: ... and which field, from the dry-run answer" 'spec\.template\.spec\.containers\[0\]\.image: registry\.k8s\.io/kube-proxy:v1\.33\.1 -> registry\.k8s\.io/kube-proxy:v1\.33\.2$'
grep -q '^PUT /apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy dryRun ' "$T/kube/requests" && ok "kube-proxy: the plan asked with dryRun=All" || not_ok "kube-proxy: no dry-run PUT"
if ! grep -qE '^(POST|PUT) [^ ]+ image' "$T/kube/requests"; then ok "kube-proxy: the plan wrote nothing"; else not_ok "kube-proxy: the plan wrote $(grep -E '^(POST|PUT) [^ ]+ image' "$T/kube/requests")"; fi
if ! grep -qE '(metadata|status)\.[A-Za-z.]+: ' "$T/.out"; then ok "kube-proxy: what Kubernetes sets is not shown as a change"; else not_ok "kube-proxy: $(grep -E '(metadata|status)\.[A-Za-z.]+: ' "$T/.out" | head -3)"; fi
# a DaemonSet the API server refuses (422 Invalid): the plan fails with the API server's words
cp "$T/nodes/cp1/config.yaml" "$T/nodes/cp1/config.valid"
sed -i -E 's#^( +image: )registry\.k8s\.io/kube-proxy:.*#\1""#' "$T/nodes/cp1/config.yaml"
up --kubernetes v1.33.3
rc=$?
[ "$rc" = 1 ] && ok "invalid manifest: the plan refuses (exit 1)" || not_ok "invalid manifest: exit $rc"
has "invalid manifest: names the object and the API server's answer" \
	'apps/v1\.DaemonSet/kube-system/kube-proxy: PUT https://127\.0\.0\.1:[0-9]+/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy\?dryRun=All: HTTP 422: DaemonSet\.apps "kube-proxy" is invalid: spec\.template\.spec\.containers\[0\]\.image: Required value'
mv "$T/nodes/cp1/config.valid" "$T/nodes/cp1/config.yaml"
rm -f "$T/kube/objects.json"
for n in cp1 cp2 cp3; do mv "$T/nodes/$n/config.noproxy" "$T/nodes/$n/config.yaml"; done

# ---- a pre-pull the registry refuses: stops before any change -----------------------------------
day2_node_set cp3 pull_missing '["registry.k8s.io/kube-controller-manager:v1.33.3"]'
up --kubernetes v1.33.3 --apply --wait 10s
rc=$?
[ "$rc" = 1 ] && ok "pull failure: exit 1" || not_ok "pull failure: exit $rc"
has "pull failure: names the image, the node and Talos' answer" \
	'error pre-pulling registry\.k8s\.io/kube-controller-manager:v1\.33\.3 on cp3: .*error pulling image: failed to pull image "registry\.k8s\.io/kube-controller-manager:v1\.33\.3": .*not found'
has "pull failure: says where it stopped and how to resume" 'stopped at the image pre-pull; the steps before it are done.* re-run the same command'
[ "$(applies)" = 0 ] && ok "pull failure: no config changed" || not_ok "pull failure: $(applies) applies"
day2_node_set cp3 pull_missing '[]'

# ---- a static pod that never runs the new image: timeout, stop ----------------------------------
day2_node_set cp2 kube_stuck '["kube-controller-manager"]'
: >"$T/order.log"
up --kubernetes v1.33.3 --apply --wait 3s
rc=$?
[ "$rc" = 1 ] && ok "stuck pod: exit 1" || not_ok "stuck pod: exit $rc"
has "stuck pod: names the component, node, version and what the pod runs" \
	'kube-controller-manager on cp2 did not run v1\.33\.3 and become Ready within 3s \(last: pod kube-controller-manager-cp2 runs registry\.k8s\.io/kube-controller-manager:v1\.33\.2\)'
has "stuck pod: how to resume" 'stopped at kube-controller-manager on cp2; the steps before it are done'
[ "$(img cp3 kube-controller-manager)" = v1.33.2 ] && ok "stuck pod: cp3 not touched after cp2" || not_ok "stuck pod: cp3 $(img cp3 kube-controller-manager)"
[ "$(img cp1 kube-scheduler)" = v1.33.2 ] && ok "stuck pod: the scheduler not started" || not_ok "stuck pod: scheduler moved"
$PY - "$T/order.log" <<'PYEOF' && ok "order: pre-pull first, then kube-apiserver across cp1 cp2 cp3, then the controller-manager" || { not_ok "order"; sed 's/^/#   /' "$T/order.log"; }
import sys
lines = [l.split() for l in open(sys.argv[1])]
pulls = [i for i, l in enumerate(lines) if l[1] == "ImagePull"]
changes = [(l[0], l[2].split("=")[0]) for l in lines if l[1] == "ApplyConfiguration"]
assert pulls and max(pulls) < min(i for i, l in enumerate(lines) if l[1] == "ApplyConfiguration"), lines
assert changes == [("cp1", "cluster.apiServer.image"), ("cp2", "cluster.apiServer.image"),
                   ("cp3", "cluster.apiServer.image"), ("cp1", "cluster.controllerManager.image"),
                   ("cp2", "cluster.controllerManager.image")], changes
# every apply changed one image only
assert all(len(l) == 3 for l in lines if l[1] == "ApplyConfiguration")
# kubelet images go to the system namespace, the static pods' to the CRI one
assert ["cp1", "ImagePull", "NS_SYSTEM", "ghcr.io/siderolabs/kubelet:v1.33.3"] in lines, lines
assert ["w1", "ImagePull", "NS_SYSTEM", "ghcr.io/siderolabs/kubelet:v1.33.3"] in lines, lines
assert ["cp2", "ImagePull", "NS_CRI", "registry.k8s.io/kube-apiserver:v1.33.3"] in lines, lines
assert not any(l[0] == "w1" and l[2] == "NS_CRI" for l in lines if l[1] == "ImagePull"), lines
PYEOF

# ---- the re-run resumes: done steps skipped, the started one patched no more, waited for ------------
day2_node_set cp2 kube_stuck '[]'
before=$(grep -c '^ApplyConfiguration mode=2 dry_run=0' "$T/nodes/cp1/calls")
: >"$T/order.log"
up --kubernetes v1.33.3 --apply --wait 10s
rc=$?
[ "$rc" = 0 ] && ok "resume: exit 0" || not_ok "resume: exit $rc"
has "resume: kube-apiserver steps journaled done are skipped" 'kube-apiserver/cp1.*|skipped|skip'
has "resume: the interrupted step resumes" 'resuming: kube-controller-manager/cp2 was started before'
has "resume: and finds its image in place" 'registry\.k8s\.io/kube-controller-manager:v1\.33\.3 already in the config of cp2'
if ! grep -q 'apiServer' "$T/order.log"; then ok "resume: kube-apiserver not patched again"; else not_ok "resume: apiserver patched again"; fi
if ! grep -q '^cp2 ApplyConfiguration cluster.controllerManager' "$T/order.log"; then ok "resume: cp2 not patched twice"; else not_ok "resume: cp2 patched twice"; fi
$PY - "$T/order.log" <<'PYEOF' && ok "order: then cm on cp3, the scheduler across cp1..cp3, the kubelets cp1 cp2 cp3 w1" || { not_ok "order after resume"; sed 's/^/#   /' "$T/order.log"; }
import sys
changes = [(l.split()[0], l.split()[2].split("=")[0]) for l in open(sys.argv[1]) if l.split()[1] == "ApplyConfiguration"]
want = [("cp3", "cluster.controllerManager.image")] + [(n, "cluster.scheduler.image") for n in ("cp1", "cp2", "cp3")] + \
       [(n, "machine.kubelet.image") for n in ("cp1", "cp2", "cp3", "w1")]
assert changes == want, changes
PYEOF
has "kubelet: waits for the Node to report the new version" 'Kubernetes node w1: kubelet v1\.33\.3, Ready'
has "static pod: waits for the pod on the new image" 'kube-scheduler pod on cp3 runs v1\.33\.3, Ready'
has "manifests: the CoreDNS Deployment the cluster lacked is created" 'apps/v1\.Deployment/kube-system/coredns: created'
has "manifests: and its rollout waited for" 'apps/v1\.Deployment/kube-system/coredns rolled out'
grep -q '^POST /apis/apps/v1/namespaces/kube-system/deployments image=registry.k8s.io/coredns/coredns:v1.12.1$' "$T/kube/requests" &&
	ok "manifests: POSTed to the Deployments of kube-system" || not_ok "manifests: no POST of coredns"
for n in cp1 cp2 cp3; do
	v="$(img $n kube-apiserver) $(img $n kube-controller-manager) $(img $n kube-scheduler) $(img $n kubelet)"
	[ "$v" = "v1.33.3 v1.33.3 v1.33.3 v1.33.3" ] && ok "$n: every component on v1.33.3" || not_ok "$n: $v"
done
[ "$(img w1 kubelet)" = v1.33.3 ] && ok "w1: kubelet on v1.33.3" || not_ok "w1: $(img w1 kubelet)"
if ! grep -q 'reboot: down' "$T"/nodes/*/calls; then ok "no node rebooted"; else not_ok "a node rebooted"; fi
up --kubernetes v1.33.3 --apply --wait 10s
has "a third run: every step journaled done, nothing to do" 'every node already runs the target versions'

# ---- a Node whose kubelet stays old: timeout with the Node's version ------------------------------
day2_node_set w1 kube_stuck '["kubelet"]'
up --kubernetes v1.33.4 --apply --wait 3s --node w1
rc=$?
[ "$rc" = 1 ] && ok "old kubelet: exit 1" || not_ok "old kubelet: exit $rc"
has "old kubelet: says what the Node reports" \
	'node w1 did not report kubelet v1\.33\.4 within 3s \(last: node version mismatch: got "v1\.33\.3", expected "v1\.33\.4"\)'
has "old kubelet: how to resume" 'stopped at kubelet on w1'
day2_node_set w1 kube_stuck '[]'

# ---- a Talos without ImagePull: skipped as upgrade-k8s does -------------------------------------
day2_node_set w1 image_pull_unimplemented true
up --kubernetes v1.33.4 --apply --wait 10s --node w1
rc=$?
[ "$rc" = 0 ] && ok "no ImagePull: the upgrade goes on" || not_ok "no ImagePull: exit $rc"
has "no ImagePull: the node is skipped, as upgrade-k8s does" 'w1: ImagePull not implemented, skipping'
has "resume after the old kubelet: the started step is resumed" 'resuming: kubelet/w1 was started before'

# ---- killed while waiting for a static pod (Ctrl-C, a lost SSH session): the re-run resumes ---------
day2_node_set cp3 kube_stuck '["kube-scheduler"]'
: >"$T/order.log"
"$APPLIANCE" upgrade "$PROFILE" "${OPTS[@]}" --kubernetes v1.33.6 --apply --wait 120s >"$T/killed.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q '^cp3 ApplyConfiguration cluster.scheduler.image=.*:v1.33.6$' "$T/order.log" && break; sleep 0.1; done
sleep 0.5
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -ne 0 ] && grep -q '^cp3 ApplyConfiguration cluster.scheduler' "$T/order.log" && ! grep -q 'kubelet' <(grep ApplyConfiguration "$T/order.log") &&
	ok "killed: while waiting for kube-scheduler on cp3 (no kubelet patched yet)" || { not_ok "killed (rc $rc)"; sed 's/^/#   /' "$T/killed.out" | tail; }
day2_node_set cp3 kube_stuck '[]'
up --kubernetes v1.33.6 --apply --wait 10s
rc=$?
[ "$rc" = 0 ] && ok "killed: the re-run exits 0" || not_ok "killed: re-run exit $rc"
has "killed: resumes the step it was in" 'resuming: kube-scheduler/cp3 was started before \(run [0-9]+\)'
[ "$(grep -c '^cp3 ApplyConfiguration cluster.scheduler' "$T/order.log")" = 1 ] && ok "killed: cp3's scheduler patched once" ||
	not_ok "killed: cp3's scheduler patched $(grep -c '^cp3 ApplyConfiguration cluster.scheduler' "$T/order.log") times"
[ "$(img w1 kubelet) $(img cp3 kube-scheduler)" = "v1.33.6 v1.33.6" ] && ok "killed: the run finished after the resume" || not_ok "killed: $(img w1 kubelet) $(img cp3 kube-scheduler)"

# ---- kube-proxy enabled: its DaemonSet gets the new image and rolls out -----------------------------
for n in cp1 cp2 cp3; do sed -i '/^  proxy:$/,/^  [a-z]/{/^    disabled: true$/d}' "$T/nodes/$n/config.yaml"; done
seed_proxy "$(grep -E '^ +image: .*/kube-proxy:' "$T/nodes/cp1/config.yaml" | sed 's/.*image: //')"
echo '["kube-proxy"]' >"$T/kube/conflict_once" # another writer updates it between the dry run and the PUT
up --kubernetes v1.33.7 --apply --wait 10s
rc=$?
[ "$rc" = 0 ] && ok "kube-proxy sync: exit 0" || not_ok "kube-proxy sync: exit $rc"
has "kube-proxy sync: the DaemonSet updated" 'apps/v1\.DaemonSet/kube-system/kube-proxy: updated'
has "kube-proxy sync: its rollout waited for" 'apps/v1\.DaemonSet/kube-system/kube-proxy rolled out'
[ "$(grep -c '^PUT /apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy image=' "$T/kube/requests")" = 2 ] &&
	ok "kube-proxy sync: a 409 conflict is retried with the new resourceVersion (sync.go)" || not_ok "kube-proxy sync: $(grep -c '^PUT /apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy image=' "$T/kube/requests") PUTs"
n_get=$(awk '$2 != "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy" {next} $1 == "PUT" && $3 ~ /^image=/ {n = 0} $1 == "GET" {n++} END {print n + 0}' "$T/kube/requests")
[ "$n_get" -ge 4 ] && ok "kube-proxy sync: polled the DaemonSet until its 4 pods were up to date ($n_get reads)" || not_ok "kube-proxy sync: $n_get reads after the PUT"
has "kube-proxy sync: CoreDNS unchanged" 'apps/v1\.Deployment/kube-system/coredns: no changes'
$PY - "$T/kube/objects.json" <<'PYEOF' && ok "kube-proxy sync: the cluster's DaemonSet runs registry.k8s.io/kube-proxy:v1.33.7, generation 4" || not_ok "kube-proxy sync: DaemonSet not updated"
import json, sys
ds = json.load(open(sys.argv[1]))["/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"]
assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.k8s.io/kube-proxy:v1.33.7", ds
assert ds["metadata"]["generation"] == 4 and ds["metadata"]["resourceVersion"] == "9", ds
PYEOF
up --kubernetes v1.33.7 --apply --wait 10s
has "kube-proxy sync: a re-run finds nothing to do" 'every node already runs the target versions|in sync \(journal\)'

# ---- a DaemonSet that never rolls out: timeout, stop, the re-run waits again ------------------------
echo '["kube-proxy"]' >"$T/kube/rollout_stuck"
up --kubernetes v1.33.8 --apply --wait 3s
rc=$?
[ "$rc" = 1 ] && ok "stuck rollout: exit 1" || not_ok "stuck rollout: exit $rc"
has "stuck rollout: names the DaemonSet, the wait and what is short" \
	'apps/v1\.DaemonSet/kube-system/kube-proxy did not roll out within 3s \(last: daemonset kube-proxy: 0 of 4 pods up-to-date\)'
has "stuck rollout: says where it stopped" 'stopped at the bootstrap manifests sync'
rm -f "$T/kube/rollout_stuck"
up --kubernetes v1.33.8 --apply --wait 10s
rc=$?
[ "$rc" = 0 ] && ok "stuck rollout: the re-run exits 0" || not_ok "stuck rollout: re-run exit $rc"
has "stuck rollout: the re-run resumes the sync" 'resuming: the sync was started before'
has "stuck rollout: ... and waits for the rollout again" 'apps/v1\.DaemonSet/kube-system/kube-proxy rolled out'
if grep -qE 'canary-|BEGIN .*PRIVATE' "$T/.out"; then not_ok "sync: a secret in the output"; else ok "sync: no secret in the output"; fi
for n in cp1 cp2 cp3; do sed -i -E 's/^(  proxy:)$/\1\n    disabled: true/' "$T/nodes/$n/config.yaml"; done

# ---- pre-check refusals ---------------------------------------------------------------------------
up --kubernetes v1.35.0
has "pre-check: a Kubernetes the Talos does not run is refused" 'version of Kubernetes 1\.35\.0 is too new to be used with Talos 1\.10\.5'
up --kubernetes v1.32.9
has "pre-check: a downgrade path is refused" 'unsupported Kubernetes upgrade path 1\.33\.[0-9] -> 1\.32\.9'
# a site on 1.32 whose kube-apiserver still enables a feature gate 1.33 removes
for n in $DAY2_NODES; do
	cp "$T/nodes/$n/config.yaml" "$T/nodes/$n/config.133"
	sed -i -E 's#^( +image: .*(kube-[a-z-]+|kubelet)):v1\.33\.[0-9]+$#\1:v1.32.4#' "$T/nodes/$n/config.yaml"
done
sed -i -E 's#^(    image: registry\.k8s\.io/kube-apiserver:v1\.32\.4)$#\1\n    extraArgs:\n      feature-gates: AppArmor=true,SidecarContainers=true#' "$T/nodes/cp2/config.yaml"
up --kubernetes v1.33.3
rc=$?
[ "$rc" = 1 ] && ok "removed: a feature gate 1.33 removes refuses the upgrade" || not_ok "removed: exit $rc"
has "removed: names node, component and gate" 'removed in 1\.32->1\.33 and still used: cp2 kube-apiserver feature gate AppArmor$'
has "removed: says what to do" '1 flags, feature gates, admission plugins or API objects that Kubernetes 1\.32->1\.33 removes are still in use \(listed above\); take them out of the profile'
if ! grep -q SidecarContainers "$T/.out"; then ok "removed: a gate still there is not named"; else not_ok "removed: SidecarContainers named"; fi
for n in $DAY2_NODES; do mv "$T/nodes/$n/config.133" "$T/nodes/$n/config.yaml"; done
up --kubernetes v1.33.4
has "removed: nothing removed on a patch path" 'removed flags, feature gates and APIs: none on this path'

# a staged config waiting for its reboot on w1 (apply --mode staged): the node runs one
# config (MachineConfig v1alpha1, what patch.go patches) and keeps another (persistent,
# what Read /system/state/config.yaml returns); a no-reboot patch would replace the kept one
N0=$(applies)
cp "$T/nodes/w1/config.yaml" "$T/nodes/w1/active.yaml"
sed -i -E 's#^( +image: ghcr\.io/siderolabs/kubelet):v1\.33\.[0-9]+$#\1:v1.33.9#' "$T/nodes/w1/config.yaml"
up --kubernetes v1.33.4 --apply
rc=$?
[ "$rc" = 1 ] && ok "staged: a node with a staged config refuses the upgrade" || not_ok "staged: exit $rc"
has "staged: says which node and why" 'w1 runs a config other than the one it keeps for its next boot \(an apply with --mode staged waiting for a reboot, or --mode try on trial\)'
[ "$(applies)" = "$N0" ] && grep -q 'kubelet:v1.33.9' "$T/nodes/w1/config.yaml" &&
	ok "staged: nothing applied, the staged config kept" || not_ok "staged: applied or lost the staged config"
grep -q '^COSI List config MachineConfigs.config.talos.dev$' "$T/nodes/w1/calls" &&
	ok "staged: the running config is read as upgrade-k8s reads it (MachineConfig)" || not_ok "staged: no MachineConfig read"
mv "$T/nodes/w1/active.yaml" "$T/nodes/w1/config.yaml"

$PY - "$T/kube/nodes.json" <<'PYEOF'
import json, sys
n = json.load(open(sys.argv[1]))
json.dump([x for x in n if x["metadata"]["name"] != "cp3"], open(sys.argv[1], "w"))
PYEOF
up --kubernetes v1.33.5
rc=$?
[ "$rc" = 1 ] && ok "pre-check: a node missing in Kubernetes refuses" || not_ok "pre-check: exit $rc"
has "pre-check: names the missing Node" 'no Kubernetes node cp3 \(node cp3 of the profile\)'
