#!/usr/bin/env bash
# appliance rebuild's S3 listing is bounded (issue 17, item 4): against a stand-in whose
# ListObjectsV2 says IsTruncated on every page (tests/servers/s3_truncated.py), the preflight
# stops with the exact reason instead of following the chain forever: a continuation token
# handed out twice (stuck on one token, or a cycle of two), and an endless chain of new
# tokens (the default page bound), in bounded memory. The byte, key and time bounds are
# exercised with small limits in tests/unit/net/test_s3.c against the same stand-in.
. "$(dirname "$0")/../lib/tap.sh"

PY=/usr/bin/python3
PROFILE=$ROOT/profiles/demo.yaml
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE"

"$APPLIANCE" talos secrets "$PROFILE" --out "$T/secrets.yaml" >"$T/secrets.out" 2>&1 ||
	skip_all "appliance talos secrets failed: $(cat "$T/secrets.out")"
FP=$(grep -o '[0-9a-f]\{64\}' "$T/secrets.out" | head -1)

"$PY" "$ROOT/tests/servers/s3_truncated.py" "$T/port" &
S3_PID=$!
at_exit "kill $S3_PID"
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$T/port")
SRV=demo/immich/postgres/immich-postgres/
export APPLIANCE_DEMO_S3_ACCESS_KEY=k APPLIANCE_DEMO_S3_SECRET_KEY=not-a-real-secret

# listed BUCKET: the rebuild preflight against s3://BUCKET/...; max RSS (KiB) in $T/rss
listed() {
	/usr/bin/time -f '%M' -o "$T/rss" "$APPLIANCE" rebuild "$PROFILE" --secrets "$T/secrets.yaml" \
		--set "talos.caFingerprint=$FP" --set "apps.immich.database.primary.endpoint=$URL" \
		--set "apps.immich.database.primary.destinationPath=s3://$1/\${LOCATION}/immich/postgres/"
}

expect_rc_out "a continuation token repeated on every page: the listing stops at the second page" 1 \
	"^  FAIL backups  $URL: listing s3://repeat/$SRV: the server handed out continuation token 'stuck-token' twice \(pages 1 and 2\); refusing to go round in circles$" \
	listed repeat
expect_rc_out "a cycle of two tokens: the listing stops when the first comes back" 1 \
	"^  FAIL backups  $URL: listing s3://cycle/$SRV: the server handed out continuation token 'a' twice \(pages 1 and 3\); refusing to go round in circles$" \
	listed cycle
expect_rc_out "an endless chain of new tokens: the listing stops at the page bound" 1 \
	"^  FAIL backups  $URL: listing s3://endless/$SRV: still truncated after 2000 pages; giving up$" \
	listed endless
rss=$(tail -1 "$T/rss")
if [ "${rss:-999999}" -lt 102400 ]; then
	ok "the endless listing stayed under 100 MiB (max RSS ${rss} KiB)"
else
	not_ok "the endless listing used ${rss} KiB"
fi
expect_fail "the stopped preflight exits 1" 1 listed endless
