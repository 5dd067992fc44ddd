# shellcheck shell=bash disable=SC2034
# A private nginx on 127.0.0.1 serving a directory over HTTP and HTTPS (test CA).
# Source after tap.sh (uses $T and at_exit). OWNER: image work (issue 7); reuse it.
#
#   nginx_start DIR [RATE]   serve DIR; RATE (optional) is nginx's limit_rate per
#                            connection ("8m" = 8 MB/s). Sets:
#       NGINX_HTTP   http://127.0.0.1:PORT         (plain HTTP, serves Range)
#       NGINX_HTTPS  https://127.0.0.1:PORT2       (TLS, certificate for 127.0.0.1 and localhost)
#       NGINX_CA     PEM file of the test CA that signed it (pass to --ca-file / curl --cacert)
#       NGINX_PID    pid of the server (stopped at exit through at_exit)
#       NGINX_LOG    its access log
#   nginx_stop               stop the last server started (also done at exit)
#   free_port                print a free TCP port on 127.0.0.1
#   test_ca_make DIR         make DIR/ca.pem, DIR/server.pem, DIR/server.key (idempotent)
#
# Each nginx_start starts a new server (new ports); the variables describe the last one.
# nginx runs in the foreground (daemon off, master_process off) with every path
# under its own temp dir, so it needs no system configuration and leaves nothing behind.

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

test_ca_make() {
	local d=$1
	[ -s "$d/server.pem" ] && return 0
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=appliance test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext.cnf" -out "$d/server.pem" >/dev/null 2>&1
}

_nginx_n=0
nginx_start() {
	local root rate d port tport
	root=$(cd "$1" && pwd) rate=${2:-0}
	_nginx_n=$((_nginx_n + 1))
	d="$T/nginx.$_nginx_n"
	mkdir -p "$d/tmp"
	test_ca_make "$T/testca" || { echo "nginx_start: cannot make the test CA" >&2; return 1; }
	port=$(free_port) tport=$(free_port)
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 64; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	default_type application/octet-stream;
	sendfile on;
	limit_rate $rate;
	server {
		listen 127.0.0.1:$port;
		root $root;
	}
	server {
		listen 127.0.0.1:$tport ssl;
		ssl_certificate $T/testca/server.pem;
		ssl_certificate_key $T/testca/server.key;
		root $root;
	}
}
EOF
	nginx -c "$d/nginx.conf" -p "$d" >"$d/stdout" 2>&1 &
	NGINX_PID=$!
	at_exit "kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null"
	for _ in $(seq 1 100); do
		if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
			break
		fi
		if ! kill -0 "$NGINX_PID" 2>/dev/null; then
			echo "nginx_start: nginx exited:" >&2
			cat "$d/stdout" "$d/error.log" >&2 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
	NGINX_HTTP="http://127.0.0.1:$port"
	NGINX_HTTPS="https://127.0.0.1:$tport"
	NGINX_CA="$T/testca/ca.pem"
	NGINX_LOG="$d/access.log"
}

nginx_stop() {
	[ -n "${NGINX_PID:-}" ] || return 0
	kill "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=""
}
