/* X.509 and key material for Talos, with OpenSSL 3 (EVP). Keys and
 * certificates are PEM text in the encodings Talos itself writes:
 * "EC PRIVATE KEY" (SEC1), "RSA PRIVATE KEY" (PKCS#1) and
 * "ED25519 PRIVATE KEY" (a PKCS#8 body under Talos' own label). */
#ifndef APPLIANCE_TALOS_PKI_H
#define APPLIANCE_TALOS_PKI_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct buf;
struct app_err;

enum talos_key_type { TALOS_KEY_EC_P256 = 0, TALOS_KEY_RSA4096, TALOS_KEY_ED25519 };

/* Validity of the CAs (Talos' CAValidityTime, 87600h) and of the admin
 * client certificate (1 year), in seconds. */
#define TALOS_CA_VALIDITY (87600L * 3600L)
#define TALOS_CLIENT_VALIDITY (365L * 24L * 3600L)

EVP_PKEY *talos_pki_keygen(enum talos_key_type type, struct app_err *e);
/* The key type of k, or -1 when it is none of the three. */
int talos_pki_key_type(EVP_PKEY *k);
const char *talos_pki_key_type_name(enum talos_key_type type);

/* Private key to PEM (Talos' labels, see above), appended to out. */
int talos_pki_key_pem(EVP_PKEY *k, struct buf *out, struct app_err *e);
/* Parse a private key PEM written by Talos or by talos_pki_key_pem. what
 * names it in errors ("certs.os.key"). */
EVP_PKEY *talos_pki_key_parse(const char *pem, size_t len, const char *what, struct app_err *e);

/* Self-signed CA: subject O=org (when org) and CN=cn (when cn), key usage
 * digitalSignature+keyCertSign (critical), EKU serverAuth+clientAuth,
 * basicConstraints CA:TRUE (critical), subject key id; random 128-bit serial. */
X509 *talos_pki_ca_new(EVP_PKEY *key, const char *org, const char *cn, time_t not_before, long seconds,
		       struct app_err *e);
/* Client certificate for key, O=org, signed by ca/ca_key: key usage
 * digitalSignature (critical), EKU clientAuth, authority key id. */
X509 *talos_pki_client_new(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *org, time_t not_before,
			   long seconds, struct app_err *e);

int talos_pki_cert_pem(X509 *cert, struct buf *out, struct app_err *e);
X509 *talos_pki_cert_parse(const char *pem, size_t len, const char *what, struct app_err *e);

/* X509_verify_cert of cert against the single trust anchor ca (at time
 * at, 0 = now). Also true for the self-signed ca itself. */
int talos_pki_verify(X509 *cert, X509 *ca, time_t at, const char *what, struct app_err *e);
/* The certificate's public key is the one of key. */
int talos_pki_key_matches(X509 *cert, EVP_PKEY *key, const char *what, struct app_err *e);

/* Random token "abcdef.0123456789abcdef" ([0-9a-z], lengths first.second,
 * unbiased, like talosctl's genToken). Caller frees. */
char *talos_pki_token(size_t first, size_t second, struct app_err *e);
/* nbytes random bytes, standard base64 (with padding). Caller frees. */
char *talos_pki_rand_b64(size_t nbytes, struct app_err *e);

/* Standard base64 of data; caller frees. */
char *talos_b64_encode(const void *data, size_t len);
/* Decode standard base64 (whitespace ignored) into out; -EINVAL on bad input. */
int talos_b64_decode(const char *text, struct buf *out);

#endif
