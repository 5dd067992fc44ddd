#include "talos/talos_pki.h"

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "base/err.h"
#include "base/util.h"

/* The last OpenSSL error as text (never key material), and clear the queue. */
static const char *ossl_reason(void)
{
	static __thread char text[256];
	unsigned long code = ERR_peek_last_error();

	if (!code)
		return "unknown error";
	ERR_error_string_n(code, text, sizeof(text));
	ERR_clear_error();
	return text;
}

static const struct {
	enum talos_key_type type;
	const char *name;
	const char *pem_label;
} key_types[] = {
	{ TALOS_KEY_EC_P256, "ECDSA P-256", "EC PRIVATE KEY" },
	{ TALOS_KEY_RSA4096, "RSA-4096", "RSA PRIVATE KEY" },
	{ TALOS_KEY_ED25519, "Ed25519", "ED25519 PRIVATE KEY" },
};

const char *talos_pki_key_type_name(enum talos_key_type type)
{
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (key_types[i].type == type)
			return key_types[i].name;
	return "unknown";
}

EVP_PKEY *talos_pki_keygen(enum talos_key_type type, struct app_err *e)
{
	EVP_PKEY *k = NULL;

	switch (type) {
	case TALOS_KEY_EC_P256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case TALOS_KEY_RSA4096:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case TALOS_KEY_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (!k)
		app_err_set(e, -EIO, "cannot generate %s key: %s", talos_pki_key_type_name(type),
			    ossl_reason());
	return k;
}

int talos_pki_key_type(EVP_PKEY *k)
{
	char group[32];
	size_t glen = 0;

	if (EVP_PKEY_is_a(k, "ED25519"))
		return TALOS_KEY_ED25519;
	if (EVP_PKEY_is_a(k, "RSA"))
		return EVP_PKEY_get_bits(k) == 4096 ? TALOS_KEY_RSA4096 : -1;
	if (EVP_PKEY_is_a(k, "EC") &&
	    EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen) == 1 &&
	    (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
		return TALOS_KEY_EC_P256;
	return -1;
}

int talos_pki_key_pem(EVP_PKEY *k, struct buf *out, struct app_err *e)
{
	int type = talos_pki_key_type(k);
	unsigned char *der = NULL;
	BIO *bio;
	char *mem;
	long n;
	int len, r = 0;

	if (type < 0)
		return app_err_set(e, -EINVAL, "unsupported private key type");
	/* Traditional form for EC (SEC1) and RSA (PKCS#1); PKCS#8 for Ed25519. */
	len = i2d_PrivateKey(k, &der);
	if (len <= 0)
		return app_err_set(e, -EIO, "cannot encode private key: %s", ossl_reason());
	bio = BIO_new(BIO_s_secmem());
	if (!bio || PEM_write_bio(bio, key_types[type].pem_label, "", der, len) <= 0) {
		r = app_err_set(e, -EIO, "cannot encode private key: %s", ossl_reason());
	} else {
		n = BIO_get_mem_data(bio, &mem);
		buf_append(out, mem, (size_t)n);
	}
	BIO_free_all(bio);
	OPENSSL_clear_free(der, (size_t)len);
	return r;
}

EVP_PKEY *talos_pki_key_parse(const char *pem, size_t len, const char *what, struct app_err *e)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long dlen = 0;
	EVP_PKEY *k = NULL;

	if (!bio || PEM_read_bio(bio, &name, &header, &der, &dlen) != 1) {
		app_err_set(e, -EINVAL, "%s: not a PEM private key", what);
		goto out;
	}
	if (strcmp(name, "EC PRIVATE KEY") != 0 && strcmp(name, "RSA PRIVATE KEY") != 0 &&
	    strcmp(name, "ED25519 PRIVATE KEY") != 0 && strcmp(name, "PRIVATE KEY") != 0) {
		app_err_set(e, -EINVAL, "%s: expected a private key PEM, found '%s'", what, name);
		goto out;
	}
	p = der;
	k = d2i_AutoPrivateKey(NULL, &p, dlen);
	if (!k)
		app_err_set(e, -EINVAL, "%s: cannot parse private key: %s", what, ossl_reason());
out:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (der)
		OPENSSL_clear_free(der, (size_t)dlen);
	BIO_free(bio);
	return k;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

/* Common body: version 3, random serial, validity, subject, public key. */
static X509 *cert_base(EVP_PKEY *key, const char *org, const char *cn, time_t not_before, long seconds)
{
	X509 *cert = X509_new();
	X509_NAME *name;
	BIGNUM *bn = BN_new();
	int ok = cert && bn;

	ok = ok && X509_set_version(cert, X509_VERSION_3);
	ok = ok && BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
	ok = ok && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	ok = ok && X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &not_before);
	ok = ok && X509_time_adj_ex(X509_getm_notAfter(cert), 0, seconds, &not_before);
	name = ok ? X509_get_subject_name(cert) : NULL;
	if (ok && org)
		ok = X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1,
						0);
	if (ok && cn)
		ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
						0);
	ok = ok && X509_set_pubkey(cert, key);
	BN_free(bn);
	if (!ok) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static int cert_sign(X509 *cert, EVP_PKEY *signer)
{
	/* Ed25519 signs the message itself; ECDSA and RSA with SHA-256. */
	const EVP_MD *md = EVP_PKEY_is_a(signer, "ED25519") ? NULL : EVP_sha256();

	return X509_sign(cert, signer, md) > 0 ? 0 : -1;
}

X509 *talos_pki_ca_new(EVP_PKEY *key, const char *org, const char *cn, time_t not_before, long seconds,
		       struct app_err *e)
{
	X509 *cert = cert_base(key, org, cn, not_before, seconds);

	if (!cert || X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1 ||
	    add_ext(cert, cert, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
	    add_ext(cert, cert, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
	    add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(cert, cert, NID_subject_key_identifier, "hash") < 0 || cert_sign(cert, key) < 0) {
		app_err_set(e, -EIO, "cannot create CA certificate (%s): %s", org ? org : cn, ossl_reason());
		X509_free(cert);
		return NULL;
	}
	return cert;
}

X509 *talos_pki_client_new(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *org, time_t not_before,
			   long seconds, struct app_err *e)
{
	X509 *cert = cert_base(key, org, NULL, not_before, seconds);

	if (!cert || X509_set_issuer_name(cert, X509_get_subject_name(ca)) != 1 ||
	    add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, ca, NID_ext_key_usage, "clientAuth") < 0 ||
	    add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, ca, NID_authority_key_identifier, "keyid:always") < 0 ||
	    cert_sign(cert, ca_key) < 0) {
		app_err_set(e, -EIO, "cannot create client certificate (O=%s): %s", org, ossl_reason());
		X509_free(cert);
		return NULL;
	}
	return cert;
}

int talos_pki_cert_pem(X509 *cert, struct buf *out, struct app_err *e)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *mem;
	long n;
	int r = 0;

	if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
		r = app_err_set(e, -EIO, "cannot encode certificate: %s", ossl_reason());
	} else {
		n = BIO_get_mem_data(bio, &mem);
		buf_append(out, mem, (size_t)n);
	}
	BIO_free(bio);
	return r;
}

X509 *talos_pki_cert_parse(const char *pem, size_t len, const char *what, struct app_err *e)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	if (!cert)
		app_err_set(e, -EINVAL, "%s: not a PEM certificate: %s", what, ossl_reason());
	BIO_free(bio);
	return cert;
}

int talos_pki_verify(X509 *cert, X509 *ca, time_t at, const char *what, struct app_err *e)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int r = 0;

	if (!store || !ctx || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		r = app_err_set(e, -EIO, "%s: cannot set up verification: %s", what, ossl_reason());
		goto out;
	}
	if (at)
		X509_STORE_CTX_set_time(ctx, 0, at);
	if (X509_verify_cert(ctx) != 1)
		r = app_err_set(e, -EINVAL, "%s: certificate does not verify against its CA: %s", what,
				X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}

int talos_pki_key_matches(X509 *cert, EVP_PKEY *key, const char *what, struct app_err *e)
{
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		return app_err_set(e, -EINVAL, "%s: private key does not belong to the certificate", what);
	}
	return 0;
}

char *talos_pki_token(size_t first, size_t second, struct app_err *e)
{
	static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	size_t n = first + 1 + second;
	char *tok = xmalloc(n + 1);
	unsigned char pool[64];
	size_t used = sizeof(pool);

	for (size_t i = 0; i < n; i++) {
		if (i == first) {
			tok[i] = '.';
			continue;
		}
		for (;;) {
			if (used == sizeof(pool)) {
				if (RAND_bytes(pool, sizeof(pool)) != 1) {
					free(tok);
					app_err_set(e, -EIO, "random generator failed: %s", ossl_reason());
					return NULL;
				}
				used = 0;
			}
			/* 252 = 7 * 36: reject the rest so every character is equally likely */
			if (pool[used] < 252)
				break;
			used++;
		}
		tok[i] = alphabet[pool[used++] % 36];
	}
	tok[n] = '\0';
	OPENSSL_cleanse(pool, sizeof(pool));
	return tok;
}

char *talos_b64_encode(const void *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

int talos_b64_decode(const char *text, struct buf *out)
{
	size_t n = strlen(text), k = 0, pad = 0;
	char *clean = xmalloc(n + 1);
	unsigned char *bin;
	int len;

	for (size_t i = 0; i < n; i++)
		if (text[i] != '\n' && text[i] != '\r' && text[i] != ' ' && text[i] != '\t')
			clean[k++] = text[i];
	clean[k] = '\0';
	if (k == 0 || k % 4 != 0) {
		free(clean);
		return -EINVAL;
	}
	if (clean[k - 1] == '=')
		pad++;
	if (clean[k - 2] == '=')
		pad++;
	bin = xmalloc(k / 4 * 3 + 1);
	len = EVP_DecodeBlock(bin, (unsigned char *)clean, (int)k);
	free(clean);
	if (len < 0) {
		secure_free(bin, k / 4 * 3 + 1);
		return -EINVAL;
	}
	buf_append(out, bin, (size_t)len - pad);
	secure_free(bin, k / 4 * 3 + 1);
	return 0;
}

char *talos_pki_rand_b64(size_t nbytes, struct app_err *e)
{
	unsigned char *raw = xmalloc(nbytes);
	char *out = NULL;

	if (RAND_bytes(raw, (int)nbytes) != 1)
		app_err_set(e, -EIO, "random generator failed: %s", ossl_reason());
	else
		out = talos_b64_encode(raw, nbytes);
	secure_free(raw, nbytes);
	return out;
}
