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

#define SELECTOR_FIELDS(base)                                                                                \
	{ "path", T_STR, (base) + O(struct disk_selector, path),                                             \
	  .desc = "glob on the device path or a /dev/disk/by-* link" },                                      \
	    { "model", T_STR, (base) + O(struct disk_selector, model), .desc = "glob on the disk's model" }, \
	    { "serial", T_STR, (base) + O(struct disk_selector, serial),                                     \
	      .desc = "glob on the disk's serial number" },                                                  \
	    { "wwid", T_STR, (base) + O(struct disk_selector, wwid), .desc = "glob on the disk's WWID" },    \
	    { "transport", T_ENUM, (base) + O(struct disk_selector, transport), .choices = transports,       \
	      .desc = "the disk's bus" },                                                                    \
	    { "size", T_STR, (base) + O(struct disk_selector, size),                                         \
	      .desc = "size test: '>= 1TB', '< 2Ti', '500GB' (exact)" },                                     \
	{                                                                                                    \
		"minSize", T_SIZE, (base) + O(struct disk_selector, min_size),                               \
		    .desc = "refuse a matching disk smaller than this"                                       \
	}

static const struct field selector_fields[] = {
	SELECTOR_FIELDS(0),
	END,
};
static const struct table selector_table = { "disk selector", sizeof(struct disk_selector), selector_fields };

static const struct field ceph_fields[] = {
	SELECTOR_FIELDS(O(struct ceph_disks, selector)),
	{ "match", T_ENUM, O(struct ceph_disks, match), .choices = matches, .def = "one",
	  .desc = "one: exactly one disk; all: one or more; any: zero or more" },
	{ "wipe", T_BOOL, O(struct ceph_disks, wipe), .def = "false",
	  .desc = "opt-in: let install erase these disks for Ceph" },
	END,
};
static const struct table ceph_table = { "ceph disks", sizeof(struct ceph_disks), ceph_fields };

static const struct field identity_fields[] = {
	{ "macs", T_LIST_STR, O(struct node_identity, macs), .elem = T_MAC,
	  .desc = "MAC addresses of the machine's NICs" },
	{ "serial", T_STR, O(struct node_identity, serial), .desc = "DMI product serial of the machine" },
	{ "uuid", T_STR, O(struct node_identity, uuid), .desc = "DMI system UUID of the machine" },
	END,
};
static const struct table identity_table = { "identity", 0, identity_fields };

static const struct field network_fields[] = {
	{ "interface", T_STR, O(struct node_network, interface),
	  .desc = "kernel name of the LAN NIC (else found by MAC)" },
	{ "hardwareAddr", T_MAC, O(struct node_network, hardware_addr),
	  .desc = "MAC of the LAN NIC (Talos deviceSelector)" },
	{ "busPath", T_STR, O(struct node_network, bus_path),
	  .desc = "PCI/USB bus path of the LAN NIC (Talos deviceSelector)" },
	{ "dhcp", T_BOOL, O(struct node_network, dhcp), .def = "true",
	  .desc = "false: use address, gateway and nameservers" },
	{ "address", T_CIDR, O(struct node_network, address),
	  .desc = "static address with prefix, e.g. 192.168.1.11/24" },
	{ "gateway", T_IP, O(struct node_network, gateway), .desc = "static default gateway" },
	{ "nameservers", T_LIST_STR, O(struct node_network, nameservers), .elem = T_IP,
	  .desc = "DNS servers for a static address" },
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
	{ "extensions", T_LIST_STR, O(struct talos_schematic, extensions), .elem = T_STR,
	  .desc = "Talos system extensions baked into the image" },
	{ "kernelArgs", T_LIST_STR, O(struct talos_schematic, kernel_args), .elem = T_STR,
	  .desc = "extra kernel arguments baked into the image" },
	END,
};
static const struct table schematic_table = { "schematic", 0, schematic_fields };

static const struct field talos_image_fields[] = {
	{ "factory", T_URL, O(struct talos_image, factory), .desc = "Image Factory base URL" },
	{ "mirror", T_URL, O(struct talos_image, mirror),
	  .desc = "a mirror serving the factory's paths (used first)" },
	{ "platform", T_ENUM, O(struct talos_image, platform), .choices = platforms,
	  .desc = "Image Factory platform of the image" },
	{ "arch", T_ENUM, O(struct talos_image, arch), .choices = arches,
	  .desc = "CPU architecture of the image" },
	{ "format", T_ENUM, O(struct talos_image, format), .choices = formats,
	  .desc = "compression of the disk image" },
	{ "pins", T_STR, O(struct talos_image, pins),
	  .desc = "file of pinned image SHA-256s, relative to the profile" },
	{ "installer", T_STR, O(struct talos_image, installer),
	  .desc = "installer image repository (factory/metal-installer)" },
	{ "maxSize", T_SIZE, O(struct talos_image, max_size),
	  .desc = "refuse an image download larger than this" },
	{ "fetchTimeout", T_DURATION, O(struct talos_image, fetch_timeout),
	  .desc = "time limit of the whole image download" },
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
	{ "podCIDR", T_CIDR, O(struct model_talos, pod_cidr), F_REQUIRED,
	  .desc = "pod network of the cluster" },
	{ "serviceCIDR", T_CIDR, O(struct model_talos, service_cidr), F_REQUIRED,
	  .desc = "service network of the cluster" },
	{ "loadBalancerCIDR", T_CIDR, O(struct model_talos, lb_cidr),
	  .desc = "LoadBalancer range when loadBalancer.cidr is unset (no default)" },
	{ "cni", T_ENUM, O(struct model_talos, cni), .choices = cnis,
	  .desc = "Talos CNI: none (GitOps installs Cilium) or flannel" },
	{ "cniURLs", T_LIST_STR, O(struct model_talos, cni_urls), .elem = T_URL,
	  .desc = "manifests for cni: custom (not generated yet)" },
	{ "kubeProxy", T_BOOL, O(struct model_talos, kube_proxy),
	  .desc = "run kube-proxy (off when Cilium replaces it)" },
	{ "allowSchedulingOnControlPlanes", T_BOOL, O(struct model_talos, allow_scheduling_on_control_planes),
	  .desc = "let workloads run on control-plane nodes" },
	{ "configDelivery", T_ENUM, O(struct model_talos, config_delivery), .choices = deliveries,
	  .desc = "how nodes get their config: metal-iso partition or none" },
	{ "configPartition", T_INT, O(struct model_talos, config_partition), .min = 1, .max = 128,
	  .desc = "GPT entry number of the metal-iso config partition" },
	{ "forwardKubeDNSToHost", T_BOOL, O(struct model_talos, forward_kube_dns_to_host),
	  .desc = "Talos hostDNS forwardKubeDNSToHost" },
	{ "ciliumInstallImage", T_STR, O(struct model_talos, cilium_install_image),
	  .desc = "cilium-cli image of the bootstrap install Job" },
	{ "installDiskMinSize", T_SIZE, O(struct model_talos, install_disk_min_size),
	  .desc = "smallest install disk (Talos' minimum system disk)" },
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
	{ "port", T_INT, O(struct model_nas, port), .min = 1, .max = 65535, .desc = "SMB port" },
	/* no defaults, required (rules.c, check_nas_location) */
	{ "share", T_PATHSEG, O(struct model_nas, share), .desc = "the SMB share (no default)" },
	{ "photos", T_PATHSEG, O(struct model_nas, photos),
	  .desc = "folder of existing photos in the share, only ever read (no default)" },
	{ "library", T_PATHSEG, O(struct model_nas, library),
	  .desc = "folder Immich writes its library to (no default)" },
	{ "username", T_SECRET, O(struct model_nas, username_secret), F_REQUIRED,
	  .desc = "secret holding the SMB user name" },
	{ "password", T_SECRET, O(struct model_nas, password_secret), F_REQUIRED,
	  .desc = "secret holding the SMB password" },
	{ "domain", T_STR, O(struct model_nas, domain), .desc = "SMB workgroup or domain" },
	{ "minProtocol", T_ENUM, O(struct model_nas, min_protocol), .choices = smb_protocols,
	  .desc = "lowest SMB dialect accepted" },
	{ "minFree", T_SIZE, O(struct model_nas, min_free),
	  .desc = "refuse when the share has less free space" },
	{ "capacity", T_SIZE, O(struct model_nas, capacity), F_K8S,
	  .desc = "capacity the SMB volumes declare (unless set per volume)" },
	{ "timeout", T_DURATION, O(struct model_nas, timeout),
	  .desc = "per-operation timeout of the NAS checks" },
	{ "retries", T_INT, O(struct model_nas, retries), .min = 0, .max = 100,
	  .desc = "retries of each NAS check" },
	END,
};
static const struct table nas_table = { "nas", 0, nas_fields };

/* ---- gitops ------------------------------------------------------------- */

static const struct field flux_fields[] = {
	{ "version", T_VERSION, O(struct model_flux, version), F_REQUIRED, .desc = "Flux version installed" },
	{ "installManifest", T_URL, O(struct model_flux, install_manifest),
	  .desc = "Flux install manifest URL (default from version)" },
	{ "namespace", T_NAME, O(struct model_flux, namespace), .desc = "namespace of Flux and its Secrets" },
	END,
};
static const struct table flux_table = { "flux", 0, flux_fields };

static const struct field gitops_fields[] = {
	{ "repository", T_NAME, O(struct model_gitops, repository), F_REQUIRED,
	  .desc = "name of the Flux GitRepository" },
	{ "url", T_URL, O(struct model_gitops, url), F_REQUIRED, .url_schemes = git_schemes,
	  .desc = "the repository Flux reads (ssh://, https://)" },
	{ "branch", T_STR, O(struct model_gitops, branch), F_REQUIRED, .desc = "branch Flux follows" },
	{ "path", T_STR, O(struct model_gitops, path), F_REQUIRED,
	  .desc = "folder of this cluster in the repository" },
	{ "interval", T_DURATION, O(struct model_gitops, interval), .desc = "how often Flux reconciles" },
	{ "retryInterval", T_DURATION, O(struct model_gitops, retry_interval),
	  .desc = "how soon a failed Kustomization is retried" },
	{ "timeout", T_DURATION, O(struct model_gitops, timeout),
	  .desc = "Kustomization build, apply and health-check limit" },
	{ "secretsName", T_NAME, O(struct model_gitops, secrets_name),
	  .desc = "Secret holding site.secretVars (cluster-secrets)" },
	{ "flux", T_STRUCT, O(struct model_gitops, flux), .sub = &flux_table,
	  .desc = "the Flux version installed and its namespace" },
	{ "credentials", T_SECRET, O(struct model_gitops, credentials_secret),
	  .desc = "secret: SSH deploy key (ssh://) or user:token (https://)" },
	{ "credentialsName", T_NAME, O(struct model_gitops, credentials_name),
	  .desc = "in-cluster Secret with the git credentials" },
	{ "knownHosts", T_STR, O(struct model_gitops, known_hosts),
	  .desc = "the git server's SSH host key line" },
	{ "rootKustomization", T_NAME, O(struct model_gitops, root_kustomization),
	  .desc = "Flux Kustomization reconciling gitops.path" },
	{ "sops", T_SECRET, O(struct model_gitops, sops_secret),
	  .desc = "secret: the SOPS GPG key Flux decrypts with" },
	{ "sopsSecretName", T_NAME, O(struct model_gitops, sops_secret_name),
	  .desc = "in-cluster Secret with the SOPS key" },
	{ "settingsConfigMap", T_NAME, O(struct model_gitops, settings_configmap),
	  .desc = "ConfigMap of site.vars (cluster-settings)" },
	{ "substituteSecrets", T_LIST_STR, O(struct model_gitops, substitute_secrets), .elem = T_NAME,
	  .desc = "Secrets Flux substitutes ${VARS} from" },
	{ "substituteConfigMaps", T_LIST_STR, O(struct model_gitops, substitute_configmaps), .elem = T_NAME,
	  .desc = "ConfigMaps Flux substitutes ${VARS} from" },
	{ "out", T_STR, O(struct model_gitops, out),
	  .desc = "local checkout the install renders the tree into" },
	END,
};
static const struct table gitops_table = { "gitops", 0, gitops_fields };

/* ---- platform ----------------------------------------------------------- */

#define CHART_FIELDS(base)                                                                              \
	{ "name", T_STR, (base) + O(struct helm_chart, name),                                           \
	  .desc = "Helm chart name (and its HelmRepository)" },                                         \
	    { "version", T_STR, (base) + O(struct helm_chart, version), .desc = "Helm chart version" }, \
	{                                                                                               \
		"repository", T_URL, (base) + O(struct helm_chart, repository),                         \
		    .url_schemes = chart_schemes, .desc = "Helm repository URL (https:// or oci://)"    \
	}

static const struct field chart_fields[] = {
	CHART_FIELDS(0),
	END,
};
static const struct table chart_table = { "chart", 0, chart_fields };

/* clang-format off */
#define CF(c, f) O(struct model_platform, c) + O(struct model_component, f)
#define COMPONENT_FIELDS(c)                                                              \
	{ "enabled", T_BOOL, CF(c, enabled), .def = "true", .desc = "install this component" },                            \
	{ "name", T_NAME, CF(c, name), F_REQUIRED, .desc = "its Flux Kustomization name (what dependsOn names)" },                                     \
	{ "manifest", T_URL, CF(c, manifest), .desc = "install manifest URL, for a component installed from one" },                                          \
	{ "namespace", T_NAME, CF(c, namespace), .desc = "namespace it is installed into" },                                       \
	{ "chart", T_STRUCT, CF(c, chart), .sub = &chart_table, .desc = "its Helm chart" },                        \
	{ "version", T_STR, CF(c, version), .desc = "its version when installed from a manifest" },                                           \
	{ "timeout", T_DURATION, CF(c, timeout), .desc = "Flux Kustomization timeout (default gitops.timeout)" },                                       \
	{ "retryInterval", T_DURATION, CF(c, retry_interval), .desc = "Flux retryInterval (default gitops.retryInterval)" },                          \
	{ "podSecurity", T_ENUM, CF(c, pod_security), .choices = pod_security, .desc = "Pod Security level labelled on its namespace" }
/* clang-format on */

#define COMPONENT_TABLE(id, c, name, ...)                                                   \
	static const struct field id##_fields[] = { COMPONENT_FIELDS(c), __VA_ARGS__ END }; \
	static const struct table id##_table = { name, 0, id##_fields }

static const struct field bgp_fields[] = {
	{ "localASN", T_INT, O(struct cilium_bgp, local_asn), .min = 1, .max = 4294967295LL,
	  .desc = "the cluster's BGP ASN" },
	{ "peerASN", T_INT, O(struct cilium_bgp, peer_asn), .min = 1, .max = 4294967295LL,
	  .desc = "the site router's BGP ASN" },
	{ "peerAddress", T_IP, O(struct cilium_bgp, peer_address), .desc = "the site router's address" },
	{ "peerPort", T_INT, O(struct cilium_bgp, peer_port), .min = 1, .max = 65535, .def = "179",
	  .desc = "the site router's BGP port" },
	END,
};
static const struct table bgp_table = { "bgp", 0, bgp_fields };

static const struct field l2_fields[] = {
	{ "interfaces", T_LIST_STR, O(struct cilium_l2, interfaces), .elem = T_STR,
	  .desc = "regexes of node interfaces that answer ARP" },
	END,
};
static const struct table l2_table = { "l2", 0, l2_fields };

static const struct field lb_fields[] = {
	{ "cidr", T_CIDR, O(struct cilium_lb, cidr),
	  .desc = "range LoadBalancer addresses come from (required, no default)" },
	{ "pool", T_NAME, O(struct cilium_lb, pool), .desc = "CiliumLoadBalancerIPPool name" },
	{ "announce", T_ENUM, O(struct cilium_lb, announce), .choices = announces,
	  .desc = "how LB addresses are announced: bgp or l2" },
	{ "bgp", T_STRUCT, O(struct cilium_lb, bgp), .sub = &bgp_table,
	  .desc = "BGP peering (announce: bgp)" },
	{ "l2", T_STRUCT, O(struct cilium_lb, l2), .sub = &l2_table,
	  .desc = "L2 announcements (announce: l2)" },
	END,
};
static const struct table lb_table = { "loadBalancer", 0, lb_fields };

COMPONENT_TABLE(cilium, cilium, "cilium",
		{ "release", T_NAME, O(struct model_platform, cilium_release),
		  .desc = "Helm release name of Cilium" },
		{ "values", T_TREE, O(struct model_platform, cilium_values),
		  .desc = "Cilium chart values, as written" },
		{ "lbKustomization", T_NAME, O(struct model_platform, cilium_lb_ks),
		  .desc = "Flux Kustomization of the LB pool and announcements" },
		{ "loadBalancer", T_STRUCT, O(struct model_platform, cilium_lb), .sub = &lb_table,
		  .desc = "Cilium LB IPAM: LoadBalancer addresses" }, );
COMPONENT_TABLE(cnpg, cnpg, "cnpg", );
COMPONENT_TABLE(barman, barman_plugin, "barmanPlugin",
		{ "pluginName", T_NAME, O(struct model_platform, barman_plugin_name),
		  .desc = "the plugin's name that Clusters and backups use" }, );
COMPONENT_TABLE(dragonfly, dragonfly, "dragonfly", );
COMPONENT_TABLE(volsync, volsync, "volsync", );
COMPONENT_TABLE(onepassword, onepassword, "onepassword",
		{ "credentialsSecret", T_SECRET, O(struct model_platform, onepassword_credentials_secret),
		  .desc = "secret: 1password-credentials.json for Connect" },
		{ "tokenSecret", T_SECRET, O(struct model_platform, onepassword_token_secret),
		  .desc = "secret: the Connect token for the operator" },
		{ "credentialsName", T_NAME, O(struct model_platform, onepassword_credentials_name),
		  .desc = "in-cluster Secret with the Connect credentials" },
		{ "tokenName", T_NAME, O(struct model_platform, onepassword_token_name),
		  .desc = "in-cluster Secret with the Connect token" }, );
COMPONENT_TABLE(smbcsi, smb_csi, "smbCsi",
		{ "credentialsName", T_NAME, O(struct model_platform, smb_credentials_name),
		  .desc = "in-cluster Secret with the SMB credentials" }, );
COMPONENT_TABLE(rook, rook, "rook",
		{ "cephImage", T_STR, O(struct model_platform, ceph_image), .desc = "Ceph container image" },
		{ "clusterName", T_NAME, O(struct model_platform, rook_cluster), .desc = "CephCluster name" },
		{ "clusterKustomization", T_NAME, O(struct model_platform, rook_cluster_ks),
		  .desc = "Flux Kustomization of the CephCluster, pool, class" },
		{ "storageClass", T_NAME, O(struct model_platform, storage_class),
		  .desc = "StorageClass of the Ceph block pool" },
		{ "blockPool", T_NAME, O(struct model_platform, block_pool), .desc = "CephBlockPool name" },
		{ "replicas", T_INT, O(struct model_platform, replicas), .min = 1, .max = 9,
		  .desc = "copies of each block in the pool" },
		{ "deviceClass", T_STR, O(struct model_platform, device_class),
		  .desc = "Ceph device class the pool uses (e.g. nvme)" },
		{ "defaultStorageClass", T_BOOL, O(struct model_platform, default_storage_class),
		  .desc = "make it the cluster's default StorageClass" }, );
COMPONENT_TABLE(certmanager, cert_manager, "certManager",
		{ "issuersKustomization", T_NAME, O(struct model_platform, issuers_ks),
		  .desc = "Flux Kustomization of the ClusterIssuer" },
		{ "issuer", T_NAME, O(struct model_platform, issuer_name), .desc = "ClusterIssuer name" },
		{ "issuerType", T_ENUM, O(struct model_platform, issuer_type), .choices = issuer_types,
		  .desc = "acme (DNS-01, Cloudflare) or selfSigned" },
		{ "acmeEmail", T_STR, O(struct model_platform, acme_email), .desc = "ACME account e-mail" },
		{ "acmeServer", T_URL, O(struct model_platform, acme_server), .desc = "ACME directory URL" },
		{ "acmeTokenName", T_NAME, O(struct model_platform, acme_token_name),
		  .desc = "in-cluster Secret with the DNS API token" },
		{ "acmeTokenKey", T_STR, O(struct model_platform, acme_token_key),
		  .desc = "key of the token in that Secret" },
		{ "acmeTokenItem", T_STR, O(struct model_platform, acme_token_item),
		  .desc = "1Password item that creates that Secret" }, );
COMPONENT_TABLE(monitoring, monitoring, "monitoring", );
COMPONENT_TABLE(tailscale, tailscale, "tailscale",
		{ "oauthItem", T_STR, O(struct model_platform, tailscale_oauth_item),
		  .desc = "1Password item of the operator's OAuth client" }, );
COMPONENT_TABLE(gateway, gateway, "gateway",
		{ "publicAddress", T_IP, O(struct model_platform, gateway_public_address),
		  .desc = "fixed LoadBalancer address of the public gateway" },
		{ "certificate", T_NAME, O(struct model_platform, gateway_certificate),
		  .desc = "Certificate (and TLS Secret) of the gateways" },
		{ "gatewayNamespace", T_NAME, O(struct model_platform, gateway_namespace),
		  .desc = "namespace of the Gateways" },
		{ "className", T_NAME, O(struct model_platform, gateway_class), .desc = "GatewayClass name" },
		{ "gatewaysKustomization", T_NAME, O(struct model_platform, gateways_ks),
		  .desc = "Flux Kustomization of the GatewayClass and Gateways" },
		{ "tailscale", T_NAME, O(struct model_platform, gateway_tailscale),
		  .desc = "name of the Tailscale gateway" },
		{ "public", T_NAME, O(struct model_platform, gateway_public),
		  .desc = "name of the LAN gateway" }, );

static const struct field platform_fields[] = {
	{ "cilium", T_STRUCT, 0, .sub = &cilium_table,
	  .desc = "Cilium CNI (Helm, also bootstrapped by Talos)" },
	{ "cnpg", T_STRUCT, 0, .sub = &cnpg_table, .desc = "CloudNativePG operator" },
	{ "certManager", T_STRUCT, 0, .sub = &certmanager_table,
	  .desc = "cert-manager and the ClusterIssuer" },
	{ "monitoring", T_STRUCT, 0, .sub = &monitoring_table,
	  .desc = "Prometheus Operator CRDs (ServiceMonitor, PodMonitor)" },
	{ "barmanPlugin", T_STRUCT, 0, .sub = &barman_table,
	  .desc = "Barman Cloud plugin of CloudNativePG (backups)" },
	{ "dragonfly", T_STRUCT, 0, .sub = &dragonfly_table, .desc = "Dragonfly operator" },
	{ "volsync", T_STRUCT, 0, .sub = &volsync_table, .desc = "VolSync operator" },
	{ "onepassword", T_STRUCT, 0, .sub = &onepassword_table, .desc = "1Password Connect and operator" },
	{ "smbCsi", T_STRUCT, 0, .sub = &smbcsi_table, .desc = "SMB CSI driver" },
	{ "rook", T_STRUCT, 0, .sub = &rook_table,
	  .desc = "Rook Ceph: operator, cluster, pool and StorageClass" },
	{ "tailscale", T_STRUCT, 0, .sub = &tailscale_table, .desc = "Tailscale operator" },
	{ "gateway", T_STRUCT, 0, .sub = &gateway_table, .desc = "Gateway API gateways (Envoy)" },
	END,
};
static const struct table platform_table = { "platform", 0, platform_fields };

/* ---- apps.immich -------------------------------------------------------- */

static const struct field store_fields[] = {
	{ "name", T_NAME, O(struct immich_object_store, name), F_REQUIRED,
	  .desc = "barman ObjectStore name" },
	/* no default, required while the store is rendered (rules.c, check_store_location) */
	{ "destinationPath", T_URL, O(struct immich_object_store, destination_path),
	  .url_schemes = s3_schemes, .desc = "s3:// bucket and folder of the backups (no default)" },
	{ "endpoint", T_URL, O(struct immich_object_store, endpoint),
	  .desc = "S3 endpoint URL (no default)" },
	{ "secret", T_NAME, O(struct immich_object_store, secret), F_REQUIRED,
	  .desc = "in-cluster Secret with the S3 keys" },
	{ "accessKeyVar", T_VARNAME, O(struct immich_object_store, access_key_var), F_REQUIRED,
	  .desc = "Flux variable holding the S3 access key" },
	{ "secretKeyVar", T_VARNAME, O(struct immich_object_store, secret_key_var), F_REQUIRED,
	  .desc = "Flux variable holding the S3 secret key" },
	{ "retention", T_RETENTION, O(struct immich_object_store, retention),
	  .desc = "how long backups are kept (30d, 4w)" },
	{ "region", T_STR, O(struct immich_object_store, region), .desc = "S3 region" },
	{ "enabled", T_BOOL, O(struct immich_object_store, enabled), .def = "true",
	  .desc = "back up to this store" },
	END,
};
static const struct table store_table = { "object store", 0, store_fields };

static const struct field database_fields[] = {
	{ "cluster", T_NAME, O(struct immich_database, cluster), F_REQUIRED,
	  .desc = "CloudNativePG Cluster name" },
	{ "image", T_STR, O(struct immich_database, image), F_REQUIRED,
	  .desc = "PostgreSQL image (with vector extensions)" },
	{ "instances", T_INT, O(struct immich_database, instances), .min = 1, .max = 9,
	  .desc = "PostgreSQL instances" },
	{ "size", T_SIZE, O(struct immich_database, size), F_REQUIRED | F_K8S,
	  .desc = "volume size of each instance" },
	{ "storageClass", T_NAME, O(struct immich_database, storage_class), F_REQUIRED,
	  .desc = "StorageClass of the database volumes" },
	{ "database", T_NAME, O(struct immich_database, database), F_REQUIRED, .desc = "database name" },
	{ "owner", T_NAME, O(struct immich_database, owner), F_REQUIRED, .desc = "database owner" },
	{ "secret", T_NAME, O(struct immich_database, secret), F_REQUIRED,
	  .desc = "Secret with the owner's credentials" },
	{ "extensions", T_LIST_STR, O(struct immich_database, extensions), .elem = T_STR,
	  .desc = "extensions created at bootstrap" },
	{ "sharedPreloadLibraries", T_LIST_STR, O(struct immich_database, shared_preload_libraries),
	  .elem = T_STR, .desc = "PostgreSQL shared_preload_libraries" },
	{ "superuser", T_BOOL, O(struct immich_database, superuser),
	  .desc = "enable the superuser (needed to create extensions)" },
	{ "dataChecksums", T_BOOL, O(struct immich_database, data_checksums),
	  .desc = "initdb with data checksums" },
	{ "monitoring", T_BOOL, O(struct immich_database, monitoring),
	  .desc = "PodMonitor for the database" },
	{ "backupSchedule", T_CRON, O(struct immich_database, backup_schedule),
	  .desc = "backup schedule (6-field cron, seconds first)" },
	{ "backupName", T_NAME, O(struct immich_database, backup_name), .desc = "ScheduledBackup name" },
	{ "serverName", T_NAME, O(struct immich_database, server_name),
	  .desc = "barman serverName of new backups" },
	{ "primary", T_STRUCT, O(struct immich_database, primary), F_REQUIRED, .sub = &store_table,
	  .desc = "the main backup store" },
	{ "secondary", T_STRUCT, O(struct immich_database, secondary), .sub = &store_table,
	  .desc = "a second backup store (opt-in)" },
	{ "restoreCluster", T_NAME, O(struct immich_database, restore_cluster),
	  .desc = "Cluster recovered from backup (recovery renders)" },
	{ "restoreSourceServer", T_NAME, O(struct immich_database, restore_source_server),
	  .desc = "barman serverName to recover from" },
	END,
};
static const struct table database_table = { "database", 0, database_fields };

static const struct field redis_fields[] = {
	{ "name", T_NAME, O(struct immich_redis, name), F_REQUIRED,
	  .desc = "Dragonfly (Redis) instance name" },
	{ "replicas", T_INT, O(struct immich_redis, replicas), .min = 1, .max = 9,
	  .desc = "Dragonfly replicas" },
	{ "maxMemory", T_QTY, O(struct immich_redis, max_memory), .desc = "Dragonfly --maxmemory" },
	{ "memoryLimit", T_QTY, O(struct immich_redis, memory_limit),
	  .desc = "memory limit of the container" },
	{ "cpuRequest", T_QTY, O(struct immich_redis, cpu_request), .desc = "CPU request of the container" },
	{ "threads", T_INT, O(struct immich_redis, threads), .min = 1, .max = 64,
	  .desc = "Dragonfly --proactor_threads" },
	{ "luaUndeclaredKeys", T_BOOL, O(struct immich_redis, lua_undeclared_keys),
	  .desc = "allow Lua scripts undeclared keys" },
	{ "secret", T_NAME, O(struct immich_redis, secret), F_REQUIRED,
	  .desc = "Secret with the Dragonfly password" },
	{ "image", T_STR, O(struct immich_redis, image), .desc = "Dragonfly image" },
	END,
};
static const struct table redis_table = { "redis", 0, redis_fields };

static const struct field volume_fields[] = {
	{ "name", T_NAME, O(struct immich_volume, name), F_REQUIRED,
	  .desc = "PV and PVC name (the NAS folder is nas.photos/library)" },
	{ "capacity", T_SIZE, O(struct immich_volume, capacity), F_REQUIRED | F_K8S,
	  .desc = "capacity the volume declares (default nas.capacity)" },
	{ "readOnly", T_BOOL, O(struct immich_volume, read_only), .desc = "mount read-only" },
	{ "mountPath", T_STR, O(struct immich_volume, mount_path), .desc = "where Immich sees it" },
	END,
};
static const struct table volume_table = { "volume", 0, volume_fields };

static const struct field storage_fields[] = {
	{ "photos", T_STRUCT, O(struct immich_storage, photos), .sub = &volume_table,
	  .desc = "SMB volume of the existing photos (nas.photos)" },
	{ "library", T_STRUCT, O(struct immich_storage, library), .sub = &volume_table,
	  .desc = "SMB volume of the Immich library (nas.library)" },
	{ "driver", T_STR, O(struct immich_storage, driver), .desc = "CSI driver of the SMB volumes" },
	{ "fileMode", T_MODE, O(struct immich_storage, file_mode), .desc = "file mode of the SMB mounts" },
	{ "dirMode", T_MODE, O(struct immich_storage, dir_mode), .desc = "folder mode of the SMB mounts" },
	{ "reclaimPolicy", T_ENUM, O(struct immich_storage, reclaim_policy), .choices = reclaim,
	  .desc = "what happens to a released volume" },
	{ "accessMode", T_ENUM, O(struct immich_storage, access_mode), .choices = access_modes,
	  .desc = "access mode of the SMB volumes" },
	{ "storageClass", T_STR, O(struct immich_storage, storage_class),
	  .desc = "static StorageClass name of the volumes" },
	{ "file", T_PATHSEG, O(struct immich_storage, file), F_REQUIRED,
	  .desc = "the app folder's file of the volumes (volumes.yaml)" },
	END,
};
static const struct table storage_table = { "storage", 0, storage_fields };

static const struct field op_fields[] = {
	{ "name", T_NAME, O(struct onepassword_item, name), F_REQUIRED,
	  .desc = "Secret (and OnePasswordItem) name" },
	{ "item", T_STR, O(struct onepassword_item, item), F_REQUIRED,
	  .desc = "1Password item path: vaults/V/items/I" },
	END,
};
static const struct table op_table = { "1Password item", 0, op_fields };

static const struct field route_fields[] = {
	{ "hostnames", T_LIST_STR, O(struct immich_route, hostnames), .elem = T_HOST,
	  .desc = "hostnames Immich is served on" },
	{ "path", T_STR, O(struct immich_route, path), .desc = "URL path prefix" },
	{ "port", T_INT, O(struct immich_route, port), .min = 1, .max = 65535,
	  .desc = "port of the Immich service" },
	{ "service", T_NAME, O(struct immich_route, service), .desc = "Service the route sends to" },
	{ "gateways", T_LIST_STR, O(struct immich_route, gateways), .elem = T_NAME,
	  .desc = "Gateways the route attaches to" },
	{ "homerName", T_STR, O(struct immich_route, homer_name), .desc = "Homer dashboard name" },
	{ "homerCategory", T_STR, O(struct immich_route, homer_category),
	  .desc = "Homer dashboard category" },
	{ "homerIcon", T_STR, O(struct immich_route, homer_icon), .desc = "Homer dashboard icon" },
	{ "homerDescription", T_STR, O(struct immich_route, homer_description),
	  .desc = "Homer dashboard description" },
	{ "homerKeywords", T_STR, O(struct immich_route, homer_keywords),
	  .desc = "Homer dashboard keywords" },
	{ "homerAnnotationPrefix", T_STR, O(struct immich_route, homer_annotation_prefix),
	  .desc = "Homer annotation prefix; unset: no annotations" },
	END,
};
static const struct table route_table = { "route", 0, route_fields };

static const struct field immich_fields[] = {
	{ "enabled", T_BOOL, O(struct model_immich, enabled), .def = "true",
	  .desc = "render the Immich stack" },
	{ "namespace", T_NAME, O(struct model_immich, namespace), F_REQUIRED,
	  .desc = "namespace of the Immich stack" },
	{ "interval", T_DURATION, O(struct model_immich, interval),
	  .desc = "Flux reconcile interval of Immich" },
	{ "timeout", T_DURATION, O(struct model_immich, timeout),
	  .desc = "Flux Kustomization timeout of Immich" },
	{ "releaseTimeout", T_DURATION, O(struct model_immich, release_timeout),
	  .desc = "HelmRelease timeout: Helm's wait (unset: timeout)" },
	{ "retryInterval", T_DURATION, O(struct model_immich, retry_interval),
	  .desc = "Flux retryInterval (default gitops.retryInterval)" },
	{ "dependsOn", T_LIST_STR, O(struct model_immich, depends_on), .elem = T_NAME,
	  .desc = "Flux Kustomizations Immich waits for" },
	{ "chart", T_STRUCT, O(struct model_immich, chart), .sub = &chart_table,
	  .desc = "the Immich Helm chart" },
	{ "remediationRetries", T_INT, O(struct model_immich, remediation_retries), .min = -1, .max = 100,
	  .desc = "HelmRelease install/upgrade retries (-1: forever)" },
	{ "imageTag", T_STR, O(struct model_immich, image_tag), F_REQUIRED,
	  .desc = "Immich version (image tag)" },
	{ "metrics", T_BOOL, O(struct model_immich, metrics),
	  .desc = "ServiceMonitors (with platform.monitoring on)" },
	{ "database", T_STRUCT, O(struct model_immich, database), .sub = &database_table,
	  .desc = "the CloudNativePG database and its backups" },
	{ "redis", T_STRUCT, O(struct model_immich, redis), .sub = &redis_table,
	  .desc = "the Dragonfly (Redis) instance" },
	{ "storage", T_STRUCT, O(struct model_immich, storage), .sub = &storage_table,
	  .desc = "the SMB volumes on the NAS" },
	{ "pgItem", T_STRUCT, O(struct model_immich, pg_item), .sub = &op_table,
	  .desc = "1Password item of the database credentials" },
	{ "redisItem", T_STRUCT, O(struct model_immich, redis_item), .sub = &op_table,
	  .desc = "1Password item of the Dragonfly password" },
	{ "route", T_STRUCT, O(struct model_immich, route), .sub = &route_table,
	  .desc = "the HTTPRoute, its gateways and Homer annotations" },
	END,
};
static const struct table immich_table = { "immich", 0, immich_fields };

static const struct field apps_fields[] = {
	{ "immich", T_STRUCT, O(struct model_apps, immich), .sub = &immich_table,
	  .desc = "the Immich photo stack" },
	END,
};
static const struct table apps_table = { "apps", 0, apps_fields };

/* ---- install ------------------------------------------------------------ */

static const struct field install_fields[] = {
	{ "unattended", T_BOOL, O(struct model_install, unattended), .def = "false",
	  .desc = "live system installs without asking" },
	{ "offline", T_BOOL, O(struct model_install, offline), .def = "false",
	  .desc = "machines reach no NAS or mirror while they install" },
	END,
};
static const struct table install_table = { "install", 0, install_fields };

/* ---- root --------------------------------------------------------------- */

static const struct field metadata_fields[] = {
	{ "name", T_NAME, O(struct model, name), .desc = "the profile's name" },
	END,
};
static const struct table metadata_table = { "metadata", 0, metadata_fields };

static const struct field root_fields[] = {
	{ "apiVersion", T_ENUM, O(struct model, api_version), F_REQUIRED, .choices = api_versions,
	  .desc = "the profile format version" },
	{ "kind", T_ENUM, O(struct model, kind), F_REQUIRED, .choices = kinds, .desc = "always Appliance" },
	{ "metadata", T_STRUCT, 0, .sub = &metadata_table, .desc = "the profile's metadata" },
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
