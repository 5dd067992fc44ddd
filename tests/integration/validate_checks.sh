#!/usr/bin/env bash
# validate catches it first (issue 20, item 6): Kubernetes quantities as Kubernetes parses them,
# addresses inside the LAN, unique addresses, real time zones (tzdata), and every reference that
# render checks (validate rejects exactly what render would).
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT"
P=profiles/demo.yaml

bad() { # DESC REGEX --set...
	local d=$1 re=$2; shift 2
	"$APPLIANCE" validate $P "$@" >"$T/out" 2>&1
	local rc=$?
	if [ $rc -eq 2 ] && grep -qE -- "$re" "$T/out"; then ok "$d"; else
		not_ok "$d (exit $rc)"
		head -5 "$T/out" | sed 's/^/#   /'
	fi
}
good() { # DESC --set...
	local d=$1; shift
	if "$APPLIANCE" validate $P "$@" >"$T/out" 2>&1; then ok "$d"; else not_ok "$d"; head -5 "$T/out" | sed 's/^/#   /'; fi
}

# ---- quantities -------------------------------------------------------------------------------------
bad "size 8GB: Kubernetes rejects it" "apps.immich.database.size: Kubernetes reads this size and does not take that unit; write e.g. 8G .* or 8Gi" \
	--set apps.immich.database.size=8GB
good "size 8G is valid" --set apps.immich.database.size=8G
good "size 8Gi is valid" --set apps.immich.database.size=8Gi
bad "volume capacity 2TB rejected" "apps.immich.storage.photos.capacity: Kubernetes reads this size" --set apps.immich.storage.photos.capacity=2TB
bad "redis maxMemory 1000MB rejected" "apps.immich.redis.maxMemory: expected a Kubernetes quantity" --set apps.immich.redis.maxMemory=1000MB
good "redis cpuRequest 0.5 and 25m valid" --set apps.immich.redis.cpuRequest=0.5 --set apps.immich.redis.maxMemory=1e9
bad "redis cpuRequest 25 m rejected" "apps.immich.redis.cpuRequest: expected a Kubernetes quantity" --set "apps.immich.redis.cpuRequest=25 m"
good "sizes Kubernetes never reads keep their disk units (nas.minFree 500GB)" --set nas.minFree=500GB
# the same verdicts as Kubernetes' own parser (kubectl set resources --local parses the
# quantity with k8s.io/apimachinery's resource.ParseQuantity, offline), when kubectl is here
if command -v kubectl >/dev/null 2>&1; then
	agree=1
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers: [{name: c, image: x}]\n' >"$T/pod.yaml"
	for q in 8GB 8G 8Gi 1000MB 25m 0.5 1e9 8gi 1.5Ti +3 .5M 5. 1KB 1k; do
		kubectl set resources -f "$T/pod.yaml" --local --limits="memory=$q" -o name >/dev/null 2>&1 && k=ok || k=bad
		"$APPLIANCE" validate $P --set "apps.immich.redis.maxMemory=$q" >/dev/null 2>&1 && a=ok || a=bad
		[ "$k" = "$a" ] || { agree=0; diag "quantity '$q': kubectl $k, appliance $a"; }
	done
	[ $agree = 1 ] && ok "quantities: the same verdict as kubectl for 14 samples" || not_ok "quantities disagree with kubectl"
else
	diag "kubectl absent: the cross-check with Kubernetes' own parser is skipped"
fi

# ---- addresses ----------------------------------------------------------------------------------------
bad "node address outside the LAN" "nodes\[1\].network.address: address '192.168.1.5/24' is outside the LAN 10.0.2.0/24 \(site.lan.cidr\)" \
	--set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=192.168.1.5/24'
bad "gateway outside the LAN" "nodes\[1\].network.gateway: gateway '192.168.1.1' is outside the LAN" \
	--set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=10.0.2.31/24' --set 'nodes[1].network.gateway=192.168.1.1'
bad "two nodes with the same address" "nodes\[2\].network.address: address '10.0.2.31/24' is already nodes\[1\].network.address's" \
	--set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=10.0.2.31/24' \
	--set 'nodes[2].network.dhcp=false' --set 'nodes[2].network.address=10.0.2.31/24'
bad "a node on the VIP" "talos.vip: address '10.0.2.25' is already nodes\[1\].network.address's" \
	--set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=10.0.2.25/24'
bad "VIP outside the LAN" "talos.vip: address '10.9.9.9' is outside the LAN" --set talos.vip=10.9.9.9
bad "the LAN's router outside the LAN" "site.lan.gateway: gateway '10.9.9.1' is outside the LAN 10.0.2.0/24 \(site.lan.cidr\)" \
	--set site.lan.gateway=10.9.9.1
bad "the VIP on the router's address" "talos.vip: address '10.0.2.2' is already site.lan.gateway's" --set talos.vip=10.0.2.2
bad "a node on the NAS's address" "nodes\[1\].network.address: address '127.0.0.1/24' is already nas.address's" \
	--set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=127.0.0.1/24' --set site.lan.cidr=127.0.0.0/24 \
	--set site.lan.gateway=127.0.0.2 --set talos.vip=127.0.0.25
good "a NAS outside the LAN (routed) is allowed" --set nas.address=10.9.9.10
good "distinct addresses inside the LAN" --set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=10.0.2.31/24' \
	--set 'nodes[2].network.dhcp=false' --set 'nodes[2].network.address=10.0.2.32/24'

# ---- ranges apart: LAN (node addresses, VIP), pods, services, LoadBalancer pool ------------------
R="the LAN, the pod range, the service range and the LoadBalancer pool must be apart"
good "the demo: LAN 10.0.2.0/24 apart from Talos's default ranges, its LB pool inside the LAN" \
	--set talos.podCIDR=10.244.0.0/16 --set talos.serviceCIDR=10.96.0.0/12
bad "service range over the LAN (production's 10.0.0.0/16 around QEMU's 10.0.2.0/24)" \
	"^--set talos.serviceCIDR:1:1: error: talos.serviceCIDR: 10.0.0.0/16 overlaps site.lan.cidr 10.0.2.0/24 \(the LAN\): $R" \
	--set talos.serviceCIDR=10.0.0.0/16
bad "the VIP inside the service range" \
	"demo.yaml:74:8: error: talos.vip: address '10.0.2.25' is inside talos.serviceCIDR 10.0.0.0/16" \
	--set talos.serviceCIDR=10.0.0.0/16
bad "pod range over the LAN" "talos.podCIDR: 10.0.0.0/12 overlaps site.lan.cidr 10.0.2.0/24 \(the LAN\)" \
	--set talos.podCIDR=10.0.0.0/12
bad "pod range over the service range (the built-in one, reported at the profile's key)" \
	"^--set talos.podCIDR:1:1: error: talos.podCIDR: 10.96.0.0/16 overlaps talos.serviceCIDR 10.96.0.0/12 \(the services\)" \
	--set talos.podCIDR=10.96.0.0/16
bad "LB pool inside the pod range" \
	"platform.cilium.loadBalancer.cidr: 10.244.5.0/24 overlaps talos.podCIDR 10.244.0.0/16 \(the pods\)" \
	--set platform.cilium.loadBalancer.cidr=10.244.5.0/24
bad "LB pool inside the service range" \
	"platform.cilium.loadBalancer.cidr: 10.100.0.0/24 overlaps talos.serviceCIDR 10.96.0.0/12 \(the services\)" \
	--set platform.cilium.loadBalancer.cidr=10.100.0.0/24
bad "a node address inside the pod range" \
	"nodes\[1\].network.address: address '10.244.0.31/24' is inside talos.podCIDR 10.244.0.0/16" \
	--set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=10.244.0.31/24'
bad "a LAN inside the pod range" "site.lan.cidr: 10.244.0.0/24 overlaps talos.podCIDR 10.244.0.0/16 \(the pods\)" \
	--set site.lan.cidr=10.244.0.0/24
good "an LB pool inside the LAN (L2 announcement)" --set platform.cilium.loadBalancer.cidr=10.0.2.128/25

# ---- time zones ------------------------------------------------------------------------------------------
if [ -d /usr/share/zoneinfo ]; then
	bad "Europe/Berln: not a zone, with the nearest" "site.timezone: 'Europe/Berln' is not a time zone of the tz database; did you mean 'Europe/Berlin'\?" \
		--set site.timezone=Europe/Berln
	bad "a path is not a zone" "site.timezone: '../../etc/passwd' is not a time zone" --set site.timezone=../../etc/passwd
	good "Europe/Berlin is a zone" --set site.timezone=Europe/Berlin
	good "UTC is a zone" --set site.timezone=UTC
else
	not_ok "tzdata is not installed (/usr/share/zoneinfo): it is in packages.txt"
fi

# ---- references render checks ------------------------------------------------------------------------------
bad "a dependsOn naming nothing rendered: refused by validate, as render refuses it" \
	"render: Kustomization flux-system/immich .* refers to Kustomization 'flux-system/nothing-here'" \
	--set 'apps.immich.dependsOn=[nothing-here]'
"$APPLIANCE" render $P --out "$T/r" --set 'apps.immich.dependsOn=[nothing-here]' >/dev/null 2>&1
[ $? -ne 0 ] && ok "render refuses the same profile" || not_ok "render accepted what validate refused"
bad "a value that is no Kubernetes name: what one is, in few words" \
	"^--set platform.cilium.loadBalancer.pool:1:1: error: platform.cilium.loadBalancer.pool: expected a Kubernetes name \(a-z, 0-9, '-', '.'; alphanumeric at both ends\) \(found 'Bad_Pool'\)$" \
	--set platform.cilium.loadBalancer.pool=Bad_Pool
bad "render's count of further problems: one is 'problem', several 'problems'" \
	"refers to Secret or OnePasswordItem 'immich/other' \(set by apps.immich.database.secret\), but no such object is rendered \(and 1 more problem\)$" \
	--set apps.immich.database.secret=other

# ---- the key reference: every key described ------------------------------------------------------------
# (issue 20, deliver 2) validate --keys walks the schema tables: a key added without a .desc shows here
"$APPLIANCE" validate --keys >"$T/keys"
n=$(wc -l <"$T/keys")
[ "$n" -gt 400 ] && ok "validate --keys lists every key ($n)" || not_ok "validate --keys lists only $n keys"
undescribed=$(grep -v $'\t# .' "$T/keys" | cut -f1)
[ -z "$undescribed" ] && ok "every key of the schema has a one-line description" ||
	{ not_ok "keys without a description (add .desc in installer/lib/profile/profile_schema.c)"; echo "$undescribed" | head -20 | sed 's/^/#   /'; }
long=$(awk -F'\t# ' 'length($2) >= 70 {print $1}' "$T/keys")
[ -z "$long" ] && ok "every description is short (< 70 columns)" || { not_ok "descriptions of 70 columns or more"; echo "$long" | sed 's/^/#   /'; }
grep -qE $'^nas.timeout\tduration\tdefault [0-9]+s\t# per-operation timeout' "$T/keys" &&
	grep -qE $'^platform.rook.replicas\tint\tdefault [0-9]+\t# copies of each block' "$T/keys" &&
	ok "a key's line: type, default and description" || { not_ok "a key's line"; grep -E '^(nas.timeout|platform.rook.replicas)\s' "$T/keys" | sed 's/^/#   /'; }

# ---- 1Password on needs its credentials -------------------------------------------------------------------
# (new-user review) Connect reads 1password-credentials.json from Secret op-credentials and the
# operator its token from Secret onepassword-token; install makes both from these two secrets
printf 'platform:\n  onepassword:\n    enabled: true\n' >"$T/op.yaml"
"$APPLIANCE" validate tests/profiles/valid/minimal.yaml --site "$T/op.yaml" >"$T/out" 2>&1
rc=$?
[ $rc -eq 2 ] &&
	grep -qF "$T/op.yaml:3:14: error: platform.onepassword.credentialsSecret: not set while platform.onepassword is enabled: install makes Secret 'op-credentials' (the Connect server's 1password-credentials.json) from it: name its secrets: entry, or set enabled: false" "$T/out" &&
	grep -qF "$T/op.yaml:3:14: error: platform.onepassword.tokenSecret: not set while platform.onepassword is enabled: install makes Secret 'onepassword-token' (the operator's Connect token) from it" "$T/out" &&
	ok "1Password enabled without its two secrets: both named at enabled's file:line:col" ||
	{ not_ok "1Password enabled without its secrets (exit $rc)"; sed 's/^/#   /' "$T/out"; }
bad "1Password enabled, the token's secret unset" "error: platform.onepassword.tokenSecret: not set while platform.onepassword is enabled" \
	--set platform.onepassword.tokenSecret=null
good "1Password enabled with both secrets (the demo)"
good "1Password off needs neither" --set platform.onepassword.enabled=false --set platform.onepassword.tokenSecret=null \
	--set platform.onepassword.credentialsSecret=null
"$APPLIANCE" render tests/profiles/valid/minimal.yaml --site "$T/op.yaml" --out "$T/r2" >/dev/null 2>&1
[ $? -eq 2 ] && [ ! -e "$T/r2" ] && ok "render refuses it too, writing nothing" || not_ok "render accepted 1Password without its secrets"

# ---- what talos gen checks without a bundle: the same functions (talos/talos_check.h) ----------------------
# the demo's secrets and a bundle, so that talos gen gets as far as its checks
export APPLIANCE_DEMO_NAS_USER=u APPLIANCE_DEMO_NAS_PASSWORD=p APPLIANCE_DEMO_GIT_TOKEN=t APPLIANCE_DEMO_SOPS_KEY=k \
	APPLIANCE_DEMO_OP_CREDENTIALS='{}' APPLIANCE_DEMO_OP_TOKEN=o APPLIANCE_DEMO_S3_ACCESS_KEY=a APPLIANCE_DEMO_S3_SECRET_KEY=s
"$APPLIANCE" talos secrets $P --out "$T/bundle.yaml" >"$T/fp.out" 2>&1 || { not_ok "talos secrets"; cat "$T/fp.out"; }
FP=$(grep -oE '[0-9a-f]{64}' "$T/fp.out" | head -1)
same() { # DESC GEN_REGEX VALIDATE_REGEX --set...: validate and talos gen refuse it, saying the same
	local d=$1 gre=$2 vre=$3; shift 3
	"$APPLIANCE" validate $P "$@" >"$T/v.out" 2>&1
	local vrc=$?
	"$APPLIANCE" talos gen $P --secrets "$T/bundle.yaml" --out "$T/gen" --set "talos.caFingerprint=$FP" "$@" >"$T/g.out" 2>&1
	local grc=$?
	if [ $vrc -eq 2 ] && grep -qE -- "$vre" "$T/v.out" && [ $grc -ne 0 ] && grep -qE -- "$gre" "$T/g.out"; then ok "$d"; else
		not_ok "$d (validate exit $vrc, talos gen exit $grc)"
		sed 's/^/#   validate: /' "$T/v.out" | head -4
		sed 's/^/#   talos gen: /' "$T/g.out" | head -4
	fi
}
same "an endpoint name without a VIP: validate at the endpoint's position, as talos gen refuses it" \
	"names host 'k8s.demo.test', which the nodes cannot resolve without the LAN's DNS; set talos.vip" \
	"^profiles/demo.yaml:71:13: error: talos.endpoint: 'https://k8s.demo.test:6443' names host 'k8s.demo.test', which the nodes cannot resolve without the LAN's DNS; set talos.vip \(or a control plane's static network.address\)" \
	--set talos.vip=null
same "talos.cni custom: validate refuses what talos gen cannot generate" \
	"talos.cni 'custom': only 'none' .* and 'flannel' can be generated" \
	"error: talos.cni: 'custom': only 'none' \(the GitOps repository installs the CNI\) and 'flannel' can be generated" \
	--set talos.cni=custom --set platform.cilium.enabled=false
same "an install disk Talos cannot express (a by-id glob): refused at nodes[0].installDisk" \
	"installDisk cannot be expressed as a Talos install disk" \
	"error: nodes\[0\].installDisk: installDisk cannot be expressed as a Talos install disk \(expected an exact /dev path" \
	--set 'nodes[0].installDisk={path: "/dev/disk/by-id/nvme-*"}'
same "the VIP on a control plane whose LAN NIC is not named: refused at nodes[0].network" \
	"the VIP \(talos.vip\) needs the node's LAN interface" \
	"error: nodes\[0\].network: the VIP \(talos.vip\) needs the node's LAN interface: set network.hardwareAddr" \
	--set 'nodes[0].identity.macs=[]' --set 'nodes[0].identity.serial=S1'
bad "an endpoint on a worker's address: the API server is not there" \
	"error: talos.endpoint: address '10.0.2.32' is worker 'demo-2''s: the API server runs on the control planes only" \
	--set talos.endpoint=https://10.0.2.32:6443 --set 'nodes[1].network.dhcp=false' --set 'nodes[1].network.address=10.0.2.32/24'
"$APPLIANCE" validate $P --set talos.endpoint=https://10.0.2.77:6443 >"$T/out" 2>&1 && grep -qE \
	"warning: talos.endpoint: address '10.0.2.77' is neither talos.vip nor a control plane's: the nodes and kubectl reach the API there only through a load balancer" "$T/out" &&
	ok "an endpoint address that is neither the VIP nor a control plane's: a warning (a load balancer may stand there)" ||
	{ not_ok "endpoint address neither VIP nor control plane"; sed 's/^/#   /' "$T/out"; }
good "the endpoint on the VIP" --set talos.endpoint=https://10.0.2.25:6443

# ---- one cluster identity: a site of several nodes records talos.caFingerprint --------------------------------
"$APPLIANCE" validate $P >"$T/out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -qF "profiles/demo.yaml:55:3: warning: talos.caFingerprint: not set: the 3 nodes must share one cluster, so install refuses without it (or --new-cluster); run 'appliance talos secrets profiles/demo.yaml --out talos-secrets.yaml' once and record the fingerprint it prints" "$T/out" &&
	ok "3 nodes without talos.caFingerprint: a warning under talos: saying how to get it (install refuses)" ||
	{ not_ok "no caFingerprint warning (exit $rc)"; sed 's/^/#   /' "$T/out"; }
"$APPLIANCE" validate $P --set "talos.caFingerprint=$FP" >"$T/out" 2>&1
grep -q 'caFingerprint' "$T/out" && not_ok "a recorded fingerprint still warned" || ok "with talos.caFingerprint recorded: no warning"
"$APPLIANCE" validate tests/profiles/valid/minimal.yaml >"$T/out" 2>&1
grep -q 'caFingerprint' "$T/out" && not_ok "one node warned about caFingerprint" || ok "one node: no caFingerprint needed"

# ---- the files the profile names: missing or unusable ones are warnings -------------------------------------
# (validate said "valid", then install or render failed on a missing file) talos.image.pins and every
# file: secret, resolved beside the profile as the commands resolve them (not from the working folder);
# warnings, since the admin machine may not hold the secrets; never a file's contents in a message
mkdir -p "$T/site/sec/dir" "$T/cwd"
cp $P "$T/site/p.yaml"
sed -i 's|^  gitToken: env:APPLIANCE_DEMO_GIT_TOKEN$|  gitToken: file:sec/token|' "$T/site/p.yaml"
printf 'pins:\n' >"$T/site/pins.yaml"
printf 'hunter2-not-a-real-token\n' >"$T/site/sec/token"
chmod 600 "$T/site/sec/token"
mkfifo "$T/site/sec/fifo"
printf 'x\n' >"$T/outside"
files() { # DESC EXACT-WARNING --set...: exit 0, valid, that one line, no secret value
	local d=$1 want=$2 rc
	shift 2
	(cd "$T/cwd" && timeout 60 "$APPLIANCE" validate "$T/site/p.yaml" --set talos.image.pins=pins.yaml "$@") >"$T/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -qF "$T/site/p.yaml: valid" "$T/out" && grep -qxF -- "$want" "$T/out" &&
		! grep -q hunter2 "$T/out"; then ok "$d"; else
		not_ok "$d (exit $rc)"
		echo "#   wanted: $want"
		sed 's/^/#   /' "$T/out"
	fi
}
(cd "$T/cwd" && "$APPLIANCE" validate "$T/site/p.yaml" --set talos.image.pins=pins.yaml) >"$T/out" 2>&1
[ $? -eq 0 ] && ! grep -qE 'warning: (secrets|talos.image.pins)' "$T/out" &&
	ok "a file: secret and the pins file beside the profile, validated from another folder: no warning" ||
	{ not_ok "files beside the profile warned"; sed 's/^/#   /' "$T/out"; }
# a secret file group or others may read: a warning at its key, like ssh's for a private key
# (only secrets: the pins file is public); never the value, exit still 0
chmod 644 "$T/site/sec/token"
files "a file: secret readable by others (0644): a warning at its key saying how to fix it" \
	"$T/site/p.yaml:141:13: warning: secrets.gitToken: '$T/site/sec/token' is readable by others (mode 0644): chmod 600 '$T/site/sec/token'"
chmod 644 "$T/site/pins.yaml"
(cd "$T/cwd" && "$APPLIANCE" validate --json "$T/site/p.yaml" --set talos.image.pins=pins.yaml) >"$T/v.json" 2>/dev/null
rc=$?
check "--json: the readable secret file under warnings at its key, the pins file (0644) not, no value" /usr/bin/python3 -c "
import json; d = json.load(open('$T/v.json'))
w = {x['path']: x for x in d['diagnostics'] if x['severity'] == 'warning'}
assert $rc == 0 and d['valid'] is True and d['warnings'] == len(w), d
assert w['secrets.gitToken']['message'] == \"'$T/site/sec/token' is readable by others (mode 0644): chmod 600 '$T/site/sec/token'\", w
assert w['secrets.gitToken']['line'] == 141 and 'talos.image.pins' not in w, w
assert 'hunter2' not in open('$T/v.json').read()"
chmod 620 "$T/site/sec/token"
files "a file: secret writable by the group (0620): a warning too" \
	"$T/site/p.yaml:141:13: warning: secrets.gitToken: '$T/site/sec/token' is writable by others (mode 0620): chmod 600 '$T/site/sec/token'"
chmod 600 "$T/site/sec/token"
(cd "$T/cwd" && "$APPLIANCE" validate "$T/site/p.yaml" --set talos.image.pins=pins.yaml) >"$T/out" 2>&1
[ $? -eq 0 ] && ! grep -q 'secrets.gitToken' "$T/out" && ok "the same secret file at 0600: no warning" ||
	{ not_ok "a 0600 secret file warned"; sed 's/^/#   /' "$T/out"; }
rm "$T/site/sec/token"
files "a file: secret the profile names is missing: a warning at its key, naming the path and the reason" \
	"$T/site/p.yaml:141:13: warning: secrets.gitToken: cannot open '$T/site/sec/token': No such file or directory; commands that read this secret fail on this machine"
files "a FIFO as a file: secret: a warning at once (never opened for a writer)" \
	"--set secrets.gitToken:1:1: warning: secrets.gitToken: '$T/site/sec/fifo' is a FIFO, not a regular file; refusing to read it; commands that read this secret fail on this machine" \
	--set secrets.gitToken=file:sec/fifo
files "a file: secret outside the profile's folder: the refusal the commands would give" \
	"--set secrets.gitToken:1:1: warning: secrets.gitToken: file '../outside' resolves to '$T/outside', outside the profile's folder '$T/site': refused (name it by an absolute path); commands that read this secret fail on this machine" \
	--set secrets.gitToken=file:../outside
head -c 2M /dev/zero >"$T/site/sec/big"
files "an oversized file: secret: refused by its size, unread" \
	"--set secrets.gitToken:1:1: warning: secrets.gitToken: '$T/site/sec/big' is larger than 1.0 MiB; refusing to read it; commands that read this secret fail on this machine" \
	--set secrets.gitToken=file:sec/big
files "a missing pins file: a warning saying what needs it" \
	"--set talos.image.pins:1:1: warning: talos.image.pins: cannot open '$T/site/nope.yaml': No such file or directory; install needs the image's hash pinned in it ('appliance image fetch --trust-on-first-use' records it)" \
	--set secrets.gitToken=env:X --set talos.image.pins=nope.yaml
files "a directory as the pins file" \
	"--set talos.image.pins:1:1: warning: talos.image.pins: '$T/site/sec/dir' is a directory, not a regular file; refusing to read it; install needs the image's hash pinned in it ('appliance image fetch --trust-on-first-use' records it)" \
	--set secrets.gitToken=env:X --set talos.image.pins=sec/dir
(cd "$T/cwd" && "$APPLIANCE" validate --json "$T/site/p.yaml" --set talos.image.pins=nope.yaml) >"$T/v.json" 2>/dev/null
rc=$?
check "--json: exit $rc, valid, each missing file under warnings with its key" /usr/bin/python3 -c "
import json; d = json.load(open('$T/v.json'))
w = {x['path']: x for x in d['diagnostics'] if x['severity'] == 'warning'}
assert $rc == 0 and d['valid'] is True and d['warnings'] == len(w) >= 2, d
assert 'No such file or directory' in w['secrets.gitToken']['message'] and w['secrets.gitToken']['line'] == 141, w
assert w['talos.image.pins']['message'].startswith(\"cannot open '$T/site/nope.yaml'\"), w"
