#!/usr/bin/env bash
# appliance pxe: the tree it writes (iPXE scripts per node MAC + default, GRUB netboot
# config, live system, site.cpio, dnsmasq proxy-DHCP config checked by dnsmasq itself),
# determinism, and every refusal with its exact message. The boot itself is in
# tests/e2e/pxe_*.sh (QEMU).
. "$(dirname "$0")/../lib/tap.sh"

P=$ROOT/profiles/demo.yaml
# a stand-in live system and GRUB netboot dir (the real ones come from make iso)
mkdir -p "$T/live" "$T/netboot/grub/x86_64-efi"
echo kernel >"$T/live/vmlinuz"
echo initrd >"$T/live/initrd.img"
echo core >"$T/netboot/grub/x86_64-efi/core.efi"
echo 'APPLIANCE_DEMO_NAS_USER=u' >"$T/secrets.env"
echo 'talos secrets' >"$T/talos-secrets.yaml"
printf 'site:\n  timezone: Europe/Berlin\n' >"$T/site.yaml"
ARGS=(--live "$T/live" --netboot "$T/netboot")
# refuse DESC CODE REGEX CMD...: CMD exits CODE and its output matches REGEX
refuse() {
	local d=$1 code=$2 re=$3 rc
	shift 3
	"$@" >"$T/refuse.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -qE -- "$re" "$T/refuse.out"; then
		ok "$d: exit $code, says /$re/"
	else
		not_ok "$d: exit $rc (wanted $code), wanted /$re/"
		sed 's/^/#   /' "$T/refuse.out" | tail -5
	fi
}

expect_out "--help prints usage" '^usage: appliance pxe PROFILE --out DIR' "$APPLIANCE" pxe --help
expect_fail "--help exits 0" 0 "$APPLIANCE" pxe --help

check "builds the tree" "$APPLIANCE" pxe "$P" --out "$T/pxe" "${ARGS[@]}" --site "$T/site.yaml" \
	--set site.location=lab --secrets "$T/talos-secrets.yaml" --include "$T/secrets.env"
cp "$T/.out" "$T/built.out"
check "says what it wrote" grep -qE '^pxe: wrote [0-9]+ files to .*: 3 node scripts \(3 nodes\), boot.ipxe, site.cpio, dnsmasq.conf, grub/' "$T/built.out"
for f in undionly.kpxe ipxe.efi boot.ipxe live/vmlinuz live/initrd.img site.cpio dnsmasq.conf grub/grub.cfg \
	grub/x86_64-efi/core.efi; do
	check "tree has $f" test -s "$T/pxe/$f"
done
check "undionly.kpxe is Debian's" cmp /usr/lib/ipxe/undionly.kpxe "$T/pxe/undionly.kpxe"
check "ipxe.efi is Debian's" cmp /usr/lib/ipxe/ipxe.efi "$T/pxe/ipxe.efi"
for n in 1 2 3; do
	expect_out "mac-52-54-00-12-34-0$n.ipxe boots demo-$n unattended" \
		'^kernel live/vmlinuz initrd=initrd.img initrd=site.cpio .*appliance.unattended=1 appliance.node=demo-'$n'$' \
		cat "$T/pxe/mac-52-54-00-12-34-0$n.ipxe"
	expect_out "grub node-52:54:00:12:34:0$n.cfg sets demo-$n" "appliance.node=demo-$n" \
		cat "$T/pxe/grub/node-52:54:00:12:34:0$n.cfg"
done
expect_out "boot.ipxe chains the node script by MAC" '^chain --autofree mac-\$\{mac:hexhyp\}.ipxe \|\| goto identify$' cat "$T/pxe/boot.ipxe"
expect_out "boot.ipxe default lets the live system identify the machine" \
	'^kernel live/vmlinuz initrd=initrd.img initrd=site.cpio console=ttyS0,115200n8 console=tty0 quiet appliance.unattended=1$' \
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
check "site.cpio is 0600" test "$(stat -c %a "$T/pxe/site.cpio")" = 600
cpio -itv <"$T/pxe/site.cpio" >"$T/cpio.txt" 2>/dev/null
for re in ' appliance/profile/profile.yaml -> tree/profiles/demo.yaml$' ' appliance/profile/tree/profiles/demo.yaml$' \
	' appliance/profile/tree/images/pins.yaml$' \
	' appliance/profile/site-1.yaml$' ' appliance/profile/set.args$' ' appliance/profile/talos-secrets.yaml$' \
	' appliance/profile/secrets.env$'; do
	expect_out "site.cpio holds ${re# }" "$re" cat "$T/cpio.txt"
done
(cd "$T" && mkdir x && cd x && cpio -idm --quiet <"$T/pxe/site.cpio")
check "site.cpio: profile bytes" cmp "$P" "$T/x/appliance/profile/tree/profiles/demo.yaml"
expect_out "site.cpio: set.args has the --set" '^site.location=lab$' cat "$T/x/appliance/profile/set.args"

cp "$T/pxe/site.cpio" "$T/site1.cpio"
check "re-run" "$APPLIANCE" pxe "$P" --out "$T/pxe" "${ARGS[@]}" --site "$T/site.yaml" \
	--set site.location=lab --secrets "$T/talos-secrets.yaml" --include "$T/secrets.env"
check "site.cpio is byte-identical on re-run" cmp "$T/site1.cpio" "$T/pxe/site.cpio"

# a profile that names a pins file above its directory (as the defaults do): packed with it
mkdir -p "$T/prof/site" "$T/prof/images"
cp "$P" "$T/prof/site/p.yaml"
echo 'pins: {}' >"$T/prof/images/pins.yaml"
check "profile naming ../images/pins.yaml" "$APPLIANCE" pxe "$T/prof/site/p.yaml" --out "$T/pxe2" "${ARGS[@]}"
expect_out "site.cpio keeps the relative layout" 'appliance/profile/profile.yaml -> tree/site/p.yaml' \
	bash -c "cpio -itv <'$T/pxe2/site.cpio' 2>/dev/null"
expect_out "site.cpio has the pins file" 'appliance/profile/tree/images/pins.yaml' \
	bash -c "cpio -it <'$T/pxe2/site.cpio' 2>/dev/null"
check "no GRUB netboot dir: no grub/x86_64-efi" test ! -e "$T/pxe2/grub/x86_64-efi" -o -e "$T/netboot"

check "--interactive drops appliance.unattended" "$APPLIANCE" pxe "$P" --out "$T/pxe3" "${ARGS[@]}" --interactive
check "--interactive scripts do not say unattended" bash -c "! grep -q unattended '$T/pxe3/boot.ipxe'"

# refusals, each with its message
refuse "unknown option" 2 "^appliance pxe: unknown option '--bogus'" "$APPLIANCE" pxe "$P" --out "$T/o" --bogus
refuse "no --out" 2 '^appliance pxe: --out DIR is required' "$APPLIANCE" pxe "$P"
refuse "no profile" 2 '^appliance pxe: no PROFILE given' "$APPLIANCE" pxe --out "$T/o"
refuse "option without value" 2 "^appliance pxe: option '--out' needs a value" "$APPLIANCE" pxe "$P" --out
refuse "two profiles" 2 "^appliance pxe: unexpected argument '$P'" "$APPLIANCE" pxe "$P" "$P" --out "$T/o"
expect_fail "invalid profile: exit 2" 2 "$APPLIANCE" pxe "$T/nope.yaml" --out "$T/o" "${ARGS[@]}"
refuse "no live system" 1 "^appliance: live system file '$T/empty/vmlinuz' not found \(No such file or directory\): run 'make iso' or pass --live DIR$" "$APPLIANCE" pxe "$P" --out "$T/o" --live "$T/empty"
check "no live system: nothing written" test ! -e "$T/o"
refuse "no iPXE" 1 "^appliance: iPXE binary '$T/empty/undionly.kpxe' not found \(No such file or directory\): install Debian's ipxe package or pass --ipxe DIR$" "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --ipxe "$T/empty"
refuse "netboot dir without core.efi" 1 "^appliance: GRUB netboot image '$T/empty/grub/x86_64-efi/core.efi' not found \(No such file or directory\): run 'make iso' \(grub-mknetdir\) or pass --netboot DIR$" "$APPLIANCE" pxe "$P" --out "$T/o" --live "$T/live" --netboot "$T/empty"
refuse "missing --include file" 1 "$T/missing.env" "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --include "$T/missing.env"
refuse "--set with a blank" 2 '^appliance: --set values for PXE cannot contain blanks' "$APPLIANCE" pxe "$P" --out "$T/o" "${ARGS[@]}" --set "site.timezone=America/New York"
refuse "--serve without dnsmasq on PATH" 1 '^appliance: cannot run dnsmasq: No such file or directory \(install dnsmasq-base\)' env PATH=/nonexistent "$APPLIANCE" pxe "$P" --out "$T/o4" "${ARGS[@]}" --serve lo
