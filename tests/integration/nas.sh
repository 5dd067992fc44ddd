#!/usr/bin/env bash
# appliance nas check / prepare against real smbd servers on 127.0.0.1 (private
# configs, high ports): the happy path with the photos tree hashed before and
# after, every failure row with its exact message, and prepare run twice.
. "$(dirname "$0")/../lib/tap.sh"
. "$ROOT/tests/lib/smbd.sh"

[ -x /usr/sbin/smbd ] || skip_all "smbd not installed (package samba)"
[ -x "$APPLIANCE" ] || skip_all "no $APPLIANCE (make first)"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (smbd user, loop device)"

PROFILE=$ROOT/profiles/demo.yaml

# expect_line DESC CODE LINE CMD...: CMD exits CODE and prints LINE exactly (a whole line).
expect_line() {
	local d=$1 code=$2 line=$3 rc
	shift 3
	"$@" >"$T/.out" 2>&1
	rc=$?
	cp "$T/.out" "$T/last.out"
	if [ "$rc" -eq "$code" ] && grep -qxF -- "$line" "$T/.out"; then
		ok "$d"
	else
		not_ok "$d (exit $rc, wanted $code)"
		echo "#   wanted line: $line"
		sed 's/^/#   /' "$T/.out" | tail -20
	fi
}

# saw DESC LINE: the output of the last expect_line holds LINE exactly.
saw() {
	if grep -qxF -- "$2" "$T/last.out"; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   wanted line: $2"
		sed 's/^/#   /' "$T/last.out" | tail -20
	fi
}
# saw_re DESC REGEX: the same with an extended regular expression.
saw_re() {
	if grep -qE -- "$2" "$T/last.out"; then ok "$1"; else
		not_ok "$1 (no match for /$2/)"
		sed 's/^/#   /' "$T/last.out" | tail -20
	fi
}

# A tree's names, types, modes, sizes, mtimes and contents as one hash.
tree_hash() {
	(
		cd "$1" && find . -printf '%p %y %m %s %T@\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	) | sha256sum | cut -d' ' -f1
}

# ---- the site: share k8s (pics + immich) and variants ------------------------
smbd_init
smbd_nas_site
K8S=$SMBD_SHARE_DIR
U=$SMBD_NAS_USER
# a probe an interrupted run left an hour ago, and one a concurrent run owns now
touch -d '-1 hour' "$K8S/immich/.appliance-probe-1-5f00-1"
touch "$K8S/immich/.appliance-probe-2-5f00-2"
chown "$U" "$K8S/immich"/.appliance-probe-*
touch "$K8S/photos.txt"
chown "$U" "$K8S/photos.txt"
# the same tree exported read-only
smbd_share k8sro "$K8S" 'read only = yes'
# immich is a directory the user may not write
LOCKED=$SMBD_DIR/locked
mkdir -p "$LOCKED/pics" "$LOCKED/immich"
cp -a "$K8S/pics/." "$LOCKED/pics/"
chown -R "$U" "$LOCKED"
chmod 0555 "$LOCKED/immich"
smbd_share locked "$LOCKED"
# a share on a tiny ext4 filesystem that is full
FULL=$SMBD_DIR/full
mkdir -p "$FULL"
truncate -s 8M "$T/full.img"
mkfs.ext4 -q -F "$T/full.img"
LOOP=$(losetup -f --show "$T/full.img") || skip_all "no loop device"
at_exit "losetup -d $LOOP"
mount "$LOOP" "$FULL"
at_exit "umount $FULL"
mkdir -p "$FULL/pics" "$FULL/immich"
cp -a "$K8S/pics/." "$FULL/pics/"
dd if=/dev/zero of="$FULL/filler" bs=64k 2>/dev/null
chown -R "$U" "$FULL"
smbd_share full "$FULL"
# a share this user may not use
smbd_share private "$K8S" 'valid users = nobody'
smbd_start || {
	not_ok "smbd starts"
	exit 1
}
P=$SMBD_PORT
URL=smb://127.0.0.1:$P
# the demo declares 1Gi, which its share holds; 2Ti here makes the capacity row warn
nas() { "$APPLIANCE" nas "$1" "$PROFILE" --set "nas.port=$P" --set nas.capacity=2Ti "${@:2}"; }

# ---- happy path ---------------------------------------------------------------
before=$(tree_hash "$K8S/pics")
expect_line "check: all required checks pass" 0 "result: pass (0 failed, 1 warning)" nas check
for l in "ok    tcp            127.0.0.1:$P accepts connections" \
	"ok    protocol       127.0.0.1:$P: negotiated SMB3 or newer" \
	"ok    credentials    127.0.0.1:$P accepted the credentials" \
	"ok    share          $URL/k8s exists" \
	"ok    photos         $URL/k8s/pics is a directory" \
	"ok    library        $URL/k8s/immich is a directory" \
	"ok    photos-read    $URL/k8s/pics: listed 4 entries, read 27 bytes of 'IMG_0001.jpg'" \
	"ok    library-read   $URL/k8s/immich: listed 2 entries"; do
	saw "check row: ${l:6:14}" "$l"
done
saw "check: write probe, stale probe removed" \
	"ok    library-write  $URL/k8s/immich: created, wrote, read back, renamed and deleted a probe file; removed 1 stale probe"
saw_re "check: free space against nas.minFree" "^ok    free-space     $URL/k8s/immich: .* free of .* \(minimum 1Mi\)$"
cp "$T/last.out" "$T/happy.out"
if [ ! -e "$K8S/immich/.appliance-probe-1-5f00-1" ] && [ -e "$K8S/immich/.appliance-probe-2-5f00-2" ] &&
	[ "$(ls -A "$K8S/immich" | grep -c '^\.appliance-probe-')" -eq 1 ]; then
	ok "check: the stale probe is gone, a fresh one (another run's) and nothing else is left"
else
	not_ok "check: probes left: $(ls -A "$K8S/immich")"
fi
[ "$(tree_hash "$K8S/pics")" = "$before" ] && ok "check: pics tree byte-identical after the run" ||
	not_ok "check: pics tree changed"
if grep -q "$APPLIANCE_DEMO_NAS_PASSWORD" "$T/happy.out"; then not_ok "check: password printed"; else ok "check: password never printed"; fi

nas check --json >"$T/check.json" 2>"$T/check.err"
rc=$?
if [ "$rc" -eq 0 ] && /usr/bin/python3 - "$T/check.json" <<'EOF'; then ok "check --json parses: pass, 11 checks, capacity warns"; else not_ok "check --json (exit $rc)"; sed 's/^/#   /' "$T/check.json" "$T/check.err"; fi
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pass"] is True and d["share"] == "k8s" and d["server"] == "127.0.0.1"
ids = [c["id"] for c in d["checks"]]
assert ids == ["tcp", "protocol", "credentials", "share", "photos", "library", "photos-read",
               "library-read", "library-write", "free-space", "capacity"], ids
st = {c["id"]: c["status"] for c in d["checks"]}
assert st["capacity"] == "warn" and all(v == "ok" for k, v in st.items() if k != "capacity"), st
assert all(c["detail"] for c in d["checks"])
EOF
[ "$(tree_hash "$K8S/pics")" = "$before" ] && ok "check --json: pics tree still byte-identical" ||
	not_ok "check --json: pics tree changed"

# ---- failure rows --------------------------------------------------------------
expect_line "wrong password: credentials fail" 1 \
	"fail  credentials    $URL/k8s: the server refused the credentials: permission denied" \
	env APPLIANCE_DEMO_NAS_PASSWORD=not-the-password "$APPLIANCE" nas check "$PROFILE" --set "nas.port=$P"
expect_line "wrong password: hint names the secrets, not their values" 1 \
	"                     hint: check the values of the secrets 'nasUsername' (env:APPLIANCE_DEMO_NAS_USER) and 'nasPassword' (env:APPLIANCE_DEMO_NAS_PASSWORD)" \
	env APPLIANCE_DEMO_NAS_PASSWORD=not-the-password "$APPLIANCE" nas check "$PROFILE" --set "nas.port=$P"
saw "wrong password: later checks skipped" "skip  share          skipped: credentials failed"
expect_line "unset password secret" 1 \
	"fail  credentials    secret 'nasPassword': environment variable 'APPLIANCE_DEMO_NAS_PASSWORD' is not set" \
	env -u APPLIANCE_DEMO_NAS_PASSWORD "$APPLIANCE" nas check "$PROFILE" --set "nas.port=$P"
expect_line "unknown share" 1 "fail  share          $URL/nope: no such share on 127.0.0.1:$P" \
	nas check --set nas.share=nope
saw "unknown share: hint lists the shares" "                     hint: check nas.share; the server offers: k8s, k8sro, locked, full, private"
expect_line "share that refuses the user" 1 "fail  share          $URL/private: the user may not access the share: permission denied" \
	nas check --set nas.share=private
saw "share that refuses the user: the credentials themselves are fine" "ok    credentials    127.0.0.1:$P accepted the credentials"
expect_line "missing pics" 1 \
	"fail  photos         $URL/k8s/nopics: not found (expected the photos folder, nas.photos)" \
	nas check --set nas.photos=nopics
saw "missing pics: photos-read skipped, library still checked" "skip  photos-read    skipped: photos failed"
expect_line "photos is a file" 1 \
	"fail  photos         $URL/k8s/photos.txt: not a directory (expected the photos folder, nas.photos)" \
	nas check --set nas.photos=photos.txt
expect_line "immich read-only (share read only = yes)" 1 \
	"fail  library-write  $URL/k8sro/immich: cannot create a file: permission denied" \
	nas check --set nas.share=k8sro
expect_line "immich read-only (directory without write permission)" 1 \
	"fail  library-write  $URL/locked/immich: cannot create a file: permission denied" \
	nas check --set nas.share=locked
[ -z "$(ls -A "$LOCKED/immich")" ] && ok "read-only: nothing left behind" || not_ok "read-only: left $(ls -A "$LOCKED/immich")"
expect_line "disk full: the write probe fails" 1 \
	"fail  library-write  $URL/full/immich: cannot write a file: no space left on device" \
	nas check --set nas.share=full
saw "disk full: free space below nas.minFree" "fail  free-space     $URL/full/immich: 0 B free, below the minimum 1Mi (nas.minFree)"
saw_re "disk full: capacity warns" \
	"^warn  capacity       $URL/full: the share holds [0-9.]+ MiB in total, less than the 2Ti the volumes declare \(nas.capacity\)$"
[ -z "$(ls -A "$FULL/immich")" ] && ok "disk full: no probe left behind" || not_ok "disk full: left $(ls -A "$FULL/immich")"

# ---- prepare ---------------------------------------------------------------------
LIB=$K8S/immich
mkdir -p "$LIB/upload"
printf keep >"$LIB/upload/.immich"
chown -R "$U" "$LIB"
expect_line "prepare: dry run lists the layout" 0 "10 to create; run with --apply to create them" nas prepare
saw "prepare: dry run shows a marker" "would create  $URL/k8s/immich/thumbs/.immich"
saw "prepare: an existing marker is left alone" "exists        $URL/k8s/immich/upload/.immich"
[ ! -e "$LIB/library" ] && ok "prepare: dry run changes nothing" || not_ok "prepare: dry run created files"
expect_line "prepare --apply creates the layout" 0 "10 created" nas prepare --apply
ok_layout=1
for f in library upload thumbs encoded-video profile backups; do
	[ -d "$LIB/$f" ] && [ -f "$LIB/$f/.immich" ] || ok_layout=0
done
[ "$ok_layout" = 1 ] && ok "prepare: six folders, each with its .immich marker" || not_ok "prepare: layout $(find "$LIB")"
grep -qxE '[0-9]{13}' "$LIB/thumbs/.immich" && ok "prepare: marker holds a millisecond timestamp" ||
	not_ok "prepare: marker content '$(cat "$LIB/thumbs/.immich")'"
[ "$(cat "$LIB/upload/.immich")" = keep ] && ok "prepare: existing marker not overwritten" ||
	not_ok "prepare: existing marker overwritten"
snap=$(tree_hash "$LIB")
expect_line "prepare --apply again: nothing to do" 0 "nothing to do: the Immich layout is complete" \
	nas prepare --apply
[ "$(tree_hash "$LIB")" = "$snap" ] && ok "prepare: second run changed nothing" || not_ok "prepare: second run changed the tree"
nas prepare --json >"$T/prep.json" 2>"$T/prep.err"
if /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] and not d["apply"] and d["changes"] == 0 and len(d["steps"]) == 13, d
assert all(s["state"] == "exists" for s in d["steps"])
' "$T/prep.json"; then ok "prepare --json parses"; else not_ok "prepare --json"; sed 's/^/#   /' "$T/prep.json"; fi
expect_line "prepare: a missing library folder is part of the plan" 0 "13 to create; run with --apply to create them" \
	nas prepare --set nas.library=fresh
saw "prepare: the library folder itself first" "would create  $URL/k8s/fresh/"
[ ! -e "$K8S/fresh" ] && ok "prepare: that dry run created nothing" || not_ok "prepare: dry run created $K8S/fresh"
mkdir -p "$K8S/immich2"
touch "$K8S/immich2/thumbs"
chown -R "$U" "$K8S/immich2"
expect_line "prepare: a file where a folder belongs is an error" 1 \
	"appliance: $URL/k8s/immich2/thumbs: exists and is not a directory; not touching it" \
	nas prepare --apply --set nas.library=immich2
[ -f "$K8S/immich2/thumbs" ] && [ ! -s "$K8S/immich2/thumbs" ] && ok "prepare: that file is untouched" ||
	not_ok "prepare: file touched"
expect_line "prepare on a read-only share fails with the path" 1 \
	"appliance: $URL/k8sro/immich3: cannot create the directory: permission denied" \
	nas prepare --apply --set nas.share=k8sro --set nas.library=immich3
[ "$(tree_hash "$K8S/pics")" = "$before" ] && ok "pics tree byte-identical after every run" || not_ok "pics tree changed"

# ---- server down ---------------------------------------------------------------------
smbd_stop
expect_line "server down: connection refused" 1 "fail  tcp            cannot connect to 127.0.0.1:$P: connection refused (1 attempt)" \
	nas check --set nas.retries=0
expect_line "server down: bounded retries from the profile" 1 \
	"fail  tcp            cannot connect to 127.0.0.1:$P: connection refused (3 attempts)" nas check
expect_line "server down: prepare fails with the reason" 1 \
	"appliance: cannot connect to 127.0.0.1:$P: connection refused (1 attempt)" nas prepare --set nas.retries=0

# ---- SMB1-only server -----------------------------------------------------------------
smbd_init smb1
smbd_global 'server max protocol = NT1'
mkdir -p "$SMBD_DIR/k8s/pics" "$SMBD_DIR/k8s/immich"
chown -R "$U" "$SMBD_DIR/k8s"
smbd_user "$U" "$APPLIANCE_DEMO_NAS_PASSWORD"
smbd_share k8s "$SMBD_DIR/k8s"
smbd_start || not_ok "smb1 smbd starts"
P=$SMBD_PORT
expect_line "SMB1-only server refused" 1 \
	"fail  protocol       smb://127.0.0.1:$P/k8s: the server does not offer SMB3 or newer, only an older dialect" \
	nas check --set nas.retries=0
saw "SMB1-only server: credentials not tried" "skip  credentials    skipped: protocol failed"
smbd_stop

# ---- a server that accepts TCP and never answers -----------------------------------------
P=$(smbd_free_port)
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
' "$P" &
SILENT=$!
at_exit "kill $SILENT"
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.1; done
expect_line "silent server: timeout honoured" 1 \
	"fail  protocol       smb://127.0.0.1:$P/k8s: no SMB answer within 1000 ms (1 attempt)" \
	timeout 60 "$APPLIANCE" nas check "$PROFILE" --set "nas.port=$P" --set nas.timeout=1s --set nas.retries=0
expect_line "silent server: --timeout/--retries override the profile" 1 \
	"fail  protocol       smb://127.0.0.1:$P/k8s: no SMB answer within 500 ms (2 attempts)" \
	timeout 60 "$APPLIANCE" nas check "$PROFILE" --set "nas.port=$P" --timeout 500ms --retries 1

# ---- usage ------------------------------------------------------------------------------
expect_fail "nas --help exits 0" 0 "$APPLIANCE" nas --help
expect_fail "nas check --help exits 0" 0 "$APPLIANCE" nas check --help
expect_line "unknown option is a usage error" 2 "appliance nas check: unknown option '--bogus'" "$APPLIANCE" nas check "$PROFILE" --bogus
expect_line "--apply is not a check option" 2 "appliance nas check: unknown option '--apply'" "$APPLIANCE" nas check "$PROFILE" --apply
expect_line "unknown subcommand" 2 "appliance nas: unknown subcommand 'mount' (expected 'check' or 'prepare')" "$APPLIANCE" nas mount
expect_line "no profile" 2 "appliance nas check: no PROFILE given" "$APPLIANCE" nas check
