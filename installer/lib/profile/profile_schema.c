/* The profile's keys, as data. Adding a key = adding a row here and a field
 * in model.h; validation, binding, freeing and defaults follow from the row. */
#include <stddef.h>

#include "profile/model.h"
#include "profile/profile_schema.h"

#define END       \
	{         \
		0 \
	}
#define O(s, f) offsetof(s, f)

static const char *const api_versions[] = { "appliance/v1", NULL };
static const char *const kinds[] = { "Appliance", NULL };
static const char *const roles[] = { "controlplane", "worker", NULL };
static const char *const transports[] = { "nvme", "sata", "scsi", "usb", "virtio", "mmc", NULL };
static const char *const matches[] = { "one", "all", "any", NULL };
static const char *const platforms[] = { "metal", NULL };
static const char *const arches[] = { "amd64", "arm64", NULL };
static const char *const formats[] = { "raw.zst", "raw.xz", NULL };
static const char *const cnis[] = { "none", "flannel", "custom", NULL };
static const char *const deliveries[] = { "metal-iso", "none", NULL };
static const char *const smb_protocols[] = { "SMB3", "SMB3_00", "SMB3_02", "SMB3_11", NULL };
static const char *const reclaim[] = { "Retain", "Delete", NULL };
static const char *const access_modes[] = { "ReadWriteMany", "ReadWriteOnce", "ReadOnlyMany", NULL };
static const char *const git_schemes[] = { "ssh", "https", "http", "file", NULL };
static const char *const chart_schemes[] = { "https", "http", "oci", NULL };
static const char *const s3_schemes[] = { "s3", NULL };
static const char *const announces[] = { "bgp", "l2", NULL };
static const char *const issuer_types[] = { "acme", "selfSigned", NULL };
static const char *const pod_security[] = { "privileged", "baseline", "restricted", NULL };

/* ---- site --------------------------------------------------------------- */

static const struct field lan_fields[] = {
	{ "cidr", T_CIDR, O(struct model_site, lan_cidr), .desc = "the LAN's network, e.g. 192.168.1.0/24" },
	{ "gateway", T_IP, O(struct model_site, gateway), .desc = "the LAN's router" },
	END,
};
static const struct table lan_table = { "lan", 0, lan_fields };

static const struct field site_fields[] = {
	{ "cluster", T_NAME, O(struct model_site, cluster), F_REQUIRED,
	  .desc = "the cluster name (CLUSTER_NAME)" },
	{ "location", T_NAME, O(struct model_site, location), F_REQUIRED,
	  .desc = "short name of the place; part of backup paths (LOCATION)" },
	{ "timezone", T_STR, O(struct model_site, timezone),
	  .desc = "a zone of the tz database, e.g. Europe/Berlin (TIMEZONE)" },
	{ "domains", T_LIST_STR, O(struct model_site, domains), .elem = T_HOST,
	  .desc = "DNS domains of the site's services (certificates, hostnames)" },
	{ "lan", T_STRUCT, 0, .sub = &lan_table,
	  .desc = "the LAN every node address and the VIP must lie in" },
	{ "vars", T_KV, O(struct model_site, vars), .elem = T_STR,
	  .desc = "extra Flux variables (cluster-settings)" },
	{ "secretVars", T_KV, O(struct model_site, secret_vars), .elem = T_SECRET,
	  .desc = "Flux variables from cluster-secrets, and the secret behind each" },
	END,
};
static const struct table site_table = { "site", 0, site_fields };

/* ---- nodes -------------------------------------------------------------- */

#define SELECTOR_FIELDS(base)                                                                            \
	{ "path", T_STR, (base) + O(struct disk_selector, path) },                                       \
	    { "model", T_STR, (base) + O(struct disk_selector, model) },                                 \
	    { "serial", T_STR, (base) + O(struct disk_selector, serial) },                               \
	    { "wwid", T_STR, (base) + O(struct disk_selector, wwid) },                                   \
	    { "transport", T_ENUM, (base) + O(struct disk_selector, transport), .choices = transports }, \
	    { "size", T_STR, (base) + O(struct disk_selector, size) },                                   \
	{                                                                                                \
		"minSize", T_SIZE, (base) + O(struct disk_selector, min_size)                            \
	}

static const struct field selector_fields[] = {
	SELECTOR_FIELDS(0),
	END,
};
static const struct table selector_table = { "disk selector", sizeof(struct disk_selector), selector_fields };

static const struct field ceph_fields[] = {
	SELECTOR_FIELDS(O(struct ceph_disks, selector)),
	{ "match", T_ENUM, O(struct ceph_disks, match), .choices = matches, .def = "one" },
	{ "wipe", T_BOOL, O(struct ceph_disks, wipe), .def = "false" },
	END,
};
static const struct table ceph_table = { "ceph disks", sizeof(struct ceph_disks), ceph_fields };

static const struct field identity_fields[] = {
	{ "macs", T_LIST_STR, O(struct node_identity, macs), .elem = T_MAC },
	{ "serial", T_STR, O(struct node_identity, serial) },
	{ "uuid", T_STR, O(struct node_identity, uuid) },
	END,
};
static const struct table identity_table = { "identity", 0, identity_fields };

static const struct field network_fields[] = {
	{ "interface", T_STR, O(struct node_network, interface) },
	{ "hardwareAddr", T_MAC, O(struct node_network, hardware_addr) },
	{ "busPath", T_STR, O(struct node_network, bus_path) },
	{ "dhcp", T_BOOL, O(struct node_network, dhcp), .def = "true" },
	{ "address", T_CIDR, O(struct node_network, address) },
	{ "gateway", T_IP, O(struct node_network, gateway) },
	{ "nameservers", T_LIST_STR, O(struct node_network, nameservers), .elem = T_IP },
	END,
};
static const struct table network_table = { "network", 0, network_fields };

static const struct field node_fields[] = {
	{ "name", T_NAME, O(struct model_node, name), F_REQUIRED,
	  .desc = "the node's name (and hostname unless hostname is set)" },
	{ "role", T_ENUM, O(struct model_node, role_text), F_REQUIRED, .choices = roles,
	  .desc = "controlplane (1 or 3 of them) or worker" },
	{ "hostname", T_HOST, O(struct model_node, hostname),
	  .desc = "the node's hostname (default: its name)" },
	{ "identity", T_STRUCT, O(struct model_node, identity), .sub = &identity_table,
	  .desc = "what identifies the machine: MACs, DMI serial, UUID" },
	{ "network", T_STRUCT, O(struct model_node, network), .sub = &network_table,
	  .desc = "the node's LAN address: DHCP or static" },
	{ "installDisk", T_STRUCT, O(struct model_node, install_disk), F_REQUIRED, .sub = &selector_table,
	  .desc = "selector of the disk Talos is written to (overwritten)" },
	{ "cephDisks", T_LIST, O(struct model_node, ceph_disks), .sub = &ceph_table,
	  .desc = "selectors of the disks Ceph may take (wipe: true to erase)" },
	END,
};
static const struct table node_table = { "node", sizeof(struct model_node), node_fields };

/* ---- talos -------------------------------------------------------------- */

static const struct field schematic_fields[] = {
	{ "extensions", T_LIST_STR, O(struct talos_schematic, extensions), .elem = T_STR },
	{ "kernelArgs", T_LIST_STR, O(struct talos_schematic, kernel_args), .elem = T_STR },
	END,
};
static const struct table schematic_table = { "schematic", 0, schematic_fields };

static const struct field talos_image_fields[] = {
	{ "factory", T_URL, O(struct talos_image, factory) },
	{ "mirror", T_URL, O(struct talos_image, mirror) },
	{ "platform", T_ENUM, O(struct talos_image, platform), .choices = platforms },
	{ "arch", T_ENUM, O(struct talos_image, arch), .choices = arches },
	{ "format", T_ENUM, O(struct talos_image, format), .choices = formats },
	{ "pins", T_STR, O(struct talos_image, pins) },
	{ "installer", T_STR, O(struct talos_image, installer) },
	{ "maxSize", T_SIZE, O(struct talos_image, max_size) },
	{ "fetchTimeout", T_DURATION, O(struct talos_image, fetch_timeout) },
	END,
};
static const struct table talos_image_table = { "image", 0, talos_image_fields };

static const struct field talos_fields[] = {
	{ "version", T_VERSION, O(struct model_talos, version), F_REQUIRED,
	  .desc = "the Talos version installed" },
	{ "schematic", T_STRUCT, O(struct model_talos, schematic), .sub = &schematic_table,
	  .desc = "Image Factory schematic: system extensions, kernel args" },
	{ "image", T_STRUCT, O(struct model_talos, image), .sub = &talos_image_table,
	  .desc = "where the Talos image comes from and its pinned hashes" },
	{ "endpoint", T_URL, O(struct model_talos, endpoint), F_REQUIRED,
	  .desc = "the Kubernetes API URL (a name every node maps to the VIP)" },
	{ "vip", T_IP, O(struct model_talos, vip),
	  .desc = "the shared address of the control planes, in the LAN" },
	{ "podCIDR", T_CIDR, O(struct model_talos, pod_cidr), F_REQUIRED },
	{ "serviceCIDR", T_CIDR, O(struct model_talos, service_cidr), F_REQUIRED },
	{ "loadBalancerCIDR", T_CIDR, O(struct model_talos, lb_cidr) },
	{ "cni", T_ENUM, O(struct model_talos, cni), .choices = cnis },
	{ "cniURLs", T_LIST_STR, O(struct model_talos, cni_urls), .elem = T_URL },
	{ "kubeProxy", T_BOOL, O(struct model_talos, kube_proxy) },
	{ "allowSchedulingOnControlPlanes", T_BOOL,
	  O(struct model_talos, allow_scheduling_on_control_planes) },
	{ "configDelivery", T_ENUM, O(struct model_talos, config_delivery), .choices = deliveries },
	{ "configPartition", T_INT, O(struct model_talos, config_partition), .min = 1, .max = 128 },
	{ "forwardKubeDNSToHost", T_BOOL, O(struct model_talos, forward_kube_dns_to_host) },
	{ "ciliumInstallImage", T_STR, O(struct model_talos, cilium_install_image) },
	{ "kubernetesVersion", T_VERSION, O(struct model_talos, kubernetes_version),
	  .desc = "the Kubernetes version the nodes run" },
	{ "caFingerprint", T_HEX64, O(struct model_talos, ca_fingerprint),
	  .desc = "sha256 of the Talos bundle OS CA: the cluster identity" },
	END,
};
static const struct table talos_table = { "talos", 0, talos_fields };

/* ---- nas ---------------------------------------------------------------- */

static const struct field nas_fields[] = {
	{ "address", T_ADDR, O(struct model_nas, address), F_REQUIRED, .desc = "the NAS's address or name" },
	{ "port", T_INT, O(struct model_nas, port), .min = 1, .max = 65535 },
	{ "share", T_PATHSEG, O(struct model_nas, share), F_REQUIRED, .desc = "the SMB share" },
	{ "photos", T_PATHSEG, O(struct model_nas, photos), F_REQUIRED,
	  .desc = "folder of existing photos in the share (only ever read)" },
	{ "library", T_PATHSEG, O(struct model_nas, library), F_REQUIRED,
	  .desc = "folder Immich writes its library to" },
	{ "username", T_SECRET, O(struct model_nas, username_secret), F_REQUIRED,
	  .desc = "secret holding the SMB user name" },
	{ "password", T_SECRET, O(struct model_nas, password_secret), F_REQUIRED,
	  .desc = "secret holding the SMB password" },
	{ "domain", T_STR, O(struct model_nas, domain) },
	{ "minProtocol", T_ENUM, O(struct model_nas, min_protocol), .choices = smb_protocols },
	{ "minFree", T_SIZE, O(struct model_nas, min_free),
	  .desc = "refuse when the share has less free space" },
	{ "capacity", T_SIZE, O(struct model_nas, capacity), F_K8S },
	{ "timeout", T_DURATION, O(struct model_nas, timeout),
	  .desc = "per-operation timeout of the NAS checks" },
	{ "retries", T_INT, O(struct model_nas, retries), .min = 0, .max = 100 },
	END,
};
static const struct table nas_table = { "nas", 0, nas_fields };

/* ---- gitops ------------------------------------------------------------- */

static const struct field flux_fields[] = {
	{ "version", T_VERSION, O(struct model_flux, version), F_REQUIRED },
	{ "installManifest", T_URL, O(struct model_flux, install_manifest) },
	{ "namespace", T_NAME, O(struct model_flux, namespace) },
	END,
};
static const struct table flux_table = { "flux", 0, flux_fields };

static const struct field gitops_fields[] = {
	{ "repository", T_NAME, O(struct model_gitops, repository), F_REQUIRED },
	{ "url", T_URL, O(struct model_gitops, url), F_REQUIRED, .url_schemes = git_schemes,
	  .desc = "the repository Flux reads (ssh://, https://)" },
	{ "branch", T_STR, O(struct model_gitops, branch), F_REQUIRED },
	{ "path", T_STR, O(struct model_gitops, path), F_REQUIRED },
	{ "interval", T_DURATION, O(struct model_gitops, interval) },
	{ "retryInterval", T_DURATION, O(struct model_gitops, retry_interval) },
	{ "timeout", T_DURATION, O(struct model_gitops, timeout) },
	{ "secretsName", T_NAME, O(struct model_gitops, secrets_name) },
	{ "flux", T_STRUCT, O(struct model_gitops, flux), .sub = &flux_table },
	{ "credentials", T_SECRET, O(struct model_gitops, credentials_secret),
	  .desc = "secret: SSH deploy key (ssh://) or user:token (https://)" },
	{ "credentialsName", T_NAME, O(struct model_gitops, credentials_name) },
	{ "knownHosts", T_STR, O(struct model_gitops, known_hosts),
	  .desc = "the git server's SSH host key line" },
	{ "rootKustomization", T_NAME, O(struct model_gitops, root_kustomization) },
	{ "sops", T_SECRET, O(struct model_gitops, sops_secret),
	  .desc = "secret: the SOPS GPG key Flux decrypts with" },
	{ "sopsSecretName", T_NAME, O(struct model_gitops, sops_secret_name) },
	{ "settingsConfigMap", T_NAME, O(struct model_gitops, settings_configmap) },
	{ "substituteSecrets", T_LIST_STR, O(struct model_gitops, substitute_secrets), .elem = T_NAME },
	{ "substituteConfigMaps", T_LIST_STR, O(struct model_gitops, substitute_configmaps), .elem = T_NAME },
	{ "out", T_STR, O(struct model_gitops, out),
	  .desc = "local checkout the install renders the tree into" },
	END,
};
static const struct table gitops_table = { "gitops", 0, gitops_fields };

/* ---- platform ----------------------------------------------------------- */

#define CHART_FIELDS(base)                                                                                   \
	{ "name", T_STR, (base) + O(struct helm_chart, name) },                                              \
	    { "version", T_STR, (base) + O(struct helm_chart, version) },                                    \
	{                                                                                                    \
		"repository", T_URL, (base) + O(struct helm_chart, repository), .url_schemes = chart_schemes \
	}

static const struct field chart_fields[] = {
	CHART_FIELDS(0),
	END,
};
static const struct table chart_table = { "chart", 0, chart_fields };

/* clang-format off */
#define CF(c, f) O(struct model_platform, c) + O(struct model_component, f)
#define COMPONENT_FIELDS(c)                                                              \
	{ "enabled", T_BOOL, CF(c, enabled), .def = "true" },                            \
	{ "name", T_NAME, CF(c, name), F_REQUIRED },                                     \
	{ "manifest", T_URL, CF(c, manifest) },                                          \
	{ "namespace", T_NAME, CF(c, namespace) },                                       \
	{ "chart", T_STRUCT, CF(c, chart), .sub = &chart_table },                        \
	{ "version", T_STR, CF(c, version) },                                           \
	{ "timeout", T_DURATION, CF(c, timeout) },                                       \
	{ "retryInterval", T_DURATION, CF(c, retry_interval) },                          \
	{ "podSecurity", T_ENUM, CF(c, pod_security), .choices = pod_security }
/* clang-format on */

#define COMPONENT_TABLE(id, c, name, ...)                                                   \
	static const struct field id##_fields[] = { COMPONENT_FIELDS(c), __VA_ARGS__ END }; \
	static const struct table id##_table = { name, 0, id##_fields }

static const struct field bgp_fields[] = {
	{ "localASN", T_INT, O(struct cilium_bgp, local_asn), .min = 1, .max = 4294967295LL },
	{ "peerASN", T_INT, O(struct cilium_bgp, peer_asn), .min = 1, .max = 4294967295LL },
	{ "peerAddress", T_IP, O(struct cilium_bgp, peer_address) },
	{ "peerPort", T_INT, O(struct cilium_bgp, peer_port), .min = 1, .max = 65535, .def = "179" },
	END,
};
static const struct table bgp_table = { "bgp", 0, bgp_fields };

static const struct field l2_fields[] = {
	{ "interfaces", T_LIST_STR, O(struct cilium_l2, interfaces), .elem = T_STR },
	END,
};
static const struct table l2_table = { "l2", 0, l2_fields };

static const struct field lb_fields[] = {
	{ "cidr", T_CIDR, O(struct cilium_lb, cidr) },
	{ "pool", T_NAME, O(struct cilium_lb, pool) },
	{ "announce", T_ENUM, O(struct cilium_lb, announce), .choices = announces },
	{ "bgp", T_STRUCT, O(struct cilium_lb, bgp), .sub = &bgp_table },
	{ "l2", T_STRUCT, O(struct cilium_lb, l2), .sub = &l2_table },
	END,
};
static const struct table lb_table = { "loadBalancer", 0, lb_fields };

COMPONENT_TABLE(cilium, cilium, "cilium", { "release", T_NAME, O(struct model_platform, cilium_release) },
		{ "values", T_TREE, O(struct model_platform, cilium_values) },
		{ "lbKustomization", T_NAME, O(struct model_platform, cilium_lb_ks) },
		{ "loadBalancer", T_STRUCT, O(struct model_platform, cilium_lb), .sub = &lb_table }, );
COMPONENT_TABLE(cnpg, cnpg, "cnpg", );
COMPONENT_TABLE(barman, barman_plugin, "barmanPlugin", );
COMPONENT_TABLE(dragonfly, dragonfly, "dragonfly", );
COMPONENT_TABLE(volsync, volsync, "volsync", );
COMPONENT_TABLE(onepassword, onepassword, "onepassword",
		{ "credentialsSecret", T_SECRET, O(struct model_platform, onepassword_credentials_secret) },
		{ "tokenSecret", T_SECRET, O(struct model_platform, onepassword_token_secret) },
		{ "credentialsName", T_NAME, O(struct model_platform, onepassword_credentials_name) },
		{ "tokenName", T_NAME, O(struct model_platform, onepassword_token_name) }, );
COMPONENT_TABLE(smbcsi, smb_csi, "smbCsi",
		{ "credentialsName", T_NAME, O(struct model_platform, smb_credentials_name) }, );
COMPONENT_TABLE(rook, rook, "rook", { "cephImage", T_STR, O(struct model_platform, ceph_image) },
		{ "clusterName", T_NAME, O(struct model_platform, rook_cluster) },
		{ "clusterKustomization", T_NAME, O(struct model_platform, rook_cluster_ks) },
		{ "storageClass", T_NAME, O(struct model_platform, storage_class) },
		{ "blockPool", T_NAME, O(struct model_platform, block_pool) },
		{ "replicas", T_INT, O(struct model_platform, replicas), .min = 1, .max = 9 },
		{ "deviceClass", T_STR, O(struct model_platform, device_class) },
		{ "defaultStorageClass", T_BOOL, O(struct model_platform, default_storage_class) }, );
COMPONENT_TABLE(certmanager, cert_manager, "certManager",
		{ "issuersKustomization", T_NAME, O(struct model_platform, issuers_ks) },
		{ "issuer", T_NAME, O(struct model_platform, issuer_name) },
		{ "issuerType", T_ENUM, O(struct model_platform, issuer_type), .choices = issuer_types },
		{ "acmeEmail", T_STR, O(struct model_platform, acme_email) },
		{ "acmeServer", T_URL, O(struct model_platform, acme_server) },
		{ "acmeTokenName", T_NAME, O(struct model_platform, acme_token_name) },
		{ "acmeTokenKey", T_STR, O(struct model_platform, acme_token_key) },
		{ "acmeTokenItem", T_STR, O(struct model_platform, acme_token_item) }, );
COMPONENT_TABLE(monitoring, monitoring, "monitoring", );
COMPONENT_TABLE(tailscale, tailscale, "tailscale",
		{ "oauthItem", T_STR, O(struct model_platform, tailscale_oauth_item) }, );
COMPONENT_TABLE(gateway, gateway, "gateway",
		{ "publicAddress", T_IP, O(struct model_platform, gateway_public_address) },
		{ "certificate", T_NAME, O(struct model_platform, gateway_certificate) },
		{ "gatewayNamespace", T_NAME, O(struct model_platform, gateway_namespace) },
		{ "className", T_NAME, O(struct model_platform, gateway_class) },
		{ "gatewaysKustomization", T_NAME, O(struct model_platform, gateways_ks) },
		{ "tailscale", T_NAME, O(struct model_platform, gateway_tailscale) },
		{ "public", T_NAME, O(struct model_platform, gateway_public) }, );

static const struct field platform_fields[] = {
	{ "cilium", T_STRUCT, 0, .sub = &cilium_table },
	{ "cnpg", T_STRUCT, 0, .sub = &cnpg_table },
	{ "certManager", T_STRUCT, 0, .sub = &certmanager_table },
	{ "monitoring", T_STRUCT, 0, .sub = &monitoring_table },
	{ "barmanPlugin", T_STRUCT, 0, .sub = &barman_table },
	{ "dragonfly", T_STRUCT, 0, .sub = &dragonfly_table },
	{ "volsync", T_STRUCT, 0, .sub = &volsync_table },
	{ "onepassword", T_STRUCT, 0, .sub = &onepassword_table },
	{ "smbCsi", T_STRUCT, 0, .sub = &smbcsi_table },
	{ "rook", T_STRUCT, 0, .sub = &rook_table },
	{ "tailscale", T_STRUCT, 0, .sub = &tailscale_table },
	{ "gateway", T_STRUCT, 0, .sub = &gateway_table },
	END,
};
static const struct table platform_table = { "platform", 0, platform_fields };

/* ---- apps.immich -------------------------------------------------------- */

static const struct field store_fields[] = {
	{ "name", T_NAME, O(struct immich_object_store, name), F_REQUIRED },
	{ "destinationPath", T_URL, O(struct immich_object_store, destination_path), F_REQUIRED,
	  .url_schemes = s3_schemes },
	{ "endpoint", T_URL, O(struct immich_object_store, endpoint), F_REQUIRED },
	{ "secret", T_NAME, O(struct immich_object_store, secret), F_REQUIRED },
	{ "accessKeyVar", T_VARNAME, O(struct immich_object_store, access_key_var), F_REQUIRED },
	{ "secretKeyVar", T_VARNAME, O(struct immich_object_store, secret_key_var), F_REQUIRED },
	{ "retention", T_RETENTION, O(struct immich_object_store, retention) },
	{ "region", T_STR, O(struct immich_object_store, region) },
	{ "enabled", T_BOOL, O(struct immich_object_store, enabled), .def = "true" },
	END,
};
static const struct table store_table = { "object store", 0, store_fields };

static const struct field database_fields[] = {
	{ "cluster", T_NAME, O(struct immich_database, cluster), F_REQUIRED },
	{ "image", T_STR, O(struct immich_database, image), F_REQUIRED },
	{ "instances", T_INT, O(struct immich_database, instances), .min = 1, .max = 9 },
	{ "size", T_SIZE, O(struct immich_database, size), F_REQUIRED | F_K8S },
	{ "storageClass", T_NAME, O(struct immich_database, storage_class), F_REQUIRED },
	{ "database", T_NAME, O(struct immich_database, database), F_REQUIRED },
	{ "owner", T_NAME, O(struct immich_database, owner), F_REQUIRED },
	{ "secret", T_NAME, O(struct immich_database, secret), F_REQUIRED },
	{ "extensions", T_LIST_STR, O(struct immich_database, extensions), .elem = T_STR },
	{ "sharedPreloadLibraries", T_LIST_STR, O(struct immich_database, shared_preload_libraries),
	  .elem = T_STR },
	{ "superuser", T_BOOL, O(struct immich_database, superuser) },
	{ "dataChecksums", T_BOOL, O(struct immich_database, data_checksums) },
	{ "monitoring", T_BOOL, O(struct immich_database, monitoring) },
	{ "backupSchedule", T_CRON, O(struct immich_database, backup_schedule) },
	{ "backupName", T_NAME, O(struct immich_database, backup_name) },
	{ "serverName", T_NAME, O(struct immich_database, server_name) },
	{ "primary", T_STRUCT, O(struct immich_database, primary), F_REQUIRED, .sub = &store_table },
	{ "secondary", T_STRUCT, O(struct immich_database, secondary), .sub = &store_table },
	{ "restoreCluster", T_NAME, O(struct immich_database, restore_cluster) },
	{ "restoreSourceServer", T_NAME, O(struct immich_database, restore_source_server) },
	END,
};
static const struct table database_table = { "database", 0, database_fields };

static const struct field redis_fields[] = {
	{ "name", T_NAME, O(struct immich_redis, name), F_REQUIRED },
	{ "replicas", T_INT, O(struct immich_redis, replicas), .min = 1, .max = 9 },
	{ "maxMemory", T_QTY, O(struct immich_redis, max_memory) },
	{ "memoryLimit", T_QTY, O(struct immich_redis, memory_limit) },
	{ "cpuRequest", T_QTY, O(struct immich_redis, cpu_request) },
	{ "threads", T_INT, O(struct immich_redis, threads), .min = 1, .max = 64 },
	{ "luaUndeclaredKeys", T_BOOL, O(struct immich_redis, lua_undeclared_keys) },
	{ "secret", T_NAME, O(struct immich_redis, secret), F_REQUIRED },
	{ "image", T_STR, O(struct immich_redis, image) },
	END,
};
static const struct table redis_table = { "redis", 0, redis_fields };

static const struct field volume_fields[] = {
	{ "name", T_NAME, O(struct immich_volume, name), F_REQUIRED },
	{ "capacity", T_SIZE, O(struct immich_volume, capacity), F_REQUIRED | F_K8S },
	{ "readOnly", T_BOOL, O(struct immich_volume, read_only) },
	{ "mountPath", T_STR, O(struct immich_volume, mount_path) },
	END,
};
static const struct table volume_table = { "volume", 0, volume_fields };

static const struct field storage_fields[] = {
	{ "photos", T_STRUCT, O(struct immich_storage, photos), .sub = &volume_table },
	{ "library", T_STRUCT, O(struct immich_storage, library), .sub = &volume_table },
	{ "driver", T_STR, O(struct immich_storage, driver) },
	{ "fileMode", T_MODE, O(struct immich_storage, file_mode) },
	{ "dirMode", T_MODE, O(struct immich_storage, dir_mode) },
	{ "reclaimPolicy", T_ENUM, O(struct immich_storage, reclaim_policy), .choices = reclaim },
	{ "accessMode", T_ENUM, O(struct immich_storage, access_mode), .choices = access_modes },
	{ "storageClass", T_STR, O(struct immich_storage, storage_class) },
	END,
};
static const struct table storage_table = { "storage", 0, storage_fields };

static const struct field op_fields[] = {
	{ "name", T_NAME, O(struct onepassword_item, name), F_REQUIRED },
	{ "item", T_STR, O(struct onepassword_item, item), F_REQUIRED },
	END,
};
static const struct table op_table = { "1Password item", 0, op_fields };

static const struct field route_fields[] = {
	{ "hostnames", T_LIST_STR, O(struct immich_route, hostnames), .elem = T_HOST },
	{ "path", T_STR, O(struct immich_route, path) },
	{ "port", T_INT, O(struct immich_route, port), .min = 1, .max = 65535 },
	{ "service", T_NAME, O(struct immich_route, service) },
	{ "gateways", T_LIST_STR, O(struct immich_route, gateways), .elem = T_NAME },
	{ "homerName", T_STR, O(struct immich_route, homer_name) },
	{ "homerCategory", T_STR, O(struct immich_route, homer_category) },
	{ "homerIcon", T_STR, O(struct immich_route, homer_icon) },
	{ "homerDescription", T_STR, O(struct immich_route, homer_description) },
	{ "homerKeywords", T_STR, O(struct immich_route, homer_keywords) },
	{ "homerAnnotationPrefix", T_STR, O(struct immich_route, homer_annotation_prefix) },
	END,
};
static const struct table route_table = { "route", 0, route_fields };

static const struct field immich_fields[] = {
	{ "enabled", T_BOOL, O(struct model_immich, enabled), .def = "true" },
	{ "namespace", T_NAME, O(struct model_immich, namespace), F_REQUIRED },
	{ "interval", T_DURATION, O(struct model_immich, interval) },
	{ "timeout", T_DURATION, O(struct model_immich, timeout) },
	{ "retryInterval", T_DURATION, O(struct model_immich, retry_interval) },
	{ "dependsOn", T_LIST_STR, O(struct model_immich, depends_on), .elem = T_NAME },
	{ "chart", T_STRUCT, O(struct model_immich, chart), .sub = &chart_table },
	{ "remediationRetries", T_INT, O(struct model_immich, remediation_retries), .min = -1, .max = 100 },
	{ "imageTag", T_STR, O(struct model_immich, image_tag), F_REQUIRED },
	{ "metrics", T_BOOL, O(struct model_immich, metrics) },
	{ "database", T_STRUCT, O(struct model_immich, database), .sub = &database_table },
	{ "redis", T_STRUCT, O(struct model_immich, redis), .sub = &redis_table },
	{ "storage", T_STRUCT, O(struct model_immich, storage), .sub = &storage_table },
	{ "pgItem", T_STRUCT, O(struct model_immich, pg_item), .sub = &op_table },
	{ "redisItem", T_STRUCT, O(struct model_immich, redis_item), .sub = &op_table },
	{ "route", T_STRUCT, O(struct model_immich, route), .sub = &route_table },
	END,
};
static const struct table immich_table = { "immich", 0, immich_fields };

static const struct field apps_fields[] = {
	{ "immich", T_STRUCT, O(struct model_apps, immich), .sub = &immich_table },
	END,
};
static const struct table apps_table = { "apps", 0, apps_fields };

/* ---- install ------------------------------------------------------------ */

static const struct field install_fields[] = {
	{ "unattended", T_BOOL, O(struct model_install, unattended), .def = "false" },
	{ "offline", T_BOOL, O(struct model_install, offline), .def = "false" },
	END,
};
static const struct table install_table = { "install", 0, install_fields };

/* ---- root --------------------------------------------------------------- */

static const struct field metadata_fields[] = {
	{ "name", T_NAME, O(struct model, name) },
	END,
};
static const struct table metadata_table = { "metadata", 0, metadata_fields };

static const struct field root_fields[] = {
	{ "apiVersion", T_ENUM, O(struct model, api_version), F_REQUIRED, .choices = api_versions,
	  .desc = "the profile format version" },
	{ "kind", T_ENUM, O(struct model, kind), F_REQUIRED, .choices = kinds, .desc = "always Appliance" },
	{ "metadata", T_STRUCT, 0, .sub = &metadata_table },
	{ "site", T_STRUCT, O(struct model, site), F_REQUIRED, .sub = &site_table,
	  .desc = "the site: its names, LAN, domains and Flux variables" },
	{ "nodes", T_LIST, O(struct model, nodes), F_REQUIRED, .sub = &node_table,
	  .desc = "one entry per machine (appliance identify prints it)" },
	{ "talos", T_STRUCT, O(struct model, talos), F_REQUIRED, .sub = &talos_table,
	  .desc = "Talos and the Kubernetes API: version, endpoint, VIP, image, identity" },
	{ "nas", T_STRUCT, O(struct model, nas), F_REQUIRED, .sub = &nas_table,
	  .desc = "the SMB NAS holding the photos and the Immich library" },
	{ "gitops", T_STRUCT, O(struct model, gitops), F_REQUIRED, .sub = &gitops_table,
	  .desc = "the GitOps repository Flux reconciles and its credentials" },
	{ "platform", T_STRUCT, O(struct model, platform), .sub = &platform_table,
	  .desc = "cluster components (Cilium, Rook, gateways, 1Password, ...)" },
	{ "install", T_STRUCT, O(struct model, install), .sub = &install_table,
	  .desc = "how install behaves (unattended)" },
	{ "apps", T_STRUCT, O(struct model, apps), .sub = &apps_table, .desc = "the applications (Immich)" },
	{ "secrets", T_KV, O(struct model, secrets), .elem = T_SECREF,
	  .desc = "where each secret lives: env:NAME or file:PATH, never a value" },
	END,
};
const struct table profile_root_table = { "profile", sizeof(struct model), root_fields };
