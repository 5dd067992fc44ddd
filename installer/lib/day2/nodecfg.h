/* What a Talos machine config (v1alpha1, the first document of the stream)
 * says about a node and its cluster: facts for `appliance status` and the
 * cluster-identity guard of `appliance apply`. Configs hold secrets: only
 * their digests ever leave this module. */
#ifndef APPLIANCE_DAY2_NODECFG_H
#define APPLIANCE_DAY2_NODECFG_H

#include <stddef.h>

struct app_err;
struct buf;
struct ytree;

/* The first document of a config stream (the v1alpha1 one): where it starts
 * in *start and its length. */
size_t nodecfg_first_doc(const char *cfg, size_t len, const char **start);
/* That document parsed (name in messages). */
int nodecfg_parse_first(const char *cfg, size_t len, const char *name, struct ytree **ret, struct app_err *e);

/* Whether CFG (read from NAME) is a Talos machine config as Talos' decoder
 * reads one (siderolabs/talos, pkg/machinery/config/configloader/internal/
 * decoder/decoder.go: each document a mapping, null documents skipped, the
 * v1alpha1 one known by its machine/cluster keys), holding the v1alpha1
 * document with a `machine:` mapping that installing a node needs. -EINVAL
 * with "machine config 'NAME' is empty" or "NAME:LINE:COL: ..."; messages
 * never carry a value of the config (it holds secrets). */
int nodecfg_check(const char *cfg, size_t len, const char *name, struct app_err *e);

struct nodecfg_facts {
	char *type;	     /* machine.type: controlplane | worker */
	char *install_image; /* machine.install.image */
	char *schematic;     /* the <id> of an Image Factory installer image, "" otherwise */
	char *talos_version; /* its tag ("v1.10.5"), "" when none */
	char *kubelet_image; /* machine.kubelet.image */
};

int nodecfg_facts(const char *config, size_t len, const char *name, struct nodecfg_facts *ret,
		  struct app_err *e);
void nodecfg_facts_free(struct nodecfg_facts *f);

/* Compare the cluster identity of the config a node runs (old) with the one
 * about to be applied (new): the CAs (machine.ca, cluster.ca,
 * cluster.aggregatorCA, cluster.etcd.ca), cluster.id, cluster.secret,
 * cluster.clusterName, cluster.controlPlane.endpoint, cluster.serviceAccount,
 * machine.token, where both configs carry a value (a change of role adds or
 * drops keys). Appends one line per difference to why ("cluster.id:
 * changes (value not shown)", "cluster.controlPlane.endpoint:
 * 'https://a:6443' -> 'https://b:6443'"); returns how many (or <0 when a
 * config does not parse). */
int nodecfg_identity_diff(const char *old_cfg, size_t old_len, const char *new_cfg, size_t new_len,
			  struct buf *why, struct app_err *e);

/* A unified diff of machine configs (what Talos' dry run reports) fit to
 * print: the value of every line whose key names a secret (key, token,
 * secret, password, credentials, identity, ...) and every long base64 run
 * (keys and certificates inline, PGP blocks inside inline manifests)
 * becomes "<redacted>". Headers and structure stay. */
void nodecfg_redact_diff(const char *diff, struct buf *out);

#endif
