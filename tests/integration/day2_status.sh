#!/usr/bin/env bash
# appliance status against the simulated site of tests/lib/day2.sh (four
# stand-in Talos nodes, a stand-in Kubernetes API with client certificates),
# a real smbd as the NAS and s3rver holding Barman backups. Every problem
# status can report is made to happen and its message asserted; the NAS is
# only read.
. "$(dirname "$0")/../lib/tap.sh"
PY=/usr/bin/python3
. "$ROOT/tests/lib/smbd.sh"
. "$ROOT/tests/servers/s3rver.sh"
. "$ROOT/tests/lib/day2.sh"

# ---- the site: NAS, backups, nodes, Kubernetes API ---------------------------
smbd_init
smbd_nas_site
chown -R "$SMBD_NAS_USER" "$SMBD_SHARE_DIR"
smbd_start
nas_hash() { (cd "$SMBD_SHARE_DIR" && find . -print0 | sort -z | xargs -0 -n1 sh -c \
	'if [ -f "$0" ]; then echo "$0 $(sha256sum <"$0")"; else echo "$0/"; fi' | sha256sum); }
s3rver_start keiretsu
SRV=demo/immich/postgres/immich-postgres
DONE=$'backup_label=None\nbegin_time=2026-11-22 23:00:00\nstatus=DONE'
s3_put "$SRV/base/20261122T230000/backup.info" "26 hours" "$DONE"
s3_put "$SRV/base/20261122T230000/data.tar" "26 hours"
s3_put "$SRV/wals/0000000100000000/000000010000000000000001.gz" "3 hours"
export APPLIANCE_DEMO_S3_ACCESS_KEY=S3RVER APPLIANCE_DEMO_S3_SECRET_KEY=canary-s3-$$

day2_site
kube_start
NAS_BEFORE=$(nas_hash)
OPTS=("${SITE[@]}" "${EP[@]}" --secrets "$T/secrets.yaml" --kubeconfig "$T/kubeconfig"
	--set "nas.port=$SMBD_PORT" --set "apps.immich.database.primary.endpoint=$S3_URL")
st() { "$APPLIANCE" status "$PROFILE" "${OPTS[@]}" "$@"; }

# ---- healthy ------------------------------------------------------------------
expect_fail "status: a healthy site exits 0" 0 st
out=$(last_out)
# v1.10.5 runs 11 services on a control plane, 9 on a worker; dashboard has no health check
# (health unknown) and counts as ok, as Talos' own readiness counts it (machine_status.go)
# STAGE: the MachineStatus resource's stage (runtime/MachineStatuses.runtime.talos.dev)
# TIME: ok and the offset; the node's time server is in --json (and in the problem when
# something is wrong)
for re in '^  cp1 +controlplane +ok +v1\.10\.5 +running +[0-9a-f]{8} +member +11/11 ok +ok [-+]0\.0s$' \
	'^  w1 +worker +ok +v1\.10\.5 +running +[0-9a-f]{8} +- +9/9 ok +ok [-+]0\.0s$' \
	'^  nodes +4/4 Ready$' '^  kustomizations +3/3 Ready$' '^  helmreleases +2/2 Ready$' \
	'^nas: ok \(read-only check' \
	'^backups: newest base backup 20261122T230000, 1d 2h old$' \
	'^healthy$'; do
	if grep -qE -- "$re" <<<"$out"; then ok "status: healthy shows /$re/"; else not_ok "status: healthy shows /$re/"; echo "$out" | sed 's/^/#   /'; fi
done
SCHEMATIC=$("$APPLIANCE" talos schematic "$PROFILE" "${SITE[@]}" --id)
if grep -q "${SCHEMATIC:0:8}" <<<"$out"; then ok "status: the schematic column is the profile's"; else not_ok "status: schematic $SCHEMATIC not shown"; fi
if [ "$(nas_hash)" = "$NAS_BEFORE" ]; then ok "status: the NAS was only read"; else not_ok "status: the NAS changed"; fi
if grep -q "canary" <<<"$out"; then not_ok "status: a secret value was printed"; grep canary <<<"$out" | sed 's/^/#   /'; else ok "status: no secret value printed"; fi
grep -c "admin$" "$T/kube/requests" >/dev/null && ok "status: the Kubernetes API saw the admin client certificate" ||
	not_ok "status: no request with the admin certificate: $(cat "$T/kube/requests")"

st --json >"$T/json.out" 2>&1
if $PY - "$T/json.out" <<'PYEOF'; then ok "status --json: one object, healthy, every node reachable"; else not_ok "status --json"; sed 's/^/#   /' "$T/json.out"; fi
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d["healthy"] is True and d["problems"] == [], d
assert [n["name"] for n in d["nodes"]] == ["cp1", "cp2", "cp3", "w1"], d["nodes"]
assert all(n["reachable"] and n["version"] == "v1.10.5" for n in d["nodes"])
assert d["kubernetes"]["kustomizations"]["ready"] == 3 and d["backups"]["ok"] is True and d["nas"]["ok"] is True
svc = {n["name"]: n["services"] for n in d["nodes"]}
assert svc["cp1"] == {"total": 11, "unhealthy": 0, "health_unknown": 1, "detail": ""}, svc
assert svc["w1"] == {"total": 9, "unhealthy": 0, "health_unknown": 1, "detail": ""}, svc
assert all(n["machine"] == {"stage": "running", "ready": True, "unmet": ""} for n in d["nodes"]), d["nodes"]
# the node's first time server (machine.time.servers, default time.cloudflare.com)
assert all(n["time"]["server"] == "time.cloudflare.com" and n["time"]["in_sync"] for n in d["nodes"]), d["nodes"]
assert d["backups"]["location"] == "s3://keiretsu/demo/immich/postgres/immich-postgres/", d["backups"]
PYEOF

# 80 columns without being told: the table was 121 columns wide (TIME "in sync (+0.000s,
# time.cloudflare.com)"), found by the new-user review; tap.sh sets COLUMNS=1000
wide() { awk -v f="$1" 'length($0) > 80 { printf "#   %s: %d columns: %s\n", f, length($0), $0; n++ } END { exit n > 0 }' "$2"; }
env -u COLUMNS "$APPLIANCE" status "$PROFILE" "${OPTS[@]}" >"$T/narrow.out" 2>&1
COLUMNS=80 "$APPLIANCE" status "$PROFILE" "${OPTS[@]}" >"$T/narrow80.out" 2>&1
if grep -q '^healthy$' "$T/narrow.out" && wide "COLUMNS unset" "$T/narrow.out" && wide "COLUMNS=80" "$T/narrow80.out"; then
	ok "status: every line of a healthy site's report fits 80 columns (COLUMNS unset and 80)"
else not_ok "status: a line wider than 80 columns"; sed 's/^/#   /' "$T/narrow.out"; fi

expect_fail "status: with the talosconfig of talos gen instead of the bundle" 0 \
	"$APPLIANCE" status "$PROFILE" "${SITE[@]}" "${EP[@]}" --talosconfig "$T/gen/talosconfig" --skip kubernetes --skip nas --skip backups

# ---- degraded: each problem says what to look at ----------------------------------
degraded() { # DESC REGEX [status options]
	local d=$1 re=$2
	shift 2
	st "$@" >"$T/.out" 2>&1
	local rc=$?
	if [ $rc -eq 1 ] && grep -qE -- "$re" "$T/.out" && grep -q '^degraded: ' "$T/.out"; then ok "$d"; else
		not_ok "$d (exit $rc)"
		sed 's/^/#   /' "$T/.out" | tail -25
	fi
}
# narrow DESC [status options]: the same degraded report without COLUMNS (an 80-column
# terminal): every line <= 80 columns, and the problems' words unchanged (only the line
# breaks differ from the wide report in $T/.out, which tap.sh's COLUMNS=1000 keeps on one line)
narrow() {
	local d=$1
	shift
	env -u COLUMNS "$APPLIANCE" status "$PROFILE" "${OPTS[@]}" "$@" >"$T/narrow.out" 2>&1
	words() { sed -n '/^degraded: /,$p' "$1" | tr -s ' \n' '  '; }
	if [ "$(words "$T/narrow.out")" = "$(words "$T/.out")" ] && grep -q '^degraded: ' "$T/narrow.out" &&
		wide "$d" "$T/narrow.out"; then ok "status: $d: every line <= 80 columns, the same words"; else
		not_ok "status: $d: wider than 80 columns, or words changed"
		sed 's/^/#   /' "$T/narrow.out" | tail -25
	fi
}
degraded "status: a node that does not answer" \
	"^  - node w1: Talos API 127\.0\.0\.1:1 not reachable: .*127\.0\.0\.1:1" --endpoint w1=127.0.0.1:1 --skip nas --skip backups

cp "$T/etcd.json" "$T/etcd.full"
$PY -c "import json,sys; m=json.load(open(sys.argv[1])); json.dump([x for x in m if x['hostname']!='cp3'], open(sys.argv[1],'w'))" "$T/etcd.json"
degraded "status: etcd missing a member names it" \
	"^  - etcd: node cp3 \(cp3\) is not in the member list of cp1$" --skip nas --skip backups
degraded "status: etcd missing a member counts them" \
	"^  - etcd: 2 members, the profile has 3 control planes$" --skip nas --skip backups
cp "$T/etcd.full" "$T/etcd.json"
$PY -c "import json,sys; m=json.load(open(sys.argv[1])); m[2]['hostname']=''; json.dump(m, open(sys.argv[1],'w'))" "$T/etcd.json"
degraded "status: an etcd member that is not started" \
	"^  - etcd: member '\(not started\)' \(0000000000001003\) is no control plane of the profile" --skip nas --skip backups
cp "$T/etcd.full" "$T/etcd.json"

day2_node_set cp2 version '"v1.10.4"'
degraded "status: a node on another Talos version" \
	"^  - node cp2: runs Talos v1.10.4, the profile says v1.10.5 \(appliance upgrade\)$" --skip nas --skip backups
day2_node_set cp2 version '"v1.10.5"'

day2_node_set cp2 time_offset_ms 4250
degraded "status: a clock out of sync" \
	"^  - node cp2: clock is \+4\.250s off its time server time\.cloudflare\.com$" --skip nas --skip backups
grep -qE '^  cp2 +controlplane .* off \+4s$' "$T/.out" && ok "status: the TIME column says off +4s" ||
	{ not_ok "status: TIME column of a clock off"; sed 's/^/#   /' "$T/.out"; }
sed -n '2,/^[^ ]/p' "$T/.out" >"$T/table.out"
wide "the table of a degraded site" "$T/table.out" && ok "status: the node table of a degraded site fits 80 columns" ||
	not_ok "status: the node table of a degraded site is wider than 80 columns"
day2_node_set cp2 time_offset_ms 0
# the node asks its first time server itself; a query that fails is Talos' plain error
day2_node_set cp2 ntp_error '"read udp 10.0.2.11:40321->162.159.200.1:123: i/o timeout"'
degraded "status: a time server the node cannot reach" \
	'^  - node cp2: time check failed: .*UNKNOWN: error querying NTP server "time\.cloudflare\.com": read udp 10\.0\.2\.11:40321->162\.159\.200\.1:123: i/o timeout' --skip nas --skip backups
grep -qE '^  cp2 +controlplane .* failed$' "$T/.out" && ok "status: the TIME column says failed (the problem names the server)" ||
	{ not_ok "status: TIME column of a failed time query"; sed 's/^/#   /' "$T/.out"; }
day2_node_set cp2 ntp_error '""'

day2_node_set w1 services '[["apid","Running",true],["kubelet","Running",false],["machined","Running",true]]'
degraded "status: an unhealthy service" \
	"^  - node w1: services not healthy: kubelet \(Running: waiting for service to become ready\)$" --skip nas --skip backups
day2_node_set w1 services 'null'
# the MachineStatus stage and readiness (Talos checks readiness only while booting or
# running; an upgrading node reports ready with nothing unmet: machine_status.go)
day2_node_set w1 services '[["apid","Running",true],["kubelet","Running",false],["machined","Running",true]]'
degraded "status: a node not ready says the unmet conditions Talos reports" \
	"^  - node w1: Talos reports stage 'running', not ready: services: kubelet not healthy$" --skip nas --skip backups --skip kubernetes
if grep -qE '^  w1 +worker +ok +v1\.10\.5 +not ready ' "$T/.out"; then ok "status: the STAGE column says not ready"; else
	not_ok "status: the STAGE column"; sed 's/^/#   /' "$T/.out"; fi
day2_node_set w1 services 'null'
day2_node_set cp2 stage '"upgrading"'
degraded "status: a node that is upgrading is degraded, its stage named" \
	"^  - node cp2: Talos reports stage 'upgrading'$" --skip nas --skip backups --skip kubernetes
st --json --skip nas --skip backups --skip kubernetes >"$T/json.out" 2>&1
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); m=[n["machine"] for n in d["nodes"] if n["name"]=="cp2"][0]; assert m["stage"]=="upgrading", m' "$T/json.out"; then
	ok "status --json: the node's machine stage"; else not_ok "status --json: machine stage"; sed 's/^/#   /' "$T/json.out"; fi
day2_node_set cp2 stage 'null'
# a Talos whose apid lacks the resource API (UNIMPLEMENTED): no stage, and no problem
day2_node_set cp3 machine_status_unimplemented true
st --skip nas --skip backups --skip kubernetes >"$T/.out" 2>&1
if [ $? -eq 0 ] && grep -qE '^  cp3 +controlplane +ok +v1\.10\.5 +- +[0-9a-f]{8} ' "$T/.out"; then
	ok "status: a node without the resource API shows no stage and is not degraded for it"
else not_ok "status: node without the resource API"; sed 's/^/#   /' "$T/.out"; fi
day2_node_set cp3 machine_status_unimplemented false

# judged as Talos judges readiness (machine_status.go servicesCheck): a running service
# without a health result is fine, a service Talos does not require may stop, a required
# one (apid, machined, kubelet; etcd, trustd on a control plane) must run
day2_node_set w1 services '[["apid","Running",true],["dashboard","Failed",null],["kubelet","Running",null],["machined","Running",true]]'
st --skip nas --skip backups --skip kubernetes >"$T/.out" 2>&1
if [ $? -eq 0 ] && grep -qE '^  w1 +worker +ok .* 3/4 ok ' "$T/.out"; then
	ok "status: health unknown is no problem, nor a stopped dashboard"
else not_ok "status: health unknown / stopped dashboard"; sed 's/^/#   /' "$T/.out"; fi
day2_node_set cp3 services '[["apid","Running",true],["dashboard","Running",null],["etcd","Running",true],["kubelet","Running",true],["machined","Running",true]]'
degraded "status: a control plane without trustd (required there)" \
	"^  - node cp3: services not healthy: trustd \(not listed\)$" --skip nas --skip backups --skip kubernetes
day2_node_set cp3 services '[["apid","Running",true],["etcd","Waiting",null],["kubelet","Running",true],["machined","Running",true],["trustd","Running",true]]'
degraded "status: a required service that waits (etcd)" \
	"^  - node cp3: services not healthy: etcd \(Waiting\)$" --skip nas --skip backups --skip kubernetes
day2_node_set cp3 services 'null'
day2_node_set w1 services 'null'

cp "$T/kube/kustomizations.json" "$T/kube/k.full"
$PY - "$T/kube/kustomizations.json" <<'PYEOF'
import json, sys
k = json.load(open(sys.argv[1]))
k[2]["status"]["conditions"][0].update(status="False", reason="HealthCheckFailed",
    message="health check failed after 5m0s: timeout waiting for: [HelmRelease/immich/immich status: 'InProgress']")
json.dump(k, open(sys.argv[1], "w"))
PYEOF
degraded "status: a Flux Kustomization not Ready, with its message" \
	"^  - flux: Kustomization flux-system/immich is not Ready \(HealthCheckFailed\): health check failed after 5m0s: timeout waiting for: \[HelmRelease/immich/immich status: 'InProgress'\]$" \
	--skip nas --skip backups
narrow "a Kustomization's long message (problem and cluster lines wrapped)" --skip nas --skip backups
cp "$T/kube/k.full" "$T/kube/kustomizations.json"
rm "$T/kube/helmreleases.json"
degraded "status: Flux not installed (HelmRelease API missing)" \
	"^  - kubernetes: listing helmreleases failed: https://127\.0\.0\.1:[0-9]+/apis/helm\.toolkit\.fluxcd\.io/v2/helmreleases: HTTP 404: the server could not find the requested resource$" \
	--skip nas --skip backups
$PY -c "import json; json.dump([], open('$T/kube/helmreleases.json','w'))"
# what a node booted: Talos annotates its Node with extensions.talos.dev/schematic
# (v1.10.5 internal/app/machined/pkg/controllers/k8s/node_annotation_spec.go); w1 booted
# the empty schematic (talosctl's default installer), the others the profile's
cp "$T/kube/nodes.json" "$T/kube/nodes.full"
$PY - "$T/kube/nodes.json" "$SCHEMATIC" <<'PYEOF'
import json, sys
nodes = json.load(open(sys.argv[1]))
for n in nodes:
    n["metadata"]["annotations"] = {"extensions.talos.dev/schematic": sys.argv[2] if n["metadata"]["name"] != "w1"
                                    else "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"}
json.dump(nodes, open(sys.argv[1], "w"))
PYEOF
degraded "status: a node that booted another schematic than its config's installer says" \
	"^  - node w1: booted schematic 376567988ad3 \(its Node's extensions\.talos\.dev/schematic\), not the profile's ${SCHEMATIC:0:12}: its system extensions differ \(appliance upgrade reinstalls the profile's\)$" \
	--skip nas --skip backups
if grep -qE "node cp[123]: booted schematic" "$T/.out" || [ "$(grep -c '^  - ' "$T/.out")" != 1 ]; then
	not_ok "status: only w1's schematic is a problem"; sed 's/^/#   /' "$T/.out"
else ok "status: only w1's schematic is a problem"; fi
cp "$T/kube/nodes.full" "$T/kube/nodes.json"
$PY -c "import json,sys; n=json.load(open(sys.argv[1])); json.dump(n[:3], open(sys.argv[1],'w'))" "$T/kube/nodes.json"
degraded "status: a node that has not joined Kubernetes" \
	"^  - kubernetes: node w1 \(w1\) has not joined the cluster$" --skip nas --skip backups
degraded "status: no kubeconfig says where it comes from" \
	"^  - kubernetes: kubeconfig: cannot open '$T/none': .*\(appliance bootstrap writes it; or give --kubeconfig\)$" \
	--kubeconfig "$T/none" --skip nas --skip backups
narrow "no kubeconfig (its path in the problem)" --kubeconfig "$T/none" --skip nas --skip backups

cp "$T/nodes/cp3/config.yaml" "$T/cp3.cfg"
sed -i 's|^\(    image: \).*installer.*|\1ghcr.io/siderolabs/installer:v1.10.5|' "$T/nodes/cp3/config.yaml"
degraded "status: a node whose installer is not the profile's schematic (its extensions would go)" \
	"^  - node cp3: installs 'ghcr\.io/siderolabs/installer:v1\.10\.5', not the Image Factory installer of the profile's schematic [0-9a-f]{12} \(appliance upgrade\)$" \
	--skip nas --skip backups --skip kubernetes
cp "$T/cp3.cfg" "$T/nodes/cp3/config.yaml"

# a kubeconfig whose client certificate another cluster's CA signed: the API server refuses it
openssl req -x509 -newkey ed25519 -nodes -subj /CN=other-ca -keyout "$T/other-ca.key" -out "$T/other-ca.crt" -days 2 2>/dev/null
day2_cert other intruder "" clientAuth "/O=system:masters/CN=admin"
$PY - "$T" <<'PYEOF'
import base64, re, sys
t = sys.argv[1]
b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode()
k = open(t + "/kubeconfig").read()
k = re.sub(r"client-certificate-data: \S+", "client-certificate-data: " + b64(t + "/intruder.crt"), k)
k = re.sub(r"client-key-data: \S+", "client-key-data: " + b64(t + "/intruder.key"), k)
open(t + "/kubeconfig.other", "w").write(k)
PYEOF
degraded "status: a client certificate the API server does not trust" \
	"^  - kubernetes: listing nodes failed: https://127\.0\.0\.1:[0-9]+/api/v1/nodes: " \
	--kubeconfig "$T/kubeconfig.other" --skip nas --skip backups

degraded "status: a backup older than --backup-max-age" \
	"^  - backups: the newest completed base backup \(20261122T230000\) is 1d 2h old \(more than 12h\): look at the ScheduledBackup" \
	--skip kubernetes --backup-max-age 12h
degraded "status: a NAS that does not answer" "^  - nas: .*\(appliance nas check PROFILE for every row\)$" --skip kubernetes --skip backups --set nas.port=1
narrow "a NAS that does not answer (the FAILED line wrapped)" --skip kubernetes --skip backups --set nas.port=1
# it said "nas: FAILED: nas check failed: ..." (found by the new-user review): once
if grep -q '^nas: FAILED: ' "$T/.out" && ! grep -qi 'failed: nas check failed' "$T/.out"; then ok "status: the NAS failure says failed once"
else not_ok "status: the NAS failure line"; grep -i nas "$T/.out" | sed 's/^/#   /'; fi

# ---- --watch ------------------------------------------------------------------------
st --watch --interval 1s --count 2 --json --skip nas --skip backups --skip kubernetes >"$T/watch.out" 2>&1
if [ "$(grep -c '"event":"status"' "$T/watch.out")" = 2 ]; then ok "status --watch --count 2: two rounds"; else not_ok "status --watch"; sed 's/^/#   /' "$T/watch.out"; fi

# ---- usage ----------------------------------------------------------------------------
expect_fail "status: no credentials is a usage error" 2 "$APPLIANCE" status "$PROFILE"
# --count or --interval without --watch ran once and said nothing (found by the new-user review)
expect_rc_out "status: --count without --watch is a usage error" 2 \
	"appliance status: --count repeats the report only with --watch: add --watch" st --count 2
expect_rc_out "status: --interval without --watch is a usage error" 2 \
	"appliance status: --interval repeats the report only with --watch: add --watch" st --interval 5s
expect_out "status: an unknown --skip is a usage error" "--skip 'disks': expected kubernetes, nas or backups" st --skip disks
expect_fail "status: an --endpoint for a node the profile lacks" 2 st --endpoint nope=127.0.0.1:1
expect_out "appliance help lists status" '^  status ' "$APPLIANCE" help
