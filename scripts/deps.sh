#!/bin/sh
# Install the Debian packages of the given groups of packages.txt that are not
# installed yet. Usage:
#   scripts/deps.sh [--list] FILE [GROUP...]
# Groups are the "# group: NAME" sections of FILE; no GROUP means every group.
# --list prints the packages of those groups (one per line) and installs
# nothing. Runs apt-get update only when something is missing. Never prompts.
# Exit 2 on an unknown group.
set -eu
list_only=0
[ "${1:-}" = --list ] && { list_only=1; shift; }
file=${1:-packages.txt}
[ $# -gt 0 ] && shift
known=$(sed -n 's/^# group: *\([a-z0-9_-]*\) *$/\1/p' "$file")
for g in "$@"; do
	echo "$known" | grep -qx "$g" || {
		echo "deps: unknown group '$g' in $file; known:" $known >&2
		exit 2
	}
done
[ $# -gt 0 ] || set -- $known
want=" $* "
# the packages of the wanted groups, each once, in file order
pkgs=$(awk -v want="$want" '
	/^# group:/ { g = $3; next }
	/^[[:space:]]*(#|$)/ { next }
	index(want, " " g " ") && !seen[$1]++ { print $1 }' "$file")
if [ $list_only -eq 1 ]; then
	printf '%s\n' $pkgs
	exit 0
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all packages installed ($*)"; exit 0; }
echo "deps ($*): installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q </dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold $missing </dev/null
