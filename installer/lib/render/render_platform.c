/* The platform the Immich stack depends on: one Flux Kustomization per
 * component under platform/<name>/ (ks.yaml, namespace.yaml,
 * kustomization.yaml) reconciling platform/<name>/app/, with pinned chart
 * versions from the profile. The component table is the only place that
 * knows which component needs what: whom it waits for, which CRDs it brings
 * (the reconcile check in render_check.c reads both) and what its Ready means.
 *
 * Upstream facts used: cert-manager's chart installs its CRDs with
 * crds.enabled (jetstack cert-manager v1.15+, installCRDs deprecated); the
 * Barman Cloud plugin v0.5.0 manifest (cloudnative-pg/plugin-barman-cloud
 * releases) contains a cert-manager Issuer and Certificate; the Immich chart
 * 0.9.0 (immich-app/immich-charts charts/immich/values.yaml) creates
 * ServiceMonitors when immich.metrics.enabled; CNPG creates a PodMonitor for
 * monitoring.enablePodMonitor. healthCheckExprs follow kustomize-controller's
 * CEL health checks (docs/spec/v1/kustomizations.md, fluxcd/pkg runtime/cel:
 * inProgress, failed, current in that order; none true means in progress). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/yemit.h"
#include "profile/model.h"
#include "render/render.h"
#include "render/render_platform.h"

static void comp_helmrelease(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_cilium(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_barman(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_rook_cluster(struct render_ctx *c, const struct comp *d, const struct model_component *mc);

#define OFF(f) offsetof(struct model_platform, f)
#define NAME(c) (OFF(c) + offsetof(struct model_component, name))

enum {
	C_CILIUM,
	C_CILIUM_LB,
	C_CERT_MANAGER,
	C_ISSUERS,
	C_MONITORING,
	C_CNPG,
	C_BARMAN,
	C_DRAGONFLY,
	C_VOLSYNC,
	C_ONEPASSWORD,
	C_SMB,
	C_ROOK,
	C_ROOK_CLUSTER,
	C_TAILSCALE,
	C_GATEWAY,
	C_GATEWAYS,
	N_COMPS,
};

#define NONE       \
	{          \
		-1 \
	}
#define HR_READY "HelmRelease Ready (chart installed, CRDs in place)"

/* clang-format off */
/* One row per Flux Kustomization of the platform, in dependency order. */
static const struct comp comps[N_COMPS] = {
	[C_CILIUM] = { NAME(cilium), OFF(cilium), "platform.cilium", NONE, comp_cilium,
		"cilium.io/CiliumLoadBalancerIPPool|cilium.io/CiliumBGPClusterConfig|cilium.io/CiliumBGPPeerConfig|"
		"cilium.io/CiliumBGPAdvertisement|cilium.io/CiliumL2AnnouncementPolicy",
		HR_READY " (the CRDs are registered by the Cilium operator)", NULL },
	[C_CILIUM_LB] = { OFF(cilium_lb_ks), OFF(cilium), "platform.cilium", { C_CILIUM, -1 }, comp_cilium_lb,
		NULL, "the LB pool and its announcements applied", NULL },
	[C_CERT_MANAGER] = { NAME(cert_manager), OFF(cert_manager), "platform.certManager", NONE, comp_helmrelease,
		"cert-manager.io/Certificate|cert-manager.io/Issuer|cert-manager.io/ClusterIssuer", HR_READY, NULL },
	[C_ISSUERS] = { OFF(issuers_ks), OFF(cert_manager), "platform.certManager", { C_CERT_MANAGER, C_ONEPASSWORD, -1 },
		comp_issuers, NULL, "the ClusterIssuer Ready (ACME account registered)", NULL },
	[C_MONITORING] = { NAME(monitoring), OFF(monitoring), "platform.monitoring", NONE, comp_helmrelease,
		"monitoring.coreos.com/ServiceMonitor|monitoring.coreos.com/PodMonitor|monitoring.coreos.com/PrometheusRule",
		HR_READY, NULL },
	[C_CNPG] = { NAME(cnpg), OFF(cnpg), "platform.cnpg", NONE, comp_helmrelease,
		"postgresql.cnpg.io/Cluster|postgresql.cnpg.io/ScheduledBackup|postgresql.cnpg.io/Backup|"
		"postgresql.cnpg.io/Pooler", HR_READY, NULL },
	[C_BARMAN] = { NAME(barman_plugin), OFF(barman_plugin), "platform.barmanPlugin", { C_CNPG, C_CERT_MANAGER, -1 },
		comp_barman, "barmancloud.cnpg.io/ObjectStore",
		"the plugin Deployment available and its cert-manager Certificate issued", NULL },
	[C_DRAGONFLY] = { NAME(dragonfly), OFF(dragonfly), "platform.dragonfly", NONE, comp_helmrelease,
		"dragonflydb.io/Dragonfly", HR_READY, NULL },
	[C_VOLSYNC] = { NAME(volsync), OFF(volsync), "platform.volsync", NONE, comp_helmrelease,
		"volsync.backube/ReplicationSource|volsync.backube/ReplicationDestination", HR_READY, NULL },
	[C_ONEPASSWORD] = { NAME(onepassword), OFF(onepassword), "platform.onepassword", NONE, comp_helmrelease,
		"onepassword.com/OnePasswordItem", HR_READY, NULL },
	[C_SMB] = { NAME(smb_csi), OFF(smb_csi), "platform.smbCsi", NONE, comp_helmrelease, NULL, HR_READY, NULL },
	[C_ROOK] = { NAME(rook), OFF(rook), "platform.rook", NONE, comp_helmrelease,
		"ceph.rook.io/CephCluster|ceph.rook.io/CephBlockPool", HR_READY, NULL },
	[C_ROOK_CLUSTER] = { OFF(rook_cluster_ks), OFF(rook), "platform.rook", { C_ROOK, -1 }, comp_rook_cluster, NULL,
		"CephCluster phase Ready with HEALTH_OK or HEALTH_WARN (healthCheckExprs)", "CephCluster" },
	[C_TAILSCALE] = { NAME(tailscale), OFF(tailscale), "platform.tailscale", { C_ONEPASSWORD, -1 }, comp_helmrelease,
		"tailscale.com/ProxyClass|tailscale.com/Connector", HR_READY, NULL },
	[C_GATEWAY] = { NAME(gateway), OFF(gateway), "platform.gateway", NONE, comp_helmrelease,
		"gateway.networking.k8s.io/GatewayClass|gateway.networking.k8s.io/Gateway|"
		"gateway.networking.k8s.io/HTTPRoute|gateway.envoyproxy.io/EnvoyProxy", HR_READY, NULL },
	[C_GATEWAYS] = { OFF(gateways_ks), OFF(gateway), "platform.gateway",
		{ C_GATEWAY, C_ISSUERS, C_CILIUM_LB, C_TAILSCALE }, comp_gateways, NULL,
		"Gateways Programmed (an address assigned), Certificate issued", NULL },
};
/* clang-format on */

static const struct model_component *comp_model(const struct model *m, const struct comp *d)
{
	return (const struct model_component *)((const char *)&m->platform + d->off);
}

const char *comp_ks(const struct model *m, const struct comp *d)
{
	return *(char *const *)((const char *)&m->platform + d->ks_off);
}

static struct yval *helm_values(struct yval *hr)
{
	return y_at(hr, "spec.values");
}

struct yval *platform_helmrelease(struct render_ctx *c, const struct comp *d,
				  const struct model_component *mc)
{
	const struct model *m = c->m;
	struct yval *doc, *spec;
	char *key = xasprintf("%s.chart", d->key);

	render_file(c, "platform/%s/app/helmrelease.yaml", comp_ks(c->m, d));
	doc = render_helmrelease(c, mc->namespace, comp_ks(c->m, d), m->gitops.interval, &mc->chart);
	spec = y_at(doc, "spec");
	y_set(y_at(spec, "install"), "crds", y_str("CreateReplace"));
	y_set(y_at(spec, "upgrade"), "crds", y_str("CreateReplace"));
	if (!mc->chart.name || !mc->chart.version)
		render_problem(c, "%s.name and %s.version must be set for component '%s'", key, key,
			       comp_ks(c->m, d));
	else {
		render_ref(c, "HelmRepository", m->gitops.flux.namespace, mc->chart.name, key, true);
		render_helmrepository(c, &mc->chart, key);
	}
	free(key);
	return doc;
}

void platform_op_item(struct render_ctx *c, const char *ns, const char *name, const char *item,
		      const char *key)
{
	struct yval *doc = render_obj(c, "onepassword.com/v1", "OnePasswordItem", ns, name);

	y_set(y_at(doc, "spec"), "itemPath", y_str(item));
	if (!item)
		render_problem(c, "%s is not set", key);
}

static void comp_helmrelease(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model_platform *p = &c->m->platform;
	struct yval *hr = platform_helmrelease(c, d, mc), *v;

	if (mc == &p->onepassword || mc == &p->cert_manager)
		v = helm_values(hr);
	if (mc == &p->onepassword) {
		y_set(y_at(v, "connect"), "credentialsName", y_str(p->onepassword_credentials_name));
		y_set(y_at(v, "operator"), "create", y_bool(true));
		y_set(y_at(v, "operator.token"), "name", y_str(p->onepassword_token_name));
	} else if (mc == &p->cert_manager) {
		/* the chart installs (and keeps) its CRDs: crds.enabled, crds.keep (v1.15+) */
		y_set(y_at(v, "crds"), "enabled", y_bool(true));
		y_set(y_at(v, "crds"), "keep", y_bool(true));
	} else if (mc == &p->tailscale && p->tailscale_oauth_item) {
		/* the chart reads its OAuth client from the Secret operator-oauth */
		render_file(c, "platform/%s/app/oauth.yaml", comp_ks(c->m, d));
		platform_op_item(c, mc->namespace, "operator-oauth", p->tailscale_oauth_item,
				 "platform.tailscale.oauthItem");
	}
}

/* Cilium: the release Talos installed at first boot (cni: none), now managed
 * by Flux with the very same chart, version and values (platform.cilium). */
static void comp_cilium(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model_platform *p = &c->m->platform;
	struct yval *hr = platform_helmrelease(c, d, mc), *spec = y_at(hr, "spec");

	y_set(spec, "releaseName", y_str(p->cilium_release));
	if (p->cilium_values)
		y_set(spec, "values", y_from_ynode(p->cilium_values));
	if (!p->cilium_release)
		render_problem(c, "platform.cilium.release is not set");
}

static void comp_barman(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	struct yval *doc = y_map(), *res = y_seq();
	char *url;

	if (!mc->version) {
		render_problem(c, "%s.version is not set", d->key);
		y_free(doc);
		y_free(res);
		return;
	}
	url = xstrdup(mc->manifest);
	y_push(res, y_str(url));
	y_set(doc, "apiVersion", y_str("kustomize.config.k8s.io/v1beta1"));
	y_set(doc, "kind", y_str("Kustomization"));
	y_set(doc, "resources", res);
	render_file(c, "platform/%s/app/kustomization.yaml", comp_ks(c->m, d));
	render_doc(c, doc);
	/* the manifest issues the plugin's TLS certificate with cert-manager */
	render_use(c, "cert-manager.io/v1", "Issuer", "platform.barmanPlugin.manifest");
	render_use(c, "cert-manager.io/v1", "Certificate", "platform.barmanPlugin.manifest");
	free(url);
}

static void comp_rook_cluster(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model *m = c->m;
	const struct model_platform *p = &m->platform;
	struct yval *doc, *spec, *params;
	char *prov;

	render_file(c, "platform/%s/app/cephcluster.yaml", comp_ks(c->m, d));
	doc = render_obj(c, "ceph.rook.io/v1", "CephCluster", mc->namespace, c->m->platform.rook_cluster);
	spec = y_at(doc, "spec");
	y_set(y_at(spec, "cephVersion"), "image", y_str(p->ceph_image));
	y_set(spec, "dataDirHostPath", y_str("/var/lib/rook"));
	y_set(y_at(spec, "mon"), "count", y_int(m->n_nodes >= 3 ? 3 : 1));
	y_set(y_at(spec, "mon"), "allowMultiplePerNode", y_bool(false));
	y_set(y_at(spec, "mgr"), "count", y_int(m->n_nodes >= 2 ? 2 : 1));
	y_set(y_at(spec, "dashboard"), "enabled", y_bool(true));
	/* every node, every empty disk: the installer wiped the Ceph disks */
	y_set(y_at(spec, "storage"), "useAllNodes", y_bool(true));
	y_set(y_at(spec, "storage"), "useAllDevices", y_bool(true));

	render_file(c, "platform/%s/app/cephblockpool.yaml", comp_ks(c->m, d));
	doc = render_obj(c, "ceph.rook.io/v1", "CephBlockPool", mc->namespace, p->block_pool);
	spec = y_at(doc, "spec");
	y_set(spec, "failureDomain", y_str("host"));
	y_set(spec, "deviceClass", y_str(p->device_class));
	y_set(y_at(spec, "replicated"), "size", y_int(p->replicas));

	render_file(c, "platform/%s/app/storageclass.yaml", comp_ks(c->m, d));
	doc = render_obj(c, "storage.k8s.io/v1", "StorageClass", NULL, p->storage_class);
	if (p->default_storage_class)
		y_set(y_at(doc, "metadata.annotations"), "storageclass.kubernetes.io/is-default-class",
		      y_str("true"));
	prov = xasprintf("%s.rbd.csi.ceph.com", mc->namespace);
	y_set(doc, "provisioner", y_str(prov));
	free(prov);
	params = y_at(doc, "parameters");
	y_set(params, "clusterID", y_str(mc->namespace));
	y_set(params, "pool", y_str(p->block_pool));
	y_set(params, "imageFormat", y_str("2"));
	y_set(params, "imageFeatures", y_str("layering"));
	y_set(params, "csi.storage.k8s.io/provisioner-secret-name", y_str("rook-csi-rbd-provisioner"));
	y_set(params, "csi.storage.k8s.io/provisioner-secret-namespace", y_str(mc->namespace));
	y_set(params, "csi.storage.k8s.io/controller-expand-secret-name", y_str("rook-csi-rbd-provisioner"));
	y_set(params, "csi.storage.k8s.io/controller-expand-secret-namespace", y_str(mc->namespace));
	y_set(params, "csi.storage.k8s.io/node-stage-secret-name", y_str("rook-csi-rbd-node"));
	y_set(params, "csi.storage.k8s.io/node-stage-secret-namespace", y_str(mc->namespace));
	y_set(params, "csi.storage.k8s.io/fstype", y_str("ext4"));
	y_set(doc, "reclaimPolicy", y_str("Delete"));
	y_set(doc, "allowVolumeExpansion", y_bool(true));
	render_ref(c, "CephBlockPool", mc->namespace, p->block_pool, "platform.rook.blockPool", false);
}

/* Namespace of a component, once per namespace; never the built-in ones. */
static void platform_namespace(struct render_ctx *c, const struct comp *d, const char *ns,
			       const struct model_component *mc)
{
	static const char *const builtin[] = { "default", "kube-system", "kube-public", "kube-node-lease" };
	struct render_tree *t = c->t;

	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(ns, builtin[i]) == 0)
			return;
	for (size_t i = 0; i < t->n_objs; i++)
		if (strcmp(t->objs[i].kind, "Namespace") == 0 && strcmp(t->objs[i].name, ns) == 0)
			return;
	render_file(c, "platform/%s/namespace.yaml", comp_ks(c->m, d));
	render_namespace(c, ns, mc->pod_security);
}

static void platform_ks(struct render_ctx *c, const struct comp *d, const char *target_ns,
			const struct model_component *mc)
{
	const struct model *m = c->m;
	const char *deps[4];
	size_t n = 0;
	char *dir = xasprintf("platform/%s/app", comp_ks(m, d));
	struct yval *spec;

	for (size_t i = 0; i < 4 && d->deps[i] >= 0; i++)
		if (comp_model(m, &comps[d->deps[i]])->enabled)
			deps[n++] = comp_ks(m, &comps[d->deps[i]]);
	render_file(c, "platform/%s/ks.yaml", comp_ks(m, d));
	spec = render_flux_ks(c, comp_ks(m, d), dir, target_ns, deps, n, NULL, m->gitops.interval,
			      mc->retry_interval, mc->timeout);
	render_ks_waits(c, "%s", d->waits);
	if (d->health)
		render_health(spec, d->health);
	free(dir);
}

/* Flux's wait gates on kstatus conditions; these kinds publish none it
 * understands, so their readiness is spelled out in CEL. Status fields:
 * CNPG Cluster condition Ready (cloudnative-pg api/v1 ConditionClusterReady),
 * CephCluster status.phase Ready and status.ceph.health (rook
 * pkg/apis/ceph.rook.io/v1 ClusterStatus), Dragonfly status.phase "Ready"
 * ("ready" before dragonfly-operator renamed it; internal/controller/util.go). */
static const struct {
	const char *kind, *api, *current;
} health_exprs[] = {
	{ "Cluster", "postgresql.cnpg.io/v1",
	  "status.conditions.exists(e, e.type == 'Ready' && e.status == 'True')" },
	{ "CephCluster", "ceph.rook.io/v1",
	  "status.phase == 'Ready' && status.ceph.health in ['HEALTH_OK', 'HEALTH_WARN']" },
	{ "Dragonfly", "dragonflydb.io/v1alpha1", "status.phase in ['Ready', 'ready']" },
};

void render_health(struct yval *spec, const char *kinds)
{
	struct yval *seq = y_seq();

	for (size_t i = 0; i < sizeof(health_exprs) / sizeof(health_exprs[0]); i++) {
		size_t n = strlen(health_exprs[i].kind);
		const char *p = strstr(kinds, health_exprs[i].kind);
		struct yval *e;

		if (!p || (p != kinds && p[-1] != '|') || (p[n] && p[n] != '|'))
			continue;
		e = y_map();
		y_set(e, "apiVersion", y_str(health_exprs[i].api));
		y_set(e, "kind", y_str(health_exprs[i].kind));
		y_set(e, "current", y_str(health_exprs[i].current));
		y_push(seq, e);
	}
	y_set(spec, "healthCheckExprs", seq);
}

int render_platform(struct render_ctx *c, struct app_err *e)
{
	const struct model *m = c->m;

	(void)e;
	for (size_t i = 0; i < N_COMPS; i++) {
		const struct comp *d = &comps[i];
		const struct model_component *mc = comp_model(m, d);

		if (d->crds)
			render_crds(c, d->crds, mc->enabled ? comp_ks(m, d) : NULL, d->key);
	}
	for (size_t i = 0; i < N_COMPS; i++) {
		const struct comp *d = &comps[i];
		const struct model_component *mc = comp_model(m, d);
		const char *ns = d->fn == comp_gateways ? m->platform.gateway_namespace : mc->namespace;
		char *dir;

		if (!mc->enabled)
			continue;
		if (!ns || !comp_ks(m, d)) {
			render_problem(c, "%s.namespace (and the Kustomization name) must be set", d->key);
			continue;
		}
		platform_namespace(c, d, ns, mc);
		platform_ks(c, d, ns, mc);
		d->fn(c, d, mc);
		dir = xasprintf("platform/%s/app", comp_ks(c->m, d));
		if (d->fn != comp_barman)
			render_kustomization(c, dir, NULL, 0);
		free(dir);
		dir = xasprintf("platform/%s", comp_ks(c->m, d));
		render_kustomization(c, dir, NULL, 0);
		free(dir);
	}
	return 0;
}
