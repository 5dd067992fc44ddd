/* The Talos secrets bundle: the cluster identity, generated once and kept.
 * Same YAML layout as `talosctl gen secrets` (cluster, secrets, trustdinfo,
 * certs; crt/key are base64 of PEM), so either tool can read the other's. */
#ifndef APPLIANCE_TALOS_SECRETS_H
#define APPLIANCE_TALOS_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;
struct app_err;

struct talos_cert_key {
	char *crt; /* PEM text */
	char *key; /* PEM text */
};

struct talos_bundle {
	char *cluster_id;	/* 32 random bytes, URL-safe base64 */
	char *cluster_secret;	/* 32 random bytes, base64 */
	char *bootstrap_token;	/* [a-z0-9]{6}.[a-z0-9]{16} */
	char *secretbox_secret; /* 32 random bytes, base64 (Talos >= 1.3) */
	char *aescbc_secret;	/* only in bundles from old talosctl */
	char *trustd_token;
	struct talos_cert_key etcd;	      /* ECDSA P-256 CA, O=etcd */
	struct talos_cert_key k8s;	      /* ECDSA P-256 CA, O=kubernetes */
	struct talos_cert_key k8s_aggregator; /* ECDSA P-256 CA, CN=front-proxy */
	char *k8s_service_account_key;	      /* RSA-4096 */
	struct talos_cert_key os;	      /* Ed25519 CA, O=talos */
};

/* A new bundle; the CAs are valid from now for 10 years. */
int talos_secrets_generate(struct talos_bundle *b, time_t now, struct app_err *e);

/* Every field present and well formed, every key matching its certificate,
 * every CA self-verifying (X509_verify_cert) and of the expected key type. */
int talos_secrets_validate(const struct talos_bundle *b, struct app_err *e);

/* YAML (talosctl layout), appended to out. Holds secrets: wipe out after use. */
int talos_secrets_marshal(const struct talos_bundle *b, struct buf *out, struct app_err *e);
/* Parse YAML text (name names it in errors) and validate. */
int talos_secrets_parse(const char *text, size_t len, const char *name, struct talos_bundle *b,
			struct app_err *e);
int talos_secrets_load(const char *path, struct talos_bundle *b, struct app_err *e);
/* Load, then refuse a bundle whose OS CA fingerprint is not ca_fingerprint
 * (the profile's talos.caFingerprint; NULL: no check). */
int talos_secrets_load_for(const char *path, const char *ca_fingerprint, struct talos_bundle *b,
			   struct app_err *e);

/* 0 when path may be written: it does not exist, or rotate. Else -EEXIST
 * and the refusal message (lets a command refuse before generating keys). */
int talos_secrets_may_write(const char *path, bool rotate, struct app_err *e);

/* Validate, then write path with mode 0600. An existing file is refused
 * unless rotate, in which case it is first kept as PATH.rotated-<UTC time>
 * (0600, its name in *ret_old when ret_old is non-NULL; caller frees). */
int talos_secrets_write(const char *path, const struct talos_bundle *b, bool rotate, char **ret_old,
			struct app_err *e);

/* Hex SHA-256 of the OS CA certificate PEM: the site's identity
 * (model talos.caFingerprint). */
void talos_secrets_fingerprint(const struct talos_bundle *b, char hex[65]);

void talos_secrets_free(struct talos_bundle *b);

#endif
