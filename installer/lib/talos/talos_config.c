#include "talos/talos_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "profile/model.h"
#include "render/render.h"
#include "profile/secret.h"
#include "talos/talos_check.h"
#include "talos/talos_pki.h"
#include "talos/talos_schematic.h"
#include "talos/talos_secrets.h"
#include "base/util.h"
#include "base/yemit.h"

#define FIRST_MINOR 10
#define LAST_MINOR 12
#define KUBEPRISM_PORT 7445

int talos_config_minor(const char *version, struct app_err *e)
{
	unsigned major, minor, patch;
	int n = 0;

	if (!version || sscanf(version, "v%u.%u.%u%n", &major, &minor, &patch, &n) != 3 ||
	    (version[n] != '\0' && version[n] != '-'))
		return app_err_set(e, -EINVAL,
				   "talos.version '%s': expected vMAJOR.MINOR.PATCH (e.g. v1.10.5)",
				   version ? version : "");
	if (major != 1 || minor < FIRST_MINOR || minor > LAST_MINOR)
		return app_err_set(e, -ENOTSUP,
				   "talos.version '%s' is not supported: machine configs are generated and "
				   "schema-checked for v1.10.x, v1.11.x and v1.12.x",
				   version);
	return (int)minor;
}

/* ---- small builders ------------------------------------------------------- */

static struct yval *b64_str(const char *s)
{
	char *enc = talos_b64_encode(s, strlen(s));
	struct yval *v = y_str(enc);

	secure_free(enc, strlen(enc) + 1);
	return v;
}

static struct yval *cert_key(const struct talos_cert_key *ck, bool with_key)
{
	struct yval *m = y_map();

	y_set(m, "crt", b64_str(ck->crt));
	y_set(m, "key", with_key ? b64_str(ck->key) : y_str(""));
	return m;
}

static struct yval *doc_new(const char *kind)
{
	struct yval *d = y_map();

	y_set(d, "apiVersion", y_str("v1alpha1"));
	y_set(d, "kind", y_str(kind));
	return d;
}

/* ---- bootstrap secrets ------------------------------------------------------ */

struct kvpair {
	const char *key;
	const char *value;
	size_t len;
};

static struct yval *secret_doc(const char *name, const char *ns, const struct kvpair *kv, size_t n)
{
	struct yval *d = y_map(), *data;

	y_set(d, "apiVersion", y_str("v1"));
	y_set(d, "kind", y_str("Secret"));
	y_set(y_at(d, "metadata"), "name", y_str(name));
	y_set(y_at(d, "metadata"), "namespace", y_str(ns));
	y_set(d, "type", y_str("Opaque"));
	data = y_at(d, "data");
	for (size_t i = 0; i < n; i++) {
		char *enc = talos_b64_encode(kv[i].value, kv[i].len);
		y_set(data, kv[i].key, y_str(enc));
		secure_free(enc, strlen(enc) + 1);
	}
	return d;
}

struct secret_set {
	struct yval **docs;
	size_t n;
	struct secret vals[8];
	size_t n_vals;
};

static int read_secret(const struct model *m, struct secret_set *s, const char *name, int trim,
		       struct secret **ret, struct app_err *e)
{
	int r;

	*ret = NULL;
	if (s->n_vals == sizeof(s->vals) / sizeof(s->vals[0]))
		return app_err_set(e, -E2BIG,
				   "secret '%s': more bootstrap secrets than the config can hold (%zu)", name,
				   s->n_vals);
	r = secret_read(m, name, trim, &s->vals[s->n_vals], e);
	if (r < 0)
		return r;
	*ret = &s->vals[s->n_vals++];
	return 0;
}

static void add_doc(struct secret_set *s, struct yval *d)
{
	s->docs = xrealloc(s->docs, (s->n + 1) * sizeof(*s->docs));
	s->docs[s->n++] = d;
}

static int git_secret(const struct model *m, struct secret_set *s, struct app_err *e)
{
	const struct model_gitops *g = &m->gitops;
	struct secret *v;
	int r;

	if (!g->credentials_secret)
		return 0;
	if (talos_is_ssh_url(g->url)) {
		r = talos_check_git_ssh(m, e);
		if (r < 0)
			return r;
		r = read_secret(m, s, g->credentials_secret, 0, &v, e);
		if (r < 0)
			return r;
		struct kvpair kv[] = { { "identity", v->data, v->len },
				       { "known_hosts", g->known_hosts,
					 g->known_hosts ? strlen(g->known_hosts) : 0 } };
		add_doc(s, secret_doc(g->credentials_name, g->flux.namespace, kv, g->known_hosts ? 2 : 1));
	} else {
		/* HTTPS: "user:token" or a bare token (user "git") */
		const char *colon;
		r = read_secret(m, s, g->credentials_secret, 1, &v, e);
		if (r < 0)
			return r;
		colon = memchr(v->data, ':', v->len);
		struct kvpair kv[] = {
			{ "username", colon ? v->data : "git", colon ? (size_t)(colon - v->data) : 3 },
			{ "password", colon ? colon + 1 : v->data,
			  colon ? v->len - (size_t)(colon + 1 - v->data) : v->len },
		};
		add_doc(s, secret_doc(g->credentials_name, g->flux.namespace, kv, 2));
	}
	return 0;
}

static int sops_secret(const struct model *m, struct secret_set *s, struct app_err *e)
{
	const struct model_gitops *g = &m->gitops;
	struct secret *v;
	int r;

	if (!g->sops_secret)
		return 0;
	r = read_secret(m, s, g->sops_secret, 0, &v, e);
	if (r < 0)
		return r;
	struct kvpair kv[] = { { "sops.asc", v->data, v->len } };
	add_doc(s,
		secret_doc(g->sops_secret_name ? g->sops_secret_name : "sops-gpg", g->flux.namespace, kv, 1));
	return 0;
}

static int onepassword_secrets(const struct model *m, struct secret_set *s, struct app_err *e)
{
	const struct model_platform *p = &m->platform;
	struct secret *v;
	char *enc;
	int r;

	if (!p->onepassword.enabled)
		return 0;
	if (p->onepassword_credentials_secret) {
		r = read_secret(m, s, p->onepassword_credentials_secret, 1, &v, e);
		if (r < 0)
			return r;
		/* Connect reads the credentials file base64-encoded (OP_SESSION) */
		enc = talos_b64_encode(v->data, v->len);
		struct kvpair kv[] = { { "1password-credentials.json", enc, strlen(enc) } };
		add_doc(s, secret_doc(p->onepassword_credentials_name, p->onepassword.namespace, kv, 1));
		secure_free(enc, strlen(enc) + 1);
	}
	if (p->onepassword_token_secret) {
		r = read_secret(m, s, p->onepassword_token_secret, 1, &v, e);
		if (r < 0)
			return r;
		struct kvpair kv[] = { { "token", v->data, v->len } };
		add_doc(s, secret_doc(p->onepassword_token_name, p->onepassword.namespace, kv, 1));
	}
	return 0;
}

/* The SMB CSI node-stage Secret from the same secrets the NAS preflight
 * uses, so the preflight and the cluster cannot disagree. */
static int smb_secret(const struct model *m, struct secret_set *s, struct app_err *e)
{
	const struct model_platform *p = &m->platform;
	struct secret *user, *pass;
	int r;

	if (!p->smb_csi.enabled || !m->nas.username_secret || !m->nas.password_secret)
		return 0;
	r = read_secret(m, s, m->nas.username_secret, 1, &user, e);
	if (r == 0)
		r = read_secret(m, s, m->nas.password_secret, 1, &pass, e);
	if (r < 0)
		return r;
	struct kvpair kv[] = {
		{ "username", user->data, user->len },
		{ "password", pass->data, pass->len },
		{ "domain", m->nas.domain, m->nas.domain ? strlen(m->nas.domain) : 0 },
	};
	add_doc(s, secret_doc(p->smb_credentials_name ? p->smb_credentials_name : "csi-smbcreds",
			      p->smb_csi.namespace, kv, m->nas.domain ? 3 : 2));
	return 0;
}

int talos_config_bootstrap_secrets(const struct model *m, struct buf *out, struct app_err *e)
{
	static int (*const builders[])(const struct model *, struct secret_set *, struct app_err *) = {
		git_secret,
		sops_secret,
		onepassword_secrets,
		smb_secret,
	};
	struct secret_set s = { 0 };
	int r = 0;

	for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]) && r == 0; i++)
		r = builders[i](m, &s, e);
	if (r == 0 && s.n)
		r = y_emit(s.docs, s.n, out, e);
	for (size_t i = 0; i < s.n; i++)
		y_free(s.docs[i]);
	free(s.docs);
	for (size_t i = 0; i < s.n_vals; i++)
		secret_free(&s.vals[i]);
	return r;
}

/* ---- machine config ------------------------------------------------------- */

/* The endpoint's host and the VIP: what clients of a control plane dial. */
static struct yval *endpoint_sans(const struct model *m)
{
	struct yval *sans = y_seq();
	char *host = talos_url_host(m->talos.endpoint);

	if (host)
		y_push(sans, y_str(host));
	if (m->talos.vip && (!host || strcmp(host, m->talos.vip) != 0))
		y_push(sans, y_str(m->talos.vip));
	free(host);
	return sans;
}

/* machine.install: an exact /dev path becomes install.disk; otherwise the
 * selector fields Talos' diskSelector can express. */
static int install_section(const struct model_node *node, const char *image, struct yval *install,
			   struct app_err *e)
{
	const struct disk_selector *d = &node->install_disk;
	int r = talos_check_install_disk(node, e);

	if (r < 0)
		return r;
	if (talos_disk_exact_path(d->path)) {
		y_set(install, "disk", y_str(d->path));
	} else {
		struct yval *sel = y_map();
		const struct {
			const char *key, *value;
		} rows[] = { { "size", d->size },
			     { "model", d->model },
			     { "serial", d->serial },
			     { "wwid", d->wwid },
			     { "type", talos_disk_type(d->transport) } };
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			if (rows[i].value)
				y_set(sel, rows[i].key, y_str(rows[i].value));
		y_set(install, "diskSelector", sel);
	}
	y_set(install, "image", y_str(image));
	y_set(install, "wipe", y_bool(false));
	return 0;
}

/* The node's LAN link as the profile names it: kernel name, MAC (the
 * node's network.hardwareAddr, else its first identity MAC) and/or bus path.
 * Never "every physical NIC": a VIP or a static address on all of them is
 * an address conflict waiting for the second NIC to be cabled. */
struct link_plan {
	const char *iface;    /* kernel name, or NULL */
	const char *mac;      /* or NULL */
	const char *bus_path; /* or NULL */
	const char *vip;      /* on control planes with talos.vip */
	bool needed;	      /* anything to say about the link at all */
};

static int plan_link(const struct model *m, const struct model_node *node, struct link_plan *l,
		     struct app_err *e)
{
	const struct node_network *net = &node->network;

	l->iface = net->interface;
	l->mac = net->hardware_addr	 ? net->hardware_addr
		 : node->identity.macs.n ? node->identity.macs.v[0]
					 : NULL;
	l->bus_path = net->bus_path;
	l->vip = node->role == NODE_ROLE_CONTROLPLANE ? m->talos.vip : NULL;
	l->needed = l->iface || l->mac || l->bus_path || !net->dhcp || l->vip;
	return talos_check_link(m, node, e);
}

static const char *node_gateway(const struct model *m, const struct model_node *node)
{
	return node->network.gateway ? node->network.gateway : m->site.gateway;
}

static bool is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* The control plane's first static address (prefix stripped), or NULL. Caller frees. */
static char *first_cp_address(const struct model *m)
{
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct node_network *net = &m->nodes[i].network;

		if (m->nodes[i].role == NODE_ROLE_CONTROLPLANE && !net->dhcp && net->address)
			return xstrndup(net->address, strcspn(net->address, "/"));
	}
	return NULL;
}

int talos_config_endpoint_entry(const struct model *m, char **ret_host, char **ret_ip, struct app_err *e)
{
	char *host = talos_url_host(m->talos.endpoint), *ip;

	*ret_host = *ret_ip = NULL;
	if (!host || is_ip_literal(host)) {
		free(host);
		return 0;
	}
	ip = m->talos.vip ? xstrdup(m->talos.vip) : first_cp_address(m);
	if (!ip) {
		app_err_set(e, -EINVAL,
			    "talos.endpoint '%s' names host '%s', which the nodes cannot resolve "
			    "without the LAN's DNS; set talos.vip (or a control plane's static "
			    "network.address)",
			    m->talos.endpoint, host);
		free(host);
		return -EINVAL;
	}
	*ret_host = host;
	*ret_ip = ip;
	return 0;
}

int talos_config_kubeconfig_server(const struct model *m, struct buf *kube, struct app_err *e)
{
	char *host, *ip, *from, *to;
	struct buf out = { 0 };
	const char *p, *hit;
	int r = talos_config_endpoint_entry(m, &host, &ip, e), n = 0;

	if (r < 0 || !host)
		return r;
	from = xasprintf("server: https://%s:", host);
	to = xasprintf(strchr(ip, ':') ? "server: https://[%s]:" : "server: https://%s:", ip);
	for (p = kube->data; p && (hit = strstr(p, from)); p = hit + strlen(from), n++) {
		buf_append(&out, p, (size_t)(hit - p));
		buf_append(&out, to, strlen(to));
	}
	if (n) {
		buf_append(&out, p, strlen(p));
		secure_free(kube->data, kube->cap);
		*kube = out;
	}
	free(from);
	free(to);
	free(host);
	free(ip);
	return n;
}

/* 1.10 / 1.11: machine.network. */
static int network_legacy(const struct model *m, const struct model_node *node, struct yval *machine,
			  struct app_err *e)
{
	const struct node_network *net = &node->network;
	struct yval *network = y_at(machine, "network"), *dev, *route;
	struct link_plan l;
	char *host, *ip;
	int r;

	r = plan_link(m, node, &l, e);
	if (r == 0)
		r = talos_config_endpoint_entry(m, &host, &ip, e);
	if (r < 0)
		return r;
	if (node->hostname)
		y_set(network, "hostname", y_str(node->hostname));
	if (l.needed) {
		dev = y_map();
		if (l.iface) {
			y_set(dev, "interface", y_str(l.iface));
		} else {
			if (l.mac)
				y_set(y_at(dev, "deviceSelector"), "hardwareAddr", y_str(l.mac));
			if (l.bus_path)
				y_set(y_at(dev, "deviceSelector"), "busPath", y_str(l.bus_path));
		}
		if (net->dhcp) {
			y_set(dev, "dhcp", y_bool(true));
		} else {
			y_set(dev, "addresses", y_strs((const char *const *)&net->address, 1));
			if (node_gateway(m, node)) {
				route = y_map();
				y_set(route, "network", y_str("0.0.0.0/0"));
				y_set(route, "gateway", y_str(node_gateway(m, node)));
				y_set(dev, "routes", y_push(y_seq(), route));
			}
		}
		if (l.vip)
			y_set(y_at(dev, "vip"), "ip", y_str(l.vip));
		y_set(network, "interfaces", y_push(y_seq(), dev));
	}
	if (net->nameservers.n)
		y_set(network, "nameservers",
		      y_strs((const char *const *)net->nameservers.v, net->nameservers.n));
	if (host) {
		struct yval *entry = y_map();

		y_set(entry, "ip", y_str(ip));
		y_set(entry, "aliases", y_strs((const char *const *)&host, 1));
		y_set(network, "extraHostEntries", y_push(y_seq(), entry));
	}
	free(host);
	free(ip);
	return 0;
}

/* CEL for LinkAliasConfig: glob() when the value holds a wildcard. */
static void cel_term(struct buf *b, const char *expr, const char *value)
{
	if (b->len)
		buf_printf(b, " && ");
	if (strchr(value, '*'))
		buf_printf(b, "glob(\"%s\", %s)", value, expr);
	else
		buf_printf(b, "%s == \"%s\"", expr, value);
}

/* 1.12: the network documents. */
static int network_docs(const struct model *m, const struct model_node *node, struct yval ***docs, size_t *n,
			struct app_err *e)
{
	const struct node_network *net = &node->network;
	struct link_plan l;
	const char *link;
	struct yval *d;
	char *host, *ip;
	int r;

#define PUSH(doc)                                                   \
	do {                                                        \
		*docs = xrealloc(*docs, (*n + 1) * sizeof(**docs)); \
		(*docs)[(*n)++] = (doc);                            \
	} while (0)

	r = plan_link(m, node, &l, e);
	if (r == 0)
		r = talos_config_endpoint_entry(m, &host, &ip, e);
	if (r < 0)
		return r;
	if (node->hostname) {
		d = doc_new("HostnameConfig");
		y_set(d, "hostname", y_str(node->hostname));
		PUSH(d);
	}
	if (l.needed) {
		link = l.iface;
		if (!link) {
			struct buf match = { 0 };

			if (l.mac)
				cel_term(&match, "mac(link.permanent_addr)", l.mac);
			if (l.bus_path)
				cel_term(&match, "link.bus_path", l.bus_path);
			link = "net0";
			d = doc_new("LinkAliasConfig");
			y_set(d, "name", y_str(link));
			y_set(y_at(d, "selector"), "match", y_str(match.data));
			buf_free(&match);
			PUSH(d);
		}
		if (net->dhcp) {
			d = doc_new("DHCPv4Config");
			y_set(d, "name", y_str(link));
			PUSH(d);
		} else {
			struct yval *addr = y_map(), *route;
			d = doc_new("LinkConfig");
			y_set(d, "name", y_str(link));
			y_set(d, "up", y_bool(true));
			y_set(addr, "address", y_str(net->address));
			y_set(d, "addresses", y_push(y_seq(), addr));
			if (node_gateway(m, node)) {
				route = y_map();
				y_set(route, "destination", y_str("0.0.0.0/0"));
				y_set(route, "gateway", y_str(node_gateway(m, node)));
				y_set(d, "routes", y_push(y_seq(), route));
			}
			PUSH(d);
		}
		if (l.vip) {
			d = doc_new("Layer2VIPConfig");
			y_set(d, "name", y_str(l.vip));
			y_set(d, "link", y_str(link));
			PUSH(d);
		}
	}
	if (net->nameservers.n) {
		struct yval *ns = y_seq();
		d = doc_new("ResolverConfig");
		for (size_t i = 0; i < net->nameservers.n; i++) {
			struct yval *a = y_map();
			y_set(a, "address", y_str(net->nameservers.v[i]));
			y_push(ns, a);
		}
		y_set(d, "nameservers", ns);
		PUSH(d);
	}
	if (host) {
		d = doc_new("StaticHostConfig");
		y_set(d, "name", y_str(ip));
		y_set(d, "hostnames", y_strs((const char *const *)&host, 1));
		PUSH(d);
	}
	free(host);
	free(ip);
#undef PUSH
	return 0;
}

static int cluster_network(const struct model *m, struct yval *cluster, struct app_err *e)
{
	struct yval *net = y_at(cluster, "network");
	const char *cni = m->talos.cni ? m->talos.cni : "none";
	int r = talos_check_cni(m, e);

	if (r < 0)
		return r;
	y_set(y_at(net, "cni"), "name", y_str(cni));
	y_set(net, "dnsDomain", y_str("cluster.local"));
	if (m->talos.pod_cidr)
		y_set(net, "podSubnets", y_strs((const char *const *)&m->talos.pod_cidr, 1));
	if (m->talos.service_cidr)
		y_set(net, "serviceSubnets", y_strs((const char *const *)&m->talos.service_cidr, 1));
	return 0;
}

/* What `talosctl gen config` v1.10 writes (pkg/machinery/config/generate
 * init.go/worker.go): the Kubernetes images pinned to one version, and the
 * kubelet defaults of the version contract. */
static void kubernetes(const struct model *m, struct yval *machine, struct yval *cluster, bool cp)
{
	static const struct {
		const char *key, *image;
	} images[] = {
		{ "apiServer", "registry.k8s.io/kube-apiserver" },
		{ "controllerManager", "registry.k8s.io/kube-controller-manager" },
		{ "proxy", "registry.k8s.io/kube-proxy" },
		{ "scheduler", "registry.k8s.io/kube-scheduler" },
	};
	const char *v = m->talos.kubernetes_version;
	const char *pfx = v && v[0] == 'v' ? "" : "v";
	struct yval *kubelet = y_at(machine, "kubelet");
	char *img;

	if (v) {
		img = xasprintf("ghcr.io/siderolabs/kubelet:%s%s", pfx, v);
		y_set(kubelet, "image", y_str(img));
		free(img);
	}
	y_set(kubelet, "defaultRuntimeSeccompProfileEnabled", y_bool(true));
	y_set(kubelet, "disableManifestsDirectory", y_bool(true));
	for (size_t i = 0; v && cp && i < sizeof(images) / sizeof(images[0]); i++) {
		img = xasprintf("%s:%s%s", images[i].image, pfx, v);
		y_set(y_at(cluster, images[i].key), "image", y_str(img));
		free(img);
	}
}

/* Cluster discovery as talosctl enables it: the Kubernetes registry off
 * (it is deprecated and needs the API server the discovery is meant to find). */
static void discovery(struct yval *cluster)
{
	struct yval *d = y_at(cluster, "discovery");

	y_set(d, "enabled", y_bool(true));
	y_set(y_at(y_at(d, "registries"), "kubernetes"), "disabled", y_bool(true));
}

static void push_unique(struct yval *seq, const char **seen, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(seen[i], s) == 0)
			return;
	seen[(*n)++] = s;
	y_push(seq, y_str(s));
}

/* talosctl's PodSecurity defaults (enforce baseline, audit/warn restricted);
 * exempt are kube-system (as talosctl does) and the namespaces of the
 * rendered platform whose pods must run privileged: Rook's OSDs and CSI
 * plugins, the SMB CSI node plugin. */
static void admission(const struct model *m, struct yval *api, int minor)
{
	const char *seen[8];
	size_t n = 0;
	struct yval *plugin = y_map(), *conf = y_map(), *defs, *ex, *ns = y_seq();
	static const struct {
		const char *key, *value;
	} levels[] = { { "enforce", "baseline" }, { "enforce-version", "latest" },
		       { "audit", "restricted" }, { "audit-version", "latest" },
		       { "warn", "restricted" },  { "warn-version", "latest" } };

	if (minor < 12) /* gone from the schema in 1.12 (PodSecurityPolicy left Kubernetes in 1.25) */
		y_set(api, "disablePodSecurityPolicy", y_bool(true));
	y_set(plugin, "name", y_str("PodSecurity"));
	y_set(conf, "apiVersion", y_str("pod-security.admission.config.k8s.io/v1alpha1"));
	y_set(conf, "kind", y_str("PodSecurityConfiguration"));
	defs = y_at(conf, "defaults");
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		y_set(defs, levels[i].key, y_str(levels[i].value));
	ex = y_at(conf, "exemptions");
	push_unique(ns, seen, &n, "kube-system");
	if (m->platform.rook.enabled && m->platform.rook.namespace)
		push_unique(ns, seen, &n, m->platform.rook.namespace);
	if (m->platform.smb_csi.enabled && m->platform.smb_csi.namespace)
		push_unique(ns, seen, &n, m->platform.smb_csi.namespace);
	y_set(ex, "namespaces", ns);
	y_set(ex, "runtimeClasses", y_seq());
	y_set(ex, "usernames", y_seq());
	y_set(plugin, "configuration", conf);
	y_set(api, "admissionControl", y_push(y_seq(), plugin));
}

static void features(const struct model *m, struct yval *machine, int minor)
{
	struct yval *f = y_at(machine, "features");

	if (minor < 12) { /* always on, and gone from the schema, since 1.12 */
		y_set(f, "rbac", y_bool(true));
		y_set(f, "stableHostname", y_bool(true));
		y_set(f, "apidCheckExtKeyUsage", y_bool(true));
	}
	y_set(f, "diskQuotaSupport", y_bool(true));
	y_set(y_at(f, "kubePrism"), "enabled", y_bool(true));
	y_set(y_at(f, "kubePrism"), "port", y_int(KUBEPRISM_PORT));
	y_set(y_at(f, "hostDNS"), "enabled", y_bool(true));
	y_set(y_at(f, "hostDNS"), "forwardKubeDNSToHost", y_bool(m->talos.forward_kube_dns_to_host));
}

/* ---- Cilium at bootstrap -------------------------------------------------- */

static struct yval *k8s_doc(const char *api, const char *kind, const char *ns, const char *name)
{
	struct yval *d = y_map();

	y_set(d, "apiVersion", y_str(api));
	y_set(d, "kind", y_str(kind));
	y_set(y_at(d, "metadata"), "name", y_str(name));
	if (ns)
		y_set(y_at(d, "metadata"), "namespace", y_str(ns));
	return d;
}

#define CILIUM_INSTALL "cilium-install"
#define CILIUM_VALUES_DIR "/etc/cilium-install"

/* The Job of Talos v1.10's "Deploying Cilium" guide (method 5): `cilium
 * install` on the host network of a control plane, talking to the local API
 * server, with the chart, version, release name, namespace and values of
 * platform.cilium, the same ones the Flux HelmRelease carries. cilium-cli
 * installs in Helm mode (release "--helm-release-name" in "--namespace",
 * cilium-cli cli/cmd.go and cli/install.go), so Flux's HelmRelease of that
 * release name in that namespace finds the release and takes it over. */
static int cilium_bootstrap(const struct model *m, struct yval *inl, struct app_err *e)
{
	const struct model_platform *p = &m->platform;
	const char *ns = p->cilium.namespace ? p->cilium.namespace : "kube-system";
	struct yval *docs[4], *values, *spec, *pod, *ctr, *tol, *env, *t, *cmd;
	struct buf vals = { 0 }, text = { 0 };
	int r;

	if (!p->cilium.enabled || strcmp(m->talos.cni ? m->talos.cni : "none", "none") != 0)
		return 0;
	r = talos_check_cilium_bootstrap(m, e);
	if (r < 0)
		return r;
	values = p->cilium_values ? y_from_ynode(p->cilium_values) : y_map();
	r = y_emit(&values, 1, &vals, e);
	y_free(values);
	if (r < 0)
		return r;

	docs[0] = k8s_doc("v1", "ConfigMap", ns, CILIUM_INSTALL);
	y_set(y_at(docs[0], "data"), "values.yaml", y_block(vals.data ? vals.data : "{}\n"));
	docs[1] = k8s_doc("v1", "ServiceAccount", ns, CILIUM_INSTALL);
	docs[2] = k8s_doc("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", NULL, CILIUM_INSTALL);
	y_set(y_at(docs[2], "roleRef"), "apiGroup", y_str("rbac.authorization.k8s.io"));
	y_set(y_at(docs[2], "roleRef"), "kind", y_str("ClusterRole"));
	y_set(y_at(docs[2], "roleRef"), "name", y_str("cluster-admin"));
	t = y_map();
	y_set(t, "kind", y_str("ServiceAccount"));
	y_set(t, "name", y_str(CILIUM_INSTALL));
	y_set(t, "namespace", y_str(ns));
	y_set(docs[2], "subjects", y_push(y_seq(), t));

	docs[3] = k8s_doc("batch/v1", "Job", ns, CILIUM_INSTALL);
	spec = y_at(docs[3], "spec");
	y_set(spec, "backoffLimit", y_int(10));
	y_set(y_at(spec, "template.metadata.labels"), "app", y_str(CILIUM_INSTALL));
	pod = y_at(spec, "template.spec");
	y_set(pod, "restartPolicy", y_str("OnFailure"));
	/* no CNI yet: every node is tainted not-ready */
	tol = y_seq();
	t = y_map();
	y_set(t, "operator", y_str("Exists"));
	y_push(tol, t);
	y_set(pod, "tolerations", tol);
	t = y_map();
	y_set(t, "key", y_str("node-role.kubernetes.io/control-plane"));
	y_set(t, "operator", y_str("Exists"));
	y_set(y_at(pod, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"),
	      "nodeSelectorTerms", y_push(y_seq(), y_set(y_map(), "matchExpressions", y_push(y_seq(), t))));
	y_set(pod, "serviceAccountName", y_str(CILIUM_INSTALL));
	y_set(pod, "hostNetwork", y_bool(true));
	ctr = y_map();
	y_set(ctr, "name", y_str(CILIUM_INSTALL));
	y_set(ctr, "image", y_str(m->talos.cilium_install_image));
	/* kubernetes.default.svc needs the CNI being installed: the API server
	 * on this control plane, through its host address */
	env = y_seq();
	t = y_map();
	y_set(t, "name", y_str("KUBERNETES_SERVICE_HOST"));
	y_set(y_at(t, "valueFrom.fieldRef"), "apiVersion", y_str("v1"));
	y_set(y_at(t, "valueFrom.fieldRef"), "fieldPath", y_str("status.podIP"));
	y_push(env, t);
	t = y_map();
	y_set(t, "name", y_str("KUBERNETES_SERVICE_PORT"));
	y_set(t, "value", y_str("6443"));
	y_push(env, t);
	y_set(ctr, "env", env);
	{
		const char *argv[] = { "cilium",
				       "install",
				       "--version",
				       p->cilium.chart.version,
				       "--namespace",
				       ns,
				       "--helm-release-name",
				       p->cilium_release,
				       "--repository",
				       p->cilium.chart.repository ? p->cilium.chart.repository
								  : "https://helm.cilium.io",
				       "--values",
				       CILIUM_VALUES_DIR "/values.yaml" };
		cmd = y_strs(argv, sizeof(argv) / sizeof(argv[0]));
	}
	y_set(ctr, "command", cmd);
	t = y_map();
	y_set(t, "name", y_str("values"));
	y_set(t, "mountPath", y_str(CILIUM_VALUES_DIR));
	y_set(t, "readOnly", y_bool(true));
	y_set(ctr, "volumeMounts", y_push(y_seq(), t));
	y_set(pod, "containers", y_push(y_seq(), ctr));
	t = y_map();
	y_set(t, "name", y_str("values"));
	y_set(y_at(t, "configMap"), "name", y_str(CILIUM_INSTALL));
	y_set(pod, "volumes", y_push(y_seq(), t));

	r = y_emit(docs, 4, &text, e);
	for (int i = 0; i < 4; i++)
		y_free(docs[i]);
	if (r == 0) {
		t = y_map();
		y_set(t, "name", y_str(CILIUM_INSTALL));
		y_set(t, "contents", y_block(text.data));
		y_push(inl, t);
	}
	buf_free(&vals);
	buf_free(&text);
	return r;
}

static int flux_bootstrap(const struct model *m, struct yval *cluster, struct app_err *e)
{
	struct buf wiring = { 0 }, secrets = { 0 };
	struct yval *inl, *item;
	int r;

	r = talos_check_flux(m, e);
	if (r < 0)
		return r;
	inl = y_seq();
	y_set(cluster, "extraManifests", y_strs((const char *const *)&m->gitops.flux.install_manifest, 1));
	r = cilium_bootstrap(m, inl, e);
	if (r == 0)
		r = render_bootstrap_manifests(m, &wiring, e);
	if (r == 0)
		r = talos_config_bootstrap_secrets(m, &secrets, e);
	if (r == 0) /* cluster-secrets: site.secretVars for Flux substitution (render) */
		r = render_bootstrap_secrets(m, &secrets, e);
	if (r == 0) {
		item = y_map();
		y_set(item, "name", y_str("flux-bootstrap"));
		y_set(item, "contents", y_block(wiring.data ? wiring.data : ""));
		y_push(inl, item);
		if (secrets.len) {
			item = y_map();
			y_set(item, "name", y_str("flux-bootstrap-secrets"));
			y_set(item, "contents", y_block(secrets.data));
			y_push(inl, item);
		}
		y_set(cluster, "inlineManifests", inl);
	} else {
		y_free(inl);
	}
	buf_free(&wiring);
	secure_free(secrets.data, secrets.cap);
	return r;
}

int talos_config_render(const struct model *m, const struct model_node *node, const struct talos_bundle *b,
			const char *schematic_id, struct buf *out, struct app_err *e)
{
	bool cp = node->role == NODE_ROLE_CONTROLPLANE;
	struct yval *root = y_map(), *machine, *cluster, **docs = NULL;
	size_t n = 1;
	char *image = NULL, own_id[65];
	int minor, r;

	minor = talos_config_minor(m->talos.version, e);
	if (minor >= 0 && !schematic_id) {
		minor = talos_schematic_id(m, own_id, e);
		minor = minor < 0 ? minor : talos_config_minor(m->talos.version, e);
		schematic_id = own_id;
	}
	if (minor < 0) {
		y_free(root);
		return minor;
	}
	docs = xmalloc(sizeof(*docs));
	docs[0] = root;
	y_set(root, "version", y_str("v1alpha1"));
	y_set(root, "debug", y_bool(false));
	machine = y_at(root, "machine");
	y_set(machine, "type", y_str(cp ? "controlplane" : "worker"));
	y_set(machine, "token", y_str(b->trustd_token));
	y_set(machine, "ca", cert_key(&b->os, cp));
	cluster = y_at(root, "cluster");
	r = talos_check_endpoint(m, e);
	if (r < 0)
		goto out;
	if (minor < 12) {
		r = network_legacy(m, node, machine, e);
		if (r < 0)
			goto out;
	}
	image = xasprintf("%s/%s:%s",
			  m->talos.image.installer ? m->talos.image.installer
						   : "factory.talos.dev/metal-installer",
			  schematic_id, m->talos.version);
	r = install_section(node, image, y_at(machine, "install"), e);
	if (r < 0)
		goto out;
	features(m, machine, minor);

	y_set(cluster, "id", y_str(b->cluster_id));
	y_set(cluster, "secret", y_str(b->cluster_secret));
	y_set(y_at(cluster, "controlPlane"), "endpoint", y_str(m->talos.endpoint));
	y_set(cluster, "clusterName", y_str(m->site.cluster));
	r = cluster_network(m, cluster, e);
	if (r < 0)
		goto out;
	y_set(cluster, "token", y_str(b->bootstrap_token));
	if (cp) {
		if (b->secretbox_secret)
			y_set(cluster, "secretboxEncryptionSecret", y_str(b->secretbox_secret));
		else
			y_set(cluster, "aescbcEncryptionSecret", y_str(b->aescbc_secret));
	}
	y_set(cluster, "ca", cert_key(&b->k8s, cp));
	if (cp) {
		y_set(cluster, "aggregatorCA", cert_key(&b->k8s_aggregator, true));
		y_set(y_at(cluster, "serviceAccount"), "key", b64_str(b->k8s_service_account_key));
		y_set(y_at(cluster, "apiServer"), "certSANs", endpoint_sans(m));
		/* the talosconfig may reach apid through the VIP (talos_talosconfig.c) */
		y_set(machine, "certSANs", endpoint_sans(m));
		y_set(y_at(cluster, "etcd"), "ca", cert_key(&b->etcd, true));
	}
	kubernetes(m, machine, cluster, cp);
	if (cp)
		admission(m, y_at(cluster, "apiServer"), minor);
	discovery(cluster);
	if (!m->talos.kube_proxy)
		y_set(y_at(cluster, "proxy"), "disabled", y_bool(true));
	if (cp) {
		r = flux_bootstrap(m, cluster, e);
		if (r < 0)
			goto out;
		y_set(cluster, "allowSchedulingOnControlPlanes",
		      y_bool(m->talos.allow_scheduling_on_control_planes));
	}
	if (minor >= 12) {
		r = network_docs(m, node, &docs, &n, e);
		if (r < 0)
			goto out;
	}
	r = y_emit(docs, n, out, e);
out:
	if (r < 0)
		app_err_prefix(e, "node '%s'", node->name);
	for (size_t i = 0; i < n; i++)
		y_free(docs[i]);
	free(docs);
	free(image);
	return r;
}
