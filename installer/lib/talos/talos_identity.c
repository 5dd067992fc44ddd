/* The cluster identity rule (see talos_identity.h). */
#include "talos/talos_identity.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "base/err.h"
#include "profile/model.h"
#include "talos/talos_secrets.h"

int talos_identity_check(const struct model *m, const char *path, const struct talos_bundle *b,
			 bool new_cluster, struct app_err *e)
{
	char fp[65];

	talos_secrets_fingerprint(b, fp);
	if (m->talos.ca_fingerprint) {
		if (strcasecmp(m->talos.ca_fingerprint, fp) == 0)
			return 0;
		return app_err_set(
		    e, -EINVAL,
		    "secrets bundle '%s' is another cluster's: its OS CA fingerprint is %s but "
		    "talos.caFingerprint is %s",
		    path, fp, m->talos.ca_fingerprint);
	}
	if (m->n_nodes <= 1 || new_cluster)
		return 0;
	return app_err_set(e, -EINVAL,
			   "the profile records no talos.caFingerprint, and its %zu nodes must share one "
			   "cluster: if '%s' is this site's bundle, add 'caFingerprint: %s' under 'talos:' "
			   "(or pass --new-cluster)",
			   m->n_nodes, path, fp);
}

/* MISSING (what is not there), and how to get the site's one bundle; OR_ELSE ends it. */
static int bundle_needed(const struct model *m, const char *missing, const char *or_else, int code,
			 struct app_err *e)
{
	if (m->talos.ca_fingerprint)
		return app_err_set(e, code,
				   "%s, and the profile records CA fingerprint %s: pass the site's bundle "
				   "with --secrets FILE",
				   missing, m->talos.ca_fingerprint);
	return app_err_set(e, code,
			   "%s, and the %zu nodes of this site must share one: create it once with "
			   "'appliance talos secrets %s --out talos-secrets.yaml', add the fingerprint it "
			   "prints as talos.caFingerprint, and pass --secrets talos-secrets.yaml%s",
			   missing, m->n_nodes, m->path, or_else);
}

int talos_identity_may_create(const struct model *m, const char *path, bool new_cluster, struct app_err *e)
{
	char missing[512];

	if (!m->talos.ca_fingerprint && (m->n_nodes <= 1 || new_cluster))
		return 0;
	snprintf(missing, sizeof(missing), "no Talos secrets bundle at '%s'", path);
	return bundle_needed(m, missing, " (or --new-cluster to start a new cluster from this machine)",
			     -ENOENT, e);
}

int talos_identity_recorded(const struct model *m, struct app_err *e)
{
	if (m->talos.ca_fingerprint || m->n_nodes <= 1)
		return 0;
	return app_err_set(e, -EINVAL,
			   "not set: the %zu nodes must share one cluster, so install refuses without it "
			   "(or --new-cluster); run 'appliance talos secrets %s --out "
			   "talos-secrets.yaml' once and record the fingerprint it prints",
			   m->n_nodes, m->path);
}

int talos_identity_need_bundle(const struct model *m, struct app_err *e)
{
	if (!m->talos.ca_fingerprint && m->n_nodes <= 1)
		return 0;
	return bundle_needed(m, "no Talos secrets bundle given (--secrets FILE)", "", -EINVAL, e);
}
