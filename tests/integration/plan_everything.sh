#!/usr/bin/env bash
# A plan that shows everything (issue 20, item 5): every step is shown even when an earlier
# one fails (blocked, with the reason, when it needs the failed one); plan writes nothing, not
# even the NAS probe; the plan ends with every disk's fate (model, serial, size) and the exact
# install command, which works when pasted. Each failure is printed once.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32

demo_setup_tap
before=$(demo_disk_hashes)
step_line() { grep -A30 "^\[[0-9]*/13\] $1:" "$2" | grep -m1 -E '^      (todo|done|failed|blocked|skip|redo)'; }

# ---- NAS down: the other steps are still planned -------------------------------------------
"$APPLIANCE" plan "${DEMO_ARGS[@]}" --set nas.port=1 >"$T/nasdown" 2>&1
rc=$?
[ $rc -eq 1 ] && ok "NAS down: plan exits 1" || not_ok "NAS down: plan exits $rc"
[ "$(grep -cE '^\[([0-9]+)/13\] ' "$T/nasdown")" = 13 ] && ok "NAS down: all 13 steps shown" ||
	{ not_ok "NAS down: steps shown: $(grep -cE '^\[[0-9]+/13\] ' "$T/nasdown")"; tail -5 "$T/nasdown" | sed 's/^/#   /'; }
step_line preflight-nas "$T/nasdown" | grep -q failed && ok "NAS down: preflight-nas failed" || not_ok "NAS down: preflight-nas not failed"
for s in preflight-image render-config write-image config-partition wipe-ceph boot-order gitops; do
	step_line "$s" "$T/nasdown" | grep -q todo && ok "NAS down: $s still planned" || not_ok "NAS down: $s: $(step_line "$s" "$T/nasdown")"
done
[ "$(grep -c 'nas check failed' "$T/nasdown")" = 1 ] && ok "NAS down: the failure is printed once" ||
	not_ok "NAS down: the failure is printed $(grep -c 'nas check failed' "$T/nasdown") times"
grep -q "^appliance: preflight-nas: nas check failed: cannot connect to 127.0.0.1:1" "$T/nasdown" &&
	ok "NAS down: the failure ends the output" || not_ok "NAS down: final line"

# ---- an unknown machine: what needs the node is blocked, with the reason ---------------------------
AUTO=()
for ((i = 0; i < ${#DEMO_ARGS[@]}; i++)); do
	[ "${DEMO_ARGS[i]}" = --node ] && { i=$((i + 1)); continue; }
	AUTO+=("${DEMO_ARGS[i]}")
done
"$APPLIANCE" plan "${AUTO[@]}" --auto --set 'nodes[0].identity.macs[0]=52:54:00:99:99:99' --set 'nodes[0].identity.serial=SOMEONE-ELSE' >"$T/unknown" 2>&1
rc=$?
[ $rc -eq 1 ] && ok "unknown machine: plan exits 1" || not_ok "unknown machine: plan exits $rc"
for s in resolve-disks render-config write-image config-partition wipe-ceph boot-order; do
	step_line "$s" "$T/unknown" | grep -q "blocked: needs '" && ok "unknown machine: $s blocked with its reason" ||
		not_ok "unknown machine: $s: $(step_line "$s" "$T/unknown")"
done
step_line preflight-secrets "$T/unknown" | grep -q done && ok "unknown machine: the secrets are still checked" ||
	not_ok "unknown machine: preflight-secrets: $(step_line preflight-secrets "$T/unknown")"

# ---- every unreadable secret is named in one run, not one per run ------------------------------------
env -u APPLIANCE_DEMO_NAS_PASSWORD -u APPLIANCE_DEMO_S3_SECRET_KEY "$APPLIANCE" plan "${DEMO_ARGS[@]}" >"$T/nosecrets" 2>&1
rc=$?
[ $rc -eq 1 ] && ok "two secrets unset: plan exits 1" || not_ok "two secrets unset: plan exits $rc"
grep -q "^      fail      secret 'nasPassword': environment variable 'APPLIANCE_DEMO_NAS_PASSWORD' is not set$" "$T/nosecrets" &&
	grep -q "^      fail      secret 's3SecretKey': environment variable 'APPLIANCE_DEMO_S3_SECRET_KEY' is not set$" "$T/nosecrets" &&
	ok "two secrets unset: each is a fail row of preflight-secrets" ||
	{ not_ok "two secrets unset: not both named"; grep -A14 'preflight-secrets:' "$T/nosecrets" | sed 's/^/#   /'; }
grep -q "^      ok        secret 'gitToken' " "$T/nosecrets" && ok "two secrets unset: the readable ones still listed" ||
	not_ok "two secrets unset: gitToken not listed"
grep -q "^appliance: preflight-secrets: secret 'nasPassword': .* (and 1 more problem in this step)$" "$T/nosecrets" &&
	ok "two secrets unset: the final line counts the other" || not_ok "two secrets unset: final line: $(tail -1 "$T/nosecrets")"

# ---- install stops at its first failure, and says what it did not run ------------------------------
"$APPLIANCE" install "${DEMO_ARGS[@]}" --set nas.port=1 --apply --unattended >"$T/inst" 2>&1
step_line write-image "$T/inst" | grep -q "blocked: not run: 'preflight-nas' failed" &&
	ok "install, NAS down: later steps shown as not run" || not_ok "install, NAS down: write-image: $(step_line write-image "$T/inst")"
[ "$(demo_disk_hashes)" = "$before" ] && ok "plan and a refused install changed no disk" || not_ok "a disk changed"

# ---- plan writes nothing on the NAS ------------------------------------------------------------------
lib=$T/nas/k8s/immich
touch -d '2001-01-01 00:00:00' "$lib"
"$APPLIANCE" plan "${DEMO_ARGS[@]}" >"$T/plan" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "plan exits 0" || { not_ok "plan exits $rc"; tail -5 "$T/plan" | sed 's/^/#   /'; }
[ "$(stat -c %Y "$lib")" = "$(date -d '2001-01-01 00:00:00' +%s)" ] && ok "plan: the NAS library folder was not written" ||
	not_ok "plan wrote into the NAS library folder"
"$APPLIANCE" nas check "$ROOT/profiles/demo.yaml" --set "nas.port=$SMBD_PORT" >/dev/null 2>&1
[ "$(stat -c %Y "$lib")" != "$(date -d '2001-01-01 00:00:00' +%s)" ] && ok "nas check's write probe does change it (the assertion above can fail)" ||
	not_ok "nas check did not write its probe"
grep -q "dry run (the default), nothing is changed" "$T/plan" && ok "plan says it is a dry run, the default" || not_ok "plan: no dry-run line"

# ---- the ending: disk by disk, then the exact command -------------------------------------------------
for re in '^        overwrite /dev/nvme0n1: whole disk' '^                  Demo NVMe install, serial APPL-INSTALL-1, 192.0 MiB' \
	'^        erase     /dev/nvme1n1: Ceph disk' '^                  Demo NVMe ceph, serial APPL-CEPH-1B, 32.0 MiB'; do
	grep -qE -- "$re" "$T/plan" && ok "plan ends with: $re" || not_ok "plan ends with: $re"
done
# the command may wrap over several lines (" \" at each break): pasted, it is one
cmdline=$(sed -n '/^  appliance install /,$p' "$T/plan")
case "$cmdline" in
"  appliance install "*" --apply") ok "the plan ends with the install command" ;;
*) not_ok "the last line is the install command: '$cmdline'" ;;
esac
grep -q '\.\.\.' <<<"$cmdline" && not_ok "the command elides arguments" || ok "the command elides nothing"
# pasted as is (with this build's binary for 'appliance'), it installs
(appliance() { "$APPLIANCE" "$@"; }; eval "$cmdline --unattended") >"$T/pasted" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "the pasted command installs (exit 0)" || { not_ok "the pasted command exits $rc"; tail -5 "$T/pasted" | sed 's/^/#   /'; }
[ "$(demo_disk_hashes)" != "$before" ] && ok "the pasted command changed the disks" || not_ok "the pasted command changed nothing"

# ---- an image not pinned yet: the suggested command is complete and, pasted, pins it --------------
printf 'pins:\n' >"$T/new-pins.yaml"
"$APPLIANCE" plan "${DEMO_ARGS[@]}" --state-dir "$T/s-pins" --set "talos.image.pins=$T/new-pins.yaml" >"$T/unpinned" 2>&1
fetch=$(sed -n "s/^appliance: preflight-image: .*; record its hash with: //p" "$T/unpinned")
case "$fetch" in
"appliance image fetch "*" --trust-on-first-use") ok "unpinned image: the command to pin it is given in full" ;;
*) not_ok "unpinned image: suggestion '$fetch'"; tail -3 "$T/unpinned" | sed 's/^/#   /' ;;
esac
# write-image is blocked (the image is not pinned): the empty install disk is not "kept"
grep -q '^        undecided /dev/nvme0n1: write-image blocked; overwritten once that is fixed' "$T/unpinned" &&
	ok "unpinned image: the install disk's fate is undecided, not kept" ||
	{ not_ok "unpinned image: install disk's fate"; grep -A1 ' /dev/nvme0n1: ' "$T/unpinned" | sed 's/^/#   /'; }
grep -q 'Talos already installed' "$T/unpinned" && not_ok "unpinned image: an empty disk is called installed" ||
	ok "unpinned image: no disk is called installed"
(appliance() { "$APPLIANCE" "$@"; }; eval "$fetch") >"$T/fetch.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "the pasted fetch pins the image (exit 0)" || { not_ok "the pasted fetch exits $rc"; tail -3 "$T/fetch.out" | sed 's/^/#   /'; }
"$APPLIANCE" plan "${DEMO_ARGS[@]}" --state-dir "$T/s-pins" --set "talos.image.pins=$T/new-pins.yaml" >"$T/pinned" 2>&1
grep -A6 '^\[5/13\] preflight-image' "$T/pinned" | grep -qE '^      (todo|done)' && ok "then plan finds the image pinned and cached where install looks" ||
	{ not_ok "preflight-image after the fetch"; grep -A6 '^\[5/13\]' "$T/pinned" | sed 's/^/#   /'; }
