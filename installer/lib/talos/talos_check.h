/* What `talos gen` refuses that needs neither a secrets bundle nor a secret's
 * value: each rule is one function here, called by talos_config_render where
 * the config needs it and, all together, by `appliance validate`
 * (talos_check_all), so a profile is refused once, early, with the profile
 * key at fault. */
#ifndef APPLIANCE_TALOS_CHECK_H
#define APPLIANCE_TALOS_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct app_err;
struct model;
struct model_node;

/* "https://host:port/..." -> host (caller frees), NULL when not a URL. */
char *talos_url_host(const char *url);

/* talos.endpoint is https://HOST:PORT. */
int talos_check_endpoint(const struct model *m, struct app_err *e);

/* talos.cni is one Talos can be told to install: none or flannel. */
int talos_check_cni(const struct model *m, struct app_err *e);

/* Cilium installed at bootstrap (platform.cilium on, talos.cni none) has its chart
 * version, release name and the cilium-cli image of the install Job. */
int talos_check_cilium_bootstrap(const struct model *m, struct app_err *e);

/* gitops.flux.installManifest is set (cluster.extraManifests of the control planes). */
int talos_check_flux(const struct model *m, struct app_err *e);

/* URL is one Flux reads over SSH: ssh://... or git@host:path. */
bool talos_is_ssh_url(const char *url);

/* An SSH gitops.url read with a deploy key (gitops.credentials) has gitops.knownHosts:
 * the flux-system Secret needs known_hosts, or source-controller refuses to clone. */
int talos_check_git_ssh(const struct model *m, struct app_err *e);

/* A VIP (control planes with talos.vip) or a static address goes on a LAN interface the
 * profile names (hardwareAddr, identity MAC, busPath or interface), never on every NIC. */
int talos_check_link(const struct model *m, const struct model_node *node, struct app_err *e);

/* The Talos diskSelector type of a selector transport (nvme, mmc -> sd), or NULL. */
const char *talos_disk_type(const char *transport);

/* PATH names one device as Talos' install.disk takes it: /dev/NAME, no glob, no by-* link. */
bool talos_disk_exact_path(const char *path);

/* installDisk is an exact /dev path or something Talos' diskSelector expresses. */
int talos_check_install_disk(const struct model_node *node, struct app_err *e);

/* One problem: KEY is the profile key at fault ("nodes[1].network"), WARNING when
 * talos gen would still write the config. */
typedef void (*talos_report_fn)(void *ctx, const char *key, bool warning, const struct app_err *e);

/* Every check above for M and each of its nodes, the endpoint's host entry
 * (talos_config_endpoint_entry), the schematic, and the endpoint's address
 * against the control planes (a worker's address: error; an address that is
 * neither talos.vip nor a control plane's: warning), each problem to REPORT.
 * Returns the number of errors. */
size_t talos_check_all(const struct model *m, talos_report_fn report, void *ctx);

#endif
