#!/usr/bin/env bash
# A clone stands on its own: `git clone` of the committed HEAD into a folder
# that has nothing beside it, with the original tree hidden (a private mount
# namespace mounts an empty tmpfs over it), and the schema checks run there:
# render (demo, immich) + tests/lib/k8s_validate.py, talos gen +
# tests/lib/talos_validate.py, each from the clone's own tests/schemas.
# Plus: no tracked script, Makefile, test or source refers to ../shared or
# /work/shared (folders a user's clone does not have).
# The binary is the one already built here, copied into the clone: it holds
# nothing of the outside (its defaults are compiled in), so building again
# would prove nothing more and cost minutes.
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT" || exit 1
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE (run make)"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || skip_all "$ROOT is not a git checkout (nothing to clone)"
command -v unshare >/dev/null || skip_all "no unshare (util-linux) to hide the original tree"
unshare -m true 2>/dev/null || unshare -rm true 2>/dev/null || skip_all "no mount namespaces here (unshare -m fails)"

# ---- no tracked file points outside the clone -----------------------------------
# Prose (*.md) may tell the story; nothing that runs may read there.
pat='(\.\./)+shared([/"'"'"' ]|$)|/work/(shared|main)'
if git grep -nIE "$pat" -- . ':!*.md' ':!tests/integration/standalone.sh' >"$T/refs" 2>&1; then
	not_ok "a tracked script/Makefile/test/source refers to ../shared or /work"
	sed 's/^/#   /' "$T/refs" | head -20
else
	ok "no tracked script, Makefile, test or source refers to ../shared or /work/{shared,main}"
fi
# the check can fail: a file that does refer to it is found by the same pattern
printf 'SCHEMAS=../shared/schemas\n' >"$T/bad.sh"
if grep -qE "$pat" "$T/bad.sh"; then ok "the pattern finds a reference to ../shared"; else not_ok "the pattern misses ../shared/schemas"; fi

# ---- the clone, alone ------------------------------------------------------------
ALONE=$T/alone
mkdir -p "$ALONE"
check "git clone of HEAD" git clone -q --no-hardlinks "$ROOT" "$ALONE/x"
X=$ALONE/x
if [ "$(ls -A "$ALONE")" = x ]; then ok "nothing exists beside the clone"; else not_ok "beside the clone: $(ls -A "$ALONE")"; fi
if [ "$(git -C "$X" rev-parse HEAD)" = "$(git rev-parse HEAD)" ]; then ok "the clone is at HEAD"; else not_ok "the clone is not at HEAD"; fi
cp "$APPLIANCE" "$X/installer/appliance"

# Run SCRIPT in the clone with the original tree hidden under an empty tmpfs
# and only the clone's paths in the environment.
cat >"$T/inside.sh" <<'EOF'
set -u
cd "$X" || exit 1
ok=0
A=./installer/appliance
$A render profiles/demo.yaml --out "$OUT/demo" >"$OUT/log" 2>&1 || { echo "render demo failed"; ok=1; }
$A render profiles/immich.yaml --out "$OUT/immich" >>"$OUT/log" 2>&1 || { echo "render immich failed"; ok=1; }
for p in demo immich; do
	(cd "$OUT/$p" && /usr/bin/python3 "$X/tests/lib/k8s_validate.py" --vars "$(find . -name cluster-settings.yaml)" \
		$(find . -name '*.yaml' | sort)) >"$OUT/k8s-$p" 2>&1 || { echo "k8s_validate $p failed"; ok=1; }
	echo "k8s $p: $(tail -1 "$OUT/k8s-$p")"
done
export APPLIANCE_DEMO_NAS_USER=u APPLIANCE_DEMO_NAS_PASSWORD=p APPLIANCE_DEMO_GIT_TOKEN=t APPLIANCE_DEMO_SOPS_KEY=k
export APPLIANCE_DEMO_OP_CREDENTIALS='{}' APPLIANCE_DEMO_OP_TOKEN=o APPLIANCE_DEMO_S3_ACCESS_KEY=a APPLIANCE_DEMO_S3_SECRET_KEY=s
$A talos secrets profiles/demo.yaml --out "$OUT/secrets.yaml" >>"$OUT/log" 2>&1 || { echo "talos secrets failed"; ok=1; }
for v in 10 11 12; do
	$A talos gen profiles/demo.yaml --set talos.version=v1.$v.3 --secrets "$OUT/secrets.yaml" --out "$OUT/t$v" >>"$OUT/log" 2>&1 ||
		{ echo "talos gen 1.$v failed"; ok=1; }
	/usr/bin/python3 tests/lib/talos_validate.py tests/schemas/talos $v "$OUT"/t$v/demo-*.yaml >"$OUT/talos-$v" 2>&1 ||
		{ echo "talos_validate 1.$v failed"; ok=1; }
	echo "talos 1.$v: $(grep -c '^ok ' "$OUT/talos-$v") files valid"
done
# the original tree really is out of reach
[ -e "$HIDDEN/Makefile" ] && { echo "the original tree is still visible"; ok=1; }
exit $ok
EOF
mkdir -p "$T/out"
if [ "$(id -u)" = 0 ]; then NS="unshare -m"; else NS="unshare -rm"; fi
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$T" X="$X" OUT="$T/out" HIDDEN="$ROOT" \
	$NS sh -c 'mount -t tmpfs none "$HIDDEN" && exec bash "$0"' "$T/inside.sh" >"$T/inside.out" 2>&1
rc=$?
sed 's/^/# /' "$T/inside.out"
if [ $rc -eq 0 ]; then ok "in the clone, with the original tree hidden: render + k8s_validate.py + talos gen + talos_validate.py pass"; else
	not_ok "schema checks in the lone clone (exit $rc)"; tail -20 "$T/out/log" 2>/dev/null | sed 's/^/#   /'; fi
for p in demo immich; do
	if grep -qE "^k8s $p: validated [1-9][0-9]* objects, 0 failed, 0 without schema" "$T/inside.out"; then
		ok "$p: the rendered documents were validated in the clone"
	else
		not_ok "$p: no validated documents reported"
	fi
done
if grep -q '^talos 1.12: 3 files valid' "$T/inside.out"; then ok "three Talos configs validated for 1.12"; else not_ok "talos 1.12 configs not validated"; fi

# and the same check fails when the clone lacks its schemas: the schemas it used were its own
rm -rf "$X/tests/schemas/talos"
if env -i PATH=/usr/bin:/bin /usr/bin/python3 "$X/tests/lib/talos_validate.py" "$X/tests/schemas/talos" 12 "$T"/out/t12/demo-1.yaml >"$T/gone" 2>&1; then
	not_ok "talos_validate.py passes without its schemas"
else
	ok "without tests/schemas/talos in the clone the Talos check fails (it reads the clone's own)"
fi
