# shellcheck shell=bash disable=SC2034
# The PXE side of the e2e tests (source after tap.sh, qemu.sh and site.sh).
#
#   e2e_pxe_serve NAME ARGS...   build the PXE tree of the demo site in $T/pxe with the
#                    site's bundle and run its payload server (appliance pxe --listen
#                    127.0.0.1:0) in the background, its output in $T/NAME.serve.log
#                    (stderr in $T/NAME.serve.err). The guests reach it at
#                    http://10.0.2.100:8069/ through guestfwd (e2e_netdev). ARGS go to
#                    appliance pxe. The admin machine's image cache is $T/admin-cache:
#                    the server fetches the pinned image once from the nginx mirror
#                    (as this machine reaches it: 127.0.0.1, through --set; the nodes'
#                    own mirror setting then points at the payload server) and serves it
#                    to the guests at $PXE_PAYLOAD_URL/image/KEY. Keeps a copy of each payload in $T/payloads/ (the
#                    server scrubs what it delivered). Sets PAYLOAD_PORT; the server
#                    is killed at exit. Returns 1 when it is not up within 60 s.
PXE_PAYLOAD_URL=http://$E2E_GUEST_HOST:8069/

e2e_pxe_serve() {
	local name=$1 pid
	shift
	"$APPLIANCE" pxe "$T/site/profile.yaml" --site "$T/site/site.yaml" --secrets "$T/site/talos-secrets.yaml" \
		--out "$T/pxe" --live "$LIVE_DIR" --listen 127.0.0.1:0 --payload-url "$PXE_PAYLOAD_URL" \
		--cache "$T/admin-cache" --set "talos.image.mirror=$NGINX_HTTP/" "$@" \
		>"$T/$name.serve.log" 2>"$T/$name.serve.err" &
	pid=$!
	at_exit "kill $pid"
	wait_for "$T/$name.serve.log" 'payload server ready' "$pid" 60
	PAYLOAD_PORT=$(sed -n 's/^pxe: payload server listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/$name.serve.log")
	[ -n "$PAYLOAD_PORT" ] || { cat "$T/$name.serve.log" "$T/$name.serve.err"; return 1; }
	mkdir -p "$T/payloads"
	cp "$T"/pxe.payloads/*.cpio "$T/payloads/"
}

# e2e_payload_config NODE: the machine config the payload of NODE carried (from the copy)
e2e_payload_config() {
	rm -rf "$T/payloads/$1.x"
	mkdir -p "$T/payloads/$1.x"
	(cd "$T/payloads/$1.x" && cpio -idm --quiet <"$T/payloads/$1.cpio")
	echo "$T/payloads/$1.x/payload/config.yaml"
}
