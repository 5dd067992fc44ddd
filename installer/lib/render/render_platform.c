/* The platform the Immich stack depends on: one Flux Kustomization per
 * component under platform/<name>/ (ks.yaml, namespace.yaml,
 * kustomization.yaml) reconciling platform/<name>/app/, with pinned chart
 * versions from the profile. The component table is the only place that
 * knows which component needs what. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/model.h"
#include "render/render.h"
#include "base/util.h"
#include "base/yemit.h"
#include "base/ytree.h"

#define GATEWAY_CONTROLLER "gateway.envoyproxy.io/gatewayclass-controller"

struct comp;
typedef void (*comp_fn)(struct render_ctx *c, const struct comp *d, const struct model_component *mc);

/* One Flux Kustomization of the platform. */
struct comp {
	size_t ks_off; /* char * in struct model_platform: the Flux Kustomization name
			  (what apps.immich.dependsOn names) */
	size_t off;    /* struct model_component in struct model_platform */
	const char *key;
	int depends; /* index of the row this one depends on (when enabled), or -1 */
	comp_fn fn;  /* fills app/ */
};

static void comp_helmrelease(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_cilium(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_cilium_lb(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_barman(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_rook_cluster(struct render_ctx *c, const struct comp *d, const struct model_component *mc);
static void comp_gateways(struct render_ctx *c, const struct comp *d, const struct model_component *mc);

#define OFF(f) offsetof(struct model_platform, f)

#define NAME(c) (OFF(c) + offsetof(struct model_component, name))

/* One row per Flux Kustomization of the platform, in dependency order. */
static const struct comp comps[] = {
	{ NAME(cilium), OFF(cilium), "platform.cilium", -1, comp_cilium },
	{ OFF(cilium_lb_ks), OFF(cilium), "platform.cilium", 0, comp_cilium_lb },
	{ NAME(cnpg), OFF(cnpg), "platform.cnpg", -1, comp_helmrelease },
	{ NAME(barman_plugin), OFF(barman_plugin), "platform.barmanPlugin", 2, comp_barman },
	{ NAME(dragonfly), OFF(dragonfly), "platform.dragonfly", -1, comp_helmrelease },
	{ NAME(volsync), OFF(volsync), "platform.volsync", -1, comp_helmrelease },
	{ NAME(onepassword), OFF(onepassword), "platform.onepassword", -1, comp_helmrelease },
	{ NAME(smb_csi), OFF(smb_csi), "platform.smbCsi", -1, comp_helmrelease },
	{ NAME(rook), OFF(rook), "platform.rook", -1, comp_helmrelease },
	{ OFF(rook_cluster_ks), OFF(rook), "platform.rook", 8, comp_rook_cluster },
	{ NAME(gateway), OFF(gateway), "platform.gateway", -1, comp_helmrelease },
	{ OFF(gateways_ks), OFF(gateway), "platform.gateway", 10, comp_gateways },
};
#define N_COMPS (sizeof(comps) / sizeof(comps[0]))

static const struct model_component *comp_model(const struct model *m, const struct comp *d)
{
	return (const struct model_component *)((const char *)&m->platform + d->off);
}

static const char *comp_ks(const struct model *m, const struct comp *d)
{
	return *(char *const *)((const char *)&m->platform + d->ks_off);
}

static struct yval *helm_values(struct yval *hr)
{
	return y_at(hr, "spec.values");
}

/* HelmRelease <ks> in the component namespace with the component's chart. */
static struct yval *platform_helmrelease(struct render_ctx *c, const struct comp *d,
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

static void comp_helmrelease(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model_platform *p = &c->m->platform;
	struct yval *hr = platform_helmrelease(c, d, mc), *v;

	if (mc == &p->onepassword) {
		v = helm_values(hr);
		y_set(y_at(v, "connect"), "credentialsName", y_str(p->onepassword_credentials_name));
		y_set(y_at(v, "operator"), "create", y_bool(true));
		y_set(y_at(v, "operator.token"), "name", y_str(p->onepassword_token_name));
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

#define CILIUM_API "cilium.io/v2"
#define CILIUM_L2_API "cilium.io/v2alpha1"
#define CILIUM_BGP_LABEL "appliance.io/bgp"

/* A map {key: value} with one entry. */
static struct yval *one(const char *key, struct yval *v)
{
	return y_set(y_map(), key, v);
}

/* Every Service: the selector Cilium's docs use (a NotIn that never matches). */
static struct yval *all_services(void)
{
	struct yval *e = y_map();

	y_set(e, "key", y_str("appliance.io/no-lb"));
	y_set(e, "operator", y_str("NotIn"));
	y_set(e, "values", y_push(y_seq(), y_str("never")));
	return one("matchExpressions", y_push(y_seq(), e));
}

/* values.<path> of the Cilium chart is written as plain true. */
static bool cilium_value_true(const struct model *m, const char *path)
{
	const struct ynode *n =
	    m->platform.cilium_values ? ytree_get((struct ynode *)m->platform.cilium_values, path) : NULL;

	return n && n->type == YN_SCALAR && n->plain && strcmp(n->value, "true") == 0;
}

/* IPv4 "a.b.c.d/n" -> address and prefix length. */
static bool cidr4(const char *s, uint32_t *addr, int *len)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr a;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return false;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return false;
	*addr = ntohl(a.s_addr);
	*len = atoi(slash + 1);
	return *len >= 0 && *len <= 32;
}

/* inner lies inside outer (both IPv4 CIDRs); true when either is not IPv4. */
static bool cidr_inside(const char *inner, const char *outer)
{
	uint32_t a, b, mask;
	int la, lb;

	if (!cidr4(inner, &a, &la) || !cidr4(outer, &b, &lb))
		return true;
	mask = lb ? ~0u << (32 - lb) : 0;
	return la >= lb && (a & mask) == (b & mask);
}

/* LB IPAM (cilium.io/v2 CiliumLoadBalancerIPPool) and how the addresses are
 * announced: BGP v2 (CiliumBGPClusterConfig, CiliumBGPPeerConfig,
 * CiliumBGPAdvertisement) or L2 (CiliumL2AnnouncementPolicy, v2alpha1). */
static void comp_cilium_lb(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model *m = c->m;
	const struct cilium_lb *lb = &m->platform.cilium_lb;
	const char *cidr = lb->cidr ? lb->cidr : m->talos.lb_cidr;
	struct yval *doc, *spec, *b;

	(void)mc;
	if (!cidr || !lb->pool) {
		render_problem(c, "platform.cilium.loadBalancer.cidr (or talos.loadBalancerCIDR) and "
				  "platform.cilium.loadBalancer.pool must be set");
		return;
	}
	render_file(c, "platform/%s/app/pool.yaml", comp_ks(m, d));
	doc = render_obj(c, CILIUM_API, "CiliumLoadBalancerIPPool", NULL, lb->pool);
	y_set(y_at(doc, "spec"), "blocks", y_push(y_seq(), one("cidr", y_str(cidr))));
	if (!lb->announce)
		return;
	if (strcmp(lb->announce, "l2") == 0) {
		if (!cilium_value_true(m, "l2announcements.enabled"))
			render_problem(c, "platform.cilium.loadBalancer.announce is l2, but "
					  "platform.cilium.values.l2announcements.enabled is not true: "
					  "Cilium would not answer ARP for the pool");
		if (m->site.lan_cidr && !cidr_inside(cidr, m->site.lan_cidr))
			render_problem(c,
				       "platform.cilium.loadBalancer.cidr '%s' is not inside site.lan.cidr "
				       "'%s': L2 announcements only reach addresses on the LAN (use "
				       "announce: bgp for a routed pool)",
				       cidr, m->site.lan_cidr);
		render_file(c, "platform/%s/app/l2.yaml", comp_ks(m, d));
		doc = render_obj(c, CILIUM_L2_API, "CiliumL2AnnouncementPolicy", NULL, lb->pool);
		spec = y_at(doc, "spec");
		y_set(spec, "serviceSelector", all_services());
		y_set(spec, "interfaces",
		      y_strs((const char *const *)lb->l2.interfaces.v, lb->l2.interfaces.n));
		y_set(spec, "loadBalancerIPs", y_bool(true));
		return;
	}
	if (!cilium_value_true(m, "bgpControlPlane.enabled"))
		render_problem(c, "platform.cilium.loadBalancer.announce is bgp, but "
				  "platform.cilium.values.bgpControlPlane.enabled is not true: Cilium "
				  "would not peer with the router");
	if (!lb->bgp.local_asn || !lb->bgp.peer_asn || !lb->bgp.peer_address) {
		render_problem(c, "platform.cilium.loadBalancer.announce is bgp: set "
				  "platform.cilium.loadBalancer.bgp.localASN, .peerASN and .peerAddress");
		return;
	}
	render_file(c, "platform/%s/app/bgp.yaml", comp_ks(m, d));
	doc = render_obj(c, CILIUM_API, "CiliumBGPClusterConfig", NULL, lb->pool);
	spec = y_at(doc, "spec");
	y_set(y_at(spec, "nodeSelector.matchLabels"), "kubernetes.io/os", y_str("linux"));
	b = y_map();
	y_set(b, "name", y_str(lb->pool));
	y_set(b, "localASN", y_int(lb->bgp.local_asn));
	{
		struct yval *peer = y_map();
		y_set(peer, "name", y_str("router"));
		y_set(peer, "peerASN", y_int(lb->bgp.peer_asn));
		y_set(peer, "peerAddress", y_str(lb->bgp.peer_address));
		y_set(peer, "peerConfigRef", one("name", y_str(lb->pool)));
		y_set(b, "peers", y_push(y_seq(), peer));
	}
	y_set(spec, "bgpInstances", y_push(y_seq(), b));
	render_ref(c, "CiliumBGPPeerConfig", "", lb->pool, "platform.cilium.loadBalancer.pool", false);

	doc = render_obj(c, CILIUM_API, "CiliumBGPPeerConfig", NULL, lb->pool);
	spec = y_at(doc, "spec");
	y_set(y_at(spec, "transport"), "peerPort", y_int(lb->bgp.peer_port));
	y_set(y_at(spec, "gracefulRestart"), "enabled", y_bool(true));
	b = y_map();
	y_set(b, "afi", y_str("ipv4"));
	y_set(b, "safi", y_str("unicast"));
	y_set(y_at(b, "advertisements.matchLabels"), CILIUM_BGP_LABEL, y_str(lb->pool));
	y_set(spec, "families", y_push(y_seq(), b));

	doc = render_obj(c, CILIUM_API, "CiliumBGPAdvertisement", NULL, lb->pool);
	y_set(y_at(doc, "metadata.labels"), CILIUM_BGP_LABEL, y_str(lb->pool));
	b = y_map();
	y_set(b, "advertisementType", y_str("Service"));
	y_set(y_at(b, "service"), "addresses", y_push(y_seq(), y_str("LoadBalancerIP")));
	y_set(b, "selector", all_services());
	y_set(y_at(doc, "spec"), "advertisements", y_push(y_seq(), b));
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

static void comp_gateways(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model_platform *p = &c->m->platform;
	const char *names[] = { p->gateway_tailscale, p->gateway_public };
	struct yval *doc, *spec, *l;

	render_file(c, "platform/%s/app/gatewayclass.yaml", comp_ks(c->m, d));
	doc =
	    render_obj(c, "gateway.networking.k8s.io/v1", "GatewayClass", NULL, c->m->platform.gateway_class);
	y_set(y_at(doc, "spec"), "controllerName", y_str(GATEWAY_CONTROLLER));
	render_file(c, "platform/%s/app/gateways.yaml", comp_ks(c->m, d));
	for (size_t i = 0; i < 2; i++) {
		if (!names[i])
			continue;
		doc =
		    render_obj(c, "gateway.networking.k8s.io/v1", "Gateway", p->gateway_namespace, names[i]);
		spec = y_at(doc, "spec");
		y_set(spec, "gatewayClassName", y_str(c->m->platform.gateway_class));
		l = y_map();
		y_set(l, "name", y_str("http"));
		y_set(l, "protocol", y_str("HTTP"));
		y_set(l, "port", y_int(80));
		y_set(y_at(l, "allowedRoutes.namespaces"), "from", y_str("All"));
		y_set(spec, "listeners", y_push(y_seq(), l));
		render_ref(c, "GatewayClass", "", c->m->platform.gateway_class, "platform.gateway", false);
	}
}

/* Namespace of a component, once per namespace; never the built-in ones. */
static void platform_namespace(struct render_ctx *c, const struct comp *d, const char *ns)
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
	render_obj(c, "v1", "Namespace", NULL, ns);
}

static void platform_ks(struct render_ctx *c, const struct comp *d, const char *target_ns)
{
	const struct model *m = c->m;
	struct yval *doc, *spec, *deps = y_seq();
	char *path;

	render_file(c, "platform/%s/ks.yaml", comp_ks(c->m, d));
	doc = render_obj(c, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", m->gitops.flux.namespace,
			 comp_ks(c->m, d));
	spec = y_at(doc, "spec");
	y_set(spec, "targetNamespace", y_str(target_ns));
	if (d->depends >= 0 && comp_model(m, &comps[d->depends])->enabled) {
		const struct comp *dep = &comps[d->depends];
		struct yval *e = y_map();

		y_set(e, "name", y_str(comp_ks(m, dep)));
		y_push(deps, e);
		render_ref(c, "Kustomization", m->gitops.flux.namespace, comp_ks(m, dep), d->key, false);
	}
	if (y_len(deps))
		y_set(spec, "dependsOn", deps);
	else
		y_free(deps);
	path = xasprintf("%s/platform/%s/app", m->gitops.path, comp_ks(c->m, d));
	y_set(spec, "path", y_str(path));
	free(path);
	y_set(spec, "interval", y_str(m->gitops.interval));
	y_set(spec, "wait", y_bool(true));
	render_flux_common(c, spec);
}

int render_platform(struct render_ctx *c, struct app_err *e)
{
	const struct model *m = c->m;

	(void)e;
	for (size_t i = 0; i < N_COMPS; i++) {
		const struct comp *d = &comps[i];
		const struct model_component *mc = comp_model(m, d);
		const char *ns = d->fn == comp_gateways ? m->platform.gateway_namespace : mc->namespace;
		char *dir;

		if (!mc->enabled)
			continue;
		if (!ns) {
			render_problem(c, "%s.namespace is not set", d->key);
			continue;
		}
		platform_namespace(c, d, ns);
		platform_ks(c, d, ns);
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
