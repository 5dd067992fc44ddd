#!/usr/bin/env bash
# Secrets in memory (issue 17, item 5): a file: secret must be a regular file under 1 MiB,
# opened without blocking: a FIFO is refused at once (it used to hang talos gen forever;
# every run here is under a timeout so a regression fails instead of hanging), /dev/zero is
# refused instead of read into memory, an oversized file is refused by its size; a symlink
# to a regular file still works. And no core dump can carry a secret: while appliance holds
# the S3 keys (a rebuild preflight listing a slow stand-in), its core limit is 0 and a fatal
# signal leaves no core file, where the same signal to an ordinary process leaves one.
. "$(dirname "$0")/../lib/tap.sh"

PROFILE=$ROOT/profiles/demo.yaml
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE"
command -v timeout >/dev/null || skip_all "timeout is missing"
"$APPLIANCE" talos secrets "$PROFILE" --out "$T/secrets.yaml" >"$T/secrets.out" 2>&1 ||
	skip_all "appliance talos secrets failed: $(cat "$T/secrets.out")"
FP=$(grep -o '[0-9a-f]\{64\}' "$T/secrets.out" | head -1)

# gen REF: talos gen with the git token read from REF, at most 30 s
gen() { timeout 30 "$APPLIANCE" talos gen "$PROFILE" --secrets "$T/secrets.yaml" --out "$T/gen" --set "secrets.gitToken=$1"; }
# refused DESC CODE REF EXACT-MESSAGE: exit CODE (2: not a file one can use, 1: too big),
# the message, no file written
refused() {
	local rc
	gen "$3" >"$T/.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$2" ] && grep -qxF -- "$4" "$T/.out" && [ -z "$(ls -A "$T/gen" 2>/dev/null)" ]; then
		ok "$1"
	else
		not_ok "$1 (exit $rc$([ "$rc" -eq 124 ] && echo ': hung, killed by timeout'))"
		echo "#   wanted: $4"
		sed 's/^/#   /' "$T/.out" | tail -5
	fi
}

mkfifo "$T/fifo"
refused "a FIFO as a file: secret is refused at once" 2 "file:$T/fifo" \
	"appliance: node 'demo-1': secret 'gitToken': '$T/fifo' is a FIFO, not a regular file; refusing to read it"
refused "/dev/zero as a file: secret is refused, not read" 2 "file:/dev/zero" \
	"appliance: node 'demo-1': secret 'gitToken': '/dev/zero' is a character device, not a regular file; refusing to read it"
truncate -s 2M "$T/big"
refused "a 2 MiB file: secret is refused by its size" 1 "file:$T/big" \
	"appliance: node 'demo-1': secret 'gitToken': '$T/big' is larger than 1.0 MiB; refusing to read it"
mkdir "$T/dir"
refused "a directory as a file: secret is refused" 2 "file:$T/dir" \
	"appliance: node 'demo-1': secret 'gitToken': '$T/dir' is a directory, not a regular file; refusing to read it"

printf 'ghp_notarealtoken\n' >"$T/token"
ln -s "$T/token" "$T/token-link"
export APPLIANCE_DEMO_NAS_USER=u APPLIANCE_DEMO_NAS_PASSWORD=p APPLIANCE_DEMO_SOPS_KEY=AGE-SECRET-KEY-1NOTREAL \
	APPLIANCE_DEMO_OP_CREDENTIALS='{}' APPLIANCE_DEMO_OP_TOKEN=x APPLIANCE_DEMO_S3_ACCESS_KEY=k APPLIANCE_DEMO_S3_SECRET_KEY=s
check "control: a regular file (through a symlink) is read" gen "file:$T/token-link"
rm -rf "$T/gen"

# a relative file: reference stays in the profile's folder (a profile from elsewhere must not
# pull /etc/shadow into a rendered Secret); an absolute path is the operator's own choice
mkdir -p "$T/site"
cp "$PROFILE" "$T/site/p.yaml"
cp "$T/token" "$T/site/tok"
timeout 30 "$APPLIANCE" talos gen "$T/site/p.yaml" --secrets "$T/secrets.yaml" --out "$T/gen-out" \
	--set 'secrets.gitToken=file:../../../../../../../etc/shadow' >"$T/esc.out" 2>&1
check "a relative file: secret leaving the profile's folder: exit 1" test $? -eq 1
expect_out "... refused with where it resolves to" \
	"^appliance: node 'demo-1': secret 'gitToken': file '../../../../../../../etc/shadow' resolves to '/etc/shadow', outside the profile's folder '$T/site': refused \(name it by an absolute path\)$" \
	cat "$T/esc.out"
check "... and no config carries it" bash -c "! grep -rqs 'root:' '$T/gen-out'"
check "control: a relative file: secret inside the folder is read" \
	timeout 30 "$APPLIANCE" talos gen "$T/site/p.yaml" --secrets "$T/secrets.yaml" --out "$T/gen-in" --set 'secrets.gitToken=file:tok'

# ---- no core dumps while secrets are held -----------------------------------------------
/usr/bin/python3 "$ROOT/tests/servers/s3_truncated.py" "$T/port" &
S3_PID=$!
at_exit "kill $S3_PID"
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
mkdir -p "$T/cwd" "$T/cwd-control"
# core_pattern here is 'core' (a file in the working directory) when this can be checked
pattern=$(cat /proc/sys/kernel/core_pattern)
(
	cd "$T/cwd" || exit 1
	ulimit -c unlimited
	APPLIANCE_DEMO_S3_ACCESS_KEY=k APPLIANCE_DEMO_S3_SECRET_KEY=canary-core-secret exec "$APPLIANCE" rebuild "$PROFILE" \
		--secrets "$T/secrets.yaml" --set "talos.caFingerprint=$FP" \
		--set "apps.immich.database.primary.endpoint=http://127.0.0.1:$(cat "$T/port")" \
		--set 'apps.immich.database.primary.destinationPath=s3://slow/${LOCATION}/immich/postgres/'
) >"$T/rebuild.out" 2>&1 &
RB=$!
at_exit "kill -9 $RB"
# wait until the listing runs (the stand-in has been asked for a page)
for _ in $(seq 1 100); do grep -q 'Max core file size' "/proc/$RB/limits" 2>/dev/null && [ -n "$(ls /proc/$RB/fd 2>/dev/null)" ] && break; sleep 0.1; done
sleep 1
check "while holding the S3 keys: the core file size limit is 0" \
	grep -qE '^Max core file size +0 +0 +bytes' "/proc/$RB/limits"
kill -SEGV "$RB"
wait "$RB" 2>/dev/null
check "a fatal signal while holding the S3 keys leaves no core file" test -z "$(ls -A "$T/cwd")"
if [ "$pattern" = core ]; then
	(cd "$T/cwd-control" && ulimit -c unlimited && exec sleep 30) &
	ctl=$!
	sleep 0.3
	kill -SEGV "$ctl"
	wait "$ctl" 2>/dev/null
	check "control: the same signal to an ordinary process leaves a core file" \
		test -n "$(ls -A "$T/cwd-control")"
else
	diag "core_pattern is '$pattern': the control (a core file from sleep) is not checked"
fi
