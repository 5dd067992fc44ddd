#include "talos/talos_secrets.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <yaml.h>

#include "base/err.h"
#include "talos/talos_pki.h"
#include "base/util.h"
#include "base/ytree.h"
#include "base/yemit.h"

#define BUNDLE_MAX (1u << 20)

/* One row per field of the YAML layout, in talosctl's order. pem: the value
 * is base64 of PEM text. type: expected key type (certificate rows), -1 none. */
static const struct field {
	const char *path;
	size_t off;
	bool pem;
	bool optional;
} fields[] = {
	{ "cluster.id", offsetof(struct talos_bundle, cluster_id), false, false },
	{ "cluster.secret", offsetof(struct talos_bundle, cluster_secret), false, false },
	{ "secrets.bootstraptoken", offsetof(struct talos_bundle, bootstrap_token), false, false },
	{ "secrets.aescbcencryptionsecret", offsetof(struct talos_bundle, aescbc_secret), false, true },
	{ "secrets.secretboxencryptionsecret", offsetof(struct talos_bundle, secretbox_secret), false, true },
	{ "trustdinfo.token", offsetof(struct talos_bundle, trustd_token), false, false },
	{ "certs.etcd.crt", offsetof(struct talos_bundle, etcd.crt), true, false },
	{ "certs.etcd.key", offsetof(struct talos_bundle, etcd.key), true, false },
	{ "certs.k8s.crt", offsetof(struct talos_bundle, k8s.crt), true, false },
	{ "certs.k8s.key", offsetof(struct talos_bundle, k8s.key), true, false },
	{ "certs.k8saggregator.crt", offsetof(struct talos_bundle, k8s_aggregator.crt), true, false },
	{ "certs.k8saggregator.key", offsetof(struct talos_bundle, k8s_aggregator.key), true, false },
	{ "certs.k8sserviceaccount.key", offsetof(struct talos_bundle, k8s_service_account_key), true,
	  false },
	{ "certs.os.crt", offsetof(struct talos_bundle, os.crt), true, false },
	{ "certs.os.key", offsetof(struct talos_bundle, os.key), true, false },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* The CAs: which certificate, its subject and key type. */
static const struct ca_row {
	const char *name; /* certs.<name> */
	size_t off;
	const char *org, *cn;
	enum talos_key_type type;
} cas[] = {
	{ "etcd", offsetof(struct talos_bundle, etcd), "etcd", NULL, TALOS_KEY_EC_P256 },
	{ "k8s", offsetof(struct talos_bundle, k8s), "kubernetes", NULL, TALOS_KEY_EC_P256 },
	{ "k8saggregator", offsetof(struct talos_bundle, k8s_aggregator), NULL, "front-proxy",
	  TALOS_KEY_EC_P256 },
	{ "os", offsetof(struct talos_bundle, os), "talos", NULL, TALOS_KEY_ED25519 },
};

static char **field_ptr(const struct talos_bundle *b, const struct field *f)
{
	return (char **)((char *)b + f->off);
}

static void wipe_str(char **s)
{
	if (*s)
		secure_free(*s, strlen(*s) + 1);
	*s = NULL;
}

void talos_secrets_free(struct talos_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < N_FIELDS; i++)
		wipe_str(field_ptr(b, &fields[i]));
}

static char *url_safe(char *s)
{
	for (char *p = s; p && *p; p++)
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	return s;
}

static int pem_of_key(EVP_PKEY *k, char **ret, struct app_err *e)
{
	struct buf b = { 0 };
	int r = talos_pki_key_pem(k, &b, e);

	if (r < 0) {
		secure_free(b.data, b.cap);
		return r;
	}
	*ret = b.data;
	return 0;
}

static int pem_of_cert(X509 *c, char **ret, struct app_err *e)
{
	struct buf b = { 0 };
	int r = talos_pki_cert_pem(c, &b, e);

	if (r < 0) {
		buf_free(&b);
		return r;
	}
	*ret = b.data;
	return 0;
}

int talos_secrets_generate(struct talos_bundle *b, time_t now, struct app_err *e)
{
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	int r = 0;

	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < sizeof(cas) / sizeof(cas[0]) && r == 0; i++) {
		struct talos_cert_key *ck = (struct talos_cert_key *)((char *)b + cas[i].off);

		k = talos_pki_keygen(cas[i].type, e);
		c = k ? talos_pki_ca_new(k, cas[i].org, cas[i].cn, now, TALOS_CA_VALIDITY, e) : NULL;
		if (!c)
			r = e ? e->code : -EIO;
		if (r == 0)
			r = pem_of_cert(c, &ck->crt, e);
		if (r == 0)
			r = pem_of_key(k, &ck->key, e);
		X509_free(c);
		EVP_PKEY_free(k);
		c = NULL;
		k = NULL;
	}
	if (r == 0) {
		k = talos_pki_keygen(TALOS_KEY_RSA4096, e);
		r = k ? pem_of_key(k, &b->k8s_service_account_key, e) : (e ? e->code : -EIO);
		EVP_PKEY_free(k);
	}
	if (r == 0 && (!(b->cluster_id = url_safe(talos_pki_rand_b64(32, e))) ||
		       !(b->cluster_secret = talos_pki_rand_b64(32, e)) ||
		       !(b->bootstrap_token = talos_pki_token(6, 16, e)) ||
		       !(b->secretbox_secret = talos_pki_rand_b64(32, e)) ||
		       !(b->trustd_token = talos_pki_token(6, 16, e))))
		r = e ? e->code : -EIO;
	if (r == 0)
		r = talos_secrets_validate(b, e);
	if (r < 0)
		talos_secrets_free(b);
	return r;
}

static bool token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n != 23 || t[6] != '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (i != 6 && !((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9')))
			return false;
	return true;
}

static int check_ca(const struct talos_bundle *b, const struct ca_row *row, struct app_err *e)
{
	const struct talos_cert_key *ck = (const struct talos_cert_key *)((const char *)b + row->off);
	char what[64];
	X509 *c = NULL;
	EVP_PKEY *k = NULL;
	int r, type;

	snprintf(what, sizeof(what), "certs.%s", row->name);
	c = talos_pki_cert_parse(ck->crt, strlen(ck->crt), what, e);
	if (!c)
		return e ? e->code : -EINVAL;
	k = talos_pki_key_parse(ck->key, strlen(ck->key), what, e);
	if (!k) {
		r = e ? e->code : -EINVAL;
		goto out;
	}
	type = talos_pki_key_type(k);
	if (type != (int)row->type) {
		r = app_err_set(
		    e, -EINVAL, "%s: expected a %s key, found %s", what, talos_pki_key_type_name(row->type),
		    type < 0 ? "another type" : talos_pki_key_type_name((enum talos_key_type)type));
		goto out;
	}
	if (X509_check_ca(c) != 1) {
		r = app_err_set(e, -EINVAL, "%s: certificate is not a CA", what);
		goto out;
	}
	r = talos_pki_key_matches(c, k, what, e);
	if (r == 0)
		r = talos_pki_verify(c, c, 0, what, e);
out:
	EVP_PKEY_free(k);
	X509_free(c);
	return r;
}

int talos_secrets_validate(const struct talos_bundle *b, struct app_err *e)
{
	EVP_PKEY *sa;
	int r, type;

	for (size_t i = 0; i < N_FIELDS; i++) {
		const char *v = *field_ptr(b, &fields[i]);
		if (!fields[i].optional && (!v || !*v))
			return app_err_set(e, -EINVAL, "secrets bundle: '%s' is missing", fields[i].path);
	}
	if (!!b->secretbox_secret == !!b->aescbc_secret)
		return app_err_set(
		    e, -EINVAL,
		    "secrets bundle: expected exactly one of 'secrets.secretboxencryptionsecret' "
		    "and 'secrets.aescbcencryptionsecret'");
	if (!token_ok(b->bootstrap_token))
		return app_err_set(
		    e, -EINVAL,
		    "secrets bundle: 'secrets.bootstraptoken' is not of the form [a-z0-9]{6}.[a-z0-9]{16}");
	if (!token_ok(b->trustd_token))
		return app_err_set(
		    e, -EINVAL,
		    "secrets bundle: 'trustdinfo.token' is not of the form [a-z0-9]{6}.[a-z0-9]{16}");
	for (size_t i = 0; i < sizeof(cas) / sizeof(cas[0]); i++) {
		r = check_ca(b, &cas[i], e);
		if (r < 0)
			return app_err_prefix(e, "secrets bundle");
	}
	sa = talos_pki_key_parse(b->k8s_service_account_key, strlen(b->k8s_service_account_key),
				 "certs.k8sserviceaccount", e);
	if (!sa)
		return app_err_prefix(e, "secrets bundle");
	type = talos_pki_key_type(sa);
	EVP_PKEY_free(sa);
	if (type != TALOS_KEY_RSA4096 && type != TALOS_KEY_EC_P256)
		return app_err_set(
		    e, -EINVAL,
		    "secrets bundle: certs.k8sserviceaccount: expected an RSA-4096 or ECDSA P-256 key");
	return 0;
}

int talos_secrets_marshal(const struct talos_bundle *b, struct buf *out, struct app_err *e)
{
	struct yval *root = y_map();
	int r;

	for (size_t i = 0; i < N_FIELDS; i++) {
		const char *v = *field_ptr(b, &fields[i]);
		const char *dot = strrchr(fields[i].path, '.');
		char *parent = xstrndup(fields[i].path, (size_t)(dot - fields[i].path));
		char *enc = NULL;

		if (v) {
			enc = fields[i].pem ? talos_b64_encode(v, strlen(v)) : NULL;
			y_set(y_at(root, parent), dot + 1, y_str(enc ? enc : v));
		}
		if (enc)
			secure_free(enc, strlen(enc) + 1);
		free(parent);
	}
	r = y_emit(&root, 1, out, e);
	y_free(root);
	return r;
}

/* ---- parsing ------------------------------------------------------------ */

struct parse_state {
	const char *name;
	struct talos_bundle *b;
	char path[256];
	struct app_err *e;
};

static int set_field(struct parse_state *st, const char *value, size_t len, size_t line)
{
	for (size_t i = 0; i < N_FIELDS; i++) {
		char **p;
		if (strcmp(fields[i].path, st->path) != 0)
			continue;
		p = field_ptr(st->b, &fields[i]);
		if (*p)
			return app_err_set(st->e, -EINVAL, "%s:%zu: '%s' is set twice", st->name, line,
					   st->path);
		if (fields[i].pem) {
			struct buf pem = { 0 };
			if (talos_b64_decode(value, &pem) < 0 || !strstr(pem.data, "-----BEGIN ")) {
				secure_free(pem.data, pem.cap);
				return app_err_set(st->e, -EINVAL,
						   "%s:%zu: '%s': expected base64 of a PEM block", st->name,
						   line, st->path);
			}
			*p = pem.data;
		} else {
			*p = xstrndup(value, len);
		}
		return 0;
	}
	return app_err_set(st->e, -EINVAL, "%s:%zu: unknown key '%s' in a secrets bundle", st->name, line,
			   st->path);
}

/* Walk one mapping whose keys extend st->path; recursion depth is bounded
 * by the layout (three levels). */
static int parse_map(yaml_parser_t *p, struct parse_state *st, int depth)
{
	size_t base = strlen(st->path);
	yaml_event_t key, val;
	int r = 0;

	for (;;) {
		if (!yaml_parser_parse(p, &key))
			return app_err_set(st->e, -EINVAL, "%s:%zu: %s", st->name, p->problem_mark.line + 1,
					   p->problem ? p->problem : "invalid yaml");
		if (key.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key);
			return 0;
		}
		if (key.type != YAML_SCALAR_EVENT) {
			size_t line = key.start_mark.line + 1;
			yaml_event_delete(&key);
			return app_err_set(st->e, -EINVAL, "%s:%zu: expected a key", st->name, line);
		}
		snprintf(st->path + base, sizeof(st->path) - base, "%s%s", base ? "." : "",
			 (const char *)key.data.scalar.value);
		yaml_event_delete(&key);
		if (!yaml_parser_parse(p, &val))
			return app_err_set(st->e, -EINVAL, "%s:%zu: %s", st->name, p->problem_mark.line + 1,
					   p->problem ? p->problem : "invalid yaml");
		if (val.type == YAML_SCALAR_EVENT) {
			r = set_field(st, (const char *)val.data.scalar.value, val.data.scalar.length,
				      val.start_mark.line + 1);
			OPENSSL_cleanse(val.data.scalar.value, val.data.scalar.length);
		} else if (val.type == YAML_MAPPING_START_EVENT && depth < 3) {
			r = parse_map(p, st, depth + 1);
		} else {
			r = app_err_set(st->e, -EINVAL, "%s:%zu: '%s': expected a string or a mapping",
					st->name, val.start_mark.line + 1, st->path);
		}
		yaml_event_delete(&val);
		st->path[base] = '\0';
		if (r < 0)
			return r;
	}
}

int talos_secrets_parse(const char *text, size_t len, const char *name, struct talos_bundle *b,
			struct app_err *e)
{
	struct parse_state st = { .name = name, .b = b, .e = e };
	yaml_parser_t p;
	yaml_event_t ev;
	int r = 0, stage = 0;

	memset(b, 0, sizeof(*b));
	if (!yaml_parser_initialize(&p))
		return app_err_set(e, -ENOMEM, "cannot initialize the yaml parser");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	/* stream start, document start, the mapping, document end, stream end */
	while (r == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = app_err_set(e, -EINVAL, "%s:%zu: %s", name, p.problem_mark.line + 1,
					p.problem ? p.problem : "invalid yaml");
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_MAPPING_START_EVENT && stage == 0) {
			stage = 1;
			r = parse_map(&p, &st, 1);
		} else if (ev.type != YAML_STREAM_START_EVENT && ev.type != YAML_DOCUMENT_START_EVENT &&
			   ev.type != YAML_DOCUMENT_END_EVENT) {
			r = app_err_set(e, -EINVAL, "%s:%zu: expected one mapping (a secrets bundle)", name,
					ev.start_mark.line + 1);
		}
		yaml_event_delete(&ev);
	}
	ytree_parser_delete(&p); /* wipes the bundle's bytes in libyaml's buffers */
	if (r == 0 && stage == 0)
		r = app_err_set(e, -EINVAL, "%s: empty; expected a secrets bundle", name);
	if (r == 0)
		r = talos_secrets_validate(b, e);
	if (r < 0) {
		talos_secrets_free(b);
		if (strncmp(e ? e->msg : "", "secrets bundle:", 15) == 0 && e) {
			char old[sizeof(e->msg)];
			memcpy(old, e->msg, sizeof(old));
			snprintf(e->msg, sizeof(e->msg), "%s%s", name, old + 14);
		}
	}
	return r;
}

int talos_secrets_load(const char *path, struct talos_bundle *b, struct app_err *e)
{
	struct buf text = { 0 };
	int r = read_file(path, BUNDLE_MAX, &text, e);

	memset(b, 0, sizeof(*b));
	if (r == 0)
		r = talos_secrets_parse(text.data, text.len, path, b, e);
	secure_free(text.data, text.cap);
	return r;
}

int talos_secrets_load_for(const char *path, const char *ca_fingerprint, struct talos_bundle *b,
			   struct app_err *e)
{
	char fp[65];
	int r = talos_secrets_load(path, b, e);

	if (r < 0)
		return r;
	talos_secrets_fingerprint(b, fp);
	if (ca_fingerprint && strcasecmp(ca_fingerprint, fp) != 0) {
		talos_secrets_free(b);
		return app_err_set(
		    e, -EINVAL,
		    "secrets bundle '%s' is another cluster's: its OS CA fingerprint is %s but "
		    "talos.caFingerprint is %s",
		    path, fp, ca_fingerprint);
	}
	return 0;
}

int talos_secrets_may_write(const char *path, bool rotate, struct app_err *e)
{
	struct stat st;

	if (rotate || lstat(path, &st) < 0)
		return 0;
	return app_err_set(e, -EEXIST,
			   "secrets bundle '%s' already exists; refusing to overwrite it "
			   "(pass --rotate to replace the cluster identity)",
			   path);
}

int talos_secrets_write(const char *path, const struct talos_bundle *b, bool rotate, char **ret_old,
			struct app_err *e)
{
	struct buf out = { 0 };
	struct stat st;
	char *old = NULL;
	int r;

	r = talos_secrets_validate(b, e);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0) {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		r = talos_secrets_may_write(path, rotate, e);
		if (r < 0)
			return r;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		old = xasprintf("%s.rotated-%s", path, stamp);
		if (chmod(path, 0600) < 0 || rename(path, old) < 0) {
			r = app_err_set(e, -errno, "cannot keep the old bundle as '%s': %s", old,
					strerror(errno));
			free(old);
			return r;
		}
	} else if (errno != ENOENT) {
		return app_err_set(e, -errno, "cannot stat '%s': %s", path, strerror(errno));
	}
	r = talos_secrets_marshal(b, &out, e);
	if (r == 0)
		r = write_file_atomic(path, out.data, out.len, 0600, e);
	secure_free(out.data, out.cap);
	if (r == 0 && ret_old)
		*ret_old = old;
	else
		free(old);
	return r;
}

void talos_secrets_fingerprint(const struct talos_bundle *b, char hex[65])
{
	sha256_hex(b->os.crt, strlen(b->os.crt), hex);
}
