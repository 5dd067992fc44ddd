#!/usr/bin/env bash
# appliance validate: the valid and invalid corpora (each invalid file ends with
# the exact "# expect:" lines it must produce), hostile input, overlays, --set,
# --json and the command-line contract.
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT"

for f in tests/profiles/valid/*.yaml profiles/immich.yaml profiles/demo.yaml; do
	expect_fail "valid: $f" 0 "$APPLIANCE" validate "$f"
done
expect_out "even control planes: warning, still valid" \
	'even-controlplanes.yaml:14:3: warning: nodes: 2 control-plane nodes: an even number' \
	"$APPLIANCE" validate tests/profiles/valid/even-controlplanes.yaml

for f in tests/profiles/invalid/*.yaml; do
	want=$(grep '^# expect: ' "$f" | sed "s|^# expect: |$f|")
	got=$("$APPLIANCE" validate "$f" 2>&1 >/dev/null | grep -E ': (error|warning): ')
	"$APPLIANCE" validate "$f" >/dev/null 2>&1
	rc=$?
	if [ -n "$want" ] && [ "$got" = "$want" ] && [ "$rc" -eq 2 ]; then
		ok "invalid: $f"
	else
		not_ok "invalid: $f (exit $rc)"
		diff <(echo "$want") <(echo "$got") | sed 's/^/#   /'
	fi
done

# Hostile input: refused quickly with a clear error, never a hang or a crash.
# (timeout only guards against a hang; it is not a speed assertion)
hostile() { # DESC REGEX FILE
	local out rc
	out=$(timeout 60 "$APPLIANCE" validate "$3" 2>&1)
	rc=$?
	if [ "$rc" -eq 2 ] && echo "$out" | grep -qE -- "$2"; then ok "$1"; else not_ok "$1 (exit $rc)"; echo "$out" | head -3 | sed 's/^/#   /'; fi
}
python3 -c "print('a: ' + '[' * 100000)" >"$T/deep.yaml"
hostile "deep nesting refused" "deep.yaml:1:[0-9]+: error: nesting deeper than 64 levels" "$T/deep.yaml"
python3 -c "print('a: \"' + 'x' * 300000 + '\"')" >"$T/huge-scalar.yaml"
hostile "huge scalar refused" "huge-scalar.yaml:1:4: error: value is 300000 bytes long; at most 262144 allowed" "$T/huge-scalar.yaml"
head -c 5000000 /dev/zero | tr '\0' 'a' >"$T/huge-file.yaml"
hostile "huge file refused" "huge-file.yaml:1:1: error: file is larger than 4194304 bytes; not a profile" "$T/huge-file.yaml"
python3 -c "
import random,sys; r=random.Random(1234)
sys.stdout.buffer.write(bytes(r.randrange(1,256) for _ in range(4096)))" >"$T/garbage.yaml"
hostile "binary garbage refused with a position" "garbage.yaml:[0-9]+:[0-9]+: error: YAML syntax error" "$T/garbage.yaml"
printf 'a: 1\n\0b: 2\n' >"$T/nul.yaml"
hostile "NUL bytes refused" "nul.yaml:1:1: error: file contains NUL bytes" "$T/nul.yaml"
python3 -c "
print('x: &a [' + ','.join(['\"lol\"']*50) + ']')
for i in range(1,12): print(f'x{i}: &a{i} [' + ','.join([f'*a' if i==1 else f'*a{i-1}']*50) + ']')" >"$T/bomb.yaml"
hostile "alias bomb refused" "bomb.yaml:2:[0-9]+: error: YAML alias" "$T/bomb.yaml"
# a real bundle from `talos secrets` where a profile is expected: one line, exit 2, for any command
"$APPLIANCE" talos secrets profiles/demo.yaml --out "$T/talos-secrets.yaml" >/dev/null 2>&1
"$APPLIANCE" render "$T/talos-secrets.yaml" --out "$T/r" >"$T/bundle.out" 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$T/bundle.out")" -eq 1 ] && [ ! -e "$T/r" ] &&
	grep -qxF "$T/talos-secrets.yaml:1:1: error: $T/talos-secrets.yaml looks like a Talos secrets bundle, not an appliance profile (pass it with --secrets)" "$T/bundle.out" &&
	ok "a secrets bundle as the profile: one line naming it, exit 2" ||
	{ not_ok "secrets bundle as profile: exit $rc"; head -3 "$T/bundle.out" | sed 's/^/#   /'; }
expect_out "a secrets bundle as a --site overlay: said so" \
	"talos-secrets.yaml looks like a Talos secrets bundle, not an appliance profile \(pass it with --secrets\)" \
	"$APPLIANCE" validate profiles/demo.yaml --site "$T/talos-secrets.yaml"
expect_fail "missing file: exit 2" 2 "$APPLIANCE" validate "$T/nope.yaml"
expect_out "missing file: named" "nope.yaml:1:1: error: cannot open '.*nope.yaml': No such file or directory" \
	"$APPLIANCE" validate "$T/nope.yaml"

# Overlays and --set
m=tests/profiles/valid/minimal.yaml
cat >"$T/site.yaml" <<'EOT'
nas:
  port: 4451
  minFree: 2Gx
EOT
expect_out "--site: problems point into the overlay" "site.yaml:3:12: error: nas.minFree: malformed size" \
	"$APPLIANCE" validate "$m" --site "$T/site.yaml"
expect_out "--set: position names the --set" "^--set nodes\[0\].role:1:1: error: nodes\[0\].role: 'boss' is not one of" \
	"$APPLIANCE" validate "$m" --set 'nodes[0].role=boss'
expect_out "--set: a list value" "^--set talos.schematic.kernelArgs:1:1: error: talos.schematic.kernelArgs: expected a list" \
	"$APPLIANCE" validate "$m" --set 'talos.schematic.kernelArgs=quiet'
expect_fail "--set: valid override accepted" 0 "$APPLIANCE" validate "$m" --set 'talos.schematic.kernelArgs=[quiet, noapic]' --set nas.port=4450
expect_out "--set: no such list item, and which there are" "nodes\[5\].role': no item 5 there: the list has 1 item, \[0\]$" "$APPLIANCE" validate "$m" --set 'nodes[5].role=worker'
expect_out "--set: an index into a mapping says it is not a list" "site.secretVars\[0\]': no item 0 there: not a list$" \
	"$APPLIANCE" validate "$m" --set 'site.secretVars[0]=x'
expect_out "--set: past the end of a list of several" "domains\[7\]': no item 7 there: the list has 2 items, \[0\] to \[1\]$" \
	"$APPLIANCE" validate "$m" --set 'site.domains=[a.test, b.test]' --set 'site.domains[7]=c.test'
expect_fail "--set without =: usage error" 2 "$APPLIANCE" validate "$m" --set nodes

# --json
for f in "$m" tests/profiles/invalid/bad-cron.yaml tests/profiles/invalid/yaml-syntax.yaml; do
	"$APPLIANCE" validate --json "$f" >"$T/out.json" 2>/dev/null
	check "--json parses: $f" /usr/bin/python3 -c "import json,sys; d=json.load(open('$T/out.json')); assert isinstance(d['valid'], bool) and d['errors']==sum(x['severity']=='error' for x in d['diagnostics'])"
done
check "--json: diagnostics carry file, line, column, path" /usr/bin/python3 -c "
import json,subprocess
d=json.loads(subprocess.run(['$APPLIANCE','validate','--json','tests/profiles/invalid/bad-cron.yaml'],capture_output=True,text=True).stdout)
g=d['diagnostics'][0]; assert d['valid'] is False and g['line']==30 and g['column']==23 and g['path']=='apps.immich.database.backupSchedule', g"

# command-line contract
expect_fail "no command: exit 2" 2 "$APPLIANCE"
expect_fail "unknown command: exit 2" 2 "$APPLIANCE" frobnicate
expect_fail "validate: unknown option exit 2" 2 "$APPLIANCE" validate --frob "$m"
expect_fail "validate: no profile exit 2" 2 "$APPLIANCE" validate
expect_out "version" '^appliance [0-9]+\.[0-9]+\.[0-9]+' "$APPLIANCE" version
for c in validate render talos disks wipe image nas plan install pxe bootstrap rebuild version help; do
	expect_out "$c --help: usage on stdout, exit 0" '^usage: appliance' "$APPLIANCE" help "$c"
	expect_fail "$c --help exits 0" 0 "$APPLIANCE" "$c" --help
done

# docs/profile.md names every key the loader knows
missing=$("$APPLIANCE" validate --keys | cut -f1 | while read -r k; do grep -qF "\`$k\`" docs/profile.md || echo "$k"; done)
if [ -z "$missing" ]; then ok "docs/profile.md names every key"; else not_ok "docs/profile.md lacks keys: $missing"; fi

# a bool default the docs/profile.md table states is the one validate --keys reports
# (the table once said 'default true' for 1Password, Tailscale and monitoring, all off)
keys_out=$("$APPLIANCE" validate --keys)
wrong=$(printf '%s\n' "$keys_out" | awk -F'\t' '
	NR == FNR { if ($2 == "bool") for (i = 3; i <= NF; i++) if ($i ~ /^default (true|false)$/) d[$1] = substr($i, 9); next }
	/^\| `[^`]+` \| bool \| default (true|false)/ {
		k = $0; sub(/^\| `/, "", k); sub(/`.*/, "", k)
		v = $0; sub(/.*\| bool \| default /, "", v); sub(/[^a-z].*/, "", v)
		if (!(k in d)) print k ": the doc says " v ", validate --keys states no default"
		else if (d[k] != v) print k ": the doc says " v ", validate --keys says " d[k]
	}' - docs/profile.md)
if [ -z "$wrong" ]; then ok "docs/profile.md bool defaults agree with validate --keys"; else not_ok "docs/profile.md bool defaults disagree: $wrong"; fi
