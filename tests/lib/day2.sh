# shellcheck shell=bash
# A simulated site for the day-2 commands (apply, upgrade, status): four
# stand-in Talos nodes (tests/servers/talos_api.py: cp1, cp2, cp3, w1, each its
# own process and port on 127.0.0.1, mutual TLS with the secrets bundle's OS CA)
# sharing one etcd member list, and a stand-in Kubernetes API
# (tests/servers/kube_api.py, client certificates from the bundle's Kubernetes
# CA, as the admin kubeconfig of `appliance bootstrap`).
# Source after tap.sh (needs $T, $ROOT, $APPLIANCE and at_exit):
#   . "$ROOT/tests/lib/day2.sh"
#
#   day2_site            profile profiles/demo.yaml + tests/fixtures/day2/nodes.yaml, bundle
#                        $T/secrets.yaml, each node's running config rendered from them
#                        ($T/nodes/NAME/config.yaml) and its state in $T/nodes/NAME/node.json;
#                        the etcd members in $T/etcd.json; sets PROFILE, SITE (the profile
#                        options) and EP (the --endpoint options)
#   day2_node_set NAME KEY JSON   change one field of a node's node.json
#   day2_calls NAME      the calls NAME answered so far
#   kube_start           the Kubernetes API with every node Ready and Flux reconciled;
#                        $T/kubeconfig; its lists in $T/kube/*.json; the Nodes' kubelet
#                        versions and the control planes' static pods follow each
#                        node's config.yaml (kube_api.py --talos-nodes)
#   $T/order.log         every node's image pulls and component image changes, in order
PY=${PY:-/usr/bin/python3}
DAY2_NODES="cp1 cp2 cp3 w1"
$PY -c 'import grpc, yaml' 2>/dev/null || skip_all "python3-grpcio or python3-yaml is not installed"
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE"

day2_site() {
	# the bootstrap Secrets in control-plane configs read these (canaries: never printed)
	# (a NAS started before keeps its own user and password)
	export APPLIANCE_DEMO_NAS_USER=${APPLIANCE_DEMO_NAS_USER:-nasuser} \
		APPLIANCE_DEMO_NAS_PASSWORD=${APPLIANCE_DEMO_NAS_PASSWORD:-canary-naspw-$$} \
		APPLIANCE_DEMO_GIT_TOKEN=canary-gittok-$$ APPLIANCE_DEMO_SOPS_KEY=canary-sops-$$ \
		APPLIANCE_DEMO_OP_CREDENTIALS=canary-opcred-$$ APPLIANCE_DEMO_OP_TOKEN=canary-optok-$$ \
		APPLIANCE_DEMO_S3_ACCESS_KEY=${APPLIANCE_DEMO_S3_ACCESS_KEY:-S3RVER} \
		APPLIANCE_DEMO_S3_SECRET_KEY=${APPLIANCE_DEMO_S3_SECRET_KEY:-canary-s3-$$}
	PROFILE=$ROOT/profiles/demo.yaml
	SITE=(--site "$ROOT/tests/fixtures/day2/nodes.yaml")
	"$APPLIANCE" talos secrets "$PROFILE" --out "$T/secrets.yaml" >/dev/null 2>&1 ||
		skip_all "appliance talos secrets failed"
	"$APPLIANCE" talos gen "$PROFILE" "${SITE[@]}" --secrets "$T/secrets.yaml" --out "$T/gen" >"$T/gen.out" 2>&1 ||
		skip_all "appliance talos gen failed: $(cat "$T/gen.out")"
	"$PY" - "$T/secrets.yaml" "$T" <<'PYEOF'
import base64, sys, yaml
b = yaml.safe_load(open(sys.argv[1]))
for name, key in (("os", "os"), ("k8s", "k8s")):
    open("%s/%s-ca.crt" % (sys.argv[2], name), "wb").write(base64.b64decode(b["certs"][key]["crt"]))
    open("%s/%s-ca.key" % (sys.argv[2], name), "wb").write(
        base64.b64decode(b["certs"][key]["key"]).replace(b"ED25519 PRIVATE KEY", b"PRIVATE KEY"))
PYEOF
	day2_cert os node "IP:127.0.0.1" serverAuth
	printf '[' >"$T/etcd.json"
	local n i=0 sep=''
	for n in cp1 cp2 cp3; do
		i=$((i + 1))
		printf '%s{"id": %d, "hostname": "%s"}' "$sep" "$((0x1000 + i))" "$n" >>"$T/etcd.json"
		sep=', '
	done
	printf ']\n' >>"$T/etcd.json"
	EP=()
	for n in $DAY2_NODES; do
		local d=$T/nodes/$n type=controlplane
		[ "$n" = w1 ] && type=worker
		mkdir -p "$d"
		cp "$T/gen/$n.yaml" "$d/config.yaml"
		printf '{"hostname": "%s", "type": "%s", "version": "v1.10.5", "reboot_seconds": 1, "settle_seconds": 0}\n' \
			"$n" "$type" >"$d/node.json"
		"$PY" "$ROOT/tests/servers/talos_api.py" --ca "$T/os-ca.crt" --cert "$T/node.crt" --key "$T/node.key" \
			--port-file "$d/port" --state "$d" --etcd "$T/etcd.json" --order-log "$T/order.log" >"$d/log" 2>&1 &
		at_exit "kill $!"
	done
	for n in $DAY2_NODES; do
		for _ in $(seq 1 100); do [ -e "$T/nodes/$n/listening" ] && break; sleep 0.1; done
		[ -e "$T/nodes/$n/listening" ] || skip_all "stand-in Talos node $n did not start: $(cat "$T/nodes/$n/log")"
		EP+=(--endpoint "$n=127.0.0.1:$(cat "$T/nodes/$n/port")")
	done
}

# day2_cert CA NAME SAN EKU: $T/NAME.key and $T/NAME.crt signed by $T/CA-ca.*
day2_cert() {
	local ca=$1 name=$2 san=$3 eku=$4 subj=${5:-/CN=$2}
	openssl genpkey -algorithm ed25519 -out "$T/$name.key" 2>/dev/null
	openssl req -new -key "$T/$name.key" -subj "$subj" -out "$T/$name.csr" 2>/dev/null
	{
		[ -n "$san" ] && echo "subjectAltName=$san"
		echo "extendedKeyUsage=$eku"
	} >"$T/$name.ext"
	openssl x509 -req -in "$T/$name.csr" -CA "$T/$ca-ca.crt" -CAkey "$T/$ca-ca.key" -CAcreateserial -days 5 \
		-extfile "$T/$name.ext" -out "$T/$name.crt" 2>/dev/null
}

day2_node_set() {
	"$PY" - "$T/nodes/$1/node.json" "$2" "$3" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d[sys.argv[2]] = json.loads(sys.argv[3])
json.dump(d, open(sys.argv[1] + ".tmp", "w"))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
PYEOF
}

day2_calls() { cat "$T/nodes/$1/calls" 2>/dev/null; }

kube_start() {
	mkdir -p "$T/kube"
	day2_cert k8s kube-server "IP:127.0.0.1" serverAuth
	day2_cert k8s kube-admin "" clientAuth "/O=system:masters/CN=admin"
	"$PY" - "$T/kube" <<'PYEOF'
import json, sys
d = sys.argv[1]
def ready(ns, name, ok=True, reason="ReconciliationSucceeded", msg="Applied revision: main@sha1:5d6f"):
    return {"metadata": {"namespace": ns, "name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ok else "False",
                                       "reason": reason, "message": msg}]}}
nodes = [{"metadata": {"name": n}, "status": {"conditions": [
    {"type": "MemoryPressure", "status": "False"},
    {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}]}}
    for n in ("cp1", "cp2", "cp3", "w1")]
json.dump(nodes, open(d + "/nodes.json", "w"))
json.dump([ready("flux-system", n) for n in ("cluster", "cnpg", "immich")], open(d + "/kustomizations.json", "w"))
json.dump([ready("immich", "immich", msg="Helm install succeeded"), ready("cnpg-system", "cnpg")],
          open(d + "/helmreleases.json", "w"))
PYEOF
	"$PY" "$ROOT/tests/servers/kube_api.py" --ca "$T/k8s-ca.crt" --cert "$T/kube-server.crt" \
		--key "$T/kube-server.key" --port-file "$T/kube.port" --state "$T/kube" --talos-nodes "$T/nodes" \
		>"$T/kube.log" 2>&1 &
	at_exit "kill $!"
	for _ in $(seq 1 100); do [ -e "$T/kube.port" ] && break; sleep 0.1; done
	"$PY" - "$T" "$(cat "$T/kube.port")" <<'PYEOF'
import base64, sys
t, port = sys.argv[1], sys.argv[2]
b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode()
open(t + "/kubeconfig", "w").write("""apiVersion: v1
kind: Config
clusters:
- name: talos-demo
  cluster:
    server: https://127.0.0.1:%s
    certificate-authority-data: %s
users:
- name: admin@talos-demo
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: admin@talos-demo
  context:
    cluster: talos-demo
    namespace: default
    user: admin@talos-demo
current-context: admin@talos-demo
""" % (port, b64(t + "/k8s-ca.crt"), b64(t + "/kube-admin.crt"), b64(t + "/kube-admin.key")))
PYEOF
}
