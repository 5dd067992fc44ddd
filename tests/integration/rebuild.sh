#!/usr/bin/env bash
# appliance rebuild: the preflight against a real S3-protocol server (s3rver
# from npm) holding a Barman layout, a real smbd for the NAS, and the site's own
# secrets bundle; every failure row stops before anything is written; --apply
# renders the recovery tree and bootstraps against the grpcio Talos API server.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/servers/s3rver.sh"
. "$ROOT/tests/lib/smbd.sh"
. "$ROOT/tests/lib/apid.sh"

PY=/usr/bin/python3
PROFILE=$ROOT/profiles/demo.yaml
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE"

# ---- the site: secrets bundle, S3 backups, NAS -------------------------------
"$APPLIANCE" talos secrets "$PROFILE" --out "$T/secrets.yaml" >"$T/secrets.out" 2>&1 ||
	skip_all "appliance talos secrets failed: $(cat "$T/secrets.out")"
FP=$(grep -o '[0-9a-f]\{64\}' "$T/secrets.out" | head -1)
"$APPLIANCE" talos secrets "$PROFILE" --out "$T/other-secrets.yaml" >/dev/null 2>&1

s3rver_start keiretsu
SRV=demo/immich/postgres/immich-postgres
DONE=$'backup_label=None\nbegin_time=2026-11-22 23:00:00\nstatus=DONE\nsystemid=7300000000000000001'
s3_put "$SRV/base/20261120T230000/backup.info" "4 days" "$DONE"
s3_put "$SRV/base/20261120T230000/data.tar" "4 days"
s3_put "$SRV/base/20261122T230000/backup.info" "26 hours" "$DONE"
s3_put "$SRV/base/20261122T230000/data.tar" "26 hours"
# the newest attempt failed: the preflight must not count it
s3_put "$SRV/base/20261123T230000/backup.info" "2 hours" $'status=FAILED\nerror=connection lost'
s3_put "$SRV/wals/0000000100000000/000000010000000000000001.gz" "4 days"
s3_put "$SRV/wals/0000000100000000/000000010000000000000002.gz" "26 hours"
s3_put "$SRV/wals/0000000100000000/000000010000000000000003.gz" "3 hours"
# a server with base backups but no WALs, and one whose only backup never finished
s3_put "demo/immich/postgres/nowal/base/20261122T230000/backup.info" "1 hour" "$DONE"
s3_put "demo/immich/postgres/unfinished/base/20261122T230000/backup.info" "1 hour" "status=STARTED"
s3_put "demo/immich/postgres/unfinished/wals/0000000100000000/000000010000000000000001.gz" "1 hour"
S3_BEFORE=$(cd "$S3_DIR/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)

smbd_init
smbd_nas_site
mkdir -p "$SMBD_SHARE_DIR/immich/library" && echo photo >"$SMBD_SHARE_DIR/immich/library/a.jpg"
mkdir -p "$SMBD_SHARE_DIR/emptylib" # a library folder with nothing in it
chown -R "$SMBD_NAS_USER" "$SMBD_SHARE_DIR"
smbd_start
# every path and every file's bytes (the preflight's write probe in the library
# folder is created and deleted again; only the folder's mtime shows it)
nas_hash() { (cd "$SMBD_SHARE_DIR" && find . -print0 | sort -z | xargs -0 -n1 sh -c \
	'if [ -f "$0" ]; then echo "$0 $(sha256sum <"$0")"; else echo "$0/"; fi' | sha256sum); }
NAS_BEFORE=$(nas_hash)

CANARY=canary-s3-secret-$$-$RANDOM
export APPLIANCE_DEMO_S3_ACCESS_KEY=S3RVER APPLIANCE_DEMO_S3_SECRET_KEY=$CANARY
SITE=(--set "talos.caFingerprint=$FP" --set "apps.immich.database.primary.endpoint=$S3_URL"
	--set "nas.port=$SMBD_PORT")
rb() { "$APPLIANCE" rebuild "$PROFILE" --secrets "$T/secrets.yaml" "${SITE[@]}" "$@"; }

# ---- the preflight passes and the plan is listed -----------------------------
expect_out "rebuild: secrets bundle is the site's" \
	'^  ok   secrets  bundle is this site.s: OS CA sha256 [0-9a-f]{16}\.\.\. matches talos.caFingerprint$' rb
expect_out "rebuild: newest base backup found with its age, WALs counted" \
	"^  ok   backups  s3://keiretsu/$SRV/: 3 base backups, newest completed 20261122T230000 \(1d 2h old\), 1 newer not completed \(20261123T230000: FAILED\); 3 WAL files, newest 000000010000000000000003\.gz \(3h 0m old\)$" rb
expect_out "rebuild: NAS photos folder listed" "^  ok   nas      photos: smb://127\.0\.0\.1:$SMBD_PORT/k8s/pics: listed [0-9]+ entries" rb
expect_out "rebuild: NAS library folder listed with its entries" "^  ok   nas      library: smb://127\.0\.0\.1:$SMBD_PORT/k8s/immich: listed [0-9]+ entries$" rb
# the preflight is read-only: not even a probe file is created (the folder's mtime would move)
LIB_MTIME=$(stat -c %Y.%y "$SMBD_SHARE_DIR/immich")
rb >/dev/null 2>&1
check "rebuild: the preflight writes nothing to the NAS (library folder mtime unchanged)" \
	test "$(stat -c %Y.%y "$SMBD_SHARE_DIR/immich")" = "$LIB_MTIME"
expect_out "rebuild: plan says the NAS is not touched" \
	"^    - NAS smb://127\.0\.0\.1:$SMBD_PORT/k8s: photos 'pics' and library 'immich' are re-attached as the same Retain volumes; nothing writes to them$" rb
expect_out "rebuild: plan says the S3 backups are only read" \
	"^    - S3 backups s3://keiretsu/$SRV/: only read; new backups go to s3://keiretsu/$SRV-recovery/$" rb
expect_out "rebuild: plan lists every node with the same secrets" \
	'^    - node demo-3 \(worker\): reinstall Talos on its install disk and wipe its Ceph disks \(the install flow\), machine config from the SAME secrets bundle$' rb
expect_out "rebuild: plan says where the database recovers from" \
	"^    - database: CNPG cluster [a-z0-9-]+ recovers from s3://keiretsu/$SRV/ \(newest base backup 20261122T230000, 1d 2h old\) and archives new backups under serverName immich-postgres-recovery$" rb
expect_out "rebuild: without --apply nothing changes" '^dry run: nothing was changed' rb
check "rebuild: dry run exits 0" rb

# ---- failure rows: each stops before anything is written ----------------------
OUT=$T/gitops
stops() { # DESC REGEX ARGS...: exit 1, the message, no rendered tree
	local d=$1 re=$2
	shift 2
	"$APPLIANCE" rebuild "$PROFILE" --secrets "${SECRETS:-$T/secrets.yaml}" "${SITE[@]}" --apply --out "$OUT" "$@" >"$T/.out" 2>&1
	local rc=$?
	if [ $rc -eq 1 ] && grep -qE -- "$re" "$T/.out" && grep -q "rebuild stopped before touching any disk" "$T/.out" &&
		[ ! -e "$OUT" ]; then
		ok "$d"
	else
		not_ok "$d (exit $rc)"
		sed 's/^/#   /' "$T/.out" | tail -8
	fi
}
FREE=$(smbd_free_port)
stops "rebuild: an empty NAS library folder stops the rebuild" \
	"^  FAIL nas      the NAS library folder is empty or was not read \(smb://127\.0\.0\.1:$SMBD_PORT/k8s/emptylib: listed 0 entries\); refusing to rebuild$" \
	--set nas.library=emptylib
stops "rebuild: empty prefix (no base backup) stops" \
	"^  FAIL backups  no base backup under s3://keiretsu/demo/immich/postgres/ghost/base/ \(no <id>/backup\.info\)$" \
	--set apps.immich.database.restoreSourceServer=ghost
stops "rebuild: no completed base backup stops" \
	"^  FAIL backups  no completed base backup under s3://keiretsu/demo/immich/postgres/unfinished/base/: the newest, 20261122T230000, has status STARTED \(want DONE\)$" \
	--set apps.immich.database.restoreSourceServer=unfinished
stops "rebuild: base backups without WALs stop" \
	"^  FAIL backups  base backups but no WAL files under s3://keiretsu/demo/immich/postgres/nowal/wals/: cannot recover$" \
	--set apps.immich.database.restoreSourceServer=nowal
APPLIANCE_DEMO_S3_ACCESS_KEY=NOT-A-KEY stops "rebuild: unknown access key stops" \
	"^  FAIL backups  $S3_URL: the access key is not known to the server \(HTTP 403 InvalidAccessKeyId\): check the credentials' secret$"
stops "rebuild: missing bucket stops" \
	"^  FAIL backups  $S3_URL: bucket 'nobucket' does not exist \(HTTP 404 NoSuchBucket\)$" \
	--set 'apps.immich.database.primary.destinationPath=s3://nobucket/${LOCATION}/immich/postgres/'
stops "rebuild: object store down stops" \
	"^  FAIL backups  http://127\.0\.0\.1:$FREE: cannot reach the object store \(" \
	--set "apps.immich.database.primary.endpoint=http://127.0.0.1:$FREE"
SECRETS=$T/other-secrets.yaml stops "rebuild: another site's secrets bundle stops" \
	"^  FAIL secrets  '$T/other-secrets\.yaml' is not this site's secrets bundle: its OS CA sha256 is [0-9a-f]{64}, the profile records $FP"
stops "rebuild: new server name equal to the source stops" \
	"^  FAIL backups  new backups would go under serverName 'immich-postgres', the archive being recovered from; pick another --server-name$" \
	--server-name immich-postgres
unset APPLIANCE_DEMO_S3_SECRET_KEY
stops "rebuild: missing object store credentials stop" \
	"^  FAIL backups  object store credentials: secret 's3SecretKey': environment variable 'APPLIANCE_DEMO_S3_SECRET_KEY' is not set$"
export APPLIANCE_DEMO_S3_SECRET_KEY=$CANARY
stops "rebuild: NAS down stops" "^  FAIL nas " --set "nas.port=$FREE"
SECRETS=$T/other-secrets.yaml stops "rebuild: every failed check is reported in one run" \
	"preflight failed: secrets, nas$" --set "nas.port=$FREE"
expect_rc_out "rebuild: a profile without caFingerprint cannot prove the bundle" 1 \
	"^  FAIL secrets  the profile records no talos\.caFingerprint" \
	"$APPLIANCE" rebuild "$PROFILE" --secrets "$T/secrets.yaml" --set "apps.immich.database.primary.endpoint=$S3_URL"
check "rebuild: the S3 store was never written" \
	test "$(cd "$S3_DIR/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)" = "$S3_BEFORE"

# ---- usage ------------------------------------------------------------------------
expect_fail "rebuild: --secrets is required" 2 "$APPLIANCE" rebuild "$PROFILE"
expect_fail "rebuild: unknown option" 2 "$APPLIANCE" rebuild "$PROFILE" --secrets x --bogus
expect_fail "rebuild: --node without --apply" 2 "$APPLIANCE" rebuild "$PROFILE" --secrets x --node demo-1
expect_rc_out "rebuild: --help" 0 '^usage: appliance rebuild PROFILE --secrets FILE' "$APPLIANCE" rebuild --help

# ---- --apply: recovery tree and bootstrap with the same secrets -----------------
# the first control plane's Talos API, its server certificate from the bundle's OS CA
apid_start "$T/secrets.yaml"
APID=$(cat "$T/apid.port")

expect_rc_out "rebuild --apply: renders the recovery tree" 0 '^render: [0-9]+ files in .*gitops \([0-9]+ written\), database in recovery mode$' \
	rb --apply --out "$OUT" --endpoint "127.0.0.1:$APID" --kubeconfig "$T/kubeconfig" --wait 20s
check "rebuild --apply: the database recovers from the old serverName" \
	grep -rq 'serverName: immich-postgres$' "$OUT"
check "rebuild --apply: new backups go under the new serverName" \
	grep -rq 'serverName: immich-postgres-recovery$' "$OUT"
check "rebuild --apply: the Cluster bootstraps by recovery" grep -rq 'recovery:' "$OUT"
check "rebuild --apply: the SMB volumes are Retain volumes (the NAS data outlives the cluster)" \
	test "$(grep -rl 'persistentVolumeReclaimPolicy: Retain' "$OUT" | wc -l)" -ge 1
check "rebuild --apply: bootstrapped with the same secrets, kubeconfig 0600" \
	test "$(grep -c '^Bootstrap' "$T/apid/calls")" = 1 -a "$(stat -c %a "$T/kubeconfig")" = 600
check "rebuild --apply: the NAS tree is unchanged" test "$(nas_hash)" = "$NAS_BEFORE"
check "rebuild --apply: the S3 store is unchanged" \
	test "$(cd "$S3_DIR/data" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)" = "$S3_BEFORE"
expect_rc_out "rebuild --apply: a re-run is safe (already bootstrapped)" 0 '^etcd: already bootstrapped$' \
	rb --apply --out "$OUT" --endpoint "127.0.0.1:$APID" --kubeconfig "$T/kubeconfig" --wait 20s
rb --apply --out "$OUT" --endpoint "127.0.0.1:$APID" --kubeconfig "$T/kubeconfig" --wait 20s >"$T/all.out" 2>&1
APPLIANCE_DEMO_S3_ACCESS_KEY=NOT-A-KEY rb >>"$T/all.out" 2>&1
check "rebuild: the S3 secret key never appears in the output or the rendered tree" \
	bash -c "! grep -rqF -- '$CANARY' '$T/all.out' '$OUT'"

# ---- --json (issue 20): the result object on stdout, the text on stderr ------------------
rb --json >"$T/rb.json" 2>"$T/rb.err"
check "rebuild --json (plan): exit 0" test $? -eq 0
json_check "rebuild --json: preflight rows, backups, fingerprint, apply false" "$T/rb.json" \
	"d['command'] == 'rebuild' and d['ok'] and d['exit'] == 0 and d['apply'] is False and d['caFingerprint'] == '$FP' and [r['check'] for r in d['preflight']] == ['secrets', 'backups', 'nas', 'nas'] and all(r['status'] == 'ok' for r in d['preflight']) and d['baseBackups'] == 3 and d['newServerName'] == 'immich-postgres-recovery'"
check "rebuild --json: the text report went to stderr" grep -q '^preflight:' "$T/rb.err"
rb --json --set "nas.port=$FREE" >"$T/rbf.json" 2>/dev/null
check "rebuild --json, NAS down: exit 1" test $? -eq 1
json_check "rebuild --json failure: valid JSON, the failed row and the error" "$T/rbf.json" \
	"not d['ok'] and d['exit'] == 1 and 'preflight failed: nas' in d['error'] and [r['status'] for r in d['preflight'] if r['check'] == 'nas'] == ['FAIL']"
"$APPLIANCE" rebuild "$PROFILE" --json >"$T/rbu.json" 2>/dev/null
json_check "rebuild --json usage error: valid JSON, exit 2" "$T/rbu.json" "d['exit'] == 2 and '--secrets' in d['error']"
check "rebuild --json: the S3 secret key is not in it" bash -c "! grep -qF -- '$CANARY' '$T/rb.json' '$T/rbf.json'"
