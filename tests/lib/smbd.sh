# A private Samba server on 127.0.0.1 for integration, demo and e2e tests.
# Source after tap.sh (needs $T and at_exit):
#   . "$ROOT/tests/lib/smbd.sh"
#
# API (all state lives under $SMBD_DIR, inside the test's $T):
#   smbd_init [NAME]            new server config (default NAME "smbd"); picks a free
#                               high port: sets SMBD_DIR, SMBD_CONF, SMBD_PORT
#   smbd_global 'opt = value'   add a [global] line, e.g. 'server max protocol = NT1'
#   smbd_user USER PASSWORD     ensure unix user USER exists (system user, no home),
#                               add it to the private passdb (smbpasswd -c CONF -s -a)
#   smbd_share NAME PATH ['opt = value']...
#                               export PATH as [NAME] (read only = no unless overridden)
#   smbd_start                  run smbd in the foreground (background job), wait until
#                               it accepts on 127.0.0.1:$SMBD_PORT; sets SMBD_PID; stops
#                               it in at_exit. Log: $SMBD_DIR/smbd.log
#   smbd_stop                   stop this server by PID (idempotent)
#   smbd_free_port              print a free TCP port on 127.0.0.1
#   smbd_nas_site [DIR]         the demo site's NAS in one call (after smbd_init, before
#                               smbd_start): SMB user appliance-smb with a throw-away
#                               password, share k8s at DIR (default $SMBD_DIR/k8s) holding
#                               pics/ (a copy of tests/fixtures/nas/pics) and an empty
#                               immich/; exports APPLIANCE_DEMO_NAS_USER and
#                               APPLIANCE_DEMO_NAS_PASSWORD, the secrets profiles/demo.yaml
#                               names. Sets SMBD_SHARE_DIR. Then e.g.:
#                                 appliance nas check profiles/demo.yaml --set nas.port=$SMBD_PORT
# Shares can be added before smbd_start only (smbd reads its config at start).
# The share's files are accessed as the unix user: chown/chmod PATH for it. smbd_init
# makes $T traversable (0755) so that user can reach PATHs under $T.
# Only 127.0.0.1 is ever bound: interfaces = 127.0.0.1, bind interfaces only = yes.

SMBD_SBIN=${SMBD_SBIN:-/usr/sbin/smbd}

smbd_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

_smbd_write_conf() {
	cat "$SMBD_DIR/global.conf" "$SMBD_DIR/shares.conf" >"$SMBD_CONF"
}

smbd_init() {
	local name=${1:-smbd} d
	SMBD_DIR=$T/$name
	SMBD_CONF=$SMBD_DIR/smb.conf
	SMBD_PORT=$(smbd_free_port)
	SMBD_PID=
	chmod 0755 "$T"
	for d in private lock state cache pid ncalrpc; do mkdir -p "$SMBD_DIR/$d"; done
	cat >"$SMBD_DIR/global.conf" <<EOF
[global]
	workgroup = WORKGROUP
	server role = standalone server
	smb ports = $SMBD_PORT
	interfaces = 127.0.0.1
	bind interfaces only = yes
	disable netbios = yes
	private dir = $SMBD_DIR/private
	lock directory = $SMBD_DIR/lock
	state directory = $SMBD_DIR/state
	cache directory = $SMBD_DIR/cache
	pid directory = $SMBD_DIR/pid
	ncalrpc dir = $SMBD_DIR/ncalrpc
	passdb backend = tdbsam:$SMBD_DIR/private/passdb.tdb
	log file = $SMBD_DIR/smbd.log
	log level = 1
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	map to guest = never
	restrict anonymous = 2
	server min protocol = NT1
	unix extensions = no
EOF
	: >"$SMBD_DIR/shares.conf"
	_smbd_write_conf
}

smbd_global() {
	printf '\t%s\n' "$1" >>"$SMBD_DIR/global.conf"
	_smbd_write_conf
}

smbd_user() {
	local user=$1 pass=$2
	id -u "$user" >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>/dev/null ||
		id -u "$user" >/dev/null 2>&1 || return 1
	printf '%s\n%s\n' "$pass" "$pass" | smbpasswd -c "$SMBD_CONF" -s -a "$user" >/dev/null
}

smbd_share() {
	local name=$1 path=$2 o
	shift 2
	{
		printf '[%s]\n\tpath = %s\n\tread only = no\n' "$name" "$path"
		for o in "$@"; do printf '\t%s\n' "$o"; done
	} >>"$SMBD_DIR/shares.conf"
	_smbd_write_conf
}

smbd_start() {
	local i
	# own session: smbd signals its process group when it exits
	setsid "$SMBD_SBIN" --foreground --no-process-group -s "$SMBD_CONF" </dev/null >>"$SMBD_DIR/smbd.out" 2>&1 &
	SMBD_PID=$!
	at_exit "smbd_stop_dir $SMBD_DIR $SMBD_PID"
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SMBD_PORT") 2>/dev/null; then
			return 0
		fi
		kill -0 "$SMBD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# smbd did not start on 127.0.0.1:$SMBD_PORT; log:" >&2
	tail -20 "$SMBD_DIR/smbd.out" "$SMBD_DIR/smbd.log" 2>/dev/null | sed 's/^/#   /' >&2
	return 1
}

smbd_stop_pid() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# smbd starts samba-dcerpcd on demand (share lists, RPC); it outlives smbd, so it
# is stopped by the PID it records in our private pid directory.
smbd_stop_dir() {
	local dir=$1 pid=$2 rpc
	smbd_stop_pid "$pid"
	rpc=$(cat "$dir/pid/samba-dcerpcd.pid" 2>/dev/null)
	if [ -n "$rpc" ] && tr '\0' ' ' <"/proc/$rpc/cmdline" 2>/dev/null | grep -qF -- "$dir/smb.conf"; then
		smbd_stop_pid "$rpc"
	fi
	return 0
}

smbd_stop() {
	[ -n "${SMBD_PID:-}" ] && smbd_stop_dir "$SMBD_DIR" "$SMBD_PID"
	SMBD_PID=
}

SMBD_NAS_USER=appliance-smb

smbd_nas_site() {
	local dir=${1:-$SMBD_DIR/k8s}
	APPLIANCE_DEMO_NAS_USER=$SMBD_NAS_USER
	APPLIANCE_DEMO_NAS_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	export APPLIANCE_DEMO_NAS_USER APPLIANCE_DEMO_NAS_PASSWORD
	mkdir -p "$dir/immich"
	cp -a "$ROOT/tests/fixtures/nas/pics" "$dir/"
	smbd_user "$SMBD_NAS_USER" "$APPLIANCE_DEMO_NAS_PASSWORD" || return 1
	chown -R "$SMBD_NAS_USER" "$dir"
	smbd_share k8s "$dir"
	SMBD_SHARE_DIR=$dir
}
