# TAP-style helpers for integration and e2e scripts. Source it:
#   . "$(dirname "$0")/../lib/tap.sh"
# Provides: ok/not_ok, check DESC CMD..., expect_fail DESC CMD..., expect_out DESC PATTERN CMD...,
# expect_rc_out DESC CODE PATTERN CMD...
# Every script gets a private temp dir $T (removed at exit) and cleanup hooks:
#   at_exit 'command'   runs at exit, last registered first, even on failure.
# Paths: $ROOT (repo), $APPLIANCE (the binary).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
APPLIANCE=${APPLIANCE:-$ROOT/installer/appliance}
# a wide terminal: the assertions read each message on one line (demo_output.sh
# measures the 80-column wrapping with COLUMNS unset)
export COLUMNS=1000
SCHEMAS=${SCHEMAS:-$ROOT/tests/schemas}
_tap_n=0
_tap_failed=0
_tap_hooks=()
T=$(mktemp -d /tmp/appliance-t.XXXXXX)

at_exit() { _tap_hooks=("$1" "${_tap_hooks[@]}"); }
_tap_cleanup() {
	local rc=$?
	for h in "${_tap_hooks[@]}"; do eval "$h" >/dev/null 2>&1 || true; done
	rm -rf "$T"
	[ "$_tap_failed" -gt 0 ] && exit 1
	exit $rc
}
trap _tap_cleanup EXIT
trap 'exit 130' INT TERM

ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
diag() { echo "# $*"; }
skip_all() { echo "# SKIP $*"; trap - EXIT; for h in "${_tap_hooks[@]}"; do eval "$h" >/dev/null 2>&1 || true; done; rm -rf "$T"; exit 77; }

# check DESC CMD...: passes when CMD exits 0.
check() {
	local d=$1; shift
	if "$@" >"$T/.out" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/#   /' "$T/.out" | tail -20; fi
}
# expect_fail DESC CODE CMD...: passes when CMD exits with CODE.
expect_fail() {
	local d=$1 code=$2; shift 2
	"$@" >"$T/.out" 2>&1
	local rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$d"; else not_ok "$d (exit $rc, wanted $code)"; sed 's/^/#   /' "$T/.out" | tail -20; fi
}
# expect_out DESC REGEX CMD...: passes when CMD's combined output matches REGEX (grep -E).
expect_out() {
	local d=$1 re=$2; shift 2
	"$@" >"$T/.out" 2>&1
	if grep -qE -- "$re" "$T/.out"; then ok "$d"; else not_ok "$d (no match for /$re/)"; sed 's/^/#   /' "$T/.out" | tail -20; fi
}
# expect_rc_out DESC CODE REGEX CMD...: passes when CMD exits with CODE and its combined
# output matches REGEX (grep -E): for a command whose exit status matters as much as its words.
expect_rc_out() {
	local d=$1 code=$2 re=$3 rc
	shift 3
	"$@" >"$T/.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -qE -- "$re" "$T/.out"; then
		ok "$d"
	else
		not_ok "$d (exit $rc, wanted $code; /$re/ $(grep -qE -- "$re" "$T/.out" && echo matched || echo 'no match'))"
		sed 's/^/#   /' "$T/.out" | tail -20
	fi
}
# wait_for FILE REGEX PID [SECONDS]: until FILE has a line matching REGEX (grep -E), the
# process PID is gone, or SECONDS (default 60) pass; 0 only when the line came.
wait_for() {
	local i
	for ((i = 0; i < ${4:-60} * 10; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	grep -qE -- "$2" "$1" 2>/dev/null
}
# last output of check/expect_*
last_out() { cat "$T/.out"; }
# refused_unchanged DESC EXACT-LINE TARGET CMD...: CMD exits 1, its output holds EXACT-LINE,
# and TARGET (a file or device) hashes the same before and after.
refused_unchanged() {
	local d=$1 msg=$2 tgt=$3 rc before after
	shift 3
	sync
	before=$(sha256sum "$tgt" | cut -d' ' -f1)
	"$@" >"$T/.out" 2>&1
	rc=$?
	sync
	after=$(sha256sum "$tgt" | cut -d' ' -f1)
	if [ "$rc" -eq 1 ] && grep -qxF -- "$msg" "$T/.out" && [ "$before" = "$after" ]; then
		ok "$d"
	else
		not_ok "$d (exit $rc, hash $before -> $after)"
		echo "#   wanted: $msg"
		sed 's/^/#   /' "$T/.out" | tail -15
	fi
}

# unwrap < text: the plan's 80-column action lines joined again (a continuation line is
# indented exactly 16 spaces), for output read where COLUMNS cannot be set (a QEMU serial
# console). Digests stay as they were printed (12 digits and "...").
unwrap() {
	awk 'NR > 1 && /^                [^ ]/ { prev = prev " " substr($0, 17); next }
		{ if (NR > 1) print prev; prev = $0 } END { if (NR) print prev }'
}

# json_check NAME FILE PYEXPR: FILE holds one JSON value (python3 -m json.tool parses it)
# and the Python expression PYEXPR over it (d) is true; else the file is shown.
json_check() {
	local name=$1 f=$2 expr=$3
	if python3 -m json.tool "$f" >/dev/null 2>&1 &&
		python3 -c "import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" "$f" 2>/dev/null; then
		ok "$name"
	else
		not_ok "$name ($expr)"
		head -c 600 "$f" | sed 's/^/#   /'
	fi
}
