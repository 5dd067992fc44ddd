/* The Kubernetes components of a Talos machine config and the one-image
 * patches `appliance upgrade --kubernetes` sends, the way talosctl
 * upgrade-k8s does it (siderolabs/talos v1.10.5
 * pkg/cluster/kubernetes/talos_managed.go, kubelet.go, patch.go): take the
 * config the node runs, change one component's image, apply it without a
 * reboot. Configs hold secrets: only images and names leave this module. */
#ifndef APPLIANCE_DAY2_K8SUP_H
#define APPLIANCE_DAY2_K8SUP_H

#include <stdbool.h>
#include <stddef.h>

struct app_err;
struct buf;

/* In upgrade-k8s's order: the static pods one at a time across the control
 * planes, then kube-proxy, then the kubelet of every node. */
enum k8sup_comp {
	K8SUP_APISERVER = 0,
	K8SUP_CONTROLLER_MANAGER,
	K8SUP_SCHEDULER,
	K8SUP_PROXY,
	K8SUP_KUBELET,
	K8SUP_N
};

struct k8sup_component {
	const char *name;	  /* "kube-apiserver": the static pod's k8s-app label */
	const char *path;	  /* "cluster.apiServer.image" */
	const char *default_repo; /* constants.go KubernetesAPIServerImage, ... */
	bool control_plane_only;
	bool static_pod;
	int ns; /* enum talosops_ns to pre-pull into; 0: not pre-pulled */
};

const struct k8sup_component *k8sup_component(enum k8sup_comp c);

/* What a node's running config says. */
struct k8sup_facts {
	char *image[K8SUP_N]; /* "" when the config does not set it */
	bool proxy_enabled;   /* cluster.proxy.disabled is not true */
	/* the bootstrap manifests Talos renders from this config (controllers/k8s
	 * manifest.go, extra_manifest.go), ", "-joined */
	char *manifests;
};

/* The tag of an image reference ("v1.33.2" of "ghcr.io/siderolabs/kubelet:v1.33.2"),
 * "" when it has none (a colon before the last slash is a registry's port). */
const char *k8sup_image_tag(const char *image);

int k8sup_facts(const char *cfg, size_t len, const char *name, struct k8sup_facts *ret, struct app_err *e);
void k8sup_facts_free(struct k8sup_facts *f);

/* The image a component moves to: the repository of current (without its
 * tag or digest; the component's default when current is ""), tag "v"+version without its "v", and for the
 * kubelet the "-fat"/"-slim" suffix current carries (kubelet.go extractKubeletVersionSuffix). Caller frees.
 */
char *k8sup_target_image(enum k8sup_comp c, const char *current, const char *version);

/* cfg with the component's image replaced by image, everything else byte for
 * byte (the config Talos runs, as patchNodeConfig sends it back). -ENOENT
 * when the config does not set that image. out holds secrets. */
int k8sup_patch(const char *cfg, size_t len, enum k8sup_comp c, const char *image, struct buf *out,
		struct app_err *e);

/* What a Kubernetes minor upgrade removes, as talosctl upgrade-k8s checks it
 * before changing anything (siderolabs/go-kubernetes v0.2.23, the version
 * Talos v1.10.5 uses, kubernetes/upgrade/checks.go NewChecks): feature gates
 * (of kube-apiserver, kube-controller-manager, kube-scheduler), flags per
 * component, admission plugins, API resources. NULL when the path removes
 * nothing. */
struct k8sup_removed;
const struct k8sup_removed *k8sup_removed_for(const char *from, const char *to);
/* "1.32->1.33" */
const char *k8sup_removed_path(const struct k8sup_removed *rm);
/* What of it a node's running config still uses (upstream reads the static
 * pods' commands and the kubelet's args, which Talos builds from these
 * extraArgs): appends "NODE COMPONENT feature gate|flag|admission plugin
 * VALUE" lines to found; returns how many. */
int k8sup_removed_in_config(const struct k8sup_removed *rm, const char *cfg, size_t len, const char *node,
			    struct buf *found, struct app_err *e);
/* The removed API resources as list paths ("/apis/resource.k8s.io/v1alpha3/
 * podschedulingcontexts"), NULL-terminated; upstream refuses when a list
 * of one has items (a 404 means the type is not served: fine). */
const char *const *k8sup_removed_apis(const struct k8sup_removed *rm);

#endif
