#!/usr/bin/env bash
# Run test runners and total them. Usage:
#   tests/run.sh unit BIN... -- integration SCRIPT... -- e2e SCRIPT...
# unit: cmocka binaries (their "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" lines
# are counted). integration/e2e: bash scripts using tests/lib/tap.sh ("ok N - ...",
# "not ok N - ..." lines are counted). A runner that crashes, or exits non-zero
# without reporting a failure, counts as one failure. A script that exits 77
# without running anything is a SKIP, printed loudly.
# Ends with one line: "N passed, N failed" (", N skipped" when any).
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
failures=()
logdir=$(mktemp -d /tmp/appliance-tests.XXXXXX)
kind=""
times=()
start_all=$SECONDS

run_one() {
	local k=$1 t=$2 log rc p f t0=$SECONDS
	log="$logdir/$(echo "$t" | tr '/' '_').log"
	echo "=== $k: $t"
	if [ "$k" = unit ]; then
		"$t" >"$log" 2>&1 </dev/null
	else
		bash "$t" >"$log" 2>&1 </dev/null
	fi
	rc=$?
	times+=("$((SECONDS - t0)) $t")
	if [ "$k" = unit ]; then
		p=$(grep -aoE '^\[  PASSED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
		f=$(grep -aoE '^\[  FAILED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
		grep -aE '^\[  (FAILED|PASSED|ERROR) |^\[==========\]|^\[  ERROR   \]|ERROR: AddressSanitizer|runtime error' "$log" | sed 's/^/    /' | tail -15
	else
		p=$(grep -acE '^ok [0-9]+' "$log")
		f=$(grep -acE '^not ok [0-9]+' "$log")
		grep -aE '^(not ok|ok|# )' "$log" | sed 's/^/    /'
		if [ "$rc" -eq 77 ] && [ "$f" -eq 0 ]; then
			echo "    !!! SKIPPED: $t ($(grep -a '^# SKIP' "$log" | head -1))"
			skipped=$((skipped + 1))
			passed=$((passed + p))
			return
		fi
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "    !!! $t exited $rc without reporting a failure; last lines:"
		tail -20 "$log" | sed 's/^/    | /'
	elif [ "$f" -gt 0 ]; then
		echo "    --- log of $t (last 40 lines):"
		tail -40 "$log" | sed 's/^/    | /'
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$t")
}

for a in "$@"; do
	case "$a" in
	unit | integration | e2e) kind=$a ;;
	--) kind="" ;;
	*)
		[ -e "$a" ] || continue
		run_one "$kind" "$a"
		;;
	esac
done

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed runners: %s\n' "${failures[*]}"
echo "logs: $logdir"
# where the time went: the slowest runners, and the whole run
[ ${#times[@]} -gt 1 ] && printf '%s\n' "${times[@]}" | sort -rn | awk -v all=$((SECONDS - start_all)) '
	NR <= 8 { top = top sprintf(" %s %ds,", $2, $1) } END { sub(/,$/, "", top); printf "time: %dm%02ds; slowest:%s\n", all / 60, all % 60, top }'
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
