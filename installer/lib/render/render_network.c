/* The network side of the platform: Cilium LB IPAM and announcements
 * (BGP or L2), the cert-manager ClusterIssuer, and the gateways (Envoy
 * Gateway GatewayClass, one EnvoyProxy + Gateway per gateway, the shared
 * certificate, the HTTP->HTTPS redirect).
 *
 * Upstream facts used: Cilium 1.18 serves CiliumLoadBalancerIPPool and the
 * BGP v2 kinds at cilium.io/v2 and CiliumL2AnnouncementPolicy at
 * cilium.io/v2alpha1 (cilium/cilium pkg/k8s/apis/cilium.io/client/crds/v2/);
 * LB IPAM honours the lbipam.cilium.io/ips Service annotation for a fixed
 * address; Envoy Gateway takes per-Gateway settings from an EnvoyProxy named
 * by Gateway.spec.infrastructure.parametersRef (envoyService.annotations,
 * envoyService.loadBalancerClass); the Tailscale operator serves
 * LoadBalancer Services of loadBalancerClass "tailscale". */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/yemit.h"
#include "base/ytree.h"
#include "profile/model.h"
#include "render/render.h"
#include "render/render_platform.h"

#define GATEWAY_CONTROLLER "gateway.envoyproxy.io/gatewayclass-controller"
#define LBIPAM_IPS "lbipam.cilium.io/ips"
#define TAILSCALE_LB_CLASS "tailscale"

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
void comp_cilium_lb(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
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

/* ---- cert-manager ClusterIssuer -------------------------------------------- */

/* An ACME issuer names every key it needs: the problem lists only those unset. */
static void acme_keys_set(struct render_ctx *c, const struct model_platform *p)
{
	const struct {
		const char *value, *key;
	} need[] = {
		{ p->acme_email, "acmeEmail" },
		{ p->acme_server, "acmeServer" },
		{ p->acme_token_name, "acmeTokenName" },
		{ p->acme_token_key, "acmeTokenKey" },
	};
	char list[256] = "";
	size_t n = 0, len = 0;

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!need[i].value || !*need[i].value)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%splatform.certManager.%s",
						n++ ? ", " : "", need[i].key);
	if (n)
		render_problem(c, "platform.certManager.issuerType is acme: set %s", list);
}

void comp_issuers(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model_platform *p = &c->m->platform;
	struct yval *doc, *spec, *acme, *solver;
	char *account;

	render_file(c, "platform/%s/app/clusterissuer.yaml", comp_ks(c->m, d));
	doc = render_obj(c, "cert-manager.io/v1", "ClusterIssuer", NULL, p->issuer_name);
	spec = y_at(doc, "spec");
	if (!p->issuer_type || strcmp(p->issuer_type, "selfSigned") == 0) {
		y_set(spec, "selfSigned", y_map());
		return;
	}
	acme_keys_set(c, p);
	acme = y_at(spec, "acme");
	y_set(acme, "email", y_str(p->acme_email));
	y_set(acme, "server", y_str(p->acme_server));
	account = xasprintf("%s-account-key", p->issuer_name);
	y_set(y_at(acme, "privateKeySecretRef"), "name", y_str(account));
	free(account);
	/* DNS-01: wildcard names, nothing has to be reachable from the internet */
	solver = y_map();
	y_set(y_at(solver, "dns01.cloudflare.apiTokenSecretRef"), "name", y_str(p->acme_token_name));
	y_set(y_at(solver, "dns01.cloudflare.apiTokenSecretRef"), "key", y_str(p->acme_token_key));
	y_set(acme, "solvers", y_push(y_seq(), solver));
	/* A ClusterIssuer reads its Secrets in cert-manager's own namespace. With
	 * acmeTokenItem the tree makes the token (an OnePasswordItem: the reference is
	 * checked); without it the site provides the Secret (SOPS), as it does the
	 * app's Secrets when 1Password is off (render_app.c secret_ref). */
	if (p->acme_token_item) {
		render_ref(c, "Secret|OnePasswordItem", p->cert_manager.namespace, p->acme_token_name,
			   "platform.certManager.acmeTokenName", false);
		render_file(c, "platform/%s/app/token.yaml", comp_ks(c->m, d));
		platform_op_item(c, mc->namespace, p->acme_token_name, p->acme_token_item,
				 "platform.certManager.acmeTokenItem");
	}
}

/* ---- gateways ------------------------------------------------------------------ */

static struct yval *listener(const char *name, const char *protocol, long long port, const char *from)
{
	struct yval *l = y_map();

	y_set(l, "name", y_str(name));
	y_set(l, "protocol", y_str(protocol));
	y_set(l, "port", y_int(port));
	y_set(y_at(l, "allowedRoutes.namespaces"), "from", y_str(from));
	return l;
}

/* The certificate both gateways serve: every site domain and its wildcard. */
static void gateway_certificate(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct model_platform *p = &m->platform;
	struct yval *doc, *spec, *names = y_seq();

	doc =
	    render_obj(c, "cert-manager.io/v1", "Certificate", p->gateway_namespace, p->gateway_certificate);
	spec = y_at(doc, "spec");
	y_set(spec, "secretName", y_str(p->gateway_certificate));
	y_set(y_at(spec, "issuerRef"), "kind", y_str("ClusterIssuer"));
	y_set(y_at(spec, "issuerRef"), "name", y_str(p->issuer_name));
	render_ref(c, "ClusterIssuer", "", p->issuer_name, "platform.certManager.issuer", false);
	for (size_t i = 0; i < m->site.domains.n; i++) {
		char *w = xasprintf("*.%s", m->site.domains.v[i]);
		y_push(names, y_str(m->site.domains.v[i]));
		y_push(names, y_str(w));
		free(w);
	}
	y_set(spec, "dnsNames", names);
	if (!m->site.domains.n)
		render_problem(
		    c, "site.domains is empty: the gateways' certificate (platform.gateway.certificate) "
		       "needs the site's domains");
}

void comp_gateways(struct render_ctx *c, const struct comp *d, const struct model_component *mc)
{
	const struct model *m = c->m;
	const struct model_platform *p = &m->platform;
	const char *ns = p->gateway_namespace;
	const char *names[] = { p->gateway_public, p->tailscale.enabled ? p->gateway_tailscale : NULL };
	struct yval *doc, *spec, *svc, *ref, *https, *rule, *parent;

	(void)mc;
	render_file(c, "platform/%s/app/gatewayclass.yaml", comp_ks(m, d));
	doc = render_obj(c, "gateway.networking.k8s.io/v1", "GatewayClass", NULL, p->gateway_class);
	y_set(y_at(doc, "spec"), "controllerName", y_str(GATEWAY_CONTROLLER));
	if (p->cert_manager.enabled && p->gateway_certificate) {
		render_file(c, "platform/%s/app/certificate.yaml", comp_ks(m, d));
		gateway_certificate(c);
	}
	for (size_t i = 0; i < 2; i++) {
		if (!names[i])
			continue;
		render_file(c, "platform/%s/app/%s.yaml", comp_ks(m, d), names[i]);
		/* how the gateway's Service gets its address */
		doc = render_obj(c, "gateway.envoyproxy.io/v1alpha1", "EnvoyProxy", ns, names[i]);
		spec = y_at(doc, "spec");
		y_set(y_at(spec, "provider"), "type", y_str("Kubernetes"));
		svc = y_at(spec, "provider.kubernetes.envoyService");
		y_set(svc, "type", y_str("LoadBalancer"));
		if (i == 0 && p->gateway_public_address)
			y_set(y_at(svc, "annotations"), LBIPAM_IPS, y_str(p->gateway_public_address));
		if (i == 1)
			y_set(svc, "loadBalancerClass", y_str(TAILSCALE_LB_CLASS));

		doc = render_obj(c, "gateway.networking.k8s.io/v1", "Gateway", ns, names[i]);
		spec = y_at(doc, "spec");
		y_set(spec, "gatewayClassName", y_str(p->gateway_class));
		render_ref(c, "GatewayClass", "", p->gateway_class, "platform.gateway.className", false);
		ref = y_at(spec, "infrastructure.parametersRef");
		y_set(ref, "group", y_str("gateway.envoyproxy.io"));
		y_set(ref, "kind", y_str("EnvoyProxy"));
		y_set(ref, "name", y_str(names[i]));
		render_ref(c, "EnvoyProxy", ns, names[i], "platform.gateway", false);
		/* plain HTTP only answers with the redirect (routes of this namespace) */
		https = listener("https", "HTTPS", 443, "All");
		y_set(y_at(https, "tls"), "mode", y_str("Terminate"));
		y_set(y_at(https, "tls"), "certificateRefs",
		      y_push(y_seq(), y_set(y_map(), "name", y_str(p->gateway_certificate))));
		y_set(spec, "listeners",
		      y_push(y_push(y_seq(), listener("http", "HTTP", 80, "Same")), https));
		render_ref(c, "Certificate", ns, p->gateway_certificate, "platform.gateway.certificate",
			   false);

		doc = render_obj(c, "gateway.networking.k8s.io/v1", "HTTPRoute", ns, names[i]);
		spec = y_at(doc, "spec");
		parent = y_set(y_map(), "name", y_str(names[i]));
		y_set(parent, "sectionName", y_str("http"));
		y_set(spec, "parentRefs", y_push(y_seq(), parent));
		render_ref(c, "Gateway", ns, names[i], "platform.gateway", false);
		rule = y_map();
		{
			struct yval *f = y_map();
			y_set(f, "type", y_str("RequestRedirect"));
			y_set(y_at(f, "requestRedirect"), "scheme", y_str("https"));
			y_set(y_at(f, "requestRedirect"), "statusCode", y_int(301));
			y_set(rule, "filters", y_push(y_seq(), f));
		}
		y_set(spec, "rules", y_push(y_seq(), rule));
	}
}
