#!/usr/bin/env bash
# Power cut: kill -9 the installer at 20 points spread over the steps (a random delay after
# a chosen step begins), re-run it each time, and check that
#   - the final disks are byte-identical (sha256) to an uninterrupted install's,
#   - the re-run redoes no step the journal had recorded as done at the moment of the cut.
# Each round starts from a fresh simulated machine; the NAS, the mirror and the Talos secrets
# bundle are shared, so an uninterrupted run is reproducible.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
# a private copy: the tree's binary may be relinked while this long test runs
cp "$APPLIANCE" "$T/appliance" && APPLIANCE=$T/appliance

ROUNDS=${POWERCUT_ROUNDS:-20}
# smaller than the demo: every round hashes every disk
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32
demo_setup >"$T/setup.log" 2>&1 || {
	not_ok "demo site set up"
	sed 's/^/#   /' "$T/setup.log" | tail -20
	exit 1
}
BUNDLE=$T/talos-secrets.yaml
ARGS=("${DEMO_ARGS[@]}" --secrets "$BUNDLE" --apply --unattended --json)

# a pristine machine (disks with their old signatures), copied for each round
cp -a --sparse=always "$DEMO_HW" "$T/machine.pristine"
fresh_machine() {
	rm -rf "$DEMO_HW" "$DEMO_STATE"
	cp -a --sparse=always "$T/machine.pristine" "$DEMO_HW"
}

# Every disk must equal the uninterrupted run's byte for byte, the install disk
# included (its GPT, the metal-iso partition's GUID and the config volume are
# deterministic). The layout and the config volume are also checked on their own
# so that a failure says what differs.
META_END=325632 # first sector after META: where metal-iso starts (checked through layout)
volume_ok() {
	local v=$DEMO_STATE/nodes/demo-1/metal-iso.iso
	cmp -s -n "$(stat -c %s "$v")" <(dd if="$DEMO_HW/dev/nvme0n1" bs=1M iflag=skip_bytes skip=$((META_END * 512)) count=1 status=none) "$v"
}
layout() { sgdisk -p "$DEMO_HW/dev/nvme0n1" | sed -n '/^Number/,$p' | awk '{print $1, $2, $3, $6, $7}'; }

# ---- the uninterrupted reference ----------------------------------------------------------
fresh_machine
"$APPLIANCE" install "${ARGS[@]}" >"$T/ref.json" 2>&1 && volume_ok || {
	not_ok "uninterrupted install"
	tail -5 "$T/ref.json" | sed 's/^/#   /'
	exit 1
}
ok "uninterrupted install"
REF_CEPH=$(sha256sum "$DEMO_HW"/dev/nvme{1,2}n1 | cut -d' ' -f1 | tr '\n' ' ')
REF_DISK=$(sha256sum "$DEMO_HW/dev/nvme0n1" | cut -d' ' -f1)
REF_LAYOUT=$(layout)
REF_ORDER=$(od -An -tx2 -j4 "$DEMO_HW"/sys/firmware/efi/efivars/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c | tr -s ' ')

# steps to cut in, cycled, each with the longest random delay after it begins (ms): about
# the step's own duration here, so that the cut lands inside it or in the next one
# (POWERCUT_STEPS="wipe-ceph:15 boot-order:10" POWERCUT_ROUNDS=60 hammers a few steps)
CUT_STEPS=(preflight-nas:40 preflight-image:100 render-config:30 write-image:200 write-image:200
	config-partition:15 wipe-ceph:15 wipe-ceph:15 boot-order:10 gitops:10)
[ -n "${POWERCUT_STEPS:-}" ] && read -r -a CUT_STEPS <<<"$POWERCUT_STEPS"
identical=0 no_redo=0 interrupted=0
for round in $(seq 1 "$ROUNDS"); do
	step=${CUT_STEPS[$(((round - 1) % ${#CUT_STEPS[@]}))]}
	delay_ms=$((RANDOM % ${step#*:}))
	step=${step%%:*}
	fresh_machine
	: >"$T/cut.json"
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	"$APPLIANCE" install "${ARGS[@]}" >"$T/fifo" 2>"$T/cut.err" &
	pid=$!
	# read the JSON events as they come; cut when the chosen step begins (+ the delay)
	while IFS= read -r line; do
		echo "$line" >>"$T/cut.json"
		case $line in *"\"step-begin\",\"step\":\"$step\""*)
			[ "$delay_ms" -gt 0 ] && sleep "$(printf '0.%03d' "$delay_ms")"
			kill -9 $pid 2>/dev/null && interrupted=$((interrupted + 1))
			break
			;;
		esac
	done <"$T/fifo"
	wait $pid 2>/dev/null
	# what the journal holds at the cut
	done_at_cut=$(grep -l '^status=done' "$DEMO_STATE"/journal/* 2>/dev/null | xargs -rn1 basename | sort | tr '\n' ' ')
	started=$(grep -l '^status=started' "$DEMO_STATE"/journal/* 2>/dev/null | grep -v '\.tmp\.'  | xargs -rn1 basename | tr '\n' ' ')
	"$APPLIANCE" install "${ARGS[@]}" >"$T/rerun.json" 2>&1
	rc=$?
	redone=$(/usr/bin/python3 -c '
import json, sys
done = set(sys.argv[2].split())
for e in map(json.loads, open(sys.argv[1])):
    if e["event"] == "step-end" and e["step"] in done and e["status"] != "skip":
        print(e["step"], e["status"])' "$T/rerun.json" "$done_at_cut")
	ceph=$(sha256sum "$DEMO_HW"/dev/nvme{1,2}n1 | cut -d' ' -f1 | tr '\n' ' ')
	disk=$(sha256sum "$DEMO_HW/dev/nvme0n1" | cut -d' ' -f1)
	order=$(od -An -tx2 -j4 "$DEMO_HW"/sys/firmware/efi/efivars/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c | tr -s ' ')
	desc="round $round: cut ${delay_ms} ms into $step (in progress: ${started:-none})"
	if [ $rc -ne 0 ]; then
		not_ok "$desc: re-run exits 0 (got $rc)"
		tail -3 "$T/rerun.json" | sed 's/^/#   /'
		continue
	fi
	[ -z "$redone" ] && no_redo=$((no_redo + 1)) || { not_ok "$desc: re-run redid a finished step: $redone"; continue; }
	if [ "$ceph" != "$REF_CEPH" ] || [ "$disk" != "$REF_DISK" ] || [ "$(layout)" != "$REF_LAYOUT" ] ||
		[ "$order" != "$REF_ORDER" ] || ! volume_ok; then
		not_ok "$desc: disks differ from the uninterrupted install"
		[ "$ceph" != "$REF_CEPH" ] && diag "ceph disks differ"
		[ "$disk" != "$REF_DISK" ] && diag "install disk differs"
		[ "$(layout)" != "$REF_LAYOUT" ] && diag "layout differs: $(layout)"
		[ "$order" != "$REF_ORDER" ] && diag "BootOrder differs: $order"
		volume_ok || diag "metal-iso partition does not hold the config volume"
		continue
	fi
	identical=$((identical + 1))
	ok "$desc: re-run finished, nothing done redone, disks equal"
done
# ---- Ctrl-C ---------------------------------------------------------------------------------
# interrupt STEP DELAY_MS: SIGINT once STEP has begun; sets INT_RC
interrupt() {
	local step=$1 delay=$2 line pid
	fresh_machine
	: >"$T/int.json"
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	"$APPLIANCE" install "${ARGS[@]}" >"$T/fifo" 2>"$T/int.err" &
	pid=$!
	while IFS= read -r line; do
		echo "$line" >>"$T/int.json"
		case $line in *"\"step-begin\",\"step\":\"$step\""*)
			sleep "$delay"
			kill -INT $pid
			;;
		esac
	done <"$T/fifo"
	wait $pid
	INT_RC=$?
}
state_of() { sed -n 's/^status=//p' "$DEMO_STATE/journal/$1" 2>/dev/null; }

interrupt write-image 0.02
[ "$INT_RC" -eq 1 ] && ok "Ctrl-C in write-image: exit 1" || not_ok "Ctrl-C in write-image: exit 1 (got $INT_RC)"
expect_out "Ctrl-C in write-image: stops at once, says how to resume" \
	'^appliance: stopped; re-run the same command to resume$' cat "$T/int.err"
[ "$(state_of write-image)" = started ] && ok "Ctrl-C in write-image: journal says interrupted" ||
	not_ok "Ctrl-C in write-image: journal says '$(state_of write-image)'"
"$APPLIANCE" install "${ARGS[@]}" >"$T/after-int.json" 2>&1
[ $? -eq 0 ] && [ "$(sha256sum <"$DEMO_HW/dev/nvme0n1" | cut -d' ' -f1)" = "$REF_DISK" ] && volume_ok &&
	ok "Ctrl-C in write-image: the re-run resumes and finishes the same install" ||
	not_ok "Ctrl-C in write-image: re-run"

interrupt preflight-secrets 0
[ "$INT_RC" -eq 1 ] && ok "Ctrl-C in a short step: exit 1" || not_ok "Ctrl-C in a short step: exit 1 (got $INT_RC)"
expect_out "Ctrl-C in a short step: finishes the step first" \
	'^appliance: stopping after this step \(Ctrl-C again to stop now\); re-run to resume$' cat "$T/int.err"
expect_out "Ctrl-C in a short step: the next step is reported stopped" \
	'"step-end","step":"render-config","status":"stopped"' cat "$T/int.json"
[ "$(state_of preflight-secrets)" = "done" ] && [ -z "$(state_of render-config)" ] &&
	ok "Ctrl-C in a short step: that step done, nothing after it started" ||
	not_ok "Ctrl-C in a short step: journal: secrets '$(state_of preflight-secrets)', config '$(state_of render-config)'"

diag "$interrupted of $ROUNDS rounds were cut while the installer ran"
diag "all disks byte-identical to the uninterrupted install: $identical of $ROUNDS rounds"
[ "$no_redo" -eq "$ROUNDS" ] && ok "no completed step redone in $ROUNDS rounds" || not_ok "completed steps redone"
[ "$interrupted" -ge $((ROUNDS / 2)) ] && ok "most cuts landed while the installer ran" ||
	not_ok "only $interrupted of $ROUNDS cuts landed while the installer ran"
