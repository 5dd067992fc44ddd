/* Per-node PXE payloads, rendered on the admin machine.
 *
 * For every node, pxe_payloads_build() renders the node's machine config from
 * the site's Talos secrets bundle (the same library calls as `appliance talos
 * gen`) and packs it into OUT.payloads/NODE.cpio (directory 0700, files 0600,
 * owned by whoever ran it, never under the TFTP root):
 *   payload/node         the node's name
 *   payload/config.yaml  its machine config (workers: no CA key, no bootstrap Secret)
 *   payload/secrets.env  KEY=VALUE lines for the secrets the install on the node
 *                        reads (the NAS credentials), only those whose value the
 *                        node's config itself carries (control planes with SMB CSI)
 *   payload/secrets.yaml a profile overlay pointing those secrets at secrets.env
 * Nothing else: the bundle, other nodes' configs and every other secret stay on
 * the admin machine. pxe_serve.h hands each payload out once.
 * Library code: never prints. */
#ifndef APPLIANCE_PXE_PAYLOAD_H
#define APPLIANCE_PXE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "profile/model.h"

struct app_err;
struct pxe_opts;

struct pxe_payload_info {
	char *node;
	size_t bytes;
	char *data;		/* the cpio (holds secrets; wiped by pxe_payloads_free) */
	struct strlist secrets; /* names of the secrets delivered with it (secrets.env) */
	/* names of the profile's secrets whose values its machine config carries
	 * (bootstrap Secrets: NAS, git, SOPS, S3 ...), in the profile's order */
	struct strlist config_secrets;
	bool ca_keys; /* the config carries the cluster's CA private keys (control plane) */
};

struct pxe_payloads {
	char *dir; /* OUT.payloads */
	struct pxe_payload_info *v;
	size_t n;
};

/* OUT.payloads for the tree OUT (caller frees). */
char *pxe_payload_dir(const char *out);

/* Every file the profile makes `appliance pxe` read (file: secrets, the pins
 * file) either lies inside the profile's folder, or is named by an absolute
 * path listed in o->allow_files. Anything else (../../etc/shadow) is refused
 * before a byte is read, naming the key, where it was set and the resolved path.
 * The compiled-in default pins file (../images/pins.yaml, shipped with the live
 * system) is not read and so not checked. */
int pxe_check_files(const struct model *m, const struct pxe_opts *o, struct app_err *e);

/* Render and pack one payload per node in memory (see above); nothing is
 * written, so a bad bundle or an unreadable secret stops before any file. */
int pxe_payloads_render(const struct model *m, const struct pxe_opts *o, struct pxe_payloads *ret,
			struct app_err *e);
/* Write them to p->dir (0700, must belong to this user), after removing what a
 * previous run left there (payloads and served marks: a rebuild re-arms). */
int pxe_payloads_write(struct pxe_payloads *p, struct app_err *e);
void pxe_payloads_free(struct pxe_payloads *p);

#endif
