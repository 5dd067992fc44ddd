/* The bundle-free checks of talos gen (see talos_check.h). */
#include "talos/talos_check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "profile/model.h"
#include "profile/value.h"
#include "talos/talos_config.h"
#include "talos/talos_schematic.h"

/* "https://host:port/..." -> host (caller frees), NULL when not a URL. */
char *talos_url_host(const char *url)
{
	const char *p = strstr(url ? url : "", "://"), *end;

	if (!p)
		return NULL;
	p += 3;
	if (*p == '[') { /* IPv6 literal */
		end = strchr(p, ']');
		return end ? xstrndup(p + 1, (size_t)(end - p - 1)) : NULL;
	}
	end = p + strcspn(p, ":/");
	return end > p ? xstrndup(p, (size_t)(end - p)) : NULL;
}

int talos_check_endpoint(const struct model *m, struct app_err *e)
{
	if (!m->talos.endpoint || strncmp(m->talos.endpoint, "https://", 8) != 0)
		return app_err_set(e, -EINVAL, "talos.endpoint '%s': expected https://HOST:PORT",
				   m->talos.endpoint ? m->talos.endpoint : "");
	return 0;
}

int talos_check_cni(const struct model *m, struct app_err *e)
{
	static const char *const names[] = { "none", "flannel" };
	const char *cni = m->talos.cni ? m->talos.cni : "none";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(cni, names[i]) == 0)
			return 0;
	return app_err_set(e, -EINVAL,
			   "talos.cni '%s': only 'none' (the GitOps repository installs the CNI) and "
			   "'flannel' can be generated; 'custom' needs CNI manifest URLs the profile "
			   "cannot name yet",
			   cni);
}

int talos_check_cilium_bootstrap(const struct model *m, struct app_err *e)
{
	const struct model_platform *p = &m->platform;

	if (!p->cilium.enabled || strcmp(m->talos.cni ? m->talos.cni : "none", "none") != 0)
		return 0;
	if (!p->cilium.chart.version || !p->cilium_release || !m->talos.cilium_install_image)
		return app_err_set(e, -EINVAL,
				   "platform.cilium needs chart.version and release, and "
				   "talos.ciliumInstallImage, to be installed at bootstrap");
	return 0;
}

int talos_check_flux(const struct model *m, struct app_err *e)
{
	if (!m->gitops.flux.install_manifest)
		return app_err_set(e, -EINVAL,
				   "gitops.flux.installManifest is not set: no Flux install manifest for "
				   "cluster.extraManifests");
	return 0;
}

bool talos_is_ssh_url(const char *url)
{
	return url && (strncmp(url, "ssh://", 6) == 0 || strncmp(url, "git@", 4) == 0);
}

/* Flux's git auth refuses an SSH transport without known_hosts: fluxcd/pkg
 * git/options.go, AuthOptions.Validate ("invalid 'ssh' auth option: 'known_hosts'
 * is required", checked at commit a4515052), which source-controller runs on the
 * GitRepository's secretRef: the GitRepository would never become ready. */
int talos_check_git_ssh(const struct model *m, struct app_err *e)
{
	const struct model_gitops *g = &m->gitops;

	if (g->credentials_secret && talos_is_ssh_url(g->url) && (!g->known_hosts || !*g->known_hosts))
		return app_err_set(e, -EINVAL,
				   "'%s' is an SSH URL: Flux refuses an SSH deploy key without the "
				   "server's host key; set gitops.knownHosts to what 'ssh-keyscan HOST' "
				   "prints for the git server",
				   g->url);
	return 0;
}

int talos_check_link(const struct model *m, const struct model_node *node, struct app_err *e)
{
	const struct node_network *net = &node->network;
	bool vip = node->role == NODE_ROLE_CONTROLPLANE && m->talos.vip;
	bool named = net->interface || net->hardware_addr || node->identity.macs.n || net->bus_path;

	if ((vip || !net->dhcp) && !named)
		return app_err_set(e, -EINVAL,
				   "%s needs the node's LAN interface: set network.hardwareAddr (its MAC), "
				   "network.busPath or network.interface (refusing to put it on every "
				   "physical NIC)",
				   vip ? "the VIP (talos.vip)" : "a static network.address");
	return 0;
}

const char *talos_disk_type(const char *transport)
{
	static const struct {
		const char *transport, *type;
	} types[] = { { "nvme", "nvme" }, { "mmc", "sd" } };

	for (size_t i = 0; transport && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(transport, types[i].transport) == 0)
			return types[i].type;
	return NULL;
}

bool talos_disk_exact_path(const char *path)
{
	return path && !strpbrk(path, "*?[") && strncmp(path, "/dev/", 5) == 0 &&
	       strncmp(path, "/dev/disk/", 10) != 0;
}

int talos_check_install_disk(const struct model_node *node, struct app_err *e)
{
	const struct disk_selector *d = &node->install_disk;

	if (talos_disk_exact_path(d->path))
		return 0;
	if (d->size || d->model || d->serial || d->wwid || talos_disk_type(d->transport))
		return 0;
	return app_err_set(e, -EINVAL,
			   "installDisk cannot be expressed as a Talos install disk "
			   "(expected an exact /dev path, or size, model, serial, wwid or transport "
			   "nvme/mmc)");
}

/* The API server runs on the control planes: an endpoint address that is a worker's
 * cannot work; one that is neither the VIP nor a control plane's works only behind a
 * load balancer of the site's. */
static void check_endpoint_address(const struct model *m, talos_report_fn report, void *ctx, size_t *errors)
{
	char *host = NULL;
	struct app_err e = { 0 };
	bool all_cp_known = true;

	if (!m->talos.endpoint || !(host = talos_url_host(m->talos.endpoint)) || !value_is_ip(host)) {
		free(host);
		return;
	}
	if (m->talos.vip && value_ip_same(host, m->talos.vip)) {
		free(host);
		return;
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct model_node *n = &m->nodes[i];
		char *a = !n->network.dhcp && n->network.address
			      ? xstrndup(n->network.address, strcspn(n->network.address, "/"))
			      : NULL;
		bool same = a && value_ip_same(host, a);
		free(a);
		if (same && n->role == NODE_ROLE_CONTROLPLANE) {
			free(host);
			return;
		}
		if (same) {
			app_err_set(&e, -EINVAL,
				    "address '%s' is worker '%s''s: the API server runs on the control "
				    "planes only; use talos.vip or a control plane's address",
				    host, n->name);
			report(ctx, "talos.endpoint", false, &e);
			(*errors)++;
			free(host);
			return;
		}
		if (n->role == NODE_ROLE_CONTROLPLANE && !a)
			all_cp_known = false;
	}
	if (m->talos.vip || all_cp_known) {
		app_err_set(&e, -EINVAL,
			    "address '%s' is neither talos.vip nor a control plane's: the nodes and "
			    "kubectl reach the API there only through a load balancer of the site's",
			    host);
		report(ctx, "talos.endpoint", true, &e);
	}
	free(host);
}

size_t talos_check_all(const struct model *m, talos_report_fn report, void *ctx)
{
	static const struct {
		int (*fn)(const struct model *, struct app_err *);
		const char *key;
	} site[] = {
		{ talos_check_endpoint, "talos.endpoint" },
		{ talos_check_cni, "talos.cni" },
		{ talos_check_cilium_bootstrap, "platform.cilium" },
		{ talos_check_flux, "gitops.flux.installManifest" },
		{ talos_check_git_ssh, "gitops.url" },
	};
	struct app_err e = { 0 };
	size_t errors = 0;
	char *host = NULL, *ip = NULL, id[65];

	for (size_t i = 0; i < sizeof(site) / sizeof(site[0]); i++)
		if (site[i].fn(m, &e) < 0) {
			report(ctx, site[i].key, false, &e);
			errors++;
		}
	if (talos_config_endpoint_entry(m, &host, &ip, &e) < 0) {
		report(ctx, "talos.endpoint", false, &e);
		errors++;
	}
	free(host);
	free(ip);
	check_endpoint_address(m, report, ctx, &errors);
	if (talos_schematic_id(m, id, &e) < 0) {
		report(ctx, "talos.schematic", false, &e);
		errors++;
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		char *key;
		if (talos_check_link(m, &m->nodes[i], &e) < 0) {
			key = xasprintf("nodes[%zu].network", i);
			report(ctx, key, false, &e);
			free(key);
			errors++;
		}
		if (talos_check_install_disk(&m->nodes[i], &e) < 0) {
			key = xasprintf("nodes[%zu].installDisk", i);
			report(ctx, key, false, &e);
			free(key);
			errors++;
		}
	}
	return errors;
}
