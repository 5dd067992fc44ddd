#!/bin/bash
# Fetch the Debian packages that carry the firmware of firmware/live.list and
# unpack them into a build folder, with a private apt configuration: the build
# machine's sources, package state and /lib/firmware are never changed.
#
# usage: iso/firmware.sh [--list FILE] [--out DIR]
#   FILE  firmware/live.list (glob, Debian package (component), licence)
#   DIR   build/firmware: DIR/root is the unpacked tree (lib/firmware/...,
#         usr/share/doc/<package>/copyright), DIR/packages.txt one
#         "package version" line per package it got, DIR/missing.txt one
#         "package reason" line per package it could not get.
# Environment:
#   FIRMWARE_MIRROR  Debian mirror URL (default: the first Debian URI of the
#                    build machine's own apt sources, else deb.debian.org)
#   FIRMWARE_SUITE   suite (default: VERSION_CODENAME of /etc/os-release)
# Exit 0 even when a package could not be had (the live system boots without
# it; the build says what is missing); 2 on usage errors.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIST=$ROOT/firmware/live.list
OUT=$ROOT/build/firmware
while [ $# -gt 0 ]; do
	case "$1" in
	--list) LIST=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "iso/firmware.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
OUT=$(realpath -m "$OUT")
[ -f "$LIST" ] || { echo "iso/firmware.sh: no firmware list '$LIST'" >&2; exit 2; }

# The Debian mirror this machine already uses (deb822 or one-line format).
mirror() {
	local u
	u=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]]*$/\1/p' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 1p)
	[ -n "$u" ] || u=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):.*\/debian\/?$/) { print $i; exit } }' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
	echo "${u:-http://deb.debian.org/debian}"
}
MIRROR=${FIRMWARE_MIRROR:-$(mirror)}
SUITE=${FIRMWARE_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# Packages named in the list's second column, once each, in list order.
mapfile -t PKGS < <(awk '!/^[[:space:]]*(#|$)/ && !seen[$2]++ { print $2 }' "$LIST")

A=$OUT/apt
rm -rf "$OUT/root" "$OUT/debs"
mkdir -p "$A/lists/partial" "$A/archives/partial" "$OUT/debs" "$OUT/root"
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main non-free-firmware" >"$A/sources.list"
APT=(-q -o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$A/lists" -o "Dir::Cache::Archives=$A/archives"
	-o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
: >"$OUT/packages.txt"
: >"$OUT/missing.txt"
echo "iso/firmware.sh: ${#PKGS[@]} packages from $MIRROR $SUITE (main non-free-firmware), private apt state in $A"
if ! apt-get "${APT[@]}" update >"$A/update.log" 2>&1; then
	for p in "${PKGS[@]}"; do echo "$p apt-get update failed (see $A/update.log)" >>"$OUT/missing.txt"; done
else
	for p in "${PKGS[@]}"; do
		if (cd "$OUT/debs" && apt-get "${APT[@]}" download "$p" >"$A/download-$p.log" 2>&1); then
			debs=("$OUT/debs/${p}"_*.deb)
			deb=${debs[0]}
			dpkg-deb -x "$deb" "$OUT/root"
			echo "$p $(dpkg-deb -f "$deb" Version)" >>"$OUT/packages.txt"
		else
			echo "$p $(grep -m1 -E '^(E|W):' "$A/download-$p.log" | cut -c1-120 || echo 'download failed')" >>"$OUT/missing.txt"
		fi
	done
fi
rm -rf "$OUT/debs"
sed 's/^/iso\/firmware.sh: got /' "$OUT/packages.txt"
if [ -s "$OUT/missing.txt" ]; then
	sed 's/^/iso\/firmware.sh: could not get /' "$OUT/missing.txt" >&2
fi
exit 0
