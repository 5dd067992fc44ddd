#!/usr/bin/env bash
# make demo's output is for people (issue 20, item 8): quiet apart from its own story (no
# Samba messages), paths relative to the site's folder, the plan's last word is each disk's
# fate and the install command, and it ends with the next steps for a real site.
. "$(dirname "$0")/../lib/tap.sh"
cp "$APPLIANCE" "$T/appliance"
DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32 APPLIANCE=$T/appliance bash "$ROOT/scripts/demo.sh" >"$T/demo.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "the demo exits 0" || { not_ok "the demo exits $rc"; tail -10 "$T/demo.out" | sed 's/^/#   /'; }
grep -qiE 'tdbsam|smbd|passdb' "$T/demo.out" && not_ok "Samba's own messages leak: $(grep -iE 'tdbsam|smbd|passdb' "$T/demo.out" | head -1)" ||
	ok "no Samba messages"
grep -q '/tmp/appliance-t\.[A-Za-z0-9]*/state' "$T/demo.out" && not_ok "absolute temp paths in the story" || ok "paths relative to the site's folder"
grep -qE '^        overwrite /dev/nvme0n1: whole disk' "$T/demo.out" && grep -qE '^  appliance install demo.yaml .* --apply$' "$T/demo.out" &&
	ok "the plan ends with each disk's fate and the install command" || not_ok "plan ending"
tail -7 "$T/demo.out" | grep -q '^next steps for a real site' && tail -1 "$T/demo.out" | grep -q 'appliance plan site.yaml --auto' &&
	ok "ends with the next steps for a real site" || not_ok "the demo does not end with next steps"
w=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/demo.out")
n=$(awk 'length($0) > 100' "$T/demo.out" | wc -l)
diag "widest line: $w columns; $n lines over 100 (measured, not yet asserted)"
