# shellcheck shell=bash
# A stand-in Talos API (tests/servers/talos_api.py) with a server certificate
# from a secrets bundle's OS CA, as a node installed with that bundle has.
# Source after tap.sh (needs $T, $ROOT and at_exit):
#   . "$ROOT/tests/lib/apid.sh"
#
#   apid_start BUNDLE [ARG]...
#                       make the node's key and certificate (CN=demo-1, IP 127.0.0.1)
#                       from BUNDLE's OS CA ($T/os-ca.crt, $T/os-ca.key, $T/node.*) and a
#                       kubeconfig for it to hand out ($T/kubeconfig.src); run the server
#                       with its state in $T/apid (calls in $T/apid/calls), its port in
#                       $T/apid.port and its log in $T/apid.log, killed in at_exit; wait
#                       (10 s at most) until it listens. ARGs go to talos_api.py (e.g.
#                       --volume DEV=VOLUME).

apid_start() {
	"${PY:-/usr/bin/python3}" - "$1" "$T" <<'PYEOF'
import base64, sys, yaml
b = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2] + "/os-ca.crt", "wb").write(base64.b64decode(b["certs"]["os"]["crt"]))
open(sys.argv[2] + "/os-ca.key", "wb").write(
    base64.b64decode(b["certs"]["os"]["key"]).replace(b"ED25519 PRIVATE KEY", b"PRIVATE KEY"))
PYEOF
	openssl genpkey -algorithm ed25519 -out "$T/node.key" 2>/dev/null
	openssl req -new -key "$T/node.key" -subj /CN=demo-1 -out "$T/node.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/node.ext"
	openssl x509 -req -in "$T/node.csr" -CA "$T/os-ca.crt" -CAkey "$T/os-ca.key" -CAcreateserial -days 5 \
		-extfile "$T/node.ext" -out "$T/node.crt" 2>/dev/null
	printf 'apiVersion: v1\nkind: Config\n' >"$T/kubeconfig.src"
	mkdir -p "$T/apid"
	"${PY:-/usr/bin/python3}" "$ROOT/tests/servers/talos_api.py" --ca "$T/os-ca.crt" --cert "$T/node.crt" \
		--key "$T/node.key" --port-file "$T/apid.port" --state "$T/apid" --kubeconfig "$T/kubeconfig.src" \
		"${@:2}" >"$T/apid.log" 2>&1 &
	at_exit "kill $!"
	for _ in $(seq 1 100); do [ -e "$T/apid/listening" ] && break; sleep 0.1; done
}
