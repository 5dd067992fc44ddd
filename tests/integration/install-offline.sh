#!/usr/bin/env bash
# A site whose machines reach nothing while they install: the pinned image comes from a
# read-only folder (the stick's appliance/images, --image-dir), the NAS preflight is skipped
# because the profile says install.offline (and the plan says so), and nothing is
# downloaded. A copy whose hash is not the pin is never used; offline without a usable copy
# is refused before any disk is touched. The servers of the demo site are stopped first,
# and the profile points at closed ports on 127.0.0.1.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/scripts/demo.sh"
export DEMO_DISK_MIB=192 DEMO_CEPH_MIB=32

demo_setup_tap
closed=$(free_port)
key=$(sed -n 's/^  \([^:]*\):.*/\1/p' "$DEMO_PINS")
name=$(echo "$key" | tr / -)
# the plan shows digests short (12 digits and "..."), in the key and the file name alike
skey="${key:0:12}\.\.\.${key:64}"
short="${name:0:12}\.\.\.${name:64}"
mkdir -p "$T/stick"
cp "$T/img/metal.raw.zst" "$T/stick/$name"
stick_sum=$(sha256sum "$T/stick/$name")

# ---- online (the NAS answers), the stick still wins over a download ------------------------------
"$APPLIANCE" plan "${DEMO_ARGS[@]}" --set "talos.image.mirror=http://127.0.0.1:$closed/" \
	--state-dir "$T/s3" --image-dir "$T/stick" >"$T/online.out" 2>&1
expect_out "not offline: a matching stick copy is used before any download (mirror closed)" \
	"from $T/stick/$short, sha256 [0-9a-f]{12}\.\.\. as pinned: no download" cat "$T/online.out"

# the site's servers go away: nothing answers on their ports any more
kill "$SMBD_PID" "$NGINX_PID" 2>/dev/null
wait "$SMBD_PID" "$NGINX_PID" 2>/dev/null
OFF=(--set install.offline=true --set "nas.port=$closed" --set "talos.image.mirror=http://127.0.0.1:$closed/")
ok "demo site stopped; the stick folder holds the pinned image ($name)"

# ---- offline, no copy anywhere: refused in plan, nothing touched -------------------------
before=$(demo_disk_hashes)
expect_fail "offline without the image: plan exits 1" 1 \
	"$APPLIANCE" plan "${DEMO_ARGS[@]}" "${OFF[@]}" --state-dir "$T/s0"
expect_out "... and says where it looked" \
	"install.offline is true and image '$key' \(sha256 [0-9a-f]{64}\) is neither on the stick \(none\) nor in the cache \($T/s0/cache\)" \
	"$APPLIANCE" plan "${DEMO_ARGS[@]}" "${OFF[@]}" --state-dir "$T/s0"
[ "$(demo_disk_hashes)" = "$before" ] && ok "no disk changed" || not_ok "no disk changed"

# ---- a copy whose hash is not the pin is not used -----------------------------------------
mkdir -p "$T/bad"
head -c 1M /dev/urandom >"$T/bad/$name"
"$APPLIANCE" install "${DEMO_ARGS[@]}" "${OFF[@]}" --state-dir "$T/s1" --image-dir "$T/bad" \
	--apply --unattended >"$T/bad.out" 2>&1
check "stick copy with the wrong hash, offline: install exits 1" test $? -eq 1
expect_out "... the copy is named and not used" "image '$T/bad/$short' has sha256 [0-9a-f]{12}\.\.\., pinned [0-9a-f]{12}\.\.\.: not used" cat "$T/bad.out"
expect_out "... and the install refuses (no download offline)" 'install.offline is true and image .* is neither on the stick' cat "$T/bad.out"
[ "$(demo_disk_hashes)" = "$before" ] && ok "no disk changed" || not_ok "no disk changed"

# ---- plan: says the NAS is skipped and where the image comes from -----------------------------
"$APPLIANCE" plan "${DEMO_ARGS[@]}" "${OFF[@]}" --state-dir "$T/s2" --image-dir "$T/stick" >"$T/plan.out" 2>&1
check "offline plan with the image on the stick exits 0" test $? -eq 0
expect_out "plan: the NAS check is skipped, and why" "the NAS at .* is not checked: install.offline is true" cat "$T/plan.out"
expect_out "plan: the image comes from the stick, no download" "image $skey from $T/stick/$short, sha256 [0-9a-f]{12}\.\.\. as pinned: no download" cat "$T/plan.out"

# ---- install from the stick --------------------------------------------------------------------
"$APPLIANCE" install "${DEMO_ARGS[@]}" "${OFF[@]}" --state-dir "$T/s2" --image-dir "$T/stick" \
	--apply --unattended >"$T/install.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "offline install from the stick exits 0" || { not_ok "offline install from the stick exits 0 (got $rc)"; tail -20 "$T/install.out" | sed 's/^/#   /'; }
check "the Talos image is on the install disk" cmp -n $((1024 * 1024)) -i 1048576 \
	<(zstd -dc "$T/img/metal.raw.zst") "$DEMO_HW/dev/nvme0n1"
check "the stick's copy is unchanged" test "$(sha256sum "$T/stick/$name")" = "$stick_sum"
check "nothing was downloaded into the cache" test -z "$(ls -A "$T/s2/cache" 2>/dev/null)"
expect_out "the journal records the source" "source $T/stick/$short size [0-9]+" cat "$T/install.out"

