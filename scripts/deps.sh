#!/bin/sh
# Install the Debian packages listed in packages.txt that are not installed yet.
# Runs apt-get update only when something is missing. Never prompts.
set -eu
list=${1:-packages.txt}
missing=""
for p in $(grep -v '^[[:space:]]*#' "$list" | tr -s ' \n' '\n'); do
	# nodejs/npm may come from outside Debian's packages (already provided): accept the binary.
	case "$p" in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all packages installed"; exit 0; }
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q </dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold $missing </dev/null
