/* Talos machine configs (v1alpha1) for the nodes of a profile.
 *
 * Supported Talos versions: v1.10.x, v1.11.x, v1.12.x (the schemas in
 * tests/schemas/talos). 1.10 and 1.11 carry hostname, interfaces and
 * nameservers in machine.network; 1.12 dropped those from v1alpha1, so there
 * they are the HostnameConfig, LinkAliasConfig, LinkConfig, DHCPv4Config,
 * Layer2VIPConfig and ResolverConfig documents after the v1alpha1 one.
 *
 * Control planes carry the CA keys and the Flux bootstrap
 * (cluster.extraManifests = the Flux install manifest, cluster.inlineManifests
 * = render_bootstrap_manifests() plus the bootstrap Secrets read through
 * secret.h). Workers get only CA certificates, tokens and the endpoint. */
#ifndef APPLIANCE_TALOS_CONFIG_H
#define APPLIANCE_TALOS_CONFIG_H

struct model;
struct model_node;
struct talos_bundle;
struct buf;
struct app_err;

/* The minor version (10, 11, 12) of a supported "vMAJOR.MINOR.PATCH";
 * otherwise a negative errno and a message listing the supported ones. */
int talos_config_minor(const char *version, struct app_err *e);

/* When talos.endpoint names a host (not an address): that name and the
 * address every node maps it to (talos.vip, else the first control plane's
 * static address), both for the caller to free; both NULL when the endpoint
 * is an address. -EINVAL when a name has nothing to map to. */
int talos_config_endpoint_entry(const struct model *m, char **ret_host, char **ret_ip, struct app_err *e);

/* The kubeconfig Talos hands out names talos.endpoint as its server; when
 * that is a host name, point it at the address the nodes map it to (the
 * VIP), which the API server certificate carries, so an admin laptop needs
 * neither mDNS nor the LAN's DNS. Returns how many servers were rewritten. */
int talos_config_kubeconfig_server(const struct model *m, struct buf *kube, struct app_err *e);

/* The Secrets the cluster cannot get elsewhere (git credentials, SOPS key,
 * 1Password Connect credentials and token, SMB CSI credentials), as a YAML
 * stream appended to out. Reads secret values: wipe out after use. */
int talos_config_bootstrap_secrets(const struct model *m, struct buf *out, struct app_err *e);

/* The machine config of node (a multi-document YAML stream for 1.12),
 * appended to out. schematic_id picks the installer image (NULL: the
 * profile's, talos_schematic_id()). Deterministic:
 * same model, bundle and secret values, same bytes. Holds secrets. */
int talos_config_render(const struct model *m, const struct model_node *node, const struct talos_bundle *b,
			const char *schematic_id, struct buf *out, struct app_err *e);

#endif
