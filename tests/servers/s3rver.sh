# shellcheck shell=bash
# s3rver (npm) as a private S3-protocol server on 127.0.0.1 for tests.
# Source after tap.sh (needs $T, $ROOT and at_exit):
#   . "$ROOT/tests/servers/s3rver.sh"
#   s3rver_start BUCKET...   install s3rver once into build/s3rver (git-ignored, cached;
#                            `make s3rver` does the same), start it on a free port with the
#                            buckets; sets S3_PORT, S3_URL, S3_DIR, S3_PID; stops it in at_exit.
#                            Skips the whole test (exit 77) when it cannot be installed.
#   s3_put KEY [AGE [BODY]]  upload an object to bucket $S3_BUCKET (default: the first
#                            bucket) as KEY, dated AGE ago (`date -d` syntax, e.g. "26 hours";
#                            "" for now), holding BODY (default "object KEY")
# s3rver accepts the access key S3RVER (any secret); others get InvalidAccessKeyId.
S3RVER_HOME=${S3RVER_HOME:-$ROOT/build/s3rver}
S3RVER_BIN=$S3RVER_HOME/node_modules/.bin/s3rver

s3rver_install() {
	[ -x "$S3RVER_BIN" ] && return 0
	command -v npm >/dev/null 2>&1 || return 1
	mkdir -p "$S3RVER_HOME"
	(cd "$S3RVER_HOME" && npm install --no-audit --no-fund --silent --prefix . s3rver@3 >npm.log 2>&1) || return 1
	[ -x "$S3RVER_BIN" ]
}

s3rver_start() {
	s3rver_install || skip_all "s3rver could not be installed from npm (see $S3RVER_HOME/npm.log)"
	S3_DIR=$T/s3rver
	S3_BUCKET=$1
	mkdir -p "$S3_DIR/data"
	local args=() b
	for b in "$@"; do args+=(--configure-bucket "$b"); done
	"$S3RVER_BIN" -d "$S3_DIR/data" -a 127.0.0.1 -p 0 "${args[@]}" >"$S3_DIR/log" 2>&1 &
	S3_PID=$!
	at_exit "kill $S3_PID"
	for _ in $(seq 1 100); do
		S3_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$S3_DIR/log" 2>/dev/null | grep -o '[0-9]*$')
		[ -n "$S3_PORT" ] && break
		sleep 0.1
	done
	[ -n "$S3_PORT" ] || { cat "$S3_DIR/log"; return 1; }
	S3_URL=http://127.0.0.1:$S3_PORT
}

s3_put() {
	local key=$1 age=${2:-} f=$S3_DIR/.body
	printf '%s\n' "${3:-object $key}" >"$f"
	curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$f" "$S3_URL/$S3_BUCKET/$key" >/dev/null || return 1
	# s3rver reports the file's mtime as LastModified
	[ -n "$age" ] && touch -d "@$(($(date +%s) - $(date -d "1970-01-01 UTC + $age" +%s)))" \
		"$S3_DIR/data/$S3_BUCKET/$key._S3rver_object"
	return 0
}
