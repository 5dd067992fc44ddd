/* The in-memory appliance: one typed model of the whole site, built from the
 * profile by profile.c. Every command reads this and nothing else.
 *
 * Conventions:
 * - Every scalar keeps the text the profile wrote (char *), so renderers emit
 *   exactly what the user wrote ("8Gi", "0777", "${LOCATION}"). Parsed forms sit
 *   beside the text where code needs numbers (struct model_size).
 * - ${VAR} references are kept as written (Flux substitutes them at reconcile
 *   time); model_expand() resolves them against site vars when the installer
 *   itself needs the concrete value. Undefined references never get this far:
 *   validation rejects them.
 * - Secret fields hold the NAME of an entry of `secrets:`; secret.h reads values.
 * - All strings are owned by the model and freed by model_free().
 */
#ifndef APPLIANCE_MODEL_H
#define APPLIANCE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ytree; /* the parsed profile tree, kept for source positions */
struct ynode; /* a node of that tree: free maps (chart values) are kept as written */

struct strlist {
	char **v;
	size_t n;
};

struct kv {
	char *key;
	char *value;
};

struct kvlist {
	struct kv *v;
	size_t n;
};

/* Append S (taken) to L; append a copy of K=V to L; the value of K or NULL. */
void strlist_push(struct strlist *l, char *s);
void kvlist_add(struct kvlist *l, const char *k, const char *v);
const char *kvlist_get(const struct kvlist *l, const char *k);

/* A Kubernetes-style quantity: "8Gi", "2Ti", "1000M", "100GB". */
struct model_size {
	char *text;
	uint64_t bytes;
};

/* ---- disks -------------------------------------------------------------- */

enum size_op { SIZE_OP_NONE = 0, SIZE_OP_EQ, SIZE_OP_GE, SIZE_OP_LE, SIZE_OP_GT, SIZE_OP_LT };

/* Which disk a role means. Every field set must match (AND); unset fields
 * match anything. String matches are fnmatch(3) globs. */
struct disk_selector {
	char *path;	 /* glob on /dev/... or /dev/disk/by-path/... */
	char *model;	 /* glob */
	char *serial;	 /* glob (NVMe serials are space-trimmed) */
	char *wwid;	 /* glob */
	char *transport; /* nvme, sata, scsi, usb, virtio, mmc */
	char *size;	 /* ">= 1TB", "<2Ti", "500GB" (= exact) */
	enum size_op size_op;
	uint64_t size_bytes;
	struct model_size min_size; /* refuse disks smaller than this */
};

struct ceph_disks {
	struct disk_selector selector;
	char *match; /* "one": exactly one disk; "all": one or more; "any": zero or more */
	bool wipe;   /* explicit opt-in: unattended runs wipe only when true */
};

/* ---- nodes -------------------------------------------------------------- */

enum node_role { NODE_ROLE_CONTROLPLANE = 0, NODE_ROLE_WORKER };

struct node_identity {
	struct strlist macs; /* lower-case aa:bb:cc:dd:ee:ff */
	char *serial;	     /* DMI product serial */
	char *uuid;	     /* DMI system UUID */
};

struct node_network {
	char *interface;     /* optional: kernel name; else the NIC with a profile MAC */
	char *hardware_addr; /* optional: the LAN NIC's MAC (Talos deviceSelector) */
	char *bus_path;	     /* optional: the LAN NIC's PCI/USB bus path */
	bool dhcp;	     /* default true */
	char *address;	     /* static CIDR, e.g. 192.168.50.11/24 */
	char *gateway;	     /* static gateway */
	struct strlist nameservers;
};

struct model_node {
	char *name;
	char *role_text; /* "controlplane" | "worker" */
	enum node_role role;
	char *hostname;
	struct node_identity identity;
	struct node_network network;
	struct disk_selector install_disk;
	struct ceph_disks *ceph_disks;
	size_t n_ceph_disks;
};

/* ---- site --------------------------------------------------------------- */

struct model_site {
	char *cluster;	/* talos-robbinsdale */
	char *location; /* robbinsdale */
	char *timezone; /* America/Chicago */
	struct strlist domains;
	char *lan_cidr; /* 192.168.50.0/24 */
	char *gateway;	/* 192.168.50.1 */
	/* Flux cluster-settings. Includes the derived CLUSTER_NAME, LOCATION,
	 * TIMEZONE (added by profile.c unless set) in profile order. */
	struct kvlist vars;
	/* Variables the cluster gets from its secrets (cluster-secrets,
	 * common-secrets): VAR -> name of a `secrets:` entry. */
	struct kvlist secret_vars;
};

/* ---- talos -------------------------------------------------------------- */

struct talos_schematic {
	struct strlist extensions;  /* siderolabs/amd-ucode, ... */
	struct strlist kernel_args; /* extra kernel args */
};

struct talos_image {
	char *factory;		    /* https://factory.talos.dev */
	char *mirror;		    /* optional base URL serving the same paths (cache/mirror) */
	char *platform;		    /* metal */
	char *arch;		    /* amd64 */
	char *format;		    /* raw.zst | raw.xz */
	char *pins;		    /* file with pinned sha256 per image, relative to the profile */
	char *installer;	    /* factory.talos.dev/metal-installer */
	struct model_size max_size; /* a download larger than this is refused (4Gi) */
	char *fetch_timeout;	    /* the whole download, retries included ("2h") */
};

struct model_talos {
	char *version; /* v1.10.5 */
	struct talos_schematic schematic;
	struct talos_image image;
	char *endpoint; /* https://k8s.robbinsdale.local:6443 */
	char *vip;	/* shared VIP on the control planes, optional */
	char *pod_cidr;
	char *service_cidr;
	char *lb_cidr;
	char *cni;		 /* none | flannel | custom */
	struct strlist cni_urls; /* cni: custom: manifests Talos applies */
	bool kube_proxy;
	bool allow_scheduling_on_control_planes;
	char *config_delivery;			 /* metal-iso | none */
	long long config_partition;		 /* GPT entry number of the metal-iso partition (5) */
	bool forward_kube_dns_to_host;		 /* machine.features.hostDNS.forwardKubeDNSToHost */
	char *cilium_install_image;		 /* cilium-cli image of the bootstrap Job */
	struct model_size install_disk_min_size; /* Talos' minimum system disk (10Gi) */
	char *kubernetes_version;		 /* optional */
	/* sha256 (hex) of the OS CA certificate PEM of this site's secrets bundle,
	 * recorded after `talos secrets`; rebuild refuses a bundle that differs. */
	char *ca_fingerprint;
};

/* ---- nas ---------------------------------------------------------------- */

struct model_nas {
	char *address;	       /* 192.168.50.115 */
	long long port;	       /* 445 */
	char *share;	       /* k8s */
	char *photos;	       /* pics: existing photos, read-only use */
	char *library;	       /* immich: Immich library, read-write */
	char *username_secret; /* secret names */
	char *password_secret;
	char *domain;	    /* SMB workgroup/domain, optional */
	char *min_protocol; /* SMB3 */
	struct model_size min_free;
	struct model_size capacity; /* what the PVs declare (2Ti) */
	char *timeout;		    /* "10s" */
	long long timeout_ms;
	long long retries;
};

/* ---- gitops ------------------------------------------------------------- */

struct model_flux {
	char *version;		/* v2.6.4 */
	char *install_manifest; /* URL; default from version */
	char *namespace;	/* flux-system */
};

struct model_gitops {
	char *repository; /* flux-system */
	char *url;
	char *branch;	      /* main */
	char *path;	      /* ./clusters/${CLUSTER_NAME} */
	char *interval;	      /* 30m */
	char *retry_interval; /* 1m: how soon a failed Kustomization is retried */
	char *timeout;	      /* 5m: build, apply and health checks */
	char *secrets_name;   /* cluster-secrets: Secret of site.secretVars (bootstrap) */
	struct model_flux flux;
	char *credentials_secret;	      /* git credentials (secret name), optional */
	char *credentials_name;		      /* in-cluster git Secret name: flux-system */
	char *known_hosts;		      /* ssh known_hosts lines for ssh:// URLs (public data) */
	char *root_kustomization;	      /* Flux Kustomization reconciling path: cluster */
	char *sops_secret;		      /* SOPS PGP key (secret name), optional */
	char *sops_secret_name;		      /* in-cluster Secret name: sops-gpg */
	char *settings_configmap;	      /* cluster-settings */
	struct strlist substitute_secrets;    /* site-added Secrets (none by default) */
	struct strlist substitute_configmaps; /* site-added ConfigMaps (none by default) */
	char *out;			      /* optional local checkout to render into / check */
};

/* ---- platform the app depends on ---------------------------------------- */

struct helm_chart {
	char *name;
	char *version;
	char *repository; /* https:// or oci:// */
};

struct model_component {
	bool enabled;
	char *timeout;	      /* Flux Kustomization timeout (default gitops.timeout) */
	char *retry_interval; /* Flux Kustomization retryInterval (default gitops.retryInterval) */
	char *pod_security;   /* Pod Security level labelled on its namespace, or NULL */
	char *name;	      /* Flux Kustomization name (what dependsOn names) */
	char *manifest;	      /* install manifest URL, for components installed from one */
	char *namespace;
	struct helm_chart chart;
	char *version; /* app/operator version when not a chart (e.g. plugin) */
};

/* How Cilium's LB IPAM hands out LoadBalancer addresses and who learns them. */
struct cilium_bgp {
	long long local_asn; /* the cluster's ASN */
	long long peer_asn;  /* the site router's ASN */
	char *peer_address;  /* the site router (IP) */
	long long peer_port; /* 179 */
};

struct cilium_l2 {
	struct strlist interfaces; /* regexes of the node interfaces that answer ARP */
};

struct cilium_lb {
	char *cidr;	/* the LB range (no default), e.g. 192.168.1.240/28 */
	char *pool;	/* CiliumLoadBalancerIPPool name */
	char *announce; /* "bgp" | "l2" */
	struct cilium_bgp bgp;
	struct cilium_l2 l2;
};

struct model_platform {
	/* Cilium: one block feeds the Flux HelmRelease and the Talos bootstrap */
	struct model_component cilium;
	char *cilium_release;		   /* Helm release name: cilium */
	const struct ynode *cilium_values; /* chart values as written (a map), or NULL */
	struct cilium_lb cilium_lb;
	char *cilium_lb_ks; /* Flux Kustomization of the LB IPAM pool and announcements */
	struct model_component cnpg;
	struct model_component barman_plugin;
	char *barman_plugin_name; /* the CNPG-I plugin's name: barman-cloud.cloudnative-pg.io */
	struct model_component dragonfly;
	struct model_component volsync;
	struct model_component onepassword;
	char *onepassword_credentials_secret; /* secret names: bootstrap-only */
	char *onepassword_token_secret;
	char *onepassword_credentials_name; /* in-cluster Secret: op-credentials */
	char *onepassword_token_name;	    /* in-cluster Secret: onepassword-token */
	struct model_component smb_csi;
	char *smb_credentials_name; /* csi-smbcreds (in smb_csi.namespace) */
	struct model_component rook;
	char *ceph_image;
	char *rook_cluster;    /* CephCluster name */
	char *rook_cluster_ks; /* Flux Kustomization of the CephCluster, pool and class */
	char *storage_class;   /* ceph-block-replicated-nvme */
	char *block_pool;
	long long replicas;
	char *device_class; /* nvme */
	bool default_storage_class;
	/* cert-manager and the ClusterIssuer (its own Kustomization) */
	struct model_component cert_manager;
	char *issuers_ks;      /* Flux Kustomization of the ClusterIssuer */
	char *issuer_name;     /* ClusterIssuer name */
	char *issuer_type;     /* acme | selfSigned */
	char *acme_email;      /* ACME account e-mail */
	char *acme_server;     /* ACME directory URL */
	char *acme_token_name; /* in-cluster Secret with the DNS API token */
	char *acme_token_key;  /* its key */
	char *acme_token_item; /* 1Password item that creates it, or NULL */
	/* Prometheus Operator CRDs: ServiceMonitor/PodMonitor are rendered only with it */
	struct model_component monitoring;
	/* Tailscale operator (the ts gateway's Service) */
	struct model_component tailscale;
	char *tailscale_oauth_item; /* 1Password item -> Secret operator-oauth */
	struct model_component gateway;
	char *gateway_namespace;      /* gateway */
	char *gateway_public_address; /* fixed LB address of the public gateway */
	char *gateway_certificate;    /* Certificate (and TLS Secret) for the gateways */
	char *gateway_class;	      /* envoy */
	char *gateways_ks;	      /* Flux Kustomization of the GatewayClass and Gateways */
	char *gateway_tailscale;      /* ts */
	char *gateway_public;	      /* public */
};

/* ---- apps.immich -------------------------------------------------------- */

struct immich_object_store {
	char *name;		/* ObjectStore name */
	char *destination_path; /* s3://BUCKET/PATH/: the site's, no default */
	char *endpoint;		/* the S3 service's URL: the site's, no default */
	char *secret;		/* credentials Secret name in-cluster */
	char *access_key_var;	/* COMMON_S3_ACCESS_KEY (Flux var) */
	char *secret_key_var;	/* COMMON_S3_SECRET_KEY */
	char *retention;	/* 30d */
	char *region;		/* optional */
	bool enabled;		/* the secondary (MinIO) store is opt-in */
};

struct immich_database {
	char *cluster; /* CNPG Cluster name */
	char *image;
	long long instances;
	struct model_size size;
	char *storage_class;
	char *database;
	char *owner;
	char *secret; /* immich-postgres-user */
	struct strlist extensions;
	struct strlist shared_preload_libraries;
	bool superuser;
	bool data_checksums;
	bool monitoring;
	char *backup_schedule; /* CNPG 6-field cron: "0 0 23 * * *" */
	char *backup_name;     /* ScheduledBackup name */
	char *server_name;     /* barman serverName for new backups */
	struct immich_object_store primary;
	struct immich_object_store secondary;
	char *restore_cluster;	     /* CNPG Cluster for disaster recovery */
	char *restore_source_server; /* serverName to recover from */
};

struct immich_redis {
	char *name; /* dragonfly-immich */
	long long replicas;
	char *max_memory;   /* 1000M */
	char *memory_limit; /* 1500M */
	char *cpu_request;  /* 25m */
	long long threads;
	bool lua_undeclared_keys;
	char *secret; /* immich-dragonfly-secret */
	char *image;  /* optional */
};

struct immich_volume {
	char *name; /* PV and PVC name; the NAS folder is nas.photos / nas.library */
	struct model_size capacity;
	bool read_only;
	char *mount_path; /* where Immich sees it */
};

struct immich_storage {
	struct immich_volume photos;  /* immich-photos */
	struct immich_volume library; /* immich-library */
	char *driver;		      /* smb.csi.k8s.io */
	char *file_mode;	      /* "0777" */
	char *dir_mode;		      /* "0777" */
	char *reclaim_policy;	      /* Retain */
	char *access_mode;	      /* ReadWriteMany */
	char *storage_class;	      /* optional static class name; "" for none */
	char *file;		      /* volumes.yaml: the app folder's file of the volumes */
};

struct onepassword_item {
	char *name; /* Secret / OnePasswordItem name */
	char *item; /* vaults/K8s/items/immich-pg */
};

struct immich_route {
	struct strlist hostnames;
	char *path;
	long long port;		 /* 2283 */
	char *service;		 /* immich-server */
	struct strlist gateways; /* gateway names in platform.gatewayNamespace */
	char *homer_category;
	char *homer_icon;
	char *homer_description;
	char *homer_keywords;
	char *homer_name;
	char *homer_annotation_prefix; /* item.homer.rajsingh.info/ */
};

struct model_immich {
	bool enabled;
	char *namespace;       /* immich */
	char *interval;	       /* 30m */
	char *timeout;	       /* Flux Kustomization: 5m */
	char *release_timeout; /* HelmRelease (Helm's wait); default timeout */
	char *retry_interval;  /* default gitops.retryInterval */
	struct strlist depends_on;
	struct helm_chart chart; /* immich 0.9.0 */
	long long remediation_retries;
	char *image_tag; /* v1.135.3 */
	bool metrics;
	struct immich_database database;
	struct immich_redis redis;
	struct immich_storage storage;
	struct onepassword_item pg_item;
	struct onepassword_item redis_item;
	struct immich_route route;
};

/* How `appliance install` runs on this site's machines. */
struct model_install {
	/* never ask: the live system (stick or PXE) installs as soon as it has
	 * identified the machine, as --unattended does; Ceph disks are still only
	 * wiped where the profile says wipe: true */
	bool unattended;
	/* the machines reach neither the NAS nor the image mirror while they
	 * install: the NAS preflight is skipped (the plan says so) and the image
	 * must come from the stick or the cache, never a download */
	bool offline;
};

struct model_apps {
	struct model_immich immich;
};

/* ---- the whole appliance ------------------------------------------------ */

struct model {
	char *api_version;
	char *kind;
	char *name; /* metadata.name */
	struct model_site site;
	struct model_node *nodes;
	size_t n_nodes;
	struct model_talos talos;
	struct model_nas nas;
	struct model_gitops gitops;
	struct model_platform platform;
	struct model_install install;
	struct model_apps apps;
	struct kvlist secrets; /* name -> "env:NAME" | "file:PATH" */

	/* where the profile came from */
	char *path;	    /* the main profile file */
	char *dir;	    /* its directory: relative paths in the profile resolve here */
	struct ytree *tree; /* merged source tree, for model_where() */
};

void model_free(struct model *m);

/* Source position of a key path ("apps.immich.database.size", "nodes[1].name")
 * as "FILE:LINE:COL", or NULL when the value came from a default. Pointer is
 * valid until model_free(). */
const char *model_where(const struct model *m, const char *key_path);

/* Expand ${VAR} with site vars into a new string (caller frees). Unknown
 * variables are left as written; $${X} yields a literal ${X}. */
char *model_expand(const struct model *m, const char *text);

/* Value of a site var, or NULL. */
const char *model_var(const struct model *m, const char *name);

const struct model_node *model_node_by_name(const struct model *m, const char *name);

/* Resolve a path written in the profile relative to the profile's directory;
 * caller frees. Absolute paths are returned as a copy. */
char *model_path(const struct model *m, const char *rel);

#endif
