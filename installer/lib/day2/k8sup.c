/* Kubernetes components of a machine config. See k8sup.h. */
#include "day2/k8sup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/ytree.h"
#include "day2/compat.h"
#include "day2/nodecfg.h"

/* Paths: pkg/machinery/config/types/v1alpha1 (apiServer.image, ...,
 * machine.kubelet.image); repositories: pkg/machinery/constants/constants.go;
 * namespaces: talos_managed.go prePullImages pulls the static pods' images
 * into NS_CRI (2) on the control planes and the kubelet's into NS_SYSTEM (1)
 * on every node; kube-proxy is a DaemonSet and is not pre-pulled. */
static const struct k8sup_component comps[K8SUP_N] = {
	[K8SUP_APISERVER] = { "kube-apiserver", "cluster.apiServer.image", "registry.k8s.io/kube-apiserver",
			      true, true, 2 },
	[K8SUP_CONTROLLER_MANAGER] = { "kube-controller-manager", "cluster.controllerManager.image",
				       "registry.k8s.io/kube-controller-manager", true, true, 2 },
	[K8SUP_SCHEDULER] = { "kube-scheduler", "cluster.scheduler.image", "registry.k8s.io/kube-scheduler",
			      true, true, 2 },
	[K8SUP_PROXY] = { "kube-proxy", "cluster.proxy.image", "registry.k8s.io/kube-proxy", true, false, 0 },
	[K8SUP_KUBELET] = { "kubelet", "machine.kubelet.image", "ghcr.io/siderolabs/kubelet", false, false,
			    1 },
};

const struct k8sup_component *k8sup_component(enum k8sup_comp c)
{
	return c >= 0 && c < K8SUP_N ? &comps[c] : NULL;
}

static const char *sv(struct ynode *root, const char *path)
{
	struct ynode *n = ytree_get(root, path);

	return n && n->type == YN_SCALAR ? n->value : NULL;
}

static bool is_true(struct ynode *root, const char *path)
{
	const char *v = sv(root, path);

	return v && strcmp(v, "true") == 0;
}

/* controllers/k8s/manifest.go: the default manifests, CoreDNS unless
 * disabled, flannel when it is the CNI (the default), kube-proxy when
 * enabled, the Talos API service with kubernetesTalosAPIAccess; then the
 * inline and extra manifests of the config (extra_manifest.go). */
static void manifests(struct ynode *root, bool proxy, struct buf *out)
{
	static const char *const always[] = { "00-kubelet-bootstrapping-token", "01-csr-node-bootstrap",
					      "01-csr-approver-role-binding", "01-csr-renewal-role-binding",
					      "11-kube-config-in-cluster" };
	const char *cni = sv(root, "cluster.network.cni.name");
	struct ynode *inl = ytree_get(root, "cluster.inlineManifests");
	struct ynode *ext = ytree_get(root, "cluster.extraManifests");

	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		buf_printf(out, "%s%s", i ? ", " : "", always[i]);
	if (!is_true(root, "cluster.coreDNS.disabled"))
		buf_puts(out, ", 11-core-dns, 11-core-dns-svc");
	if (!cni || strcmp(cni, "flannel") == 0)
		buf_puts(out, ", 05-flannel");
	if (proxy)
		buf_puts(out, ", 10-kube-proxy");
	if (is_true(root, "machine.features.kubernetesTalosAPIAccess.enabled"))
		buf_puts(out, ", 12-talos-api-service, 13-talos-service-account-crd");
	for (size_t i = 0; inl && inl->type == YN_SEQ && i < inl->n; i++) {
		const char *n = sv(inl->items[i], "name");

		buf_printf(out, ", inline %s", n ? n : "?");
	}
	for (size_t i = 0; ext && ext->type == YN_SEQ && i < ext->n; i++)
		if (ext->items[i]->type == YN_SCALAR)
			buf_printf(out, ", extra %s", ext->items[i]->value);
}

const char *k8sup_image_tag(const char *image)
{
	const char *c = strrchr(image, ':'), *s = strrchr(image, '/');

	return c && (!s || c > s) ? c + 1 : "";
}

int k8sup_facts(const char *cfg, size_t len, const char *name, struct k8sup_facts *ret, struct app_err *e)
{
	struct ytree *t = NULL;
	struct buf m = { 0 };
	int r;

	memset(ret, 0, sizeof(*ret));
	r = nodecfg_parse_first(cfg, len, name, &t, e);
	if (r < 0)
		return r;
	for (int c = 0; c < K8SUP_N; c++) {
		const char *v = t->root ? sv(t->root, comps[c].path) : NULL;

		ret->image[c] = xstrdup(v ? v : "");
	}
	ret->proxy_enabled = t->root && !is_true(t->root, "cluster.proxy.disabled");
	if (t->root)
		manifests(t->root, ret->proxy_enabled, &m);
	ret->manifests = m.data ? m.data : xstrdup("");
	ytree_free(t);
	return 0;
}

void k8sup_facts_free(struct k8sup_facts *f)
{
	if (!f)
		return;
	for (int c = 0; c < K8SUP_N; c++)
		free(f->image[c]);
	free(f->manifests);
	memset(f, 0, sizeof(*f));
}

char *k8sup_target_image(enum k8sup_comp c, const char *current, const char *version)
{
	/* the reference without its digest, then without its tag (a colon after
	 * the last slash: a registry's port comes before it) */
	char *repo = xstrndup(current ? current : "", current ? strcspn(current, "@") : 0);
	char *colon = strrchr(repo, ':'), *slash = strrchr(repo, '/'), *img;
	const char *suffix = "";

	if (colon && (!slash || colon > slash)) {
		if (c == K8SUP_KUBELET) {
			size_t n = strlen(colon);

			if (n > 4 && strcmp(colon + n - 4, "-fat") == 0)
				suffix = "-fat";
			else if (n > 5 && strcmp(colon + n - 5, "-slim") == 0)
				suffix = "-slim";
		}
		*colon = '\0';
	}
	if (!*repo) {
		free(repo);
		repo = xstrdup(comps[c].default_repo);
	}
	img = xasprintf("%s:v%s%s", repo, version[0] == 'v' ? version + 1 : version, suffix);
	free(repo);
	return img;
}

int k8sup_patch(const char *cfg, size_t len, enum k8sup_comp c, const char *image, struct buf *out,
		struct app_err *e)
{
	struct ytree *t = NULL;
	struct ynode *n;
	const char *doc, *p, *end;
	int r, line;

	r = nodecfg_parse_first(cfg, len, "running config", &t, e);
	if (r < 0)
		return r;
	n = t->root ? ytree_get(t->root, comps[c].path) : NULL;
	if (!n || n->type != YN_SCALAR) {
		ytree_free(t);
		return app_err_set(e, -ENOENT, "the running config sets no %s", comps[c].path);
	}
	/* the scalar's line and column in the first document: replace from its
	 * first character to the end of that line */
	end = cfg + len;
	(void)nodecfg_first_doc(cfg, len, &doc);
	for (p = doc, line = 1; p < end && line < n->line; p++)
		if (*p == '\n')
			line++;
	p += n->col - 1;
	ytree_free(t);
	if (p >= end)
		return app_err_set(e, -EPROTO, "cannot find %s in the running config", comps[c].path);
	buf_append(out, cfg, (size_t)(p - cfg));
	buf_puts(out, image);
	while (p < end && *p != '\n')
		p++;
	buf_append(out, p, (size_t)(end - p));
	return 0;
}

/* ---- removed in a Kubernetes minor ---------------------------------------- */

/* go-kubernetes v0.2.23 kubernetes/upgrade/checks.go, the paths Talos 1.10
 * can take (it runs Kubernetes 1.28 to 1.33). */
struct k8sup_removed {
	const char *path;
	const char *const *gates; /* kube-apiserver, kube-controller-manager, kube-scheduler */
	const char *const *apiserver_flags, *const *admission, *const *cm_flags, *const *kubelet_flags;
	const char *const *apis;
};

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
static const struct k8sup_removed removed[] = {
	{ "1.28->1.29", NULL, NULL, NULL, NULL, NULL, L("/apis/networking.k8s.io/v1alpha1/clustercidrs") },
	{ "1.29->1.30",
	  L("ExpandedDNSConfig", "ExperimentalHostUserNamespaceDefaultingGate", "IPTablesOwnershipCleanup",
	    "KubeletPodResources", "KubeletPodResourcesGetAllocatable", "MinimizeIPTablesRestore",
	    "ProxyTerminatingEndpoints", "RemoveSelfLink"),
	  NULL, L("SecurityContextDeny"), NULL, NULL, NULL },
	{ "1.30->1.31",
	  L("APIPriorityAndFairness", "CSINodeExpandSecret", "ConsistentHTTPGetHandlers",
	    "DefaultHostNetworkHostPortsInPodTemplates", "ServiceNodePortStaticSubrange",
	    "SkipReadOnlyValidationGCE"),
	  NULL, NULL,
	  L("volume-host-cidr-denylist", "volume-host-allow-local-loopback",
	    "horizontal-pod-autoscaler-upscale-delay", "horizontal-pod-autoscaler-downscale-delay"),
	  L("keep-terminated-pod-volumes", "iptables-masquerade-bit", "iptables-drop-bit"), NULL },
	{ "1.31->1.32",
	  L("AllowServiceLBStatusOnNonLB", "CloudDualStackNodeIPs", "DRAControlPlaneController",
	    "HPAContainerMetrics", "KMSv2", "KMSv2KDF", "LegacyServiceAccountTokenCleanUp",
	    "MinDomainsInPodTopologySpread", "NewVolumeManagerReconstruction", "NodeOutOfServiceVolumeDetach",
	    "ServerSideApply", "ServerSideFieldValidation", "StableLoadBalancerNodeSet",
	    "ValidatingAdmissionPolicy", "ZeroLimitedNominalConcurrencyShares"),
	  NULL, NULL, NULL, NULL, L("/apis/resource.k8s.io/v1alpha3/podschedulingcontexts") },
	{ "1.32->1.33",
	  L("AppArmor", "AppArmorFields", "CPUManager", "DisableCloudProviders",
	    "DisableKubeletCloudCredentialProviders", "JobPodFailurePolicy",
	    "KubeProxyDrainingTerminatingNodes", "PDBUnhealthyPodEvictionPolicy",
	    "PersistentVolumeLastPhaseTransitionTime", "VolumeCapacityPriority"),
	  L("cloud-config"), NULL, NULL, NULL, NULL },
};
#undef L

const struct k8sup_removed *k8sup_removed_for(const char *from, const char *to)
{
	char path[64];
	int a = 0, b = 0, c = 0, x = 0, y = 0, z = 0;

	if (day2_version_parse(from, &a, &b, &c) < 0 || day2_version_parse(to, &x, &y, &z) < 0)
		return NULL;
	snprintf(path, sizeof(path), "%d.%d->%d.%d", a, b, x, y);
	for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++)
		if (strcmp(removed[i].path, path) == 0)
			return &removed[i];
	return NULL;
}

const char *k8sup_removed_path(const struct k8sup_removed *rm)
{
	return rm->path;
}

const char *const *k8sup_removed_apis(const struct k8sup_removed *rm)
{
	static const char *const none[] = { NULL };

	return rm->apis ? rm->apis : none;
}

/* Is item one of the comma-separated entries of list ("A=true,B=false"
 * for feature gates: the name before '=')? */
static bool listed(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && *p == ' ')
			p++, len--;
		if (len >= n && strncmp(p, item, n) == 0 && (len == n || p[n] == '='))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static int check_args(struct ynode *args, const char *node, const char *comp, const char *const *gates,
		      const char *const *flags, const char *const *admission, struct buf *found)
{
	const char *fg = args ? sv(args, "feature-gates") : NULL;
	const char *ap = args ? sv(args, "enable-admission-plugins") : NULL;
	int n = 0;

	for (size_t i = 0; fg && gates && gates[i]; i++)
		if (listed(fg, gates[i]))
			n++, buf_printf(found, "%s %s feature gate %s\n", node, comp, gates[i]);
	for (size_t i = 0; args && flags && flags[i]; i++)
		if (ynode_map_get(args, flags[i]))
			n++, buf_printf(found, "%s %s flag --%s\n", node, comp, flags[i]);
	for (size_t i = 0; ap && admission && admission[i]; i++)
		if (listed(ap, admission[i]))
			n++, buf_printf(found, "%s %s admission plugin %s\n", node, comp, admission[i]);
	return n;
}

int k8sup_removed_in_config(const struct k8sup_removed *rm, const char *cfg, size_t len, const char *node,
			    struct buf *found, struct app_err *e)
{
	struct ytree *t = NULL;
	int r = nodecfg_parse_first(cfg, len, "running config", &t, e), n = 0;

	if (r < 0)
		return r;
	if (t->root) {
		n += check_args(ytree_get(t->root, "cluster.apiServer.extraArgs"), node, "kube-apiserver",
				rm->gates, rm->apiserver_flags, rm->admission, found);
		n += check_args(ytree_get(t->root, "cluster.controllerManager.extraArgs"), node,
				"kube-controller-manager", rm->gates, rm->cm_flags, NULL, found);
		n += check_args(ytree_get(t->root, "cluster.scheduler.extraArgs"), node, "kube-scheduler",
				rm->gates, NULL, NULL, found);
		n += check_args(ytree_get(t->root, "machine.kubelet.extraArgs"), node, "kubelet", NULL,
				rm->kubelet_flags, NULL, found);
	}
	ytree_free(t);
	return n;
}
