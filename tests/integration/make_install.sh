#!/usr/bin/env bash
# make install PREFIX=/usr DESTDIR=...: the binary, the profiles (with the image pins they
# point to) and the docs land under DESTDIR, and the installed binary validates the
# installed production profile.
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT"
check "make install into a DESTDIR" make -s install PREFIX=/usr DESTDIR="$T/dest"
check "binary installed" test -x "$T/dest/usr/bin/appliance"
check "profiles installed" test -f "$T/dest/usr/share/appliance/profiles/immich.yaml"
check "image pins installed beside them" test -f "$T/dest/usr/share/appliance/images/pins.yaml"
check "docs installed" test -f "$T/dest/usr/share/doc/appliance/docs/profile.md"
# every relative link of the installed README (and of the installed docs) resolves there
check "the installed README's and docs' relative links resolve" /usr/bin/python3 -c '
import glob, os, re, sys
doc = sys.argv[1]
files = [os.path.join(doc, "README.md")] + sorted(glob.glob(os.path.join(doc, "docs", "*.md")))
bad, n = [], 0
for f in files:
    text = re.sub(r"```.*?```", "", open(f).read(), flags=re.S)
    for t in re.findall(r"\]\(([^)\s]+)\)", text):
        t = t.split("#")[0]
        if not t or re.match(r"^[a-z]+:", t):
            continue
        n += 1
        if not os.path.exists(os.path.join(os.path.dirname(f), t)):
            bad.append("%s -> %s" % (os.path.relpath(f, doc), t))
assert n >= 10 and not bad, (n, bad)' "$T/dest/usr/share/doc/appliance"
check "installed binary validates the installed profile" "$T/dest/usr/bin/appliance" validate "$T/dest/usr/share/appliance/profiles/immich.yaml"
check "man page installed" test -f "$T/dest/usr/share/man/man1/appliance.1"
check "bash completion installed" test -f "$T/dest/usr/share/bash-completion/completions/appliance"
check "zsh completion installed" test -f "$T/dest/usr/share/zsh/site-functions/_appliance"
if grep -q '@[A-Z]*@' "$T/dest/usr/share/man/man1/appliance.1"; then
	not_ok "installed man page still holds a template marker: $(grep -o '@[A-Z]*@' "$T/dest/usr/share/man/man1/appliance.1" | sort -u | tr '\n' ' ')"
else
	ok "installed man page has no template markers left"
fi
check "installed man page names the install prefix" grep -q '/usr/share/appliance/live' "$T/dest/usr/share/man/man1/appliance.1"
if command -v man >/dev/null; then
	expect_out "man -l renders the installed page" '^APPLIANCE\(1\)' env MANWIDTH=80 man -l "$T/dest/usr/share/man/man1/appliance.1"
fi
# the installed completion drives the installed binary: node names of the installed profile
out=$(env -i PATH="$T/dest/usr/bin:/usr/bin:/bin" bash --norc --noprofile -c '
	. "$1/usr/share/bash-completion/completions/appliance"
	COMP_WORDS=(appliance plan "$1/usr/share/appliance/profiles/demo.yaml" --node "")
	COMP_CWORD=4 COMP_LINE="${COMP_WORDS[*]}" COMP_POINT=${#COMP_LINE}
	_appliance; echo "${COMPREPLY[*]}"' _ "$T/dest" 2>&1)
[ "$out" = "demo-1 demo-2 demo-3" ] && ok "installed bash completion lists the installed profile's nodes" ||
	not_ok "installed completion gave '$out'"
