/* One cluster identity per site. Every node of a site must be installed from
 * the same Talos secrets bundle, or each becomes a cluster of its own. The
 * profile records the bundle's identity as talos.caFingerprint (the sha256 of
 * its OS CA, printed by `appliance talos secrets`); a site of more than one
 * node must record it, and every command that reads a bundle checks it. */
#ifndef APPLIANCE_TALOS_IDENTITY_H
#define APPLIANCE_TALOS_IDENTITY_H

#include <stdbool.h>

struct app_err;
struct model;
struct talos_bundle;

/* Bundle B (read from PATH) may be used for the site of M: its fingerprint is
 * talos.caFingerprint, or the profile records none and (new_cluster, or the
 * site has one node). 0, else -EINVAL naming the bundle and the fix. */
int talos_identity_check(const struct model *m, const char *path, const struct talos_bundle *b,
			 bool new_cluster, struct app_err *e);

/* A new bundle may be generated at PATH for M: only without a recorded
 * talos.caFingerprint, and for a site of several nodes only when told
 * (new_cluster). 0, else -ENOENT saying how to get the site's bundle. */
int talos_identity_may_create(const struct model *m, const char *path, bool new_cluster, struct app_err *e);

/* The profile of M records its cluster's identity where it must: talos.caFingerprint
 * for a site of several nodes. 0, else -EINVAL saying how to get it. */
int talos_identity_recorded(const struct model *m, struct app_err *e);

/* The nodes of M may be set up without a bundle given here (each making its own, as a
 * PXE tree without --secrets lets them): only a site of one node that records no
 * talos.caFingerprint. 0, else -EINVAL saying how to get the site's bundle. */
int talos_identity_need_bundle(const struct model *m, struct app_err *e);

#endif
