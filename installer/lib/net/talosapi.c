/* Talos API client: hand-encoded protobuf over grpc.h. See talosapi.h. */
#include "net/talosapi.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "base/err.h"
#include "net/grpc.h"
#include "net/pb.h"
#include "talos/talos_pki.h"
#include "talos/talos_secrets.h"
#include "base/util.h"

#define TALOSCONFIG_MAX (1u << 20)
#define KUBECONFIG_MAX (4u << 20)

/* ---- credentials ---------------------------------------------------------- */

static void pem_relabel_ed25519(char *pem, size_t *len);

void talos_creds_free(struct talos_creds *c)
{
	if (!c)
		return;
	free(c->ca);
	free(c->crt);
	if (c->key)
		secure_free(c->key, c->key_len + 1);
	c->ca = c->crt = c->key = NULL;
	c->ca_len = c->crt_len = c->key_len = 0;
}

/* base64 (whitespace ignored) -> NUL-terminated bytes; NULL when invalid. */
static char *b64_decode(const char *in, size_t *ret_len)
{
	struct buf b = { 0 };

	if (talos_b64_decode(in, &b) < 0) {
		if (b.data)
			secure_free(b.data, b.cap);
		return NULL;
	}
	if (!b.data)
		buf_append(&b, "", 0);
	*ret_len = b.len;
	return b.data;
}

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);

		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int talos_creds_parse_talosconfig(const char *text, size_t len, const char *name, const char *context,
				  struct talos_creds *ret, struct app_err *e)
{
	static const char *const fields[] = { "ca", "crt", "key" };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *ctx;
	char *vals[3] = { NULL, NULL, NULL };
	size_t lens[3] = { 0, 0, 0 };
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!yaml_parser_initialize(&parser))
		return app_err_set(e, -ENOMEM, "%s: cannot initialise the YAML parser", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = app_err_set(e, -EINVAL, "%s:%zu: not valid YAML: %s", name, parser.problem_mark.line + 1,
				parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return r;
	}
	root = yaml_document_get_root_node(&doc);
	if (!context)
		context = scalar(map_get(&doc, root, "context"));
	if (!context) {
		r = app_err_set(e, -EINVAL, "%s: no 'context' set and none given: not a talosconfig", name);
		goto out;
	}
	ctx = map_get(&doc, map_get(&doc, root, "contexts"), context);
	if (!ctx) {
		r = app_err_set(e, -EINVAL, "%s: context '%s' is not under 'contexts'", name, context);
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		const char *v = scalar(map_get(&doc, ctx, fields[i]));

		if (!v || !*v) {
			r = app_err_set(e, -EINVAL, "%s: contexts.%s.%s is missing", name, context,
					fields[i]);
			goto out;
		}
	}
	for (int i = 0; i < 3; i++) {
		const char *v = scalar(map_get(&doc, ctx, fields[i]));

		vals[i] = b64_decode(v, &lens[i]);
		if (!vals[i] || !strstr(vals[i], "-----BEGIN ")) {
			r = app_err_set(e, -EINVAL, "%s: contexts.%s.%s is not base64-encoded PEM", name,
					context, fields[i]);
			goto out;
		}
	}
	ret->ca = vals[0];
	ret->ca_len = lens[0];
	ret->crt = vals[1];
	ret->crt_len = lens[1];
	pem_relabel_ed25519(vals[2], &lens[2]);
	ret->key = vals[2];
	ret->key_len = lens[2];
	vals[0] = vals[1] = vals[2] = NULL;
out:
	for (int i = 0; i < 3; i++)
		if (vals[i])
			secure_free(vals[i], lens[i] + 1);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return r;
}

int talos_creds_from_talosconfig(const char *path, const char *context, struct talos_creds *ret,
				 struct app_err *e)
{
	struct buf b = { 0 };
	int r = read_file(path, TALOSCONFIG_MAX, &b, e);

	if (r < 0)
		return app_err_prefix(e, "talosconfig");
	r = talos_creds_parse_talosconfig(b.data, b.len, path, context, ret, e);
	secure_free(b.data, b.cap);
	return r;
}

/* Talos writes Ed25519 keys as PKCS#8 under its own label "ED25519 PRIVATE
 * KEY"; OpenSSL (and so libcurl) reads the same body as "PRIVATE KEY". */
static void pem_relabel_ed25519(char *pem, size_t *len)
{
	static const char *const from[] = { "-----BEGIN ED25519 PRIVATE KEY-----",
					    "-----END ED25519 PRIVATE KEY-----" };
	static const char *const to[] = { "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----" };

	for (int i = 0; i < 2; i++) {
		char *p = strstr(pem, from[i]);
		size_t fl = strlen(from[i]), tl = strlen(to[i]);

		if (!p)
			continue;
		memcpy(p, to[i], tl);
		memmove(p + tl, p + fl, strlen(p + fl) + 1);
		*len -= fl - tl;
	}
}

int talos_creds_from_bundle(const struct talos_bundle *b, time_t now, struct talos_creds *ret,
			    struct app_err *e)
{
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	struct buf crt = { 0 };
	BIO *bio = NULL;
	BUF_MEM *mem;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!b->os.crt || !b->os.key)
		return app_err_set(e, -EINVAL, "secrets bundle has no OS CA (certs.os)");
	ca = talos_pki_cert_parse(b->os.crt, strlen(b->os.crt), "certs.os.crt", e);
	if (!ca) {
		r = e && e->code ? e->code : -EINVAL;
		goto out;
	}
	ca_key = talos_pki_key_parse(b->os.key, strlen(b->os.key), "certs.os.key", e);
	key = ca_key ? talos_pki_keygen(TALOS_KEY_ED25519, e) : NULL;
	/* backdated a little: the node's clock may lag ours */
	cert = key ? talos_pki_client_new(ca, ca_key, key, "os:admin", now - 300, TALOS_CLIENT_VALIDITY, e)
		   : NULL;
	if (!cert || talos_pki_cert_pem(cert, &crt, e) < 0) {
		r = e && e->code ? e->code : -EINVAL;
		goto out;
	}
	bio = BIO_new(BIO_s_secmem());
	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		r = app_err_set(e, -ENOMEM, "cannot encode the client key");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	ret->key = xstrndup(mem->data, mem->length);
	ret->key_len = mem->length;
	ret->crt = crt.data;
	ret->crt_len = crt.len;
	crt.data = NULL;
	ret->ca = xstrdup(b->os.crt);
	ret->ca_len = strlen(ret->ca);
out:
	buf_free(&crt);
	BIO_free(bio);
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return r;
}

int talos_creds_from_secrets(const char *path, time_t now, struct talos_creds *ret, struct app_err *e)
{
	struct talos_bundle b;
	int r;

	memset(&b, 0, sizeof(b));
	r = talos_secrets_load(path, &b, e);
	if (r == 0)
		r = talos_creds_from_bundle(&b, now, ret, e);
	talos_secrets_free(&b);
	return r;
}

/* ---- messages ------------------------------------------------------------ */

int talosapi_encode_bootstrap_request(bool recover_etcd, bool skip_hash_check, struct buf *out)
{
	/* proto3: false booleans are not written; the usual request is empty */
	if (recover_etcd) {
		pb_put_varint(out, 1 << 3 | 0);
		pb_put_varint(out, 1);
	}
	if (skip_hash_check) {
		pb_put_varint(out, 2 << 3 | 0);
		pb_put_varint(out, 1);
	}
	if (!out->data)
		buf_append(out, "", 0);
	return 0;
}

int talosapi_check_metadata(const void *data, size_t len, struct app_err *e)
{
	struct pb r = pb_reader(data, len);
	struct pb_field f;
	char host[256] = "";
	int k;

	while ((k = pb_next(&r, &f)) > 0) {
		if (f.num == 1 && f.wire == 2) {
			snprintf(host, sizeof(host), "%.*s", (int)(f.len < 255 ? f.len : 255),
				 (const char *)f.data);
		} else if (f.num == 2 && f.wire == 2 && f.len) {
			return app_err_set(e, -EREMOTEIO, "node%s%s reported: %.*s", host[0] ? " " : "", host,
					   (int)(f.len < 800 ? f.len : 800), (const char *)f.data);
		} else if (f.num == 3 && f.wire == 2) {
			struct pb s = { f.data, f.data + f.len };
			struct pb_field g;
			long code = 0;
			const uint8_t *msg = NULL;
			size_t mlen = 0;
			int k2;

			while ((k2 = pb_next(&s, &g)) > 0) {
				if (g.num == 1 && g.wire == 0)
					code = (long)(int32_t)g.v;
				else if (g.num == 2 && g.wire == 2)
					msg = g.data, mlen = g.len;
			}
			if (k2 < 0)
				return app_err_set(e, -EPROTO, "malformed status in reply metadata");
			if (code != 0)
				return app_err_set(e, -EREMOTEIO, "node%s%s reported %s: %.*s",
						   host[0] ? " " : "", host, grpc_code_name((int)code),
						   (int)(mlen < 800 ? mlen : 800),
						   msg ? (const char *)msg : "");
		}
	}
	if (k < 0)
		return app_err_set(e, -EPROTO, "malformed metadata in reply");
	return 0;
}

int talosapi_decode_data(const void *msg, size_t len, struct buf *out, struct app_err *e)
{
	struct pb r = { msg, (const uint8_t *)msg + len };
	struct pb_field f;
	int k;

	while ((k = pb_next(&r, &f)) > 0) {
		if (f.num == 1 && f.wire == 2) {
			int rc = talosapi_check_metadata(f.data, f.len, e);

			if (rc < 0)
				return rc;
		} else if (f.num == 2 && f.wire == 2) {
			if (out->len + f.len > KUBECONFIG_MAX)
				return app_err_set(e, -EMSGSIZE, "stream is larger than %u bytes",
						   KUBECONFIG_MAX);
			buf_append(out, f.data, f.len);
		}
	}
	if (k < 0)
		return app_err_set(e, -EPROTO, "malformed common.Data message (%zu bytes)", len);
	return 0;
}

int talosapi_each_reply(const void *msg, size_t len, talosapi_field_fn fn, void *ud, struct app_err *e)
{
	struct pb r = pb_reader(msg, len);
	struct pb_field f;
	int k;

	while ((k = pb_next(&r, &f)) > 0) {
		struct pb m;
		struct pb_field g;
		int k2, rc;

		if (f.num != 1 || f.wire != 2)
			continue;
		m = pb_reader(f.data, f.len);
		while ((k2 = pb_next(&m, &g)) > 0) {
			if (g.num == 1 && g.wire == 2)
				rc = talosapi_check_metadata(g.data, g.len, e);
			else
				rc = fn ? fn(ud, &g, e) : 0;
			if (rc < 0)
				return rc;
		}
		if (k2 < 0)
			return app_err_set(e, -EPROTO, "malformed reply message");
	}
	if (k < 0)
		return app_err_set(e, -EPROTO, "malformed reply (%zu bytes)", len);
	return 0;
}

int talosapi_decode_multi_reply(const void *msg, size_t len, void *ud, struct app_err *e)
{
	(void)ud;
	return talosapi_each_reply(msg, len, NULL, NULL, e);
}

static int on_data_msg(const void *msg, size_t len, void *ud, struct app_err *e)
{
	return talosapi_decode_data(msg, len, ud, e);
}

/* ---- tar.gz --------------------------------------------------------------- */

int talosapi_untar_single(const void *tgz, size_t len, const char *want_name, size_t max, struct buf *out,
			  struct app_err *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	int r = 0, found = 0, k;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tgz, len) != ARCHIVE_OK) {
		r = app_err_set(e, -EINVAL, "not a .tar.gz archive: %s", archive_error_string(a));
		goto out;
	}
	while ((k = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);
		la_int64_t size = archive_entry_size(ent);
		char chunk[8192];
		la_ssize_t n;

		if (archive_entry_filetype(ent) != AE_IFREG)
			continue;
		if (want_name && name && strcmp(name, want_name) != 0 &&
		    !(strncmp(name, "./", 2) == 0 && strcmp(name + 2, want_name) == 0))
			continue;
		if (size < 0 || (size_t)size > max) {
			r = app_err_set(e, -EMSGSIZE, "archive member '%s' is %lld bytes (limit %zu)", name,
					(long long)size, max);
			goto out;
		}
		while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
			if (out->len + (size_t)n > max) {
				r = app_err_set(e, -EMSGSIZE, "archive member '%s' is larger than %zu bytes",
						name, max);
				goto out;
			}
			buf_append(out, chunk, (size_t)n);
		}
		if (n < 0) {
			r = app_err_set(e, -EIO, "archive member '%s' is corrupt: %s", name,
					archive_error_string(a));
			goto out;
		}
		found = 1;
		break;
	}
	if (!found && k != ARCHIVE_OK && k != ARCHIVE_EOF) {
		r = app_err_set(e, -EINVAL, "corrupt .tar.gz: %s", archive_error_string(a));
		goto out;
	}
	if (!found)
		r = app_err_set(e, -ENOENT, "the archive holds no file '%s'",
				want_name ? want_name : "(any)");
	else if (!out->data)
		buf_append(out, "", 0);
out:
	archive_read_free(a);
	return r;
}

/* ---- endpoints ----------------------------------------------------------------- */

/* host[:port] or [v6]:port into host (caller frees) and port. */
int talosapi_parse_endpoint(const char *ep, char **host, int *port)
{
	const char *colon;
	char *end;
	long p;

	*port = TALOSAPI_PORT;
	if (ep[0] == '[') {
		const char *rb = strchr(ep, ']');

		if (!rb || (rb[1] != '\0' && rb[1] != ':'))
			return -1;
		*host = xstrndup(ep + 1, (size_t)(rb - ep - 1));
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(ep, ':');
		if (colon && strchr(ep, ':') != colon)
			colon = NULL; /* bare IPv6 */
		*host = colon ? xstrndup(ep, (size_t)(colon - ep)) : xstrdup(ep);
	}
	if (colon) {
		p = strtol(colon + 1, &end, 10);
		if (*end || p <= 0 || p > 65535) {
			free(*host);
			*host = NULL;
			return -1;
		}
		*port = (int)p;
	}
	if (!**host) {
		free(*host);
		*host = NULL;
		return -1;
	}
	return 0;
}

/* ---- calls with retries ------------------------------------------------------ */

/* Answers that mean "not yet": the call did not run, and what the node is
 * still doing (siderolabs/talos v1.10.5
 * internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go
 * Bootstrap: IsBootstrapAllowed() is false until the CRI is up,
 * v1alpha1_runtime.go; then the time sync condition). */
struct wait_reason {
	int code;
	const char *message; /* substring of the status message; NULL: any */
	const char *waiting_for;
	const char *todo; /* what to do once we give up */
};

static const struct wait_reason transient[] = {
	{ GRPC_UNAVAILABLE, NULL, "apid to accept calls (UNAVAILABLE: the node is starting or restarting)",
	  "look at the node's console, then re-run" },
	{ GRPC_FAILED_PRECONDITION, "not available yet",
	  "the node to finish booting: Talos allows Bootstrap once its container runtime is up",
	  "look at the node's console (talosctl dmesg), then re-run" },
	{ GRPC_FAILED_PRECONDITION, "not in sync", "the node's clock to synchronise (NTP)",
	  "check the node's time servers (machine.time.servers) and its route to them, then re-run" },
};
static const struct wait_reason not_listening = {
	0, NULL, "apid to listen", "check that the node is up and that this is its Talos API address and port"
};
static const struct wait_reason slow = { 0, NULL, "an answer (the call timed out)",
					 "the node is slow or busy; re-run, or give a longer --timeout" };

/* 0 ok; 1 retry (*why: what we wait for); <0 fatal */
static int classify(int r, enum grpc_fail fail, const struct grpc_status *st, bool repeat_safe,
		    const struct wait_reason **why)
{
	*why = NULL;
	if (r == 0)
		return 0;
	switch (fail) {
	case GRPC_FAIL_CONNECT:
		*why = &not_listening;
		return 1;
	case GRPC_FAIL_TIMEOUT:
		*why = &slow;
		return repeat_safe ? 1 : r;
	case GRPC_FAIL_STATUS:
		for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
			if (st->code == transient[i].code &&
			    (!transient[i].message || strstr(st->message, transient[i].message))) {
				*why = &transient[i];
				return 1;
			}
		return r;
	default:
		return r;
	}
}

int talosapi_call(const struct talosapi_node *n, const struct talosapi_retry *rp, struct talosapi_call *c,
		  struct app_err *e)
{
	static const struct talosapi_retry defaults = { 0 };
	const struct talosapi_retry *rt = rp ? rp : &defaults;
	long deadline = rt->deadline_ms > 0 ? rt->deadline_ms : 600000;
	long delay = rt->initial_ms > 0 ? rt->initial_ms : 500;
	long cap = rt->max_ms > 0 ? rt->max_ms : 10000;
	long start = util_mono_ms();
	struct grpc_target t = {
		.host = n->host,
		.port = n->port > 0 ? n->port : TALOSAPI_PORT,
		.ca_pem = n->creds->ca,
		.ca_len = n->creds->ca_len,
		.cert_pem = n->creds->crt,
		.cert_len = n->creds->crt_len,
		.key_pem = n->creds->key,
		.key_len = n->creds->key_len,
		.timeout_ms = rt->call_timeout_ms > 0 ? rt->call_timeout_ms : 30000,
	};

	int cert_refusals = 0;

	for (int attempt = 1;; attempt++) {
		enum grpc_fail fail = GRPC_FAIL_NONE;
		const struct wait_reason *why;
		char was[sizeof(e->msg)];
		long left;
		int r, k;

		if (c->reset)
			c->reset(c->ud);
		t.connect_timeout_ms = 5000;
		r = grpc_call(&t, c->path, c->req, c->req_len, c->fn, c->ud, &c->st, &fail, e);
		k = classify(r, fail, &c->st, c->repeat_safe_after_timeout, &why);
		/* a refused client certificate looks like a connection dropped right
		 * after the handshake, which a restarting apid can also do: believe
		 * it after the third time */
		if (fail == GRPC_FAIL_CLIENT_CERT && ++cert_refusals < 3)
			k = 1;
		if (k <= 0)
			return r;
		snprintf(was, sizeof(was), "%s", e ? e->msg : "");
		left = deadline - (util_mono_ms() - start);
		if ((rt->attempts > 0 && attempt >= rt->attempts) || left <= 0) {
			long took = (util_mono_ms() - start + 500) / 1000;

			if (!why)
				return app_err_prefix(e, "gave up after %lds (%d attempt%s)", took, attempt,
						      attempt == 1 ? "" : "s");
			if (rt->attempts == 1) /* no retrying was asked for: no "gave up" */
				return app_err_set(e, r, "%s: %s", was, why->todo);
			return app_err_set(
			    e, r, "gave up after %lds (%d attempt%s) waiting for %s; last answer: %s; %s",
			    took, attempt, attempt == 1 ? "" : "s", why->waiting_for, was, why->todo);
		}
		if (why && e)
			app_err_set(e, r, "%s; waiting for %s", was, why->waiting_for);
		if (delay > left)
			delay = left;
		if (rt->on_retry)
			rt->on_retry(rt->ud, attempt, e ? e->msg : "", delay);
		util_sleep_ms(delay);
		delay = delay * 2 > cap ? cap : delay * 2;
	}
}

int talosapi_bootstrap(const struct talosapi_node *n, const struct talosapi_retry *r,
		       enum talosapi_bootstrap_result *ret, struct app_err *e)
{
	struct buf req = { 0 };
	struct talosapi_call c = {
		.path = "/machine.MachineService/Bootstrap",
		.fn = talosapi_decode_multi_reply,
		/* a repeat of a call that did run answers ALREADY_EXISTS: safe */
		.repeat_safe_after_timeout = true,
	};
	int rc;

	talosapi_encode_bootstrap_request(false, false, &req);
	c.req = req.data;
	c.req_len = req.len;
	rc = talosapi_call(n, r, &c, e);
	buf_free(&req);
	if (rc == -EREMOTEIO && c.st.code == GRPC_ALREADY_EXISTS) {
		*ret = TALOSAPI_ALREADY_BOOTSTRAPPED;
		return 0;
	}
	if (rc < 0)
		return rc;
	*ret = TALOSAPI_BOOTSTRAPPED;
	return 0;
}

static void reset_buf(void *ud)
{
	struct buf *b = ud;

	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int talosapi_kubeconfig(const struct talosapi_node *n, const struct talosapi_retry *r, struct buf *ret,
			struct app_err *e)
{
	struct buf tgz = { 0 };
	struct talosapi_call c = {
		.path = "/machine.MachineService/Kubeconfig",
		.req = "",
		.req_len = 0, /* google.protobuf.Empty */
		.fn = on_data_msg,
		.ud = &tgz,
		.reset = reset_buf,
		.repeat_safe_after_timeout = true,
	};
	int rc = talosapi_call(n, r, &c, e);

	if (rc == 0) {
		rc = talosapi_untar_single(tgz.data, tgz.len, "kubeconfig", KUBECONFIG_MAX, ret, e);
		if (rc < 0)
			app_err_prefix(e, "%s:%d: kubeconfig stream", n->host,
				       n->port > 0 ? n->port : TALOSAPI_PORT);
	}
	if (tgz.data)
		secure_free(tgz.data, tgz.cap);
	return rc;
}

int talosapi_encode_wipe_request(const struct talosapi_wipe *w, struct buf *out)
{
	struct buf desc = { 0 };

	/* BlockDeviceWipeDescriptor { string device = 1; Method method = 2;
	 * bool skip_volume_check = 3; bool drop_partition = 4; } (storage.proto);
	 * proto3 leaves zero values out. The device goes "without /dev/ prefix"
	 * (storage.proto): storaged looks it up by its kernel name
	 * (internal/app/storaged/server.go validateDeviceForWipe) and answers
	 * NOT_FOUND for "/dev/sda5", which would read as "already scrubbed". */
	const char *dev = strncmp(w->device, "/dev/", 5) == 0 ? w->device + 5 : w->device;

	pb_put_string(&desc, 1, dev);
	if (w->method != TALOSAPI_WIPE_FAST)
		pb_put_uint(&desc, 2, (uint64_t)w->method);
	if (w->skip_volume_check)
		pb_put_bool(&desc, 3, true);
	if (w->drop_partition)
		pb_put_bool(&desc, 4, true);
	pb_put_bytes(out, 1, desc.data, desc.len);
	buf_free(&desc);
	return 0;
}

int talosapi_wipe_device(const struct talosapi_node *n, const struct talosapi_retry *r,
			 const struct talosapi_wipe *w, struct app_err *e)
{
	struct buf req = { 0 };
	struct talosapi_call c = {
		.path = "/storage.StorageService/BlockDeviceWipe",
		.fn = talosapi_decode_multi_reply,
		.repeat_safe_after_timeout = true,
	};
	int rc;

	talosapi_encode_wipe_request(w, &req);
	c.req = req.data;
	c.req_len = req.len;
	rc = talosapi_call(n, r, &c, e);
	buf_free(&req);
	/* NOT_FOUND: no such device, e.g. a partition an earlier wipe dropped */
	return rc < 0 && c.st.code == GRPC_NOT_FOUND ? -ENOENT : rc;
}
