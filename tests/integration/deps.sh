#!/usr/bin/env bash
# packages.txt is grouped by purpose and each make target installs only its
# groups: scripts/deps.sh --list FILE GROUP..., the groups each target asks
# for (make -n with packages.txt treated as new), unknown groups refused, and
# every name a real Debian package (apt-cache, no network).
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT" || exit 1
D="sh scripts/deps.sh"

groups=$(sed -n 's/^# group: *//p' packages.txt | tr '\n' ' ')
if [ "$groups" = "build demo test iso fuzz " ]; then ok "groups: $groups"; else not_ok "groups are '$groups'"; fi
first_group=$(grep -n '^# group:' packages.txt | head -1 | cut -d: -f1)
if awk -v f="$first_group" 'NR < f && !/^[[:space:]]*(#|$)/ { bad = 1 } END { exit bad }' packages.txt; then
	ok "every package stands in a group"
else
	not_ok "packages before the first '# group:' line"
fi

$D --list packages.txt build demo >"$T/demo" || not_ok "--list build demo"
$D --list packages.txt build demo test iso >"$T/test"
$D --list packages.txt >"$T/all"
# the demo needs none of the test, QEMU, ISO or fuzz tools
bad=$(grep -xE 'libcmocka-dev|qemu-system-x86|ovmf|ipxe-qemu|linux-image-amd64|clang|libclang-rt-14-dev|xorriso|busybox-static|afl\+\+' "$T/demo" | tr '\n' ' ')
if [ -z "$bad" ]; then ok "build+demo holds no test/QEMU/ISO/fuzz package ($(wc -l <"$T/demo") packages)"; else not_ok "build+demo holds: $bad"; fi
for p in build-essential libyaml-dev samba nginx zstd lvm2; do
	grep -qx "$p" "$T/demo" || not_ok "build+demo lacks $p"
done
ok "build+demo holds the compiler, libraries, smbd, nginx, zstd, lvm2"
for p in libcmocka-dev qemu-system-x86 python3-jsonschema man-db bash-completion zsh git xorriso linux-image-amd64; do
	grep -qx "$p" "$T/test" || not_ok "the test set lacks $p"
done
ok "the test set holds cmocka, QEMU, jsonschema, man-db, bash-completion, zsh, git and the ISO tools"
if grep -qx clang "$T/test"; then not_ok "the test set pulls clang (only make fuzz needs it)"; else ok "the test set leaves the fuzz tools out"; fi
if [ "$(sort -u "$T/all" | wc -l)" -eq "$(wc -l <"$T/all")" ]; then ok "--list prints each package once"; else not_ok "--list repeats packages"; fi
expect_fail "an unknown group is refused" 2 $D --list packages.txt build nosuch
expect_rc_out "the refusal names the group and the known ones" 2 "unknown group 'nosuch' in packages.txt; known: build demo test iso fuzz" $D --list packages.txt nosuch

# each target asks deps.sh for its groups (packages.txt treated as new: the stamps are stale)
for t in "demo:build demo" "test:build demo test iso" "iso:build iso" "fuzz:build fuzz" "deps:build demo test iso fuzz" "all:build"; do
	target=${t%%:*} want=${t#*:}
	got=$(make -s -n -W packages.txt "$target" 2>/dev/null | sed -n 's/^sh scripts\/deps.sh packages.txt //p' | sort -u | tr '\n' ';')
	if [ "$got" = "$want;" ] || { [ "$target" != all ] && echo "$got" | tr ';' '\n' | grep -qx "$want"; }; then
		ok "make $target installs: $want"
	else
		not_ok "make $target asks for '$got', wanted '$want'"
	fi
done
got=$(make -s -n -W packages.txt demo 2>/dev/null | sed -n 's/^sh scripts\/deps.sh packages.txt //p' | tr '\n' ';')
if echo "$got" | grep -qE 'test|iso|fuzz'; then not_ok "make demo also asks for: $got"; else ok "make demo asks for nothing beyond build and demo"; fi

# every name is a Debian package (from the local apt lists: no network)
if command -v apt-cache >/dev/null; then
	unknown=$(sort -u "$T/all" | while read -r p; do apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || echo "$p"; done | tr '\n' ' ')
	if [ -z "$unknown" ]; then ok "every package name is known to apt"; else not_ok "not known to apt: $unknown"; fi
fi
