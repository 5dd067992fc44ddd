#!/usr/bin/env bash
# make demo's output is for people (issue 20, item 8): quiet apart from its own story (no
# Samba messages), paths relative to the site's folder, the plan's last word is each disk's
# fate and the install command, and it ends with the next steps for a real site.
. "$(dirname "$0")/../lib/tap.sh"
cp "$APPLIANCE" "$T/appliance"
COLUMNS= DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32 APPLIANCE=$T/appliance bash "$ROOT/scripts/demo.sh" >"$T/demo.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "the demo exits 0" || { not_ok "the demo exits $rc"; tail -10 "$T/demo.out" | sed 's/^/#   /'; }
grep -qiE 'tdbsam|smbd|passdb' "$T/demo.out" && not_ok "Samba's own messages leak: $(grep -iE 'tdbsam|smbd|passdb' "$T/demo.out" | head -1)" ||
	ok "no Samba messages"
grep -q '/tmp/appliance-t\.[A-Za-z0-9]*/state' "$T/demo.out" && not_ok "absolute temp paths in the story" || ok "paths relative to the site's folder"
grep -qE '^        overwrite /dev/nvme0n1: whole disk' "$T/demo.out" && grep -qE '^  appliance install demo.yaml ' "$T/demo.out" &&
	grep -qE '^      .*--apply$' "$T/demo.out" &&
	ok "the plan ends with each disk's fate and the install command" || not_ok "plan ending"
# a clean demo ends clean: from the install's result on, no check warns (the NAS holds the
# capacity the demo declares)
sed -n '/^=== install disk /,$p' "$T/demo.out" >"$T/summary"
[ -s "$T/summary" ] && ! grep -qiE 'warn' "$T/summary" && ok "the demo's final summary has no warning" ||
	{ not_ok "the demo's final summary warns"; grep -iE 'warn' "$T/summary" | head -3 | sed 's/^/#   /'; }
tail -7 "$T/demo.out" | grep -q '^next steps for a real site' && tail -1 "$T/demo.out" | grep -q 'appliance plan site.yaml --auto' &&
	ok "ends with the next steps for a real site" || not_ok "the demo does not end with next steps"
# issue 20: `make demo` output stays under 100 columns (80-column friendly: short digests,
# relative paths, details wrapped under their line); the offending lines listed on failure
w=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$T/demo.out")
long=$(awk 'length($0) >= 100 { printf "%d (%d columns): %s\n", NR, length($0), $0 }' "$T/demo.out")
if [ -z "$long" ]; then ok "every line of the demo is under 100 columns (widest: $w)"; else
	not_ok "$(printf '%s\n' "$long" | wc -l) lines of the demo are 100 columns or wider (widest: $w)"
	printf '%s\n' "$long" | cut -c1-200 | sed 's/^/#   line /'
fi
n80=$(awk 'length($0) >= 80' "$T/demo.out" | wc -l)
diag "widest line: $w columns; $n80 lines of 80 or more (an unbreakable URL or path)"
# the plan's install command wraps and still pastes: continuation lines end with " \"
grep -qE '^  appliance install demo\.yaml .* \\$' "$T/demo.out" && ok "the install command wraps with ' \\'" ||
	not_ok "the install command is not wrapped for pasting"
