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
check "docs installed" test -f "$T/dest/usr/share/doc/appliance/profile.md"
check "installed binary validates the installed profile" "$T/dest/usr/bin/appliance" validate "$T/dest/usr/share/appliance/profiles/immich.yaml"
