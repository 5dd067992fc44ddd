#!/usr/bin/env bash
# The command-line conventions (issue 20, item 7): "did you mean" for commands, options and
# node names; --dry-run accepted and said to be the default; -q/-v; durations with units;
# --json where a command reports; version with commit, build date and target versions; the
# profile found from $APPLIANCE_PROFILE or ./appliance.yaml; examples in --help.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
export DEMO_DISK_MIB=64 DEMO_CEPH_MIB=32
demo_setup_tap
A=$APPLIANCE

# ---- did you mean -------------------------------------------------------------------------------
expect_out "a misspelt command" "^appliance: unknown command 'instal'; did you mean 'install'\?$" "$A" instal
expect_fail "a misspelt command: exit 2" 2 "$A" instal
expect_out "a misspelt option" "^appliance plan: unknown option '--jsno'; did you mean '--json'\?$" "$A" plan "${DEMO_ARGS[@]}" --jsno
expect_out "a misspelt option of a subcommand" "^appliance nas check: unknown option '--timout'; did you mean '--timeout'\?$" \
	"$A" nas check "$ROOT/profiles/demo.yaml" --timout 5s
expect_out "a misspelt subcommand" "^appliance talos: unknown subcommand 'secret'; did you mean 'secrets'\?$" "$A" talos secret
expect_fail "a misspelt subcommand: exit 2" 2 "$A" talos secret
expect_out "a misspelt subcommand of image" "^appliance image: unknown subcommand 'fecth'; did you mean 'fetch'\?$" "$A" image fecth
expect_out "a subcommand far off: no suggestion" "^appliance talos: unknown subcommand 'zzzzzzzz'$" "$A" talos zzzzzzzz
expect_out "a misspelt node name" "node 'demo1' is not in profile '.*demo.yaml'; did you mean 'demo-1'\?" \
	"$A" plan "$ROOT/profiles/demo.yaml" --node demo1
expect_out "an option without its value says so" "^appliance plan: option '--node' needs a value$" "$A" plan "$ROOT/profiles/demo.yaml" --node
expect_out "init: an option without its value says so" "^appliance init: option '--name' needs a value$" "$A" init --name
"$A" validate "$ROOT/profiles/demo.yaml" --site >"$T/nosite" 2>&1
[ $? -eq 2 ] && [ "$(grep -vc '^try ' "$T/nosite")" = 1 ] && ok "validate --site without a value: one message, exit 2" ||
	{ not_ok "validate --site without a value"; sed 's/^/#   /' "$T/nosite"; }
expect_out "a misspelt global option" "^appliance: unknown option '--versoin'; did you mean '--version'\?$" "$A" --versoin
expect_fail "a misspelt global option: exit 2" 2 "$A" --versoin
expect_out "a command's option before the command: the command line meant" \
	"^appliance: unknown option '--jsn'; did you mean 'appliance validate --json'\? \(a command's options follow it\)$" "$A" --jsn validate
expect_out "a subcommand's option before the command: the subcommand's line" \
	"^appliance: unknown option '--timout'; did you mean 'appliance nas check --timeout'\?" "$A" --timout nas check "$ROOT/profiles/demo.yaml"
expect_out "a global option far off: no suggestion" "^appliance: unknown option '--zzzzzzzz'$" "$A" --zzzzzzzz
expect_out "no suggestion for something far off" "^appliance render: unknown option '--zzzzzzzz'$" "$A" render "$ROOT/profiles/demo.yaml" --zzzzzzzz

# ---- --dry-run, -q, -v ------------------------------------------------------------------------------
"$A" plan "${DEMO_ARGS[@]}" --dry-run >"$T/dry" 2>&1
[ $? -eq 0 ] && grep -q 'dry run (the default), nothing is changed' "$T/dry" && ok "--dry-run is accepted and said to be the default" ||
	not_ok "--dry-run: $(tail -2 "$T/dry")"
expect_fail "--dry-run with --apply: usage error" 2 "$A" install "${DEMO_ARGS[@]}" --dry-run --apply
"$A" plan "${DEMO_ARGS[@]}" >"$T/normal" 2>&1
"$A" plan "${DEMO_ARGS[@]}" -q >"$T/quiet" 2>&1
"$A" plan "${DEMO_ARGS[@]}" -v >"$T/verbose" 2>&1
[ "$(wc -l <"$T/quiet")" -lt "$(wc -l <"$T/normal")" ] && ! grep -q '^      info ' "$T/quiet" && grep -q '^        overwrite /dev/nvme0n1' "$T/quiet" &&
	ok "-q: no facts that checked out; what changes and the disks' fates stay" || not_ok "-q output"
grep -qE '^      done: [0-9]+ checked, .* to do' "$T/quiet" && ok "-q: the summary's counts stay" ||
	{ not_ok "-q: no summary counts"; tail -3 "$T/quiet" | sed 's/^/#   /'; }
grep -q '^      input disk.serial=APPL-INSTALL-1$' "$T/verbose" && [ "$(wc -l <"$T/verbose")" -gt "$(wc -l <"$T/normal")" ] &&
	ok "-v: every step's inputs" || not_ok "-v output"
grep -q "$APPLIANCE_DEMO_NAS_PASSWORD" "$T/verbose" && not_ok "-v shows a secret value" || ok "-v shows no secret value"

# ---- durations with units -----------------------------------------------------------------------------
expect_out "nas check --timeout 10s is a duration" "^ *ok +tcp " "$A" nas check "$ROOT/profiles/demo.yaml" --set "nas.port=$SMBD_PORT" --timeout 10s
expect_out "nas check --timeout 10x: usage error naming the form" "--timeout '10x': expected a duration such as 10s" \
	"$A" nas check "$ROOT/profiles/demo.yaml" --timeout 10x
expect_out "nas check --timeout 5: a bare number is refused, with the unit meant" \
	"^appliance nas check: --timeout '5': a duration needs a unit, as in the profile; did you mean '5s'\?$" \
	"$A" nas check "$ROOT/profiles/demo.yaml" --timeout 5
expect_fail "nas check --timeout 5: exit 2" 2 "$A" nas check "$ROOT/profiles/demo.yaml" --timeout 5
expect_out "nas check --timeout 2h: out of range, with the range" "^appliance nas check: --timeout '2h': expected a duration from 1ms to 1h$" \
	"$A" nas check "$ROOT/profiles/demo.yaml" --timeout 2h
expect_out "nas check --timeout 500ms is a duration" "^ *ok +tcp " "$A" nas check "$ROOT/profiles/demo.yaml" --set "nas.port=$SMBD_PORT" --timeout 500ms
# every other duration option, through the same parser: a bare number is refused (exit 2, the
# unit meant); with its unit it is accepted and the command goes on to its next error (the
# profile that does not exist, read after the whole command line is parsed)
NOPROF=$T/no-such-profile.yaml
while read -r c opt bare unit extra; do
	"$A" $c "$NOPROF" --secrets "$NOPROF" $extra "$opt" "$bare" >"$T/dur" 2>&1
	rc=$?
	[ $rc = 2 ] && grep -qx "appliance $c: $opt '$bare': a duration needs a unit, as in the profile; did you mean '${bare}s'?" "$T/dur" &&
		ok "$c $opt $bare: refused (exit 2), '${bare}s' suggested" ||
		{ not_ok "$c $opt $bare: exit $rc"; sed 's/^/#   /' "$T/dur"; }
	"$A" $c "$NOPROF" --secrets "$NOPROF" $extra "$opt" "$unit" >"$T/dur" 2>&1
	rc=$?
	[ $rc = 2 ] && ! grep -q -- "$opt" "$T/dur" && grep -q "cannot open '$NOPROF'" "$T/dur" &&
		ok "$c $opt $unit: accepted (the missing profile is what stops it)" ||
		{ not_ok "$c $opt $unit: exit $rc"; sed 's/^/#   /' "$T/dur"; }
done <<'EOF_DUR'
apply --wait 600 10m
apply --try-timeout 60 1m --mode try
apply --timeout 10 500ms
upgrade --wait 900 15m
upgrade --timeout 10 10s
status --interval 10 10s --watch
status --backup-max-age 48 48h
status --timeout 10 30s
bootstrap --wait 600 10m
rebuild --wait 600 5m --apply
EOF_DUR
expect_out "apply --wait 0s: out of range, with the range" "^appliance apply: --wait '0s': expected a duration from 1s to 24h$" \
	"$A" apply "$NOPROF" --wait 0s
expect_out "bootstrap --wait 0s: one try, accepted" "cannot open '$NOPROF'" "$A" bootstrap "$NOPROF" --secrets "$NOPROF" --wait 0s

# ---- --json and version ------------------------------------------------------------------------------
check "version --json: commit, build date, Talos/Kubernetes/Flux" /usr/bin/python3 -c '
import json, subprocess, sys
j = json.loads(subprocess.check_output([sys.argv[1], "version", "--json"]))
assert j["commit"] and j["buildDate"] and j["talos"].startswith("v1.") and j["kubernetes"].startswith("v1.") and j["flux"].startswith("v2."), j' "$A"
expect_out "version: commit and build date" '^appliance [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{12}(-dirty)?|unknown, built ' "$A" version
expect_out "version: the versions it installs" '^installs Talos v1\.[0-9]+\.[0-9]+ \(supports v1\.10\.x to v1\.12\.x\), Kubernetes v1\.[0-9.]+, Flux v2\.' "$A" version
check "identify --json parses" /usr/bin/python3 -c 'import json,subprocess,sys; json.loads(subprocess.check_output([sys.argv[1],"identify","--hw-root",sys.argv[2],"--json"]))' "$A" "$DEMO_HW"

# ---- the profile found when none is given ----------------------------------------------------------------
expect_out "APPLIANCE_PROFILE names the profile" ': valid \(3 nodes' env APPLIANCE_PROFILE="$ROOT/profiles/demo.yaml" "$A" validate
mkdir -p "$T/site" && cp "$ROOT/tests/profiles/valid/minimal.yaml" "$T/site/appliance.yaml"
expect_out "./appliance.yaml is the profile" '^appliance.yaml: valid \(1 node' sh -c "cd '$T/site' && '$A' validate"
expect_out "neither: the usage error says so" "no PROFILE given" sh -c "cd '$T' && env -u APPLIANCE_PROFILE '$A' validate"

# ---- examples in --help ---------------------------------------------------------------------------------
for c in init identify validate config render talos disks wipe image nas plan install pxe bootstrap rebuild apply upgrade status version; do
	"$A" $c --help >"$T/help" 2>&1
	grep -q '^examples:' "$T/help" && ok "$c --help has examples" || not_ok "$c --help has no examples"
done
"$A" plan --help >"$T/help" 2>&1
grep -q -- '--sysfs DIR .*default HW_ROOT/sys,$' "$T/help" && ok "plan --help: --sysfs defaults to HW_ROOT/sys, as plan reads it" ||
	not_ok "plan --help does not say --sysfs defaults to HW_ROOT/sys"

# ---- getting-started's fixture machine: the two lines, pasted as written, give a node block ----------
mk=$(grep -m1 "^    bash -c '. scripts/demo.sh; . tests/fixtures/machines/machines.sh; fixture_machine /tmp/m1 1'$" \
	"$ROOT/docs/getting-started.md" | sed "s|^    ||; s|/tmp/m1|$T/m1|")
idf=$(grep -m1 '^    appliance identify --name lake-1 --hw-root /tmp/m1 --min-size 16Mi$' "$ROOT/docs/getting-started.md" |
	sed "s|^    appliance|\"\$A\"|; s|/tmp/m1|$T/m1|")
if [ -n "$mk" ] && [ -n "$idf" ] && (cd "$ROOT" && eval "$mk") && eval "$idf" >"$T/m1.yaml" 2>&1 &&
	grep -q '^      macs: \["52:54:00:20:00:01"\]$' "$T/m1.yaml" && grep -q 'installDisk: {serial: "FIX1-BOOT"}' "$T/m1.yaml"; then
	ok "getting-started: the fixture machine's two commands, pasted, print its node block"
else
	not_ok "getting-started: fixture machine commands ('$mk', '$idf')"; head -3 "$T/m1.yaml" 2>/dev/null | sed 's/^/#   /'
fi
