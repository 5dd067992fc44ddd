#!/usr/bin/env bash
# appliance pxe: the tree it writes (iPXE scripts per node MAC + default, GRUB netboot
# config, live system, site.cpio, dnsmasq proxy-DHCP config checked by dnsmasq itself),
# determinism, every refusal with its exact message, and the secrets rules of issue 17:
#   - nothing under the TFTP root holds the Talos bundle, a node config or a secret
#     (the old site.cpio carried all of them);
#   - one payload per node beside the tree (0700/0600), rendered here; a worker's has
#     no CA private key, no bootstrap Secret and no secret at all; a control plane's
#     only the NAS credentials its own config carries;
#   - --serve hands nothing to the dnsmasq user (no chown);
#   - file: references leaving the profile's folder are refused (../../etc/shadow);
#   - the payload server hands each payload out once (410 after), logs client, MAC and
#     time, and --approve asks on the terminal (no terminal: refused);
# iso/init's reading of secrets.env: tests/integration/init_env.sh. The boot itself is in
# tests/e2e/pxe_*.sh (QEMU).
. "$(dirname "$0")/../lib/tap.sh"

P=$ROOT/profiles/demo.yaml
# a stand-in live system and GRUB netboot dir (the real ones come from make iso)
mkdir -p "$T/live" "$T/netboot/grub/x86_64-efi"
echo kernel >"$T/live/vmlinuz"
echo initrd >"$T/live/initrd.img"
echo core >"$T/netboot/grub/x86_64-efi/core.efi"
printf 'site:\n  timezone: Europe/Berlin\n' >"$T/site.yaml"
# the demo's throw-away secret values, as the admin machine has them
export APPLIANCE_DEMO_NAS_USER=pxe-nas-user APPLIANCE_DEMO_NAS_PASSWORD=pxe-nas-pw-$$
export APPLIANCE_DEMO_GIT_TOKEN=pxe-git-token-$$ APPLIANCE_DEMO_SOPS_KEY=pxe-sops-key-$$
export APPLIANCE_DEMO_OP_CREDENTIALS='{"pxe":"op-credentials"}' APPLIANCE_DEMO_OP_TOKEN=pxe-op-token-$$
export APPLIANCE_DEMO_S3_ACCESS_KEY=pxe-s3-access-$$ APPLIANCE_DEMO_S3_SECRET_KEY=pxe-s3-secret-$$
B=$T/talos-secrets.yaml
"$APPLIANCE" talos secrets "$P" --out "$B" >"$T/bundle.out" 2>&1 || { cat "$T/bundle.out"; exit 1; }
URL=http://10.0.2.100:8069/
ARGS=(--live "$T/live" --netboot "$T/netboot")
# refuse DESC CODE REGEX CMD...: CMD exits CODE and its output matches REGEX
refuse() {
	local d=$1 code=$2 re=$3
	shift 3
	expect_rc_out "$d: exit $code, says /$re/" "$code" "$re" "$@"
}
# needles FILE: every secret value (as written and base64) and every private key of the
# bundle (as the bundle and the configs carry them: base64 of the PEM), one a line
needles() {
	env | grep '^APPLIANCE_DEMO_' | cut -d= -f2- | while IFS= read -r v; do
		printf '%s\n' "$v"
		printf '%s' "$v" | base64 -w0
		echo
	done
	awk '$1 == "key:" && $2 != "" {print $2}' "$B"
	awk '$1 == "secretboxencryptionsecret:" {print $2}' "$B"
}
# (a worker's config legitimately carries the cluster id/secret and the join tokens, as
# talosctl's worker configs do; it must not carry a CA key or the secretbox secret)
needles >"$T/needles.txt"
check "the bundle has private keys to look for" test "$(awk '$1 == "key:"' "$B" | wc -l)" -ge 4

expect_out "--help prints usage" '^usage: appliance pxe PROFILE --out DIR' "$APPLIANCE" pxe --help
expect_fail "--help exits 0" 0 "$APPLIANCE" pxe --help

check "builds the tree and the payloads" "$APPLIANCE" pxe "$P" --out "$T/pxe" "${ARGS[@]}" --site "$T/site.yaml" \
	--set site.location=lab --secrets "$B" --payload-url "$URL"
cp "$T/.out" "$T/built.out"
check "says what it wrote" grep -qE '^pxe: wrote [0-9]+ files to .*: 3 node scripts \(3 nodes\), boot.ipxe, site.cpio, dnsmasq.conf, grub/' "$T/built.out"
expect_out "says demo-1's payload: every secret its config carries (names), and secrets.env's" \
	"^pxe: payload $T/pxe.payloads/demo-1.cpio \(0600, [0-9]+ bytes\): controlplane machine config with the cluster CA keys and secrets nasUsername, nasPassword, gitToken, sopsKey, opCredentials, opToken, s3AccessKey, s3SecretKey; secrets.env: nasUsername, nasPassword$" cat "$T/built.out"
expect_out "says demo-2's payload: worker config, no secret" \
	"^pxe: payload $T/pxe.payloads/demo-2.cpio \(0600, [0-9]+ bytes\): worker machine config \(no secret\)$" cat "$T/built.out"
check "the payload lines name no secret value" bash -c "! grep -F -f '$T/needles.txt' '$T/built.out'"
# on an 80-column terminal the payload lines wrap under a 4-space indent, same words
env -u COLUMNS "$APPLIANCE" pxe "$P" --out "$T/pxe80" "${ARGS[@]}" --site "$T/site.yaml" --set site.location=lab \
	--secrets "$B" --payload-url "$URL" >"$T/built80.out" 2>&1
check "payload lines: within 80 columns" test "$(awk '/^pxe: payload /{p=1; n++} /^pxe: /&&!/^pxe: payload /{p=0} p&&length>79{bad++} END{print n+0, bad+0}' "$T/built80.out")" = "3 0"
expect_out "payload lines: wrapped, the same words" \
	"^pxe: payload $T/pxe80.payloads/demo-1.cpio \(0600, [0-9]+ bytes\): controlplane machine config with the cluster CA keys and secrets nasUsername, .*, s3SecretKey; secrets.env: nasUsername, nasPassword$" \
	awk '/^    /{sub(/^    /, " "); printf "%s", $0; next} NR>1{print ""} {printf "%s", $0} END{print ""}' "$T/built80.out"
for f in undionly.kpxe ipxe.efi boot.ipxe live/vmlinuz live/initrd.img site.cpio dnsmasq.conf grub/grub.cfg \
	grub/x86_64-efi/core.efi; do
	check "tree has $f" test -s "$T/pxe/$f"
done
check "undionly.kpxe is Debian's" cmp /usr/lib/ipxe/undionly.kpxe "$T/pxe/undionly.kpxe"
check "ipxe.efi is Debian's" cmp /usr/lib/ipxe/ipxe.efi "$T/pxe/ipxe.efi"
for n in 1 2 3; do
	expect_out "mac-52-54-00-12-34-0$n.ipxe boots demo-$n unattended, payload URL on the command line" \
		'^kernel live/vmlinuz initrd=initrd.img initrd=site.cpio .*appliance.unattended=1 appliance.node=demo-'$n' appliance.payload=http://10.0.2.100:8069/$' \
		cat "$T/pxe/mac-52-54-00-12-34-0$n.ipxe"
	expect_out "grub node-52:54:00:12:34:0$n.cfg sets demo-$n" "appliance.node=demo-$n" \
		cat "$T/pxe/grub/node-52:54:00:12:34:0$n.cfg"
done
expect_out "boot.ipxe chains the node script by MAC" '^chain --autofree mac-\$\{mac:hexhyp\}.ipxe \|\| goto identify$' cat "$T/pxe/boot.ipxe"
expect_out "boot.ipxe default lets the live system identify the machine" \
	'^kernel live/vmlinuz initrd=initrd.img initrd=site.cpio console=ttyS0,115200n8 console=tty0 quiet appliance.unattended=1 appliance.payload=http://10.0.2.100:8069/$' \
	cat "$T/pxe/boot.ipxe"
expect_out "dnsmasq: proxy-DHCP on the site's LAN" '^dhcp-range=10.0.2.0,proxy,255.255.255.0$' cat "$T/pxe/dnsmasq.conf"
expect_out "dnsmasq: BIOS PXE ROMs get undionly.kpxe" '^pxe-service=tag:!ipxe,x86PC,"appliance installer \(BIOS\)",undionly.kpxe$' cat "$T/pxe/dnsmasq.conf"
expect_out "dnsmasq: UEFI PXE ROMs get ipxe.efi" '^pxe-service=tag:!ipxe,X86-64_EFI,"appliance installer \(UEFI\)",ipxe.efi$' cat "$T/pxe/dnsmasq.conf"
expect_out "dnsmasq: iPXE gets boot.ipxe" '^pxe-service=tag:ipxe,X86-64_EFI,"appliance installer",boot.ipxe$' cat "$T/pxe/dnsmasq.conf"
expect_out "dnsmasq: TFTP root is the tree" "^tftp-root=$(cd "$T/pxe" && pwd -P)\$" cat "$T/pxe/dnsmasq.conf"
if command -v dnsmasq >/dev/null 2>&1; then
	expect_out "dnsmasq accepts the config" 'syntax check OK' dnsmasq --test --conf-file="$T/pxe/dnsmasq.conf"
else
	not_ok "dnsmasq accepts the config (dnsmasq-base not installed)"
fi
cpio -itv <"$T/pxe/site.cpio" >"$T/cpio.txt" 2>/dev/null
for re in ' appliance/profile/profile.yaml -> tree/demo.yaml$' ' appliance/profile/tree/demo.yaml$' \
	' appliance/profile/site-1.yaml$' ' appliance/profile/set.args$'; do
	expect_out "site.cpio holds ${re# }" "$re" cat "$T/cpio.txt"
done
(cd "$T" && mkdir x && cd x && cpio -idm --quiet <"$T/pxe/site.cpio")
check "site.cpio: profile bytes" cmp "$P" "$T/x/appliance/profile/tree/demo.yaml"
expect_out "site.cpio: set.args has the --set" '^site.location=lab$' cat "$T/x/appliance/profile/set.args"

# ---- issue 17 item 1: nothing secret on the LAN ----------------------------------
# (the old site.cpio held talos-secrets.yaml, secrets.env and every file: secret)
check "site.cpio holds no bundle, no secrets.env, no machine config" \
	bash -c "! grep -qE 'talos-secrets|secrets.env|config.yaml|payload' '$T/cpio.txt'"
leaks() { # leaks DIR...: files under DIR holding any needle (site.cpio unpacked in x/)
	grep -rlF -f "$T/needles.txt" "$@" 2>/dev/null
}
check "no file under the TFTP root (or inside site.cpio) holds a secret value or a private key" \
	bash -c "! { grep -rlF -f '$T/needles.txt' '$T/pxe' '$T/x'; }"
check "no file under the TFTP root holds a machine config" bash -c "! grep -rlE '^(machine|cluster):\$|^version: v1alpha1' '$T/pxe' '$T/x'"
check "payloads live beside the tree, not under it" test -d "$T/pxe.payloads" -a ! -e "$T/pxe/pxe.payloads"
check "payload directory is 0700" test "$(stat -c %a "$T/pxe.payloads")" = 700
for n in 1 2 3; do
	check "payload demo-$n.cpio is 0600, owned by the builder" \
		test "$(stat -c '%a %u' "$T/pxe.payloads/demo-$n.cpio")" = "600 $(id -u)"
	mkdir -p "$T/p$n"
	(cd "$T/p$n" && cpio -idm --quiet <"$T/pxe.payloads/demo-$n.cpio")
	expect_out "payload demo-$n names its node" "^demo-$n\$" cat "$T/p$n/payload/node"
	expect_out "payload demo-$n holds demo-$n's machine config" "hostname: demo-$n\\.local" cat "$T/p$n/payload/config.yaml"
	check "payload demo-$n holds no other node's config" \
		bash -c "! grep -rqE 'hostname: demo-[^$n]' '$T/p$n'"
	check "payload demo-$n holds nothing but node, config.yaml, secrets.env, secrets.yaml" \
		bash -c "cd '$T/p$n/payload' && ! ls | grep -vxE 'node|config.yaml|secrets.env|secrets.yaml'"
done
# workers: no CA private key, no bootstrap Secret, no secret at all
for n in 2 3; do
	check "worker demo-$n: no private key, secret value or bootstrap Secret in its payload" \
		bash -c "! grep -rlF -f '$T/needles.txt' '$T/p$n'"
	check "worker demo-$n: no secrets.env, no overlay" test ! -e "$T/p$n/payload/secrets.env" -a ! -e "$T/p$n/payload/secrets.yaml"
	expect_out "worker demo-$n: the config's CA entries carry certificates only (key: \"\")" \
		'^2 crt-only$' bash -c "grep -c '^    key: \"\"\$' '$T/p$n/payload/config.yaml' | sed 's/\$/ crt-only/'"
done
# the control plane: its config carries CA keys and the bootstrap Secrets (Talos needs
# them there); its secrets.env only what that config carries and the install reads
expect_out "control plane demo-1: secrets.env has exactly the two NAS credentials" '^2$' \
	bash -c "grep -c '^APPLIANCE_PXE_SECRET_[12]=' '$T/p1/payload/secrets.env'"
check "control plane demo-1: the NAS password is in its own config (base64 in the SMB CSI Secret)" \
	grep -qF "$(printf %s "$APPLIANCE_DEMO_NAS_PASSWORD" | base64 -w0)" "$T/p1/payload/config.yaml"
check "control plane demo-1: secrets.env holds no other secret" \
	bash -c "! grep -qE '$APPLIANCE_DEMO_GIT_TOKEN|$APPLIANCE_DEMO_SOPS_KEY|$APPLIANCE_DEMO_OP_TOKEN|$APPLIANCE_DEMO_S3_SECRET_KEY' '$T/p1/payload/secrets.env'"
expect_out "control plane demo-1: the overlay points nasPassword at the payload" \
	'^  nasPassword: env:APPLIANCE_PXE_SECRET_2$' cat "$T/p1/payload/secrets.yaml"
check "the overlay validates with the profile" \
	env APPLIANCE_PXE_SECRET_1=u APPLIANCE_PXE_SECRET_2=p "$APPLIANCE" validate "$P" --site "$T/p1/payload/secrets.yaml"

cp "$T/pxe/site.cpio" "$T/site1.cpio"
cp "$T/pxe.payloads/demo-2.cpio" "$T/demo2-1.cpio"
touch "$T/pxe.payloads/demo-1.served"
check "re-run" "$APPLIANCE" pxe "$P" --out "$T/pxe" "${ARGS[@]}" --site "$T/site.yaml" \
	--set site.location=lab --secrets "$B" --payload-url "$URL"
check "site.cpio is byte-identical on re-run" cmp "$T/site1.cpio" "$T/pxe/site.cpio"
check "a worker payload is byte-identical on re-run" cmp "$T/demo2-1.cpio" "$T/pxe.payloads/demo-2.cpio"
check "re-run re-arms: served marks are gone" test ! -e "$T/pxe.payloads/demo-1.served"

# a profile that names a pins file beside it (as the e2e site does): packed with it
mkdir -p "$T/prof/site"
cp "$P" "$T/prof/site/p.yaml"
echo 'pins: {}' >"$T/prof/site/pins.yaml"
printf 'talos:\n  image:\n    pins: pins.yaml\n' >"$T/prof/pins-site.yaml"
check "profile naming pins.yaml beside it" "$APPLIANCE" pxe "$T/prof/site/p.yaml" --site "$T/prof/pins-site.yaml" --out "$T/pxe2" "${ARGS[@]}" \
	--secrets "$B" --payload-url "$URL"
expect_out "site.cpio keeps the relative layout" 'appliance/profile/profile.yaml -> tree/p.yaml' \
	bash -c "cpio -itv <'$T/pxe2/site.cpio' 2>/dev/null"
expect_out "site.cpio has the pins file" 'appliance/profile/tree/pins.yaml' bash -c "cpio -it <'$T/pxe2/site.cpio' 2>/dev/null"
check "the default pins (shipped with the live system) are not packed" \
	bash -c "! cpio -it <'$T/pxe/site.cpio' 2>/dev/null | grep -q pins"
# one cluster identity (issue 20): without a bundle every node would make its own, so a site of
# several nodes is refused before anything is written, as install refuses without --new-cluster
refuse "no --secrets for a site of 3 nodes" 2 \
	"^appliance: no Talos secrets bundle given \(--secrets FILE\), and the 3 nodes of this site must share one: create it once with 'appliance talos secrets $P --out talos-secrets.yaml', add the fingerprint it prints as talos.caFingerprint, and pass --secrets talos-secrets.yaml \(a tree that only checks and identifies the machines needs none: --kernel-args appliance.action=check\)$" \
	"$APPLIANCE" pxe "$P" --out "$T/o9" "${ARGS[@]}" --no-image
check "refused: nothing written" test ! -e "$T/o9" -a ! -e "$T/o9.payloads"
printf 'talos:\n  caFingerprint: %064d\n' 0 >"$T/fp.yaml"
printf 'site:\n  lan: {cidr: 10.0.2.0/24}\n' >"$T/lan.yaml"
refuse "no --secrets for one node whose profile records the cluster's fingerprint" 2 \
	"^appliance: no Talos secrets bundle given \(--secrets FILE\), and the profile records CA fingerprint 0{64}: pass the site's bundle with --secrets FILE \(a tree that only checks" \
	"$APPLIANCE" pxe "$ROOT/tests/profiles/valid/minimal.yaml" --site "$T/lan.yaml" --site "$T/fp.yaml" --out "$T/o9" "${ARGS[@]}" --no-image
check "a tree that only checks (appliance.action=check) needs no bundle" \
	"$APPLIANCE" pxe "$P" --out "$T/pxe5" "${ARGS[@]}" --no-image --kernel-args "appliance.action=check"
refuse "the last appliance.action wins, as iso/init reads it" 2 "and the 3 nodes of this site must share one" \
	"$APPLIANCE" pxe "$P" --out "$T/o9" "${ARGS[@]}" --no-image --kernel-args "appliance.action=check appliance.action=install"
check "one node, no fingerprint: no --secrets is fine (the node makes the bundle)" \
	"$APPLIANCE" pxe "$ROOT/tests/profiles/valid/minimal.yaml" --site "$T/lan.yaml" --out "$T/pxe4" "${ARGS[@]}" --no-image
cp "$T/.out" "$T/pxe4.out"
expect_out "no --secrets: says there are no payloads" '^pxe: no --secrets: no node payloads' cat "$T/pxe4.out"
check "no --secrets: no payload directory" test ! -e "$T/pxe4.payloads"

check "--interactive drops appliance.unattended" "$APPLIANCE" pxe "$P" --out "$T/pxe3" "${ARGS[@]}" --interactive \
	--secrets "$B" --payload-url "$URL"
check "--interactive scripts do not say unattended" bash -c "! grep -q unattended '$T/pxe3/boot.ipxe'"

# ---- file: references outside the profile's folder (../../../../etc/shadow was packed) ----
printf 'secrets:\n  nasPassword: file:../../../../../../../../etc/shadow\n' >"$T/prof/shadow.yaml"
refuse "file: secret climbing out of the profile's folder" 2 \
	"^appliance: $T/prof/shadow.yaml:2:16: secrets.nasPassword: file '../../../../../../../../etc/shadow' resolves to '/etc/shadow', outside the profile's folder '$T/prof/site': refused" \
	"$APPLIANCE" pxe "$T/prof/site/p.yaml" --site "$T/prof/shadow.yaml" --out "$T/o5" "${ARGS[@]}" --secrets "$B" --payload-url "$URL"
check "refused: nothing written" test ! -e "$T/o5" -a ! -e "$T/o5.payloads"
ln -s /etc/shadow "$T/prof/site/innocent"
printf 'secrets:\n  nasPassword: file:innocent\n' >"$T/prof/link.yaml"
refuse "file: secret through a symlink leaving the folder" 2 "secrets.nasPassword: file 'innocent' resolves to '/etc/shadow', outside" \
	"$APPLIANCE" pxe "$T/prof/site/p.yaml" --site "$T/prof/link.yaml" --out "$T/o5" "${ARGS[@]}" --secrets "$B" --payload-url "$URL"
printf 'talos:\n  image:\n    pins: ../../../../../../etc/passwd\n' >"$T/prof/pins-out.yaml"
refuse "pins file climbing out of the folder" 2 "talos.image.pins: file '../../../../../../etc/passwd' resolves to '/etc/passwd', outside" \
	"$APPLIANCE" pxe "$T/prof/site/p.yaml" --site "$T/prof/pins-out.yaml" --out "$T/o5" "${ARGS[@]}"
mkdir -p "$T/elsewhere"
printf '%s' "$APPLIANCE_DEMO_NAS_PASSWORD" >"$T/elsewhere/nas-pw"
printf 'secrets:\n  nasPassword: file:%s\n' "$T/elsewhere/nas-pw" >"$T/prof/abs.yaml"
refuse "absolute file: secret not allowed" 2 "secrets.nasPassword: file '$T/elsewhere/nas-pw' is outside the profile's folder '$T/prof/site': an absolute path is read only when allowed with --allow-file $T/elsewhere/nas-pw" \
	"$APPLIANCE" pxe "$T/prof/site/p.yaml" --site "$T/prof/abs.yaml" --out "$T/o5" "${ARGS[@]}" --secrets "$B" --payload-url "$URL"
check "absolute file: secret with --allow-file" "$APPLIANCE" pxe "$T/prof/site/p.yaml" --site "$T/prof/abs.yaml" \
	--out "$T/o6" "${ARGS[@]}" --secrets "$B" --payload-url "$URL" --allow-file "$T/elsewhere/nas-pw"
check "an inside file: secret needs no allowance" bash -c "printf x >'$T/prof/site/pw' && printf 'secrets:\n  nasPassword: file:pw\n' >'$T/prof/in.yaml' &&
	'$APPLIANCE' pxe '$T/prof/site/p.yaml' --site '$T/prof/in.yaml' --out '$T/o7' --live '$T/live' --secrets '$B' --payload-url '$URL'"

# ---- refusals, each with its message ----
refuse "unknown option" 2 "^appliance pxe: unknown option '--bogus'" "$APPLIANCE" pxe "$P" --out "$T/o" --bogus
refuse "--include is gone" 2 "^appliance pxe: --include is gone: nothing secret goes into the PXE tree" "$APPLIANCE" pxe "$P" --out "$T/o" --include "$T/site.yaml"
refuse "no --out" 2 '^appliance pxe: --out DIR is required' "$APPLIANCE" pxe "$P"
refuse "no profile" 2 '^appliance pxe: no PROFILE given' "$APPLIANCE" pxe --out "$T/o"
refuse "option without value" 2 "^appliance pxe: option '--out' needs a value" "$APPLIANCE" pxe "$P" --out
refuse "two profiles" 2 "^appliance pxe: unexpected argument '$P'" "$APPLIANCE" pxe "$P" "$P" --out "$T/o"
refuse "--approve without a server" 2 "^appliance pxe: --approve needs --serve IFACE or --listen ADDR:PORT" "$APPLIANCE" pxe "$P" --out "$T/o" --approve
refuse "--secrets without a payload URL" 2 "^appliance: node payloads need the URL nodes fetch them from: pass --payload-url URL" "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --secrets "$B"
refuse "--payload-url without --secrets" 2 "^appliance: --payload-url without --secrets" "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --payload-url "$URL"
refuse "bad --listen" 2 "^appliance: listen address 'nowhere': expected IPv4ADDR:PORT" "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --secrets "$B" --listen nowhere
echo 'not a bundle' >"$T/bad-bundle.yaml"
refuse "a bundle that is not one" 2 "^appliance: $T/bad-bundle.yaml:1: expected one mapping" "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --secrets "$T/bad-bundle.yaml" --payload-url "$URL"
check "a bad bundle: nothing written" test ! -e "$T/o" -a ! -e "$T/o.payloads"
refuse "a secret the configs need is missing here (the node named once)" 1 "^appliance: node 'demo-1': secret 'gitToken': environment variable 'APPLIANCE_DEMO_GIT_TOKEN' is not set$" env -u APPLIANCE_DEMO_GIT_TOKEN "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --secrets "$B" --payload-url "$URL"
check "a missing secret: nothing written" test ! -e "$T/o" -a ! -e "$T/o.payloads"
expect_fail "invalid profile: exit 2" 2 "$APPLIANCE" pxe "$T/nope.yaml" --out "$T/o" "${ARGS[@]}"
refuse "no live system" 1 "^appliance: live system file '$T/empty/vmlinuz' not found \(No such file or directory\): run 'make iso' or pass --live DIR$" "$APPLIANCE" pxe "$P" --out "$T/o" --live "$T/empty"
check "no live system: nothing written" test ! -e "$T/o"
refuse "no iPXE" 1 "^appliance: iPXE binary '$T/empty/undionly.kpxe' not found \(No such file or directory\): install Debian's ipxe package or pass --ipxe DIR$" "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --ipxe "$T/empty"
refuse "netboot dir without core.efi" 1 "^appliance: GRUB netboot image '$T/empty/grub/x86_64-efi/core.efi' not found \(No such file or directory\): run 'make iso' \(grub-mknetdir\) or pass --netboot DIR$" "$APPLIANCE" pxe "$P" --out "$T/o" --live "$T/live" --netboot "$T/empty"
refuse "--set with a blank" 2 '^appliance: --set values for PXE cannot contain blanks' "$APPLIANCE" pxe "$ROOT/tests/profiles/valid/minimal.yaml" --site "$T/lan.yaml" --out "$T/o" "${ARGS[@]}" --set "site.vars.NOTE=New York"
refuse "--serve without dnsmasq on PATH" 1 '^appliance: cannot run dnsmasq: No such file or directory \(install dnsmasq-base\)' env PATH=/nonexistent "$APPLIANCE" pxe "$ROOT/tests/profiles/valid/minimal.yaml" --site "$T/lan.yaml" --out "$T/o4" "${ARGS[@]}" --serve lo

# ---- --serve hands nothing to the dnsmasq user (it used to chown site.cpio to it) ----
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "fake dnsmasq $*" >>"%s/fake-dnsmasq.log"\nexit 0\n' "$T" >"$T/fakebin/dnsmasq"
chmod +x "$T/fakebin/dnsmasq"
PATH="$T/fakebin:$PATH" timeout 20 "$APPLIANCE" pxe "$P" --out "$T/o8" "${ARGS[@]}" --secrets "$B" --serve lo \
	--listen 127.0.0.1:0 >"$T/serve8.out" 2>&1
expect_out "--serve ran dnsmasq as an unprivileged user" "--user=$(if [ "$(id -u)" = 0 ]; then getent passwd dnsmasq >/dev/null && echo dnsmasq || echo nobody; else id -un; fi)" cat "$T/fake-dnsmasq.log"
check "--serve: every file of the tree and the payloads still belongs to the builder" \
	bash -c "[ -z \"\$(find '$T/o8' '$T/o8.payloads' ! -user $(id -u))\" ]"
check "--serve: nothing under the tree is writable by others" bash -c "[ -z \"\$(find '$T/o8' -perm /022)\" ]"
check "--serve: the payload URL follows --listen" grep -qE 'appliance.payload=http://127.0.0.1:[1-9][0-9]*/$' "$T/o8/boot.ipxe"

# ---- the payload server: once per node ----
"$APPLIANCE" pxe "$P" --out "$T/srv" "${ARGS[@]}" --secrets "$B" --listen 127.0.0.1:0 --payload-url "$URL" \
	>"$T/srv.out" 2>"$T/srv.err" &
SRV=$!
at_exit "kill $SRV"
for _ in $(seq 100); do grep -q 'payload server ready' "$T/srv.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^pxe: payload server listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/srv.out")
check "payload server listens" test -n "$PORT"
get() { curl -s -o "$T/got.$2" -w '%{http_code}' "http://127.0.0.1:$PORT/$1"; }
expect_out "demo-2's MAC gets demo-2's payload (200)" '^200$' get 52-54-00-12-34-02 a
check "what it got is demo-2's payload" bash -c "cd '$T' && mkdir g && cd g && cpio -idm --quiet <'$T/got.a' && grep -qx demo-2 payload/node"
check "the delivered payload is removed from the admin machine" test ! -e "$T/srv.payloads/demo-2.cpio"
expect_out "the delivery is recorded (time, client, MAC)" '^delivered at 20[0-9-]+T[0-9:]+Z to 127.0.0.1:[0-9]+ for MAC 52:54:00:12:34:02$' cat "$T/srv.payloads/demo-2.served"
expect_out "a second request for demo-2 is refused (410)" '^410$' get 52-54-00-12-34-02 b
expect_out "also with ':' in the MAC" '^410$' get 52:54:00:12:34:02 c
expect_out "an unknown MAC gets nothing (404)" '^404$' get 52-54-00-99-99-99 d
expect_out "not a MAC (400s)" '^40[04]$' get etc/passwd e
expect_out "the log names time, client, MAC, node and verdict" \
	'^pxe-serve: 20[0-9-]+T[0-9:]+Z client 127.0.0.1:[0-9]+ mac 52:54:00:12:34:02 node demo-2: sent \(HTTP 200\): payload of node .demo-2. sent' cat "$T/srv.out"
expect_out "the refusal is logged" "mac 52:54:00:12:34:02 node demo-2: refused \(HTTP 410\): node 'demo-2' already got its payload \(delivered at" cat "$T/srv.out"
expect_out "the refusal is loud on stderr" '^appliance pxe: !!! .*: refused from 127.0.0.1:[0-9]+ \(mac 52:54:00:12:34:02\)' cat "$T/srv.err"
expect_out "the unknown MAC is logged" 'mac 52:54:00:99:99:99 node -: unknown \(HTTP 404\)' cat "$T/srv.out"
expect_out "demo-1 still gets its own (200)" '^200$' get 52-54-00-12-34-01 f
expect_out "not GET: 405, nothing handed out" '^405$' curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/52-54-00-12-34-03"
expect_out "no request line: 400" '^HTTP/1.0 400 Bad Request' bash -c "printf 'x' | timeout 30 busybox nc 127.0.0.1 $PORT"
check "demo-3's payload is still there after both" test -e "$T/srv.payloads/demo-3.cpio" -a ! -e "$T/srv.payloads/demo-3.served"
kill "$SRV"
wait "$SRV" 2>/dev/null
"$APPLIANCE" pxe "$P" --out "$T/srv" "${ARGS[@]}" --secrets "$B" --listen 127.0.0.1:0 --payload-url "$URL" >"$T/srv2.out" 2>&1 &
SRV2=$!
at_exit "kill $SRV2"
for _ in $(seq 100); do grep -q 'payload server ready' "$T/srv2.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^pxe: payload server listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/srv2.out")
expect_out "a rebuild re-arms the node (200)" '^200$' get 52-54-00-12-34-02 g
kill "$SRV2"

# ---- --approve ----
APPROVE=("$APPLIANCE" pxe "$P" --out "$T/ap" "${ARGS[@]}" --secrets "$B" --listen 127.0.0.1:0 --payload-url "$URL" --approve)
setsid -w "${APPROVE[@]}" >"$T/ap.out" 2>"$T/ap.err" </dev/null &
AP=$!
at_exit "kill $AP"
for _ in $(seq 100); do grep -q 'payload server ready' "$T/ap.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^pxe: payload server listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/ap.out")
expect_out "--approve without a terminal: refused (403)" '^403$' get 52-54-00-12-34-03 h
expect_out "--approve without a terminal: says so at start" '!!! --approve and no terminal' cat "$T/ap.err"
expect_out "--approve without a terminal: logged" "node demo-3: refused \(HTTP 403\): node 'demo-3': --approve and no terminal to ask on" cat "$T/ap.out"
check "--approve without a terminal: the payload stays, not marked served" test -e "$T/ap.payloads/demo-3.cpio" -a ! -e "$T/ap.payloads/demo-3.served"
kill "$AP"
wait "$AP" 2>/dev/null
expect_out "--approve, operator says n: 403" '^status=403$' /usr/bin/python3 "$ROOT/tests/lib/pty_answer.py" n /52-54-00-12-34-03 "$T/pty-n.log" -- "${APPROVE[@]}"
expect_out "--approve asked on the terminal, naming node, MAC and client" \
	"node 'demo-3' \(mac 52:54:00:12:34:03\) asks from 127.0.0.1:[0-9]+ for its payload. Send it\? \[y/N\]" cat "$T/pty-n.log"
check "--approve, operator says n: not marked served" test ! -e "$T/ap.payloads/demo-3.served"
expect_out "--approve, operator says y: 200" '^status=200$' /usr/bin/python3 "$ROOT/tests/lib/pty_answer.py" y /52-54-00-12-34-03 "$T/pty-y.log" -- "${APPROVE[@]}"
check "--approve, operator says y: marked served" test -e "$T/ap.payloads/demo-3.served"

# ---- --json (issue 20): the tree as one result object; serving, one event a line ----
"$APPLIANCE" pxe "$P" --out "$T/pj" "${ARGS[@]}" --secrets "$B" --payload-url "$URL" --no-image --json >"$T/pj.json" 2>"$T/pj.err"
check "pxe --json: exit 0" test $? -eq 0
json_check "pxe --json: out, counts, payloads with the names of their secrets, payloadUrl" "$T/pj.json" \
	"d['command'] == 'pxe' and d['ok'] and d['out'] == '$T/pj' and d['nodes'] == 3 and d['nodeScripts'] == 3 and d['payloadUrl'] == '$URL' and [p['node'] for p in d['payloads']] == ['demo-1', 'demo-2', 'demo-3'] and d['payloads'][0]['secrets'] == ['nasUsername', 'nasPassword'] and d['payloads'][1]['secrets'] == [] and d['payloads'][0]['file'] == '$T/pj.payloads/demo-1.cpio'"
check "pxe --json: no secret value or key in it" bash -c "! grep -qFf '$T/needles.txt' '$T/pj.json'"
"$APPLIANCE" pxe "$P" "${ARGS[@]}" --json >"$T/pjf.json" 2>/dev/null
check "pxe --json without --out: exit 2" test $? -eq 2
json_check "pxe --json usage error: valid JSON with the error" "$T/pjf.json" "not d['ok'] and d['exit'] == 2 and '--out' in d['error']"
"$APPLIANCE" pxe "$P" --out "$T/pj2" "${ARGS[@]}" --secrets "$T/none.yaml" --payload-url "$URL" --no-image --json >"$T/pjb.json" 2>/dev/null
check "pxe --json, missing bundle: non-zero exit" test $? -ne 0
json_check "pxe --json failure: valid JSON naming the bundle" "$T/pjb.json" "not d['ok'] and d['exit'] != 0 and 'none.yaml' in d['error']"
# serving on 127.0.0.1 (no image: nothing is downloaded): events a line each, the result last
setsid -w "$APPLIANCE" pxe "$P" --out "$T/pjs" "${ARGS[@]}" --secrets "$B" --listen 127.0.0.1:0 --payload-url "$URL" \
	--no-image --json >"$T/pjs.out" 2>"$T/pjs.err" </dev/null &
PJ=$!
at_exit "kill $PJ 2>/dev/null"
for _ in $(seq 100); do grep -q '"event":"ready"' "$T/pjs.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(python3 -c 'import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("event") == "listening": print(d["address"].rsplit(":", 1)[1])' "$T/pjs.out")
expect_out "pxe --listen --json: demo-2's payload is served (200)" '^200$' get 52-54-00-12-34-02 j
for _ in $(seq 50); do grep -q '"event":"request"' "$T/pjs.out" && break; sleep 0.1; done
kill "$PJ"
wait "$PJ" 2>/dev/null
check "pxe --listen --json: every line of stdout is one JSON object" python3 -c 'import json, sys
[json.loads(l) for l in open(sys.argv[1])]' "$T/pjs.out"
check "pxe --listen --json: the request event names node, MAC and verdict" python3 -c 'import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
r = [e for e in ev if e.get("event") == "request"]
assert r and r[0]["node"] == "demo-2" and r[0]["verdict"] == "sent" and r[0]["status"] == 200, r
assert ev[-1]["command"] == "pxe" and ev[-1]["listen"].startswith("127.0.0.1:"), ev[-1]' "$T/pjs.out"

# without a GRUB netboot dir the tree has GRUB configs but no core.efi: the build says so
# (a live dir of its own: $T/live/../netboot is found by default)
mkdir -p "$T/alone/live" && cp "$T/live/vmlinuz" "$T/live/initrd.img" "$T/alone/live/"
expect_rc_out "no --netboot: says UEFI boots through ipxe.efi only" 0 \
	'^pxe: no GRUB netboot image \(make iso, or --netboot DIR\): UEFI machines boot through ipxe\.efi only$' \
	"$APPLIANCE" pxe "$P" --out "$T/nonetboot" --live "$T/alone/live" --kernel-args appliance.action=check
grep -q '^pxe: no GRUB netboot image' "$T/built.out" && not_ok "with --netboot: the no-netboot line is printed" ||
	ok "with --netboot: no such line"
