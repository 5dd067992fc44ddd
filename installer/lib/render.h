/* Model -> Kubernetes/Flux documents. OWNER: render work (issue 4).
 * Deterministic: same model, byte-identical output. */
#ifndef APPLIANCE_RENDER_H
#define APPLIANCE_RENDER_H

#include <stdbool.h>
#include <stddef.h>

struct model;
struct buf;
struct app_err;

/* The documents Talos applies at first boot so that Flux pulls the GitOps
 * repository by itself (cluster.inlineManifests): the flux-system Namespace,
 * the GitRepository, the root Kustomization reconciling gitops.path with
 * postBuild.substituteFrom, and the cluster-settings ConfigMap. No secrets
 * (talos adds those). Multi-document YAML appended to out. */
int render_bootstrap_manifests(const struct model *m, struct buf *out, struct app_err *e);

#endif
