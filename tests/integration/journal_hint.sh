#!/usr/bin/env bash
# The install journal is a hint, never a dead end (issue 17, item 6): after a complete install
# of the simulated node demo-1, one journal entry is made oversized and another garbage; plan
# and the re-run say each entry was ignored and why, the re-run redoes exactly those steps and
# succeeds, their entries are well-formed again, and the run after that skips everything.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32

demo_setup_tap
json_steps() { # FILE STATUS: step names whose step-end has STATUS, space separated
	/usr/bin/python3 -c '
import json, sys
out = [e["step"] for e in map(json.loads, open(sys.argv[1])) if e["event"] == "step-end" and e["status"] == sys.argv[2]]
print(" ".join(out))' "$1" "$2"
}
check "a first install of demo-1 completes" "$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended
J=$DEMO_STATE/journal

# an oversized entry (a runaway write) and a garbage one (a disk error, a stray file)
{ echo "status=done"; head -c 70000 /dev/zero | tr '\0' x; echo; } >"$J/write-image"
head -c 300 /dev/urandom >"$J/render-config"
printf '\0' >>"$J/render-config" # never valid text, whatever the random bytes were

"$APPLIANCE" plan "${DEMO_ARGS[@]}" >"$T/plan.txt" 2>&1
expect_out "plan: the oversized entry is reported and counted as not done" \
	"journal entry ignored \\('$J/write-image' is larger than 65536 bytes\\); runs as not done" cat "$T/plan.txt"
expect_out "plan: the garbage entry is reported and counted as not done" \
	"journal entry ignored \\('$J/render-config' is not a journal entry: it holds a NUL byte\\); runs as not done" cat "$T/plan.txt"

"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended --json >"$T/rerun.json" 2>"$T/rerun.err"
rc=$?
[ $rc -eq 0 ] && ok "the re-run proceeds and exits 0" || { not_ok "the re-run exits 0 (got $rc)"; tail -5 "$T/rerun.err" | sed 's/^/#   /'; }
check "the re-run says why it ignored the oversized entry" grep -qF "journal entry ignored ('$J/write-image' is larger than 65536 bytes); runs as not done" "$T/rerun.json"
check "the re-run says why it ignored the garbage entry" grep -qF "journal entry ignored ('$J/render-config' is not a journal entry: it holds a NUL byte); runs as not done" "$T/rerun.json"
done_steps=$(json_steps "$T/rerun.json" "done")
case " $done_steps " in
*" render-config "*"write-image "*) ok "the re-run redid both steps ($done_steps)" ;;
*) not_ok "the re-run redid: '$done_steps'" ;;
esac
check "the oversized entry is a well-formed entry again" grep -qx 'status=done' "$J/write-image"
check "... and small" test "$(stat -c %s "$J/write-image")" -lt 4096
check "the garbage entry is a well-formed entry again" grep -qx 'status=done' "$J/render-config"

"$APPLIANCE" install "${DEMO_ARGS[@]}" --apply --unattended --json >"$T/third.json" 2>&1
skipped=$(json_steps "$T/third.json" skip)
[ "$skipped" = "preflight-nas preflight-image preflight-secrets render-config write-image config-partition wipe-ceph boot-order gitops" ] &&
	ok "the run after that skips every journaled step" || not_ok "third run skipped: '$skipped'"
