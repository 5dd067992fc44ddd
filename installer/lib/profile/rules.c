/* Rules that span fields (see rules.h). */
#include "profile/rules.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/util.h"
#include "base/ytree.h"
#include "profile/value.h"

static const struct ynode *node_at(const struct ytree *t, const char *path)
{
	return ytree_get(t->root, path);
}

static void derive_var(struct diag_ctx *c, struct model *m, const struct ytree *t, const char *var,
		       const char *value, const char *from)
{
	const struct ynode *raw = node_at(t, from);
	const char *have;

	/* an invalid value is reported where it stands; still define the variable
	 * so that every ${VAR} using it is not reported a second time */
	if (!value && raw && raw->type == YN_SCALAR)
		value = raw->value;
	if (!value)
		return;
	have = kvlist_get(&m->site.vars, var);
	if (!have) {
		kvlist_add(&m->site.vars, var, value);
	} else if (strcmp(have, value) != 0) {
		char *p = xasprintf("site.vars.%s", var);
		diag_node(c, node_at(t, p), p, DIAG_ERROR,
			  "'%s' disagrees with %s '%s'; remove it (it is derived)", have, from, value);
		free(p);
	}
}

/* A value under N still holds appliance init's marker (reported there). */
static bool has_marker(const struct ynode *n)
{
	if (!n)
		return false;
	if (n->type == YN_SCALAR)
		return strstr(n->value, PROFILE_CHOOSE_MARKER) != NULL;
	for (size_t i = 0; i < n->n; i++)
		if (has_marker(n->items[i]))
			return true;
	return false;
}

static void check_selector(struct diag_ctx *c, const struct ytree *t, struct disk_selector *s,
			   const char *path, const char *role)
{
	char *p;

	if (!s->path && !s->model && !s->serial && !s->wwid && !s->transport && !s->size &&
	    !has_marker(node_at(t, path))) {
		p = xasprintf("%s", path);
		diag_node(c, node_at(t, p), p, DIAG_ERROR,
			  "%s selector matches every disk; give at least one of path, model, serial, wwid, "
			  "transport, size",
			  role);
		free(p);
	}
	if (s->size) {
		const char *q = s->size;
		static const struct {
			const char *op;
			enum size_op v;
		} ops[] = { { ">=", SIZE_OP_GE }, { "<=", SIZE_OP_LE }, { "==", SIZE_OP_EQ },
			    { ">", SIZE_OP_GT },  { "<", SIZE_OP_LT },	{ "=", SIZE_OP_EQ } };
		s->size_op = SIZE_OP_EQ;
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			if (strncmp(q, ops[i].op, strlen(ops[i].op)) == 0) {
				s->size_op = ops[i].v;
				q += strlen(ops[i].op);
				break;
			}
		}
		while (*q == ' ')
			q++;
		if (profile_parse_size(q, &s->size_bytes) < 0) {
			p = xasprintf("%s.size", path);
			diag_node(c, node_at(t, p), p, DIAG_ERROR,
				  "malformed size condition '%s'; expected e.g. '>= 1TB', '< 2Ti' or '500GB'",
				  s->size);
			free(p);
		}
	}
}

/* An install disk size condition that only smaller disks than Talos'
 * minimum system disk (talos.installDiskMinSize) meet picks no disk Talos
 * can go on: said here, before any machine is looked at. */
static void check_install_size(struct diag_ctx *c, const struct ytree *t, const struct model *m,
			       const struct disk_selector *s, const char *path)
{
	const struct model_size *min = &m->talos.install_disk_min_size;
	char *p;

	if (!s->size || !s->size_bytes || !min->bytes)
		return;
	if (!((s->size_op == SIZE_OP_EQ || s->size_op == SIZE_OP_LE) ? s->size_bytes < min->bytes
	      : s->size_op == SIZE_OP_LT			     ? s->size_bytes <= min->bytes
								     : false))
		return;
	p = xasprintf("%s.size", path);
	diag_node(c, node_at(t, p), p, DIAG_ERROR,
		  "'%s' admits only disks smaller than talos.installDiskMinSize %s (Talos' minimum system "
		  "disk); select a disk of at least %s",
		  s->size, min->text ? min->text : "", min->text ? min->text : "");
	free(p);
}

struct seen {
	const char *value;
	size_t node;
};

static void check_duplicate(struct diag_ctx *c, const struct ytree *t, struct seen *seen, size_t *n,
			    const char *value, size_t node, const char *path, const char *what)
{
	if (!value)
		return;
	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp(seen[i].value, value) == 0) {
			diag_node(c, node_at(t, path), path, DIAG_ERROR,
				  "duplicate %s '%s' (also used by nodes[%zu])", what, value, seen[i].node);
			return;
		}
	}
	seen[*n].value = value;
	seen[*n].node = node;
	(*n)++;
}

static void check_nodes(struct diag_ctx *c, struct model *m, const struct ytree *t)
{
	size_t cps = 0, total_macs = 0;
	bool roles_ok = true;

	for (size_t i = 0; i < m->n_nodes; i++)
		total_macs += m->nodes[i].identity.macs.n;
	struct seen *names = xcalloc(m->n_nodes + 1, sizeof(*names));
	struct seen *hosts = xcalloc(m->n_nodes + 1, sizeof(*hosts));
	struct seen *macs = xcalloc(total_macs + 1, sizeof(*macs));
	struct seen *serials = xcalloc(m->n_nodes + 1, sizeof(*serials));
	size_t nn = 0, nh = 0, nm = 0, ns = 0;

	if (m->n_nodes == 0 && node_at(t, "nodes") && node_at(t, "nodes")->type == YN_SEQ)
		diag_node(c, node_at(t, "nodes"), "nodes", DIAG_ERROR, "at least one node is required");
	for (size_t i = 0; i < m->n_nodes; i++) {
		struct model_node *n = &m->nodes[i];
		char *p;

		n->role = n->role_text && strcmp(n->role_text, "worker") == 0 ? NODE_ROLE_WORKER
									      : NODE_ROLE_CONTROLPLANE;
		if (n->role_text && n->role == NODE_ROLE_CONTROLPLANE)
			cps++;
		roles_ok &= n->role_text != NULL;
		p = xasprintf("nodes[%zu].name", i);
		check_duplicate(c, t, names, &nn, n->name, i, p, "node name");
		free(p);
		/* a hostname derived from the name is checked with the name */
		p = xasprintf("nodes[%zu].hostname", i);
		if (n->hostname)
			check_duplicate(c, t, hosts, &nh, n->hostname, i, p, "hostname");
		else if (n->name)
			n->hostname = xstrdup(n->name);
		free(p);
		for (size_t j = 0; j < n->identity.macs.n; j++) {
			p = xasprintf("nodes[%zu].identity.macs[%zu]", i, j);
			check_duplicate(c, t, macs, &nm, n->identity.macs.v[j], i, p, "MAC address");
			free(p);
		}
		p = xasprintf("nodes[%zu].identity.serial", i);
		check_duplicate(c, t, serials, &ns, n->identity.serial, i, p, "DMI serial");
		free(p);

		p = xasprintf("nodes[%zu].installDisk", i);
		if (node_at(t, p)) {
			check_selector(c, t, &n->install_disk, p, "the install disk");
			check_install_size(c, t, m, &n->install_disk, p);
		}
		free(p);
		for (size_t j = 0; j < n->n_ceph_disks; j++) {
			p = xasprintf("nodes[%zu].cephDisks[%zu]", i, j);
			check_selector(c, t, &n->ceph_disks[j].selector, p, "a Ceph disk");
			free(p);
		}
		if (!n->network.dhcp && !n->network.address) {
			p = xasprintf("nodes[%zu].network", i);
			diag_node(c, node_at(t, p), p, DIAG_ERROR,
				  "dhcp is false but no static address is given");
			free(p);
		} else if (n->network.dhcp && n->network.address) {
			p = xasprintf("nodes[%zu].network.address", i);
			diag_node(c, node_at(t, p), p, DIAG_ERROR,
				  "a static address is given but dhcp is true; set 'dhcp: false' for static "
				  "addressing");
			free(p);
		}
	}
	if (m->n_nodes > 0 && cps == 0 && roles_ok)
		diag_node(c, node_at(t, "nodes"), "nodes", DIAG_ERROR,
			  "no control-plane node; at least one node needs 'role: controlplane'");
	else if (cps > 0 && cps % 2 == 0)
		diag_node(
		    c, node_at(t, "nodes"), "nodes", DIAG_WARNING,
		    "%zu control-plane nodes: an even number gives etcd no extra fault tolerance; use an "
		    "odd number",
		    cps);
	free(names);
	free(hosts);
	free(macs);
	free(serials);
}

/* Variables always derived from required keys: when the key is missing that
 * is the error reported, not every ${VAR} that uses it. */
static bool is_derived_var(const char *name)
{
	return strcmp(name, "CLUSTER_NAME") == 0 || strcmp(name, "LOCATION") == 0 ||
	       strcmp(name, "TIMEZONE") == 0;
}

/* Every ${VAR} in every value must be a site var or a secret var. */
static void check_vars_in(struct diag_ctx *c, const struct model *m, const struct ynode *n, const char *path)
{
	if (n->type == YN_SCALAR) {
		for (const char *p = n->value; (p = strstr(p, "${")) != NULL;) {
			if (p > n->value && p[-1] == '$') {
				p += 2;
				continue;
			}
			const char *end = strchr(p, '}');
			if (!end) {
				diag_node(c, n, path, DIAG_ERROR, "unterminated '${' in '%s'", n->value);
				return;
			}
			char *name = xstrndup(p + 2, (size_t)(end - p - 2));
			if (!value_is_varname(name))
				diag_node(c, n, path, DIAG_ERROR, "'${%s}' is not a valid variable reference",
					  name);
			else if (!kvlist_get(&m->site.vars, name) &&
				 !kvlist_get(&m->site.secret_vars, name) && !is_derived_var(name)) {
				struct buf b = { 0 };
				for (size_t i = 0; i < m->site.vars.n; i++)
					buf_printf(&b, "%s%s", b.len ? ", " : "", m->site.vars.v[i].key);
				for (size_t i = 0; i < m->site.secret_vars.n; i++)
					buf_printf(&b, "%s%s", b.len ? ", " : "",
						   m->site.secret_vars.v[i].key);
				diag_node(
				    c, n, path, DIAG_ERROR,
				    "undefined variable ${%s}; define it under site.vars or site.secretVars "
				    "(defined: %s)",
				    name, b.len ? b.data : "none");
				buf_free(&b);
			}
			free(name);
			p = end + 1;
		}
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		char *p = n->type == YN_MAP ? (path[0] ? xasprintf("%s.%s", path, n->keys[i]->value)
						       : xstrdup(n->keys[i]->value))
					    : xasprintf("%s[%zu]", path, i);
		check_vars_in(c, m, n->items[i], p);
		free(p);
	}
}

static void check_store_vars(struct diag_ctx *c, const struct model *m, const struct ytree *t,
			     const struct immich_object_store *s, const char *path)
{
	const char *vars[2] = { s->access_key_var, s->secret_key_var };
	const char *keys[2] = { "accessKeyVar", "secretKeyVar" };

	for (int i = 0; i < 2; i++) {
		if (!vars[i] || kvlist_get(&m->site.secret_vars, vars[i]) ||
		    kvlist_get(&m->site.vars, vars[i]))
			continue;
		char *p = xasprintf("%s.%s", path, keys[i]);
		diag_node(c, node_at(t, p), p, DIAG_ERROR,
			  "variable '%s' is not provided by site.secretVars; add '%s: <secret name>' there",
			  vars[i], vars[i]);
		free(p);
	}
}

/* Where a key missing from section PATH is reported: the section as the profile
 * writes it. A section the defaults also hold keeps the defaults' position, so the
 * first key the profile itself wrote there stands for it; a section the profile
 * does not write at all is reported at its top (diag_node). */
static const struct ynode *section_anchor(const struct ytree *t, const char *path)
{
	const struct ynode *n = node_at(t, path);

	if (n && n->type == YN_MAP && n->file && strcmp(n->file, PROFILE_DEFAULTS_NAME) == 0)
		for (size_t i = 0; i < n->n; i++)
			if (n->keys[i]->file && strcmp(n->keys[i]->file, PROFILE_DEFAULTS_NAME) != 0)
				return n->keys[i];
	return n;
}

/* What only the site can say has no default: each key of PATH that is
 * missing is reported with what it is and an example of what to write. A
 * value that is there but invalid (or still init's marker) is reported where
 * it stands. */
static void require_site_keys(struct diag_ctx *c, const struct ytree *t, const char *path, size_t n,
			      const char *const have[], const char *const keys[], const char *const what[])
{
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s.%s", path, keys[i]);
		const struct ynode *v = node_at(t, p);

		if (!have[i] && (!v || ynode_is_null(v)))
			diag_node(c, section_anchor(t, path), p, DIAG_ERROR, "required: set it to %s",
				  what[i]);
		free(p);
	}
}

/* Where a rendered store's backups go. */
static void check_store_location(struct diag_ctx *c, const struct ytree *t,
				 const struct immich_object_store *s, const char *path)
{
	const char *const have[] = { s->destination_path, s->endpoint };
	static const char *const keys[] = { "destinationPath", "endpoint" };
	static const char *const what[] = {
		"the bucket and path of the database backups, e.g. "
		"'s3://my-backups/${LOCATION}/immich/postgres/'",
		"the S3 service's URL, e.g. 'https://s3.eu-central-1.amazonaws.com' or "
		"'http://minio.example.internal:9000'",
	};

	require_site_keys(c, t, path, 2, have, keys, what);
}

/* The NAS share and its two folders. */
static void check_nas_location(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	const char *const have[] = { m->nas.share, m->nas.photos, m->nas.library };
	static const char *const keys[] = { "share", "photos", "library" };
	static const char *const what[] = {
		"the SMB share on the NAS (//ADDRESS/SHARE), e.g. 'media'",
		"the folder of existing photos in the share (only ever read), e.g. 'photos'",
		"the folder in the share Immich writes its library to, e.g. 'immich'",
	};

	require_site_keys(c, t, "nas", 3, have, keys, what);
}

/* The LoadBalancer range is the site's (a free range of its LAN, or one its
 * router learns over BGP): no default. It is needed while the pool is rendered
 * (platform.cilium on: platform/<lbKustomization>/app/pool.yaml, and the
 * gateways' fixed addresses come from it). A range nothing announces is
 * reachable from no machine of the LAN: warned about at the range. */
static void check_lb_range(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	const struct cilium_lb *lb = &m->platform.cilium_lb;
	const char *cidr = lb->cidr ? lb->cidr : m->talos.lb_cidr;
	static const char *const keys[] = { "cidr" };
	static const char *const what[] = {
		"a free range of your LAN, e.g. 192.168.1.240/28, announced with l2 (and "
		"platform.cilium.values.l2announcements.enabled: true), or one your router learns "
		"(announce: bgp)",
	};

	if (!m->platform.cilium.enabled || !m->platform.cilium_lb_ks)
		return;
	if (!cidr) {
		/* an invalid talos.loadBalancerCIDR is reported where it stands */
		const char *const have[] = { node_at(t, "talos.loadBalancerCIDR") ? "" : NULL };

		require_site_keys(c, t, "platform.cilium.loadBalancer", 1, have, keys, what);
		return;
	}
	if (!lb->announce) {
		const char *p = lb->cidr ? "platform.cilium.loadBalancer.cidr" : "talos.loadBalancerCIDR";

		diag_node(c, node_at(t, p), p, DIAG_WARNING,
			  "nothing announces the LoadBalancer range %s: its addresses will be unreachable "
			  "from the LAN; set platform.cilium.loadBalancer.announce to l2 (a range inside "
			  "the LAN) or bgp (a range the router learns)",
			  cidr);
	}
}

/* talos.kubeProxy: false leaves Services to Cilium: Talos' "Deploying
 * Cilium" guide (v1.10, "without kube-proxy") sets kubeProxyReplacement=true
 * and k8sServiceHost/k8sServicePort (KubePrism, localhost:7445), because
 * without kube-proxy the kubernetes Service address leads nowhere. */
static void check_cilium_without_kube_proxy(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	struct ynode *v = (struct ynode *)m->platform.cilium_values;
	const struct ynode *kpr = v ? ytree_get(v, "kubeProxyReplacement") : NULL;
	static const char *const api[] = { "k8sServiceHost", "k8sServicePort" };

	if (!kpr || kpr->type != YN_SCALAR || !kpr->value || strcasecmp(kpr->value, "true") != 0)
		diag_node(c, kpr ? kpr : node_at(t, "talos.kubeProxy"),
			  "platform.cilium.values.kubeProxyReplacement", DIAG_ERROR,
			  "'%s' while talos.kubeProxy is false: nothing would implement Services; set it "
			  "to true or talos.kubeProxy: true",
			  kpr && kpr->type == YN_SCALAR && kpr->value ? kpr->value : "unset");
	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		const struct ynode *n = v ? ytree_get(v, api[i]) : NULL;
		char *p;

		if (n && n->type == YN_SCALAR && n->value && *n->value)
			continue;
		p = xasprintf("platform.cilium.values.%s", api[i]);
		diag_node(c, n ? n : node_at(t, "talos.kubeProxy"), p, DIAG_ERROR,
			  "empty while talos.kubeProxy is false: Cilium cannot reach the API server "
			  "through the kubernetes Service; set k8sServiceHost: localhost and "
			  "k8sServicePort: 7445 (KubePrism)");
		free(p);
	}
}

/* The chain needs a CNI before anything else runs (Flux included), and
 * Talos' "Deploying Cilium" guide (v1.10, known issues) warns that
 * forwardKubeDNSToHost with Cilium's bpf.masquerade breaks CoreDNS. */
static void check_cni(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	const char *cni = m->talos.cni ? m->talos.cni : "none";
	bool cilium = m->platform.cilium.enabled;
	const struct ynode *masq =
	    m->platform.cilium_values ? ytree_get((struct ynode *)m->platform.cilium_values, "bpf.masquerade")
				      : NULL;

	if (strcmp(cni, "none") == 0 && !cilium)
		diag_node(c, node_at(t, "talos.cni"), "talos.cni", DIAG_ERROR,
			  "'none' with platform.cilium disabled: nothing installs a CNI, so the "
			  "nodes stay NotReady and Flux never starts; enable platform.cilium (installed at "
			  "bootstrap) or set talos.cni: flannel");
	if (strcmp(cni, "none") != 0 && cilium)
		diag_node(c, node_at(t, "talos.cni"), "talos.cni", DIAG_ERROR,
			  "'%s' with platform.cilium enabled: two CNIs; set talos.cni: none "
			  "(Cilium is installed at bootstrap)",
			  cni);
	if (cilium && m->talos.forward_kube_dns_to_host && masq && masq->type == YN_SCALAR && masq->value &&
	    strcmp(masq->value, "true") == 0)
		diag_node(c, masq, "platform.cilium.values.bpf.masquerade", DIAG_ERROR,
			  "true while talos.forwardKubeDNSToHost is true: a combination "
			  "that breaks CoreDNS (Talos' Deploying Cilium guide); set "
			  "talos.forwardKubeDNSToHost: false");
	if (cilium && !m->talos.kube_proxy)
		check_cilium_without_kube_proxy(c, m, t);
}

/* A LAN NIC MAC from the RFC 7042 documentation range is a placeholder the
 * site has yet to fill in (profiles/immich.yaml marks them so): the VIP
 * would go on no interface. */
static void check_placeholder_macs(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	for (size_t i = 0; i < m->n_nodes; i++) {
		const char *mac = m->nodes[i].network.hardware_addr;
		char *p;

		if (!mac || strncmp(mac, "00:00:5e:00:53:", 15) != 0)
			continue;
		p = xasprintf("nodes[%zu].network.hardwareAddr", i);
		diag_node(c, node_at(t, p), p, DIAG_WARNING,
			  "%s is a documentation address (RFC 7042), a placeholder: record the MAC of "
			  "the LAN NIC of node '%s' before installing",
			  mac, m->nodes[i].name ? m->nodes[i].name : "?");
		free(p);
	}
}

/* The route attaches only to gateways that exist: the Tailscale one only with
 * the Tailscale operator (render leaves it out otherwise). */
static void check_route_gateways(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	const struct immich_route *r = &m->apps.immich.route;
	const char *ts = m->platform.gateway_tailscale;

	if (m->platform.tailscale.enabled || !ts || !m->apps.immich.enabled)
		return;
	for (size_t i = 0; i < r->gateways.n; i++) {
		char *p;
		if (strcmp(r->gateways.v[i], ts) != 0)
			continue;
		p = xasprintf("apps.immich.route.gateways[%zu]", i);
		diag_node(c, node_at(t, p), p, DIAG_WARNING,
			  "gateway '%s' is the Tailscale gateway, and platform.tailscale is off: the route "
			  "attaches only to the other gateways (turn platform.tailscale on, or drop '%s')",
			  ts, ts);
		free(p);
	}
}

/* Addresses a site's machines use lie inside its LAN, and no two are the
 * same (Talos would bring up the second node on the first one's address).
 * The LAN's router lies inside it too; the router's and the NAS's addresses
 * are taken: no node and not the VIP may use them (the NAS may be routed,
 * so it is not held to the LAN). */
static void check_addresses(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	const char *lan = m->site.lan_cidr;
	struct {
		const char *value;
		char *path;
	} seen[64];
	size_t n = 0;

	if (m->site.gateway && lan && value_is_cidr(lan) && !value_ip_in_cidr(m->site.gateway, lan))
		diag_node(c, node_at(t, "site.lan.gateway"), "site.lan.gateway", DIAG_ERROR,
			  "gateway '%s' is outside the LAN %s (site.lan.cidr)", m->site.gateway, lan);
	if (m->site.gateway) {
		seen[n].value = m->site.gateway;
		seen[n++].path = xstrdup("site.lan.gateway");
	}
	if (m->nas.address) {
		seen[n].value = m->nas.address;
		seen[n++].path = xstrdup("nas.address");
	}
	for (size_t i = 0; i <= m->n_nodes && n < sizeof(seen) / sizeof(seen[0]); i++) {
		const char *v[2], *what[2] = { "address", "gateway" };
		char *p[2];
		if (i == m->n_nodes) { /* the control plane's shared address last */
			v[0] = m->talos.vip;
			v[1] = NULL;
			p[0] = xstrdup("talos.vip");
			p[1] = NULL;
		} else {
			v[0] = m->nodes[i].network.address;
			v[1] = m->nodes[i].network.gateway;
			p[0] = xasprintf("nodes[%zu].network.address", i);
			p[1] = xasprintf("nodes[%zu].network.gateway", i);
		}
		for (int k = 0; k < 2; k++) {
			if (!v[k] || !p[k]) {
				free(p[k]);
				continue;
			}
			if (lan && value_is_cidr(lan) && !value_ip_in_cidr(v[k], lan))
				diag_node(c, node_at(t, p[k]), p[k], DIAG_ERROR,
					  "%s '%s' is outside the LAN %s (site.lan.cidr)", what[k], v[k],
					  lan);
			if (k == 1) { /* gateways are shared */
				free(p[k]);
				continue;
			}
			for (size_t j = 0; j < n; j++)
				if (value_ip_same(seen[j].value, v[k])) {
					diag_node(c, node_at(t, p[k]), p[k], DIAG_ERROR,
						  "address '%s' is already %s's", v[k], seen[j].path);
					break;
				}
			seen[n].value = v[k];
			seen[n++].path = p[k];
		}
	}
	for (size_t j = 0; j < n; j++)
		free(seen[j].path);
}

/* The profile (or --set) writes PATH: a built-in default has no line of its own. */
static bool in_profile(const struct ytree *t, const char *path)
{
	const struct ynode *n = node_at(t, path);
	return n && strcmp(n->file, PROFILE_DEFAULTS_NAME) != 0;
}

/* Two ranges overlap when either one's network address lies in the other. */
static bool cidrs_overlap(const char *a, const char *b)
{
	return value_ip_in_cidr(a, b) || value_ip_in_cidr(b, a);
}

/* The LAN (and every node address and the VIP), the pod range, the service
 * range and the LoadBalancer pool are apart: a node inside the service range
 * routes its own LAN into the cluster (10.0.2.0/24 inside 10.0.0.0/16). The
 * LB pool may lie inside the LAN (L2 announcement answers ARP there) but not
 * in the pod or service range. Each overlap is reported at the later key,
 * naming both ranges. */
static void check_ranges(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	const char *lb = m->platform.cilium_lb.cidr ? m->platform.cilium_lb.cidr : m->talos.lb_cidr;
	const char *lb_path =
	    m->platform.cilium_lb.cidr ? "platform.cilium.loadBalancer.cidr" : "talos.loadBalancerCIDR";
	const struct {
		const char *value, *path, *what;
		bool lan; /* the LAN and the LB pool may share addresses */
	} r[] = {
		{ m->site.lan_cidr, "site.lan.cidr", "the LAN", true },
		{ m->talos.pod_cidr, "talos.podCIDR", "the pods", false },
		{ m->talos.service_cidr, "talos.serviceCIDR", "the services", false },
		{ lb, lb_path, "the LoadBalancer pool", true },
	};
	const size_t n = sizeof(r) / sizeof(r[0]);

	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++) {
			if (!r[i].value || !r[j].value || !value_is_cidr(r[i].value) ||
			    !value_is_cidr(r[j].value) || (r[i].lan && r[j].lan) ||
			    !cidrs_overlap(r[i].value, r[j].value))
				continue;
			/* at the one the profile writes (a built-in default has no line) */
			size_t a = in_profile(t, r[i].path) || !in_profile(t, r[j].path) ? i : j;
			size_t b = a == i ? j : i;
			diag_node(c, node_at(t, r[a].path), r[a].path, DIAG_ERROR,
				  "%s overlaps %s %s (%s): the LAN, the pod range, the service range and "
				  "the LoadBalancer pool must be apart; choose another range",
				  r[a].value, r[b].path, r[b].value, r[b].what);
		}
	/* an address outside the LAN is reported by check_addresses; inside a
	 * cluster range it is reported here too, naming the range */
	for (size_t i = 0; i <= m->n_nodes; i++) {
		const char *v = i == m->n_nodes ? m->talos.vip : m->nodes[i].network.address;
		char *p = i == m->n_nodes ? xstrdup("talos.vip") : xasprintf("nodes[%zu].network.address", i);
		for (size_t k = 1; v && k < 3; k++)
			if (r[k].value && value_is_cidr(r[k].value) && value_ip_in_cidr(v, r[k].value))
				diag_node(c, node_at(t, p), p, DIAG_ERROR,
					  "address '%s' is inside %s %s: a node address must lie outside "
					  "the cluster's pod and service ranges",
					  v, r[k].path, r[k].value);
		free(p);
	}
}

/* site.timezone names a zone of the tz database (tzdata's /usr/share/zoneinfo),
 * as Talos and the containers read it. Not checked where tzdata is absent. */
static void check_timezone(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	static const char zoneinfo[] = "/usr/share/zoneinfo";
	const char *tz = m->site.timezone;
	char *path, magic[4] = { 0 };
	FILE *f;
	bool ok;

	if (!tz || access(zoneinfo, R_OK) != 0)
		return;
	ok = tz[0] != '/' && !strstr(tz, "..");
	path = xasprintf("%s/%s", zoneinfo, tz);
	f = ok ? fopen(path, "rb") : NULL;
	ok = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
	if (f)
		fclose(f);
	free(path);
	if (ok)
		return;
	{
		/* the nearest name in the same area: Europe/Berln -> Europe/Berlin */
		const char *slash = strrchr(tz, '/');
		char *area =
		    slash ? xasprintf("%s/%.*s", zoneinfo, (int)(slash - tz), tz) : xstrdup(zoneinfo);
		const char *last = slash ? slash + 1 : tz;
		DIR *d = opendir(area);
		char **names = NULL;
		size_t nn = 0;
		const char *near = NULL;
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				names = xrealloc(names, sizeof(*names) * (nn + 1));
				names[nn++] = xstrdup(de->d_name);
			}
		if (d)
			closedir(d);
		if (nn)
			near = value_closest(last, (const char *const *)names, sizeof(*names), nn);
		if (near)
			diag_node(c, node_at(t, "site.timezone"), "site.timezone", DIAG_ERROR,
				  "'%s' is not a time zone of the tz database; did you mean '%.*s%s'?", tz,
				  (int)(last - tz), tz, near);
		else
			diag_node(c, node_at(t, "site.timezone"), "site.timezone", DIAG_ERROR,
				  "'%s' is not a time zone of the tz database (e.g. 'Europe/Berlin', 'UTC'; "
				  "see /usr/share/zoneinfo)",
				  tz);
		for (size_t i = 0; i < nn; i++)
			free(names[i]);
		free(names);
		free(area);
	}
}

/* 1Password Connect, as render installs it (connect chart, 1Password/connect-helm-charts
 * charts/connect/values.yaml @004d492), reads its credentials file from the Secret
 * connect.credentialsName (key 1password-credentials.json), and the operator it turns on
 * (operator.create) its token from the Secret operator.token.name (key token). Neither is
 * in the GitOps tree: install creates both at bootstrap from the secrets named here
 * (talos_config.c onepassword_secrets), so without them the pods never start and no
 * OnePasswordItem becomes a Secret. */
static void check_onepassword(struct diag_ctx *c, const struct model *m, const struct ytree *t)
{
	const struct model_platform *p = &m->platform;
	const struct {
		const char *key, *secret, *name, *who, *what;
	} need[] = {
		{ "credentialsSecret", p->onepassword_credentials_secret, p->onepassword_credentials_name,
		  "the Connect server", "1password-credentials.json" },
		{ "tokenSecret", p->onepassword_token_secret, p->onepassword_token_name, "the operator",
		  "Connect token" },
	};
	const struct ynode *at = node_at(t, "platform.onepassword.enabled");

	if (!p->onepassword.enabled)
		return;
	if (!at)
		at = node_at(t, "platform.onepassword");
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		char *path = xasprintf("platform.onepassword.%s", need[i].key);
		if (!need[i].secret)
			diag_node(c, node_at(t, path) ? node_at(t, path) : at, path, DIAG_ERROR,
				  "not set while platform.onepassword is enabled: install makes Secret '%s' "
				  "(%s's %s) from it: name its secrets: entry, or set enabled: false",
				  need[i].name ? need[i].name : "?", need[i].who, need[i].what);
		free(path);
	}
}

/* The app waits for the platform components it names in dependsOn; one
 * that the profile turns off (1Password) is not waited for: turning it off
 * needs no second edit. */
static void drop_disabled_deps(struct model *m)
{
	struct strlist *d = &m->apps.immich.depends_on;
	const char *op = m->platform.onepassword.name;
	size_t k = 0;

	for (size_t i = 0; i < d->n; i++) {
		if (!m->platform.onepassword.enabled && op && strcmp(d->v[i], op) == 0)
			free(d->v[i]);
		else
			d->v[k++] = d->v[i];
	}
	d->n = k;
}

void profile_check_rules(struct diag_ctx *c, struct model *m, const struct ytree *t)
{
	static const char *const supported[] = { "v1.10.", "v1.11.", "v1.12.", NULL };

	check_nodes(c, m, t);
	check_cni(c, m, t);
	check_placeholder_macs(c, m, t);
	check_route_gateways(c, m, t);
	check_onepassword(c, m, t);
	drop_disabled_deps(m);
	check_addresses(c, m, t);
	check_ranges(c, m, t);
	check_timezone(c, m, t);
	derive_var(c, m, t, "CLUSTER_NAME", m->site.cluster, "site.cluster");
	derive_var(c, m, t, "LOCATION", m->site.location, "site.location");
	derive_var(c, m, t, "TIMEZONE", m->site.timezone, "site.timezone");
	if (t->root)
		check_vars_in(c, m, t->root, "");
	check_nas_location(c, m, t);
	check_lb_range(c, m, t);
	check_store_vars(c, m, t, &m->apps.immich.database.primary, "apps.immich.database.primary");
	if (m->apps.immich.enabled)
		check_store_location(c, t, &m->apps.immich.database.primary, "apps.immich.database.primary");
	/* the secondary (MinIO) store is opt-in: only one that is rendered needs its keys */
	if (m->apps.immich.database.secondary.name && m->apps.immich.database.secondary.enabled) {
		check_store_vars(c, m, t, &m->apps.immich.database.secondary,
				 "apps.immich.database.secondary");
		if (m->apps.immich.enabled)
			check_store_location(c, t, &m->apps.immich.database.secondary,
					     "apps.immich.database.secondary");
	}
	if (m->talos.version) {
		bool ok = false;
		const char *v = m->talos.version;
		char *vv = v[0] == 'v' ? xstrdup(v) : xasprintf("v%s", v);
		char *dotted = xasprintf("%s.", vv);
		for (int i = 0; supported[i]; i++)
			ok |= strncmp(dotted, supported[i], strlen(supported[i])) == 0;
		if (!ok)
			diag_node(c, node_at(t, "talos.version"), "talos.version", DIAG_ERROR,
				  "Talos %s is not supported; supported: v1.10.x, v1.11.x, v1.12.x", v);
		free(vv);
		free(dotted);
	}
	if (m->nas.timeout)
		profile_parse_duration(m->nas.timeout, &m->nas.timeout_ms);
	if (!m->gitops.flux.install_manifest && m->gitops.flux.version)
		m->gitops.flux.install_manifest =
		    xasprintf("https://github.com/fluxcd/flux2/releases/download/%s/install.yaml",
			      m->gitops.flux.version);
	struct immich_database *db = &m->apps.immich.database;
	if (!db->server_name && db->cluster)
		db->server_name = xstrdup(db->cluster);
	if (!db->restore_source_server && db->server_name)
		db->restore_source_server = xstrdup(db->server_name);
	/* Immich's hostnames default to immich.<domain> for each site domain */
	struct immich_route *r = &m->apps.immich.route;
	if (r->hostnames.n == 0)
		for (size_t i = 0; i < m->site.domains.n; i++)
			strlist_push(&r->hostnames, xasprintf("immich.%s", m->site.domains.v[i]));
}
