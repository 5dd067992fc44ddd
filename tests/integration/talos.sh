#!/usr/bin/env bash
# appliance talos: secrets bundle, machine configs + talosconfig (schema-valid for
# Talos 1.10/1.11/1.12, certificates accepted by `openssl verify`), schematic ids,
# config volume read back with xorriso and blkid, canary secrets never printed.
. "$(dirname "$0")/../lib/tap.sh"

P=$ROOT/profiles/demo.yaml
SCHEMAS=$SCHEMAS/talos
VALIDATE="/usr/bin/python3 $ROOT/tests/lib/talos_validate.py $SCHEMAS"
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE (run make)"

# Canary secret values: they must reach the configs and never stdout/stderr.
export APPLIANCE_DEMO_NAS_USER=canary-nasuser-Q7 APPLIANCE_DEMO_NAS_PASSWORD=canary-naspw-Z9
export APPLIANCE_DEMO_GIT_TOKEN=canary-gittok-X3 APPLIANCE_DEMO_SOPS_KEY=canary-sops-Y5
export APPLIANCE_DEMO_OP_CREDENTIALS='{"canary":"op-creds-W1"}' APPLIANCE_DEMO_OP_TOKEN=canary-optok-V2
export APPLIANCE_DEMO_S3_ACCESS_KEY=canary-s3a APPLIANCE_DEMO_S3_SECRET_KEY=canary-s3s
CANARIES='canary-|op-creds-W1'
LOG=$T/all-output.log
# run CMD... with stdout+stderr appended to $LOG (and kept in $T/.out)
run() { "$@" >"$T/.out" 2>&1; local rc=$?; cat "$T/.out" >>"$LOG"; return $rc; }
# every appliance run goes through A, which keeps a copy of its output in $LOG
A() {
	"$APPLIANCE" "$@" >"$T/.a.out" 2>&1
	local rc=$?
	cat "$T/.a.out" | tee -a "$LOG"
	return $rc
}
without_op_token() { (unset APPLIANCE_DEMO_OP_TOKEN && A "$@"); }

# ---- usage -------------------------------------------------------------------
expect_rc_out "talos --help prints usage" 0 '^usage: appliance talos secrets' A talos --help
expect_fail "unknown subcommand is a usage error" 2 A talos frobnicate "$P"
expect_out "unknown subcommand is named" "unknown subcommand 'frobnicate'" A talos frobnicate "$P"
expect_fail "unknown option is a usage error" 2 A talos gen "$P" --bogus
expect_rc_out "option of another subcommand is refused" 2 "option '--rotate' does not apply here" \
	A talos gen "$P" --rotate
expect_rc_out "gen without --secrets" 2 "'gen' needs --secrets FILE and --out DIR" A talos gen "$P"

# ---- secrets -----------------------------------------------------------------
S=$T/secrets.yaml
check "talos secrets writes a bundle" run A talos secrets "$P" --out "$S"
[ "$(stat -c %a "$S")" = 600 ] && ok "bundle is mode 0600" || not_ok "bundle mode $(stat -c %a "$S")"
for k in cluster: secrets: trustdinfo: certs: '  bootstraptoken:' '  secretboxencryptionsecret:' \
	'  k8saggregator:' '  k8sserviceaccount:' '  os:'; do
	grep -q "^$k" "$S" || missing="${missing:-} $k"
done
[ -z "${missing:-}" ] && ok "bundle has the talosctl gen secrets layout" || not_ok "bundle lacks:$missing"
cp "$S" "$T/secrets.orig"
expect_fail "existing bundle is not overwritten" 1 A talos secrets "$P" --out "$S"
expect_out "refusal names the bundle and --rotate" \
	"secrets bundle '$S' already exists; refusing to overwrite it \(pass --rotate" \
	A talos secrets "$P" --out "$S"
cmp -s "$S" "$T/secrets.orig" && ok "refused bundle is unchanged" || not_ok "bundle changed"

# the CAs: decode, verify, key types, lifetimes
b64field() { # PATH.in.yaml -> decoded PEM on stdout
	/usr/bin/python3 -c 'import sys,yaml,base64
d=yaml.safe_load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
sys.stdout.write(base64.b64decode(d).decode())' "$1" "$2"
}
days() { # cert -> lifetime in days
	local nb na
	nb=$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)
	na=$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)
	echo $((($(date -d "$na" +%s) - $(date -d "$nb" +%s)) / 86400))
}
for row in "etcd:id-ecPublicKey:O = etcd" "k8s:id-ecPublicKey:O = kubernetes" \
	"k8saggregator:id-ecPublicKey:CN = front-proxy" "os:ED25519:O = talos"; do
	IFS=: read -r ca alg subj <<<"$row"
	b64field "$S" "certs.$ca.crt" >"$T/$ca.pem"
	check "openssl verify accepts the $ca CA" openssl verify -CAfile "$T/$ca.pem" "$T/$ca.pem"
	expect_out "$ca CA key is $alg" "Public Key Algorithm: $alg" openssl x509 -in "$T/$ca.pem" -noout -text
	expect_out "$ca CA subject is $subj" "^subject=$subj\$" openssl x509 -in "$T/$ca.pem" -noout -subject
	[ "$(days "$T/$ca.pem")" = 3650 ] && ok "$ca CA lives 10 years" || not_ok "$ca CA lives $(days "$T/$ca.pem") days"
done
expect_out "etcd CA is P-256" "NIST CURVE: P-256" openssl x509 -in "$T/etcd.pem" -noout -text
b64field "$S" certs.k8sserviceaccount.key >"$T/sa.key"
expect_out "service-account key is RSA-4096" "Private-Key: \(4096 bit" sh -c "openssl pkey -in '$T/sa.key' -noout -text | head -1"
rm -f "$T/sa.key"

# ---- gen -----------------------------------------------------------------------
O=$T/out
check "talos gen writes every node" run A talos gen "$P" --secrets "$S" --out "$O"
for f in demo-1.yaml demo-2.yaml demo-3.yaml talosconfig; do
	[ "$(stat -c %a "$O/$f" 2>/dev/null)" = 600 ] && ok "$f is mode 0600" || not_ok "$f mode"
done
# --json: the configs written (names and paths, never their contents), and nothing else on stdout
"$APPLIANCE" talos gen "$P" --secrets "$S" --out "$T/json-out" --node demo-2 --json >"$T/gen.json" 2>"$T/gen.err"
rc=$?
cat "$T/gen.json" "$T/gen.err" >>"$LOG"
/usr/bin/python3 - "$T/gen.json" "$T/json-out" <<'PY' && [ $rc -eq 0 ] && ok "talos gen --json: one object naming the config written and the talosconfig" ||
import json, sys
j = json.load(open(sys.argv[1]))
d = sys.argv[2]
assert j["command"] == "talos gen" and j["ok"] is True and j["exit"] == 0, j
assert j["configs"] == [{"node": "demo-2", "role": "worker", "path": d + "/demo-2.yaml"}], j["configs"]
assert j["talosconfig"] == d + "/talosconfig" and j["kept"] is False, j
PY
	{ not_ok "talos gen --json (exit $rc)"; head -3 "$T/gen.json" "$T/gen.err" | sed 's/^/#   /'; }
"$APPLIANCE" talos gen "$P" --secrets "$T/none.yaml" --out "$T/json-out" --json >"$T/gen.json" 2>/dev/null
rc=$?
/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["ok"] is False and "none.yaml" in j["error"]' "$T/gen.json" &&
	[ $rc -eq 1 ] && ok "talos gen --json: a missing bundle is an error object, exit 1" || not_ok "talos gen --json failure (exit $rc)"
grep -q '^  type: controlplane' "$O/demo-1.yaml" && ok "demo-1 is a control plane" || not_ok "demo-1 type"
grep -q '^  type: worker' "$O/demo-2.yaml" && ok "demo-2 is a worker" || not_ok "demo-2 type"
/usr/bin/python3 - "$O/demo-2.yaml" "$O/demo-1.yaml" <<'EOF' && ok "workers carry no CA keys and no bootstrap; control planes do" || not_ok "worker/controlplane split"
import sys, yaml
w = next(yaml.safe_load_all(open(sys.argv[1])))
c = next(yaml.safe_load_all(open(sys.argv[2])))
assert w["machine"]["ca"]["key"] == "" and w["cluster"]["ca"]["key"] == ""
for k in ("aggregatorCA", "serviceAccount", "etcd", "inlineManifests", "extraManifests", "secretboxEncryptionSecret"):
    assert k not in w["cluster"], k
assert c["machine"]["ca"]["key"] and c["cluster"]["etcd"]["ca"]["key"]
assert c["cluster"]["extraManifests"] == ["https://github.com/fluxcd/flux2/releases/download/v2.6.4/install.yaml"]
names = [m["name"] for m in c["cluster"]["inlineManifests"]]
assert names == ["cilium-install", "flux-bootstrap", "flux-bootstrap-secrets"], names
body = c["cluster"]["inlineManifests"][1]["contents"] + c["cluster"]["inlineManifests"][2]["contents"]
for kind_name in ("name: sops-gpg", "name: op-credentials", "name: onepassword-token", "name: csi-smbcreds", "name: flux-system"):
    assert kind_name in body, kind_name
assert c["machine"]["install"]["diskSelector"] == {"serial": "APPL-INSTALL-1", "type": "nvme"}
assert c["machine"]["install"]["image"].startswith("factory.talos.dev/metal-installer/")
EOF
grep -q "$(printf %s canary-naspw-Z9 | base64)" "$O/demo-1.yaml" && ok "canary NAS password reaches the config (base64)" ||
	not_ok "canary NAS password missing from the config"
for v in 10 11 12; do
	d=$T/out$v
	run A talos gen "$P" --set talos.version=v1.$v.3 --secrets "$S" --out "$d" >/dev/null
	check "configs are schema-valid for Talos 1.$v" $VALIDATE $v "$d"/demo-1.yaml "$d"/demo-2.yaml "$d"/demo-3.yaml
done
expect_fail "a broken config is caught by the validator" 1 sh -c "sed 's/wipe: false/wipe: nope/' '$O/demo-2.yaml' >'$T/bad.yaml' && $VALIDATE 10 '$T/bad.yaml'"

# talosconfig: admin client certificate against the OS CA
b64field "$O/talosconfig" contexts.talos-demo.crt >"$T/admin.pem"
check "openssl verify accepts the admin cert against the OS CA" openssl verify -CAfile "$T/os.pem" -purpose sslclient "$T/admin.pem"
expect_out "admin cert is O = os:admin" "^subject=O = os:admin\$" openssl x509 -in "$T/admin.pem" -noout -subject
expect_out "admin cert key is Ed25519" "Public Key Algorithm: ED25519" openssl x509 -in "$T/admin.pem" -noout -text
[ "$(days "$T/admin.pem")" = 365 ] && ok "admin cert lives 1 year" || not_ok "admin cert lives $(days "$T/admin.pem") days"
expect_fail "the admin cert does not verify against another CA" 2 openssl verify -CAfile "$T/etcd.pem" "$T/admin.pem"

# determinism
cp -r "$O" "$T/first"
check "gen again" run A talos gen "$P" --secrets "$S" --out "$O"
grep -q "^kept $O/talosconfig" "$T/.out" && ok "a valid talosconfig is kept" || not_ok "talosconfig rewritten"
check "gen twice gives identical bytes" diff -r "$T/first" "$O"

# failure paths
expect_fail "another cluster's bundle is refused" 2 A talos gen "$P" --secrets "$S" --out "$T/x" \
	--set talos.caFingerprint=0000000000000000000000000000000000000000000000000000000000000000
expect_rc_out "the refusal shows both fingerprints" 2 \
	"secrets bundle '$S' is another cluster's: its OS CA fingerprint is [0-9a-f]{64} but talos.caFingerprint is 0{64}" \
	A talos gen "$P" --secrets "$S" --out "$T/x" \
	--set talos.caFingerprint=0000000000000000000000000000000000000000000000000000000000000000
expect_fail "an unsupported Talos version is refused" 2 A talos gen "$P" --set talos.version=v1.9.0 --secrets "$S" --out "$T/x"
expect_rc_out "unknown node is named" 2 "no node 'nope' in the profile" A talos gen "$P" --secrets "$S" --out "$T/x" --node nope
expect_rc_out "a missing secret is named, not printed" 1 \
	"node 'demo-1': secret 'opToken': environment variable 'APPLIANCE_DEMO_OP_TOKEN' is not set" \
	without_op_token talos gen "$P" --secrets "$S" --out "$T/y"
[ ! -e "$T/y" ] && ok "a missing secret: nothing written, not even the --out directory" ||
	not_ok "a missing secret: $T/y was created"
printf 'cluster:\n  id: x\n' >"$T/short.yaml"
expect_rc_out "a bundle with missing fields is refused" 2 "$T/short.yaml: 'cluster.secret' is missing" \
	A talos gen "$P" --secrets "$T/short.yaml" --out "$T/x"
/usr/bin/python3 - "$S" "$T/swapped.yaml" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["certs"]["k8s"]["key"] = d["certs"]["etcd"]["key"]
yaml.safe_dump(d, open(sys.argv[2], "w"))
EOF
expect_rc_out "a bundle whose key does not match its CA is refused" 2 \
	"swapped.yaml: certs.k8s: private key does not belong to the certificate" \
	A talos gen "$P" --secrets "$T/swapped.yaml" --out "$T/x"

# talosctl writes the bundle with yaml.v3 (4-space indent): same layout, must load
/usr/bin/python3 - "$S" "$T/talosctl-style.yaml" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(yaml.safe_dump(d, indent=4, sort_keys=False, width=100000))
EOF
check "a talosctl-style (4-space) bundle loads and gives the same configs" sh -c \
	"'$APPLIANCE' talos gen '$P' --secrets '$T/talosctl-style.yaml' --out '$T/o4' >/dev/null && cmp '$T/o4/demo-1.yaml' '$O/demo-1.yaml'"

# the production profile: every node gets a schema-valid config
printf 'k' >"$T/prod-key"
export UNAS_USERNAME=canary-produser UNAS_PASSWORD=canary-prodpw OP_CONNECT_TOKEN=canary-prodop
# site.secretVars become the cluster-secrets Secret (render_bootstrap_secrets)
export COMMON_S3_ACCESS_KEY=canary-s3ak COMMON_S3_SECRET_KEY=canary-s3sk MINIO_ACCESS_KEY=canary-mak MINIO_SECRET_KEY=canary-msk
check "profiles/immich.yaml: gen for every node" run A talos gen "$ROOT/profiles/immich.yaml" \
	--secrets "$S" --out "$T/prod" --set "secrets.gitDeployKey=file:$T/prod-key" \
	--set "secrets.sopsKey=file:$T/prod-key" --set "secrets.opCredentials=file:$T/prod-key"
if grep -q '^        name: cluster-secrets$' "$T/prod/tank.yaml" && grep -q '^        COMMON_S3_ACCESS_KEY: canary-s3ak$' "$T/prod/tank.yaml"; then
	ok "profiles/immich.yaml: cluster-secrets (site.secretVars) is a bootstrap secret"
else
	not_ok "profiles/immich.yaml: no cluster-secrets in the inline manifests"
fi
check "profiles/immich.yaml: configs are schema-valid (Talos 1.10)" $VALIDATE 10 "$T"/prod/tank.yaml \
	"$T"/prod/titan.yaml "$T"/prod/stone.yaml "$T"/prod/silver.yaml
for v in 11 12; do
	check "profiles/immich.yaml: gen for Talos 1.$v" run A talos gen "$ROOT/profiles/immich.yaml" \
		--secrets "$S" --out "$T/prod$v" --set "secrets.gitDeployKey=file:$T/prod-key" \
		--set "secrets.sopsKey=file:$T/prod-key" --set "secrets.opCredentials=file:$T/prod-key" \
		--set "talos.version=v1.$v.0"
	check "profiles/immich.yaml: configs are schema-valid (Talos 1.$v)" $VALIDATE $v "$T"/prod$v/tank.yaml \
		"$T"/prod$v/titan.yaml "$T"/prod$v/stone.yaml "$T"/prod$v/silver.yaml
done
expect_rc_out "profiles/immich.yaml: the placeholder MACs the site must fill in are named (warning)" 0 \
	"immich.yaml:41:41: warning: nodes\[0\]\.network\.hardwareAddr: 00:00:5e:00:53:01 is a documentation address \(RFC 7042\), a placeholder: record the MAC of the LAN NIC of node 'tank' before installing$" \
	"$APPLIANCE" validate "$ROOT/profiles/immich.yaml"
# parity with talosctl gen config v1.10 (pkg/machinery/config/generate/init.go)
"$APPLIANCE" render "$ROOT/profiles/immich.yaml" --out "$T/prodtree" >/dev/null 2>&1
/usr/bin/python3 - "$T/prod" "$T/prodtree/clusters/talos-robbinsdale/platform/cilium/app/helmrelease.yaml" \
	>"$T/parity.out" 2>&1 <<'PY'
import sys, yaml
d = sys.argv[1]
for node, cp in (("tank", True), ("titan", True), ("stone", True), ("silver", False)):
    c = yaml.safe_load(open(f"{d}/{node}.yaml"))
    m, k = c["machine"], c["cluster"]
    assert m["kubelet"] == {"image": "ghcr.io/siderolabs/kubelet:v1.33.2",
                            "defaultRuntimeSeccompProfileEnabled": True,
                            "disableManifestsDirectory": True}, (node, m["kubelet"])
    assert k["discovery"] == {"enabled": True, "registries": {"kubernetes": {"disabled": True}}}, node
    # the endpoint name resolves on every node without the LAN's DNS
    assert m["network"]["extraHostEntries"] == [{"ip": "192.168.50.25", "aliases": ["k8s.robbinsdale.local"]}], node
    assert "physical" not in yaml.safe_dump(c), node
    if cp:
        for key, img in (("apiServer", "kube-apiserver"), ("controllerManager", "kube-controller-manager"),
                         ("scheduler", "kube-scheduler"), ("proxy", "kube-proxy")):
            assert k[key]["image"] == f"registry.k8s.io/{img}:v1.33.2", (node, key)
        ac = k["apiServer"]["admissionControl"][0]
        assert ac["name"] == "PodSecurity" and ac["configuration"]["defaults"]["enforce"] == "baseline"
        assert ac["configuration"]["exemptions"]["namespaces"] == ["kube-system", "rook-ceph"], ac
        assert k["apiServer"]["certSANs"] == ["k8s.robbinsdale.local", "192.168.50.25"], node
        iface = m["network"]["interfaces"][0]
        assert iface["vip"] == {"ip": "192.168.50.25"} and "hardwareAddr" in iface["deviceSelector"], iface
    else:
        assert "interfaces" not in m["network"], node
    # Cilium at bootstrap (Talos v1.10 "Deploying Cilium", method 5): control planes only, first
    names = [i["name"] for i in k.get("inlineManifests", [])]
    if cp:
        assert names[0] == "cilium-install", names
        objs = list(yaml.safe_load_all(k["inlineManifests"][0]["contents"]))
        assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
            ("ConfigMap", "cilium-install"), ("ServiceAccount", "cilium-install"),
            ("ClusterRoleBinding", "cilium-install"), ("Job", "cilium-install")], objs
        job = objs[3]["spec"]["template"]["spec"]
        assert job["hostNetwork"] is True and job["tolerations"] == [{"operator": "Exists"}]
        cmd = job["containers"][0]["command"]
        # Flux adopts the release: the rendered HelmRelease has the same release, namespace, chart version, values
        hr = yaml.safe_load(open(sys.argv[2]))
        assert cmd == ["cilium", "install", "--version", hr["spec"]["chart"]["spec"]["version"],
                       "--namespace", hr["metadata"]["namespace"], "--helm-release-name", hr["spec"]["releaseName"],
                       "--repository", "https://helm.cilium.io", "--values", "/etc/cilium-install/values.yaml"], cmd
        assert yaml.safe_load(objs[0]["data"]["values.yaml"]) == hr["spec"]["values"], "values differ"
        assert m["features"]["hostDNS"]["forwardKubeDNSToHost"] is True
    else:
        assert names == [], names
tc = yaml.safe_load(open(f"{d}/talosconfig"))
eps = tc["contexts"]["talos-robbinsdale"]["endpoints"]
assert eps == ["192.168.50.25"], eps
print("parity ok")
PY
expect_out "profiles/immich.yaml: talosctl gen config parity, Cilium bootstrap Flux adopts, VIP on the named NIC, host entries, talosconfig endpoints are addresses" \
	'^parity ok$' cat "$T/parity.out"

# ---- schematic --------------------------------------------------------------------
run A talos schematic "$P" --id
id=$(cat "$T/.out")
want=$(A talos schematic "$P" | sed '/^#/d' | sha256sum | cut -d' ' -f1)
[ "$id" = "$want" ] && ok "schematic id is the sha256 of the printed schematic" || not_ok "id $id != $want"
grep -q "metal-installer/$id:v1.10.5" "$O/demo-1.yaml" && ok "install image uses the schematic id" || not_ok "install image"
site() { printf '%s\n' "$@" >"$T/site.yaml"; }
site 'talos:' '  configDelivery: none' '  schematic:' '    extensions: []' '    kernelArgs: []'
expect_out "empty schematic gives Image Factory's published id" '^376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba$' \
	A talos schematic "$P" --site "$T/site.yaml" --id
site 'talos:' '  configDelivery: none' '  schematic:' '    extensions: []' '    kernelArgs: [noapic, nolapic]'
expect_out "noapic/nolapic gives Image Factory's published id" '^9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c$' \
	A talos schematic "$P" --site "$T/site.yaml" --id
site 'talos:' '  configDelivery: none' '  schematic:' '    extensions: [siderolabs/qemu-guest-agent]' '    kernelArgs: []'
expect_out "qemu-guest-agent gives the published id" '^ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515$' \
	A talos schematic "$P" --site "$T/site.yaml" --id
site 'talos:' '  schematic:' '    kernelArgs: ["console=ttyS0,115200", "quiet splash"]'
expect_fail "a kernel arg we cannot canonicalize is refused" 2 A talos schematic "$P" --site "$T/site.yaml"
expect_out "the refusal names the argument" \
	"schematic kernel argument 'quiet splash': cannot reproduce Image Factory's canonical form exactly" \
	A talos schematic "$P" --site "$T/site.yaml" --id
expect_out "asset URLs use the mirror" "^iso http://127.0.0.1:8080/image/$id/v1.10.5/metal-amd64.iso\$" \
	A talos schematic "$P" --urls
expect_out "iPXE script URL" "^ipxe http://127.0.0.1:8080/pxe/$id/v1.10.5/metal-amd64\$" A talos schematic "$P" --urls
check "--json is valid JSON" sh -c "'$APPLIANCE' talos schematic '$P' --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"id\"]==\"$id\"'"

# ---- config volume ------------------------------------------------------------------
V=$T/demo-2.iso
check "config-volume from the bundle" run A talos config-volume "$P" --node demo-2 --secrets "$S" --out "$V"
[ "$(stat -c %a "$V")" = 600 ] && ok "volume is mode 0600" || not_ok "volume mode"
expect_out "blkid sees label metal-iso (Joliet), as Talos' probe does" 'LABEL="metal-iso"' blkid -p "$V"
expect_out "xorriso lists /config.yaml" "^'/config.yaml'\$" xorriso -indev "$V" -find / -type f
rm -f "$T/back.yaml"
check "xorriso extracts config.yaml" xorriso -osirrox on -indev "$V" -extract /config.yaml "$T/back.yaml"
check "config.yaml reads back byte-exact" cmp "$T/back.yaml" "$O/demo-2.yaml"
V1=$T/demo-1.iso
check "config-volume from a generated config" run A talos config-volume "$P" --node demo-1 --config "$O/demo-1.yaml" --out "$V1"
rm -f "$T/back1.yaml"
xorriso -osirrox on -indev "$V1" -extract /config.yaml "$T/back1.yaml" >/dev/null 2>&1
check "control-plane config reads back byte-exact" cmp "$T/back1.yaml" "$O/demo-1.yaml"
expect_fail "config-volume needs exactly one source" 2 A talos config-volume "$P" --node demo-1 --out "$V1"

# ---- secrets never printed ------------------------------------------------------------
cat "$T"/.out >>"$LOG" 2>/dev/null
if grep -qE "$CANARIES" "$LOG"; then not_ok "canary secret values appeared on stdout/stderr"; else ok "no canary secret value on stdout/stderr"; fi
bt=$(/usr/bin/python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["secrets"]["bootstraptoken"])' "$S")
if grep -qF "$bt" "$LOG"; then not_ok "bootstrap token appeared in output"; else ok "bundle secrets never printed"; fi

# the config volume is a function of the config alone: no build time inside it
# (an install can then be compared byte for byte with another)
A talos config-volume "$P" --node demo-1 --secrets "$S" --out "$T/vol-a.iso" >/dev/null
sleep 1.1
A talos config-volume "$P" --node demo-1 --secrets "$S" --out "$T/vol-b.iso" >/dev/null
check "config volume: two builds a second apart are byte-identical" cmp "$T/vol-a.iso" "$T/vol-b.iso"

echo "1..$_tap_n"

