/* gRPC over libcurl (HTTP/2, mutual TLS). See grpc.h for the wire format. */
#include "net/grpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/util.h"

#define GRPC_DEFAULT_MAX (16u << 20)

static const char *const code_names[] = {
	"OK",	     "CANCELLED",	"UNKNOWN",	     "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS",	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED",   "OUT_OF_RANGE",	"UNIMPLEMENTED",     "INTERNAL",	   "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED",
};

const char *grpc_code_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]))
		return "UNKNOWN";
	return code_names[code];
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void grpc_percent_decode(const char *in, size_t len, char *out, size_t out_size)
{
	size_t o = 0;

	if (!out_size)
		return;
	for (size_t i = 0; i < len && o + 1 < out_size; i++) {
		int hi, lo;

		if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
		    (lo = hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

int grpc_deframe(const unsigned char *data, size_t len, size_t max_message, grpc_message_fn fn, void *ud,
		 size_t *consumed, struct app_err *e)
{
	size_t off = 0;

	if (!max_message)
		max_message = GRPC_DEFAULT_MAX;
	while (len - off >= 5) {
		uint32_t n = (uint32_t)data[off + 1] << 24 | (uint32_t)data[off + 2] << 16 |
			     (uint32_t)data[off + 3] << 8 | (uint32_t)data[off + 4];
		int r;

		if (data[off] != 0) {
			*consumed = off;
			return app_err_set(
			    e, -EPROTO, "compressed message (flag %u) although none was offered", data[off]);
		}
		if (n > max_message) {
			*consumed = off;
			return app_err_set(e, -EMSGSIZE,
					   "message of %u bytes is larger than the limit of %zu", n,
					   max_message);
		}
		if (len - off - 5 < n)
			break;
		r = fn ? fn(data + off + 5, n, ud, e) : 0;
		if (r < 0) {
			*consumed = off;
			return r;
		}
		off += 5 + (size_t)n;
	}
	*consumed = off;
	return 0;
}

struct call {
	const struct grpc_target *t;
	grpc_message_fn fn;
	void *ud;
	struct buf in; /* unparsed response bytes */
	struct app_err cb_err;
	int cb_failed;	   /* 1: callback aborted, 2: framing error */
	int status;	   /* grpc-status, -1 none */
	char message[512]; /* grpc-message */
	bool grpc_type;	   /* content-type application/grpc seen */
	bool any_header;   /* the server answered at all */
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct call *c = ud;
	size_t len = size * n, klen;
	const char *colon = memchr(p, ':', len);
	const char *v, *end = p + len;

	c->any_header = true;
	if (!colon)
		return len;
	klen = (size_t)(colon - p);
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (klen == 11 && strncasecmp(p, "grpc-status", 11) == 0) {
		char tmp[16];
		size_t vl = (size_t)(end - v);
		char *ep;
		long code;

		if (vl == 0 || vl >= sizeof(tmp))
			return len;
		memcpy(tmp, v, vl);
		tmp[vl] = '\0';
		code = strtol(tmp, &ep, 10);
		if (*ep == '\0' && code >= 0 && code < 1000)
			c->status = (int)code;
	} else if (klen == 12 && strncasecmp(p, "grpc-message", 12) == 0) {
		grpc_percent_decode(v, (size_t)(end - v), c->message, sizeof(c->message));
	} else if (klen == 12 && strncasecmp(p, "content-type", 12) == 0) {
		c->grpc_type = (size_t)(end - v) >= 16 && strncasecmp(v, "application/grpc", 16) == 0;
	}
	return len;
}

static int deliver(const void *msg, size_t len, void *ud, struct app_err *e)
{
	struct call *c = ud;
	int r = c->fn ? c->fn(msg, len, c->ud, e) : 0;

	if (r < 0)
		c->cb_failed = 1;
	return r;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct call *c = ud;
	size_t len = size * n, used = 0;

	if (c->cb_failed)
		return 0;
	if (!c->grpc_type) {
		/* not a gRPC reply (HTTP/1.1 page, proxy error): never parsed as
		 * messages; grpc_call() reports what it was */
		return len;
	}
	buf_append(&c->in, p, len);
	if (grpc_deframe((const unsigned char *)c->in.data, c->in.len, c->t->max_message, deliver, c, &used,
			 &c->cb_err) < 0) {
		if (!c->cb_failed)
			c->cb_failed = 2; /* framing */
		return 0;
	}
	if (used) {
		memmove(c->in.data, c->in.data + used, c->in.len - used);
		c->in.len -= used;
		c->in.data[c->in.len] = '\0';
	}
	return len;
}

/* Classify a TLS failure from libcurl's error text. */
static enum grpc_fail tls_kind(CURLcode rc, const char *err)
{
	static const struct {
		const char *needle;
		enum grpc_fail kind;
	} rows[] = {
		{ "no alternative certificate subject name", GRPC_FAIL_SERVER_NAME },
		{ "does not match target host", GRPC_FAIL_SERVER_NAME },
		{ "subject name does not match", GRPC_FAIL_SERVER_NAME },
		{ "unable to get local issuer", GRPC_FAIL_SERVER_CA },
		{ "self-signed certificate", GRPC_FAIL_SERVER_CA },
		{ "self signed certificate", GRPC_FAIL_SERVER_CA },
		{ "certificate signature failure", GRPC_FAIL_SERVER_CA },
		{ "unable to verify the first certificate", GRPC_FAIL_SERVER_CA },
		{ "alert unknown ca", GRPC_FAIL_CLIENT_CERT },
		{ "alert bad certificate", GRPC_FAIL_CLIENT_CERT },
		{ "alert certificate required", GRPC_FAIL_CLIENT_CERT },
		{ "alert decrypt error", GRPC_FAIL_CLIENT_CERT },
		{ "alert handshake failure", GRPC_FAIL_CLIENT_CERT },
		{ "alert certificate unknown", GRPC_FAIL_CLIENT_CERT },
		{ "alert access denied", GRPC_FAIL_CLIENT_CERT },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strcasestr(err, rows[i].needle))
			return rows[i].kind;
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return GRPC_FAIL_SERVER_CA;
	return GRPC_FAIL_TLS;
}

static int fail(enum grpc_fail *ret_fail, enum grpc_fail kind, struct app_err *e, int code, const char *where,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(enum grpc_fail *ret_fail, enum grpc_fail kind, struct app_err *e, int code, const char *where,
		const char *fmt, ...)
{
	char tmp[900];
	va_list ap;

	if (ret_fail)
		*ret_fail = kind;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return app_err_set(e, code, "%s: %s", where, tmp);
}

static int transport_error(CURLcode rc, const char *errbuf, const char *where, enum grpc_fail *ret_fail,
			   struct app_err *e)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return fail(ret_fail, GRPC_FAIL_CONNECT, e, -ECONNREFUSED, where, "cannot connect (%s)",
			    detail);
	case CURLE_COULDNT_RESOLVE_HOST:
		return fail(ret_fail, GRPC_FAIL_CONNECT, e, -EHOSTUNREACH, where, "cannot resolve host (%s)",
			    detail);
	case CURLE_OPERATION_TIMEDOUT:
		/* a connect timeout means nothing was sent: as good as refused */
		if (strstr(detail, "onnect") || strstr(detail, "0 bytes received") ||
		    strstr(detail, "handshake"))
			return fail(ret_fail, GRPC_FAIL_CONNECT, e, -ETIMEDOUT, where,
				    "timed out connecting (%s)", detail);
		return fail(ret_fail, GRPC_FAIL_TIMEOUT, e, -ETIMEDOUT, where, "call timed out (%s)", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR: {
		enum grpc_fail k = tls_kind(rc, detail);

		switch (k) {
		case GRPC_FAIL_SERVER_CA:
			return fail(
			    ret_fail, k, e, -EPERM, where,
			    "the server's certificate is not signed by the expected CA: wrong CA in the "
			    "credentials, or a node of another cluster (%s)",
			    detail);
		case GRPC_FAIL_SERVER_NAME:
			return fail(
			    ret_fail, k, e, -EPERM, where,
			    "the server's certificate does not name this address: wrong node identity (%s)",
			    detail);
		case GRPC_FAIL_CLIENT_CERT:
			return fail(
			    ret_fail, k, e, -EACCES, where,
			    "the server refused our client certificate: it was not issued by the CA this "
			    "node trusts (%s)",
			    detail);
		default:
			break;
		}
		if (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR)
			return fail(ret_fail, GRPC_FAIL_CONNECT, e, -ECONNRESET, where,
				    "connection lost (%s)", detail);
		if (rc == CURLE_SSL_CERTPROBLEM)
			return fail(ret_fail, GRPC_FAIL_TLS, e, -EINVAL, where,
				    "the client certificate or key cannot be used (%s)", detail);
		return fail(ret_fail, GRPC_FAIL_TLS, e, -EPROTO, where, "TLS handshake failed (%s)", detail);
	}
	case CURLE_GOT_NOTHING:
		return fail(ret_fail, GRPC_FAIL_CONNECT, e, -ECONNRESET, where,
			    "the server closed the connection (%s)", detail);
	default:
		return fail(ret_fail, GRPC_FAIL_PROTOCOL, e, -EIO, where, "request failed (%s)", detail);
	}
}

int grpc_call(const struct grpc_target *t, const char *path, const void *req, size_t req_len,
	      grpc_message_fn fn, void *ud, struct grpc_status *st, enum grpc_fail *ret_fail,
	      struct app_err *e)
{
	struct call c = { .t = t, .fn = fn, .ud = ud, .status = -1 };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct curl_blob ca, cert, key;
	unsigned char *body;
	char *url, *where, tmo[48];
	long timeout = t->timeout_ms > 0 ? t->timeout_ms : 30000;
	long http = 0, ver = 0;
	CURLcode rc;
	CURL *curl;
	int r = 0;

	if (ret_fail)
		*ret_fail = GRPC_FAIL_NONE;
	if (st) {
		st->code = -1;
		st->message[0] = '\0';
	}
	if (req_len > UINT32_MAX)
		return app_err_set(e, -EMSGSIZE, "request of %zu bytes is too large", req_len);
	where = xasprintf("%s:%d%s", t->host, t->port, path);
	url = strchr(t->host, ':') ? xasprintf("https://[%s]:%d%s", t->host, t->port, path)
				   : xasprintf("https://%s:%d%s", t->host, t->port, path);
	body = xmalloc(req_len + 5);
	body[0] = 0;
	body[1] = (unsigned char)(req_len >> 24);
	body[2] = (unsigned char)(req_len >> 16);
	body[3] = (unsigned char)(req_len >> 8);
	body[4] = (unsigned char)req_len;
	if (req_len)
		memcpy(body + 5, req, req_len);

	curl = curl_easy_init();
	if (!curl) {
		r = app_err_set(e, -ENOMEM, "%s: cannot create a curl handle", where);
		goto out;
	}
	/* grpc-timeout takes at most 8 digits */
	snprintf(tmo, sizeof(tmo), "grpc-timeout: %ldm", timeout > 99999999 ? 99999999L : timeout);
	h = curl_slist_append(h, "content-type: application/grpc");
	h = curl_slist_append(h, "te: trailers");
	h = curl_slist_append(h, "grpc-accept-encoding: identity");
	h = curl_slist_append(h, tmo);
	h = curl_slist_append(h, "Accept:");
	h = curl_slist_append(h, "Expect:");

	ca = (struct curl_blob){ .data = (void *)t->ca_pem, .len = t->ca_len, .flags = CURL_BLOB_COPY };
	cert = (struct curl_blob){ .data = (void *)t->cert_pem, .len = t->cert_len, .flags = CURL_BLOB_COPY };
	key = (struct curl_blob){ .data = (void *)t->key_pem, .len = t->key_len, .flags = CURL_BLOB_COPY };

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (char *)body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req_len + 5));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "appliance-grpc/1");
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &c);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 t->connect_timeout_ms > 0 ? t->connect_timeout_ms : 5000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (t->ca_pem)
		curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
	/* trust only the given CA, never the system store */
	curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	if (t->cert_pem) {
		curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (t->key_pem) {
		curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
	}

	rc = curl_easy_perform(curl);
	if (c.cb_failed) {
		if (ret_fail)
			*ret_fail = c.cb_failed == 2 ? GRPC_FAIL_PROTOCOL : GRPC_FAIL_CALLBACK;
		r = c.cb_err.code ? c.cb_err.code : -EIO;
		app_err_set(e, r, "%s: %s", where, c.cb_err.msg);
		goto out;
	}
	if (rc != CURLE_OK) {
		curl_off_t tls_done = 0;

		curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls_done);
		/* TLS 1.3: the server checks our certificate after the handshake has
		 * completed on our side, then drops the connection (its alert often
		 * arrives after our write already failed). A connection that dies
		 * right after a verified handshake, before any answer, is that. */
		if (tls_done > 0 && !c.any_header && t->cert_pem && rc != CURLE_OPERATION_TIMEDOUT &&
		    rc != CURLE_PEER_FAILED_VERIFICATION && rc != CURLE_WRITE_ERROR &&
		    tls_kind(rc, errbuf) == GRPC_FAIL_TLS) {
			r = fail(
			    ret_fail, GRPC_FAIL_CLIENT_CERT, e, -EACCES, where,
			    "the server closed the connection right after the TLS handshake without "
			    "answering: "
			    "it refused our client certificate (not issued by the CA this node trusts: wrong "
			    "secrets bundle or talosconfig?)");
			goto out;
		}
		r = transport_error(rc, errbuf, where, ret_fail, e);
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
	curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &ver);
	if (ver != CURL_HTTP_VERSION_2_0) {
		r = fail(ret_fail, GRPC_FAIL_PROTOCOL, e, -EPROTO, where,
			 "the server does not speak HTTP/2 (ALPN): not a gRPC endpoint");
		goto out;
	}
	if (st) {
		st->code = c.status;
		snprintf(st->message, sizeof(st->message), "%s", c.message);
	}
	if (c.status < 0) {
		char detail[64];

		snprintf(detail, sizeof(detail), "%ld", http);
		r = fail(ret_fail, GRPC_FAIL_PROTOCOL, e, -EPROTO, where,
			 "no grpc-status in the reply (HTTP status %s): not a gRPC endpoint", detail);
		goto out;
	}
	if (c.status != GRPC_OK) {
		if (ret_fail)
			*ret_fail = GRPC_FAIL_STATUS;
		r = app_err_set(e, -EREMOTEIO, "%s: %s: %s", where, grpc_code_name(c.status),
				c.message[0] ? c.message : "(no message)");
		goto out;
	}
	if (c.in.len) {
		r = fail(ret_fail, GRPC_FAIL_PROTOCOL, e, -EPROTO, where, "reply ends inside a message");
		goto out;
	}
out:
	curl_slist_free_all(h);
	if (curl)
		curl_easy_cleanup(curl);
	secure_free(body, req_len + 5); /* a request may carry a machine config */
	free(url);
	free(where);
	buf_free(&c.in);
	return r;
}
