#!/usr/bin/env bash
# iso/init's secrets.env loader (the stick's appliance/secrets.env and a PXE payload's
# secrets.env), run in busybox sh as the live system runs it:
#   - lines are read literally (a value is never run as shell);
#   - only the names the effective profile's env: secrets reference are set (env_names
#     asks `appliance config`, so overlays such as a payload's secrets.yaml count);
#   - names the shell, the loader, a library or appliance itself reads (PATH, LD_PRELOAD,
#     IFS, BASH_ENV, APPLIANCE_HW_ROOT, ...) are never set, even when the profile names them;
#   - every env: name the shipped profiles and the docs use still gets through.
# The boot itself is in tests/e2e/iso_*.sh and pxe_*.sh (QEMU).
. "$(dirname "$0")/../lib/tap.sh"

P=$ROOT/profiles/demo.yaml
for f in env_names env_reserved load_env; do
	sed -n "/^$f() {/,/^}/p" "$ROOT/iso/init" >>"$T/init_env.sh"
	check "iso/init has $f" grep -q "^$f() {" "$T/init_env.sh"
done
mkdir -p "$T/bin"
ln -s "$APPLIANCE" "$T/bin/appliance"
# run_init OUT SCRIPT-LINES...: the init's functions in busybox sh with the built appliance
# on PATH; stdout and say lines go to OUT
run_init() {
	local out=$1
	shift
	{
		echo 'say() { echo "say: $*"; }'
		echo ". '$T/init_env.sh'"
		printf '%s\n' "$@"
	} >"$T/run.sh"
	env -i PATH="$T/bin:/usr/bin:/bin" busybox sh "$T/run.sh" >"$out" 2>&1
}

# ---- literal (it used to source the file as shell) ----
# shellcheck disable=SC2016 # the $(...) and ` are the attack: they must stay text
printf '%s\n' '# comment' '' 'PLAIN=v1' 'CMD=$(touch '"$T"'/pwned1)' 'TICK=`touch '"$T"'/pwned2`' \
	'SEMI=x; touch '"$T"'/pwned3' 'QUOTED="a b"' 'SPACES=a b  c' 'EQ=a=b' '1BAD=x' 'BAD-KEY=y' 'PATH=/nonexistent-not-really' >"$T/evil.env"
# shellcheck disable=SC2016 # expanded by busybox sh
run_init "$T/env.out" "load_env '$T/evil.env' 'PLAIN CMD TICK SEMI QUOTED SPACES EQ PATH'" \
	'echo "path=$PATH"' 'export PATH=/usr/bin:/bin' \
	'printf "%s|" "$PLAIN" "$CMD" "$TICK" "$SEMI" "$QUOTED" "$SPACES" "$EQ"; echo'
check "secrets.env: no command in a value ran" test ! -e "$T/pwned1" -a ! -e "$T/pwned2" -a ! -e "$T/pwned3"
# shellcheck disable=SC2016
expect_out "secrets.env: values are taken literally" '^v1\|\$\(touch [^|]*/pwned1\)\|`touch [^|]*/pwned2`\|x; touch [^|]*/pwned3\|"a b"\|a b  c\|a=b\|$' cat "$T/env.out"
expect_out "secrets.env: a key that is no variable name is ignored, with its line" 'say: .*evil.env line 10: expected KEY=VALUE' cat "$T/env.out"
expect_out "secrets.env: PATH is refused even when listed as a name, with its line" \
	"^say: APPLIANCE: $T/evil.env line 12: 'PATH' steers the live system \(shell, loader, libraries, appliance\), never a secret; line ignored$" cat "$T/env.out"
expect_out "secrets.env: PATH unchanged" "^path=$T/bin:/usr/bin:/bin$" cat "$T/env.out"

# ---- only the profile's env: names ----
grep -o 'env:APPLIANCE_DEMO_[A-Z0-9_]*' "$P" | cut -d: -f2 | sort >"$T/demo-names.want"
check "the demo profile names 8 env: secrets" test "$(wc -l <"$T/demo-names.want")" -eq 8
run_init "$T/names.out" "PROFILE='$P' PARGS=''" 'env_names'
tr ' ' '\n' <"$T/names.out" | sed '/^$/d' | sort >"$T/demo-names.got"
check "env_names: exactly the demo profile's env: names" diff "$T/demo-names.want" "$T/demo-names.got"
# a payload's overlay (as appliance pxe writes it) moves a secret to APPLIANCE_PXE_SECRET_1
printf '%s\n' "# secrets delivered with this node's payload (appliance pxe)" 'secrets:' \
	'  nasPassword: env:APPLIANCE_PXE_SECRET_1' >"$T/secrets.yaml"
run_init "$T/names-pxe.out" "PROFILE='$P' PARGS='--site $T/secrets.yaml'" 'env_names'
expect_out "env_names: a payload's overlay names APPLIANCE_PXE_SECRET_1" '(^| )APPLIANCE_PXE_SECRET_1 ' cat "$T/names-pxe.out"
check "env_names: ... and no longer the secret it replaced" bash -c "! grep -q APPLIANCE_DEMO_NAS_PASSWORD '$T/names-pxe.out'"
run_init "$T/names-none.out" "PROFILE='' PARGS=''" 'env_names' 'echo "[end]"'
expect_out "env_names: no profile, no name" '^\[end\]$' cat "$T/names-none.out"

# a stick's secrets.env that tries to steer the live system
printf '%s\n' 'LD_PRELOAD=/mnt/stick/evil.so' 'BASH_ENV=/mnt/stick/evil.sh' 'ENV=/mnt/stick/evil.sh' \
	'IFS=x' 'PATH=/mnt/stick/bin' 'APPLIANCE_HW_ROOT=/mnt/stick/fake-sys' 'APPLIANCE_LIVE_DISK=/dev/null' \
	'UNDECLARED=u' 'APPLIANCE_DEMO_NAS_USER=nas-user' 'APPLIANCE_DEMO_NAS_PASSWORD=nas-pw' >"$T/steer.env"
# shellcheck disable=SC2016 # expanded by busybox sh
show='for v in LD_PRELOAD BASH_ENV ENV APPLIANCE_HW_ROOT APPLIANCE_LIVE_DISK UNDECLARED APPLIANCE_DEMO_NAS_USER APPLIANCE_DEMO_NAS_PASSWORD; do eval "echo $v=\${$v-unset}"; done; echo "path=$PATH"; printf "ifs=%s\n" "$IFS" | od -An -c | tr -d " \n"; echo'
run_init "$T/steer.out" "PROFILE='$P' PARGS=''" "load_env '$T/steer.env' \"\$(env_names)\"" "$show"
expect_out "steer: the profile's secrets are set" '^APPLIANCE_DEMO_NAS_USER=nas-user$' cat "$T/steer.out"
expect_out "steer: ... both of them" '^APPLIANCE_DEMO_NAS_PASSWORD=nas-pw$' cat "$T/steer.out"
for v in LD_PRELOAD BASH_ENV ENV APPLIANCE_HW_ROOT APPLIANCE_LIVE_DISK UNDECLARED; do
	expect_out "steer: $v is not set" "^$v=unset$" cat "$T/steer.out"
done
expect_out "steer: PATH unchanged" "^path=$T/bin:/usr/bin:/bin$" cat "$T/steer.out"
expect_out "steer: IFS unchanged (blank, tab, newline)" '^ifs=\\t\\n\\n$' cat "$T/steer.out"
expect_out "steer: LD_PRELOAD refused with its line" \
	"^say: APPLIANCE: $T/steer.env line 1: 'LD_PRELOAD' steers the live system \(shell, loader, libraries, appliance\), never a secret; line ignored$" cat "$T/steer.out"
expect_out "steer: an undeclared name refused with its line" \
	"^say: APPLIANCE: $T/steer.env line 8: 'UNDECLARED' is no env: secret of the profile; line ignored$" cat "$T/steer.out"
expect_out "steer: 8 lines refused, each reported" '^8$' grep -c 'line ignored$' "$T/steer.out"
check "steer: no value in any message" bash -c "! grep '^say:' '$T/steer.out' | grep -qE 'evil|fake-sys|/dev/null|nas-pw|nas-user|=u'"

# a profile that names a steering variable as a secret does not make it settable
run_init "$T/named.out" "PROFILE='$P' PARGS='--set secrets.nasPassword=env:LD_PRELOAD'" \
	"load_env '$T/steer.env' \"\$(env_names)\"" "$show"
expect_out "named by the profile: env_names did see env:LD_PRELOAD" "line 1: 'LD_PRELOAD' steers" cat "$T/named.out"
expect_out "named by the profile: LD_PRELOAD still not set" '^LD_PRELOAD=unset$' cat "$T/named.out"

# ---- what appliance and iso/init read is reserved; every documented secret name is not ----
# (every getenv("NAME") of the program and every variable iso/init exports)
{
	grep -rhoE 'getenv\("[A-Za-z_][A-Za-z0-9_]*"\)' "$ROOT/installer" | sed 's/getenv("\(.*\)")/\1/'
	grep -oE '^[[:space:]]*export [A-Z_][A-Z0-9_]*' "$ROOT/iso/init" | awk '{print $2}'
} | sort -u >"$T/reserved.want"
check "found the program's own variables (APPLIANCE_STATE_DIR among them)" grep -qx APPLIANCE_STATE_DIR "$T/reserved.want"
run_init "$T/reserved.out" "for k in $(tr '\n' ' ' <"$T/reserved.want"); do env_reserved \$k || echo \"not reserved: \$k\"; done" 'echo "[end]"'
check "every variable appliance or iso/init reads is reserved" bash -c "! grep 'not reserved' '$T/reserved.out' && grep -q '^\[end\]$' '$T/reserved.out'"
grep -rhoE 'env:[A-Za-z_][A-Za-z0-9_]*' "$ROOT/profiles" "$ROOT/docs" "$ROOT/README.md" | cut -d: -f2 | sort -u >"$T/documented"
echo APPLIANCE_PXE_SECRET_1 >>"$T/documented"
check "found the documented names (UNAS_PASSWORD among them)" grep -qx UNAS_PASSWORD "$T/documented"
run_init "$T/documented.out" "for k in $(tr '\n' ' ' <"$T/documented"); do env_reserved \$k && echo \"reserved: \$k\"; done" 'echo "[end]"'
check "no documented secret name is reserved" bash -c "! grep 'reserved:' '$T/documented.out' && grep -q '^\[end\]$' '$T/documented.out'"
