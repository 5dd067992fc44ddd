#include "talos/talos_talosconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "base/err.h"
#include "profile/model.h"
#include "talos/talos_pki.h"
#include "talos/talos_secrets.h"
#include "base/util.h"
#include "base/yemit.h"

static void push_b64(struct yval *map, const char *key, const char *text, size_t len)
{
	char *enc = talos_b64_encode(text, len);

	y_set(map, key, y_str(enc));
	secure_free(enc, strlen(enc) + 1);
}

/* Addresses an admin laptop can dial without mDNS or the LAN's DNS: the
 * control planes' static addresses, else the VIP (which follows etcd's
 * health, so only while the cluster is up), else the endpoint host; node
 * hostnames only when the profile names no address at all. */
static struct yval *endpoints(const struct model *m)
{
	struct yval *seq = y_seq();
	size_t n = 0;
	char *host;

	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct model_node *node = &m->nodes[i];
		if (node->role != NODE_ROLE_CONTROLPLANE || node->network.dhcp || !node->network.address)
			continue;
		host = xstrndup(node->network.address, strcspn(node->network.address, "/"));
		y_push(seq, y_str(host));
		free(host);
		n++;
	}
	if (n == 0 && m->talos.vip) {
		y_push(seq, y_str(m->talos.vip));
		n++;
	}
	if (n == 0 && m->talos.endpoint && strstr(m->talos.endpoint, "://")) {
		const char *p = strstr(m->talos.endpoint, "://") + 3;
		host = xstrndup(p, strcspn(p, ":/"));
		y_push(seq, y_str(host));
		free(host);
		n++;
	}
	for (size_t i = 0; n == 0 && i < m->n_nodes; i++)
		if (m->nodes[i].role == NODE_ROLE_CONTROLPLANE && m->nodes[i].hostname)
			y_push(seq, y_str(m->nodes[i].hostname));
	return seq;
}

int talos_talosconfig_render(const struct model *m, const struct talos_bundle *b, time_t now, struct buf *out,
			     struct app_err *e)
{
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	struct buf crt = { 0 }, keypem = { 0 };
	struct yval *root = NULL, *ctx;
	int r = -EINVAL;

	ca = talos_pki_cert_parse(b->os.crt, strlen(b->os.crt), "certs.os", e);
	ca_key = ca ? talos_pki_key_parse(b->os.key, strlen(b->os.key), "certs.os", e) : NULL;
	key = ca_key ? talos_pki_keygen(TALOS_KEY_ED25519, e) : NULL;
	cert = key ? talos_pki_client_new(ca, ca_key, key, "os:admin", now, TALOS_CLIENT_VALIDITY, e) : NULL;
	if (!cert)
		goto out;
	r = talos_pki_verify(cert, ca, now, "talosconfig client certificate", e);
	if (r == 0)
		r = talos_pki_cert_pem(cert, &crt, e);
	if (r == 0)
		r = talos_pki_key_pem(key, &keypem, e);
	if (r < 0)
		goto out;
	root = y_map();
	y_set(root, "context", y_str(m->site.cluster));
	ctx = y_map();
	y_set(ctx, "endpoints", endpoints(m));
	push_b64(ctx, "ca", b->os.crt, strlen(b->os.crt));
	push_b64(ctx, "crt", crt.data, crt.len);
	push_b64(ctx, "key", keypem.data, keypem.len);
	y_set(y_at(root, "contexts"), m->site.cluster, ctx);
	r = y_emit(&root, 1, out, e);
out:
	y_free(root);
	buf_free(&crt);
	secure_free(keypem.data, keypem.cap);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return r;
}

/* The first scalar values of the keys ca, crt and key, base64-decoded. */
struct found {
	struct buf ca, crt, key;
};

static int scan(const char *text, size_t len, struct found *f)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct buf *want = NULL;
	bool key_next = false, done = false;
	int depth = 0, r = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	/* inside a mapping, scalars alternate key, value */
	bool is_key[16] = { false };
	while (!done && r == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = -EINVAL;
			break;
		}
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
			if (depth < 15)
				is_key[++depth] = true;
			want = NULL;
			break;
		case YAML_MAPPING_END_EVENT:
			depth = depth ? depth - 1 : 0;
			if (depth)
				is_key[depth] = true;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (ev.type == YAML_SEQUENCE_END_EVENT && depth)
				is_key[depth] = true;
			want = NULL;
			break;
		case YAML_SCALAR_EVENT: {
			const char *s = (const char *)ev.data.scalar.value;
			key_next = depth && is_key[depth];
			if (key_next) {
				want = strcmp(s, "ca") == 0    ? &f->ca
				       : strcmp(s, "crt") == 0 ? &f->crt
				       : strcmp(s, "key") == 0 ? &f->key
							       : NULL;
				if (want && want->data)
					want = NULL;
				is_key[depth] = false;
			} else {
				if (want && talos_b64_decode(s, want) < 0)
					r = -EINVAL;
				OPENSSL_cleanse(ev.data.scalar.value, ev.data.scalar.length);
				want = NULL;
				if (depth)
					is_key[depth] = true;
			}
			break;
		}
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return r;
}

int talos_talosconfig_check(const char *text, size_t len, const struct talos_bundle *b, time_t now,
			    long min_valid, struct app_err *e)
{
	struct found f = { { 0 }, { 0 }, { 0 } };
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *key = NULL;
	int r;

	r = scan(text, len, &f);
	if (r < 0 || !f.ca.data || !f.crt.data || !f.key.data) {
		r = app_err_set(e, -EINVAL, "talosconfig: expected a context with ca, crt and key (base64)");
		goto out;
	}
	if (strcmp(f.ca.data, b->os.crt) != 0) {
		r = app_err_set(e, -EINVAL, "talosconfig: its ca is not the OS CA of the secrets bundle");
		goto out;
	}
	ca = talos_pki_cert_parse(b->os.crt, strlen(b->os.crt), "certs.os", e);
	cert = ca ? talos_pki_cert_parse(f.crt.data, f.crt.len, "talosconfig crt", e) : NULL;
	key = cert ? talos_pki_key_parse(f.key.data, f.key.len, "talosconfig key", e) : NULL;
	if (!key) {
		r = e ? e->code : -EINVAL;
		goto out;
	}
	r = talos_pki_key_matches(cert, key, "talosconfig", e);
	if (r == 0)
		r = talos_pki_verify(cert, ca, now + min_valid, "talosconfig client certificate", e);
out:
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	buf_free(&f.ca);
	buf_free(&f.crt);
	secure_free(f.key.data, f.key.cap);
	return r;
}
