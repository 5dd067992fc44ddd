#!/usr/bin/env bash
# Every fact of the production site (the Immich stack as deployed, and the
# cluster around it) at its exact place in what profiles/immich.yaml produces:
# the GitOps tree of `appliance render` (also with --recovery), the Talos
# machine configs of `appliance talos gen` and the Image Factory schematic (and,
# for the LAN and the disks the installer wipes, which render nowhere, the
# effective profile of `appliance config`).
# The facts are the table below, one row per fact, named after the line of the
# site's deployment notes it stands for ("deploy:" the Immich stack, "site:" the
# cluster, nodes, Flux and platform). Then the checker is shown to fail: a render
# with one fact changed by --set is flagged on that fact's row and no other.
. "$(dirname "$0")/../lib/tap.sh"
cd "$ROOT" || exit 1
P=profiles/immich.yaml
R=clusters/talos-robbinsdale

# ---- what the production profile produces ------------------------------------
check "render $P" "$APPLIANCE" render "$P" --out "$T/tree"
check "render $P --recovery" "$APPLIANCE" render "$P" --recovery --out "$T/recovery"
# what has no rendered place (the LAN, the disks the installer wipes): the effective profile
check "config $P" sh -c "'$APPLIANCE' config '$P' >'$T/config.yaml'"
check "talos schematic $P" sh -c "'$APPLIANCE' talos schematic '$P' --json >'$T/schematic.json'"
# talos gen reads the profile's secrets: stand-in values (never the site's)
printf 'k' >"$T/key"
export UNAS_USERNAME=canary-u UNAS_PASSWORD=canary-p OP_CONNECT_TOKEN=canary-t
export COMMON_S3_ACCESS_KEY=canary-a COMMON_S3_SECRET_KEY=canary-b MINIO_ACCESS_KEY=canary-c MINIO_SECRET_KEY=canary-d
check "talos secrets $P" "$APPLIANCE" talos secrets "$P" --out "$T/bundle.yaml"
check "talos gen $P" "$APPLIANCE" talos gen "$P" --secrets "$T/bundle.yaml" --out "$T/talos" \
	--set "secrets.gitDeployKey=file:$T/key" --set "secrets.sopsKey=file:$T/key" \
	--set "secrets.opCredentials=file:$T/key"

# ---- the facts -----------------------------------------------------------------
# A row: (fact, source, selector, path, expected).
#   source    tree:FILE / recovery:FILE (under clusters/talos-robbinsdale/), talos:NODE
#             (its machine config), talos:NODE!MANIFEST (an inlineManifest), schematic (talos
#             schematic --json, its "schematic" read as YAML), config (the effective
#             profile, for what the installer acts on but renders nowhere)
#   selector  Kind/name of the document in the file (None: the file's only document)
#   path      keys joined by '.', {key} for a key holding dots, [n] an index,
#             [*] every element, [name=x] the element whose name is x
#   expected  the value, with its YAML type (PyYAML reads YAML 1.1); or Has(v) (a list
#             holding v), HasKeys(k, ...) (a map with these keys; values never printed),
#             Absent() (not set, in a map that exists: the chart's or operator's own
#             default applies),
#             Suffix(s), NonEmpty()
cat >"$T/facts.py" <<'PY'
import json, os, re, sys, yaml

class Has:
    def __init__(s, v): s.v = v
    def test(s, x): return isinstance(x, list) and s.v in x
    def __repr__(s): return f"a list holding {s.v!r}"
class HasKeys:
    def __init__(s, *k): s.k = k
    def test(s, x): return isinstance(x, dict) and all(k in x for k in s.k)
    def __repr__(s): return f"keys {', '.join(s.k)}"
    secret = True
class Absent:
    def test(s, x): return x is MISSING
    def __repr__(s): return "not set"
class Suffix:
    def __init__(s, v): s.v = v
    def test(s, x): return isinstance(x, str) and x.endswith(s.v)
    def __repr__(s): return f"a string ending in {s.v!r}"
class NonEmpty:
    def test(s, x): return isinstance(x, str) and x != ""
    def __repr__(s): return "a non-empty string"
MISSING = type("Missing", (), {"__repr__": lambda s: "missing"})()

HR, PG, DF = "HelmRelease/immich", "Cluster/immich-postgres", "Dragonfly/dragonfly-immich"
PICS, LIB = "PersistentVolume/immich-unas-pics", "PersistentVolume/immich-unas"
APP = "tree:apps/immich/app/"
ENV = "spec.values.env."
SQL = "spec.bootstrap.initdb.postInitApplicationSQL"
IMAGE = "ghcr.io/tensorchord/cloudnative-vectorchord:15-0.3.0"
HOMER = "metadata.annotations.{item.homer.rajsingh.info/%s}"
CPS, NODES = ["tank", "titan", "stone"], ["tank", "titan", "stone", "silver"]

FACTS = [
    # ---- immich-deployment.md ----
    ("deploy: Immich Helm chart immich-0.9.0", APP + "helmrelease.yaml", HR, "spec.chart.spec.chart", "immich"),
    ("deploy: Immich Helm chart version 0.9.0", APP + "helmrelease.yaml", HR, "spec.chart.spec.version", "0.9.0"),
    ("deploy: Chart Repository https://immich-app.github.io/immich-charts", "tree:flux/repositories/immich.yaml",
     "HelmRepository/immich", "spec.url", "https://immich-app.github.io/immich-charts"),
    ("deploy: the HelmRelease uses the immich chart repository", APP + "helmrelease.yaml", HR,
     "spec.chart.spec.sourceRef.name", "immich"),
    ("deploy: Application Version v1.135.3", APP + "helmrelease.yaml", HR, "spec.values.image.tag", "v1.135.3"),
    # chart 0.9.0 values.yaml: server.enabled and machine-learning.enabled default true
    # (the server runs the microservices workers: metrics ports metrics-api and metrics-ms)
    ("deploy: services server (with microservices) run (chart default)", APP + "helmrelease.yaml", HR,
     "spec.values.server.enabled", Absent()),
    ("deploy: service machine learning runs (chart default)", APP + "helmrelease.yaml", HR,
     "spec.values.{machine-learning}", Absent()),
    ("deploy: Deployed via Flux HelmRelease", APP + "helmrelease.yaml", HR, "apiVersion", "helm.toolkit.fluxcd.io/v2"),
    ("deploy: namespace immich (kubectl get pods -n immich)", "tree:apps/immich/namespace.yaml", "Namespace/immich",
     "kind", "Namespace"),
    ("deploy: the HelmRelease is in namespace immich", APP + "helmrelease.yaml", HR, "metadata.namespace", "immich"),
    ("deploy: Update Interval 30 minutes", APP + "helmrelease.yaml", HR, "spec.interval", "30m"),
    ("deploy: Remediation 3 retries on failure (install)", APP + "helmrelease.yaml", HR,
     "spec.install.remediation.retries", 3),
    ("deploy: Remediation 3 retries on failure (upgrade)", APP + "helmrelease.yaml", HR,
     "spec.upgrade.remediation.retries", 3),
    ("deploy: Metrics enabled for monitoring", APP + "helmrelease.yaml", HR, "spec.values.immich.metrics.enabled", True),
    ("deploy: External persistence for photos (claim immich-unas-pics)", APP + "helmrelease.yaml", HR,
     "spec.values.server.persistence.external.existingClaim", "immich-unas-pics"),
    ("deploy: photos are read-only in Immich", APP + "helmrelease.yaml", HR,
     "spec.values.server.persistence.external.readOnly", True),
    ("deploy: External persistence for library (claim immich-unas)", APP + "helmrelease.yaml", HR,
     "spec.values.immich.persistence.library.existingClaim", "immich-unas"),
    ("deploy: custom database connection (the CNPG cluster's rw service)", APP + "helmrelease.yaml", HR,
     ENV + "DB_HOSTNAME", "immich-postgres-rw"),
    ("deploy: custom database connection (database immich)", APP + "helmrelease.yaml", HR,
     ENV + "DB_DATABASE_NAME", "immich"),
    ("deploy: custom Redis connection (Dragonfly service)", APP + "helmrelease.yaml", HR,
     ENV + "REDIS_HOSTNAME", "dragonfly-immich"),
    ("deploy: immich-postgres-user holds the PostgreSQL username", APP + "helmrelease.yaml", HR,
     ENV + "DB_USERNAME.valueFrom.secretKeyRef", {"name": "immich-postgres-user", "key": "username"}),
    ("deploy: immich-postgres-user holds the PostgreSQL password", APP + "helmrelease.yaml", HR,
     ENV + "DB_PASSWORD.valueFrom.secretKeyRef", {"name": "immich-postgres-user", "key": "password"}),
    ("deploy: immich-dragonfly-secret holds the Redis password", APP + "helmrelease.yaml", HR,
     ENV + "REDIS_PASSWORD.valueFrom.secretKeyRef", {"name": "immich-dragonfly-secret", "key": "password"}),
    ("deploy: PostgreSQL image ghcr.io/tensorchord/cloudnative-vectorchord:15-0.3.0", APP + "pg.yaml", PG,
     "spec.imageName", IMAGE),
    ("deploy: PostgreSQL Instances 1", APP + "pg.yaml", PG, "spec.instances", 1),
    ("deploy: PostgreSQL Storage 8Gi", APP + "pg.yaml", PG, "spec.storage.size", "8Gi"),
    ("deploy: Database Storage Class ceph-block-replicated-nvme", APP + "pg.yaml", PG, "spec.storage.storageClass",
     "ceph-block-replicated-nvme"),
    ("deploy: Extensions vchord (preloaded)", APP + "pg.yaml", PG, "spec.postgresql.shared_preload_libraries",
     Has("vchord.so")),
    ("deploy: Extensions vchord", APP + "pg.yaml", PG, SQL, Has('CREATE EXTENSION IF NOT EXISTS "vchord" CASCADE;')),
    ("deploy: Extensions cube", APP + "pg.yaml", PG, SQL, Has('CREATE EXTENSION IF NOT EXISTS "cube" CASCADE;')),
    ("deploy: Extensions earthdistance", APP + "pg.yaml", PG, SQL,
     Has('CREATE EXTENSION IF NOT EXISTS "earthdistance" CASCADE;')),
    ("deploy: Database immich", APP + "pg.yaml", PG, "spec.bootstrap.initdb.database", "immich"),
    ("deploy: Owner immich", APP + "pg.yaml", PG, "spec.bootstrap.initdb.owner", "immich"),
    ("deploy: Owner immich with SUPERUSER privileges", APP + "pg.yaml", PG, SQL,
     Has('ALTER ROLE "immich" WITH SUPERUSER;')),
    ("deploy: the owner's credentials are immich-postgres-user", APP + "pg.yaml", PG,
     "spec.bootstrap.initdb.secret.name", "immich-postgres-user"),
    ("deploy: Data checksums enabled", APP + "pg.yaml", PG, "spec.bootstrap.initdb.dataChecksums", True),
    ("deploy: Pod monitoring enabled (CNPG pod monitor)", APP + "pg.yaml", PG, "spec.monitoring.enablePodMonitor", True),
    ("deploy: Automated S3 backups via Barman Cloud (WAL archiver)", APP + "pg.yaml", PG, "spec.plugins[0].isWALArchiver",
     True),
    ("deploy: Barman Cloud archives into the primary S3 store", APP + "pg.yaml", PG,
     "spec.plugins[0].parameters.barmanObjectName", "immich-s3"),
    ("deploy: Daily backup schedule at 11 PM", APP + "pg.yaml", "ScheduledBackup/immich-postgres-daily",
     "spec.schedule", "0 0 23 * * *"),
    ("deploy: the daily backup is the database's", APP + "pg.yaml", "ScheduledBackup/immich-postgres-daily",
     "spec.cluster.name", "immich-postgres"),
    ("deploy: the daily backup goes through Barman Cloud", APP + "pg.yaml", "ScheduledBackup/immich-postgres-daily",
     "spec.pluginConfiguration.name", "barman-cloud.cloudnative-pg.io"),
    ("deploy: Dragonfly Replicas 3", APP + "redis.yaml", DF, "spec.replicas", 3),
    ("deploy: Dragonfly Memory 1000M per instance", APP + "redis.yaml", DF, "spec.resources.requests.memory", "1000M"),
    ("deploy: Dragonfly 1500M limit", APP + "redis.yaml", DF, "spec.resources.limits.memory", "1500M"),
    ("deploy: Dragonfly CPU 25m request", APP + "redis.yaml", DF, "spec.resources.requests.cpu", "25m"),
    ("deploy: Dragonfly Maximum memory 1000MB", APP + "redis.yaml", DF, "spec.args", Has("--maxmemory=1000M")),
    ("deploy: Dragonfly Threads 2 proactor threads", APP + "redis.yaml", DF, "spec.args", Has("--proactor_threads=2")),
    ("deploy: Dragonfly Lua scripting with undeclared keys allowed", APP + "redis.yaml", DF, "spec.args",
     Has("--default_lua_flags=allow-undeclared-keys")),
    ("deploy: Dragonfly Password authentication via the 1Password secret", APP + "redis.yaml", DF,
     "spec.authentication.passwordFromSecret", {"name": "immich-dragonfly-secret", "key": "password"}),
    ("deploy: Dragonfly Latest (image managed by operator)", APP + "redis.yaml", DF, "spec.image", Absent()),
    ("deploy: Photo Storage immich-unas-pics Capacity 2Ti", APP + "unas.yaml", PICS, "spec.capacity.storage", "2Ti"),
    ("deploy: Photo Storage Access Mode ReadWriteMany", APP + "unas.yaml", PICS, "spec.accessModes", ["ReadWriteMany"]),
    ("deploy: Photo Storage Source //192.168.50.115/k8s/pics", APP + "unas.yaml", PICS,
     "spec.csi.volumeAttributes.source", "//192.168.50.115/k8s/pics"),
    ("deploy: Photo Storage read-only", APP + "unas.yaml", PICS, "spec.csi.readOnly", True),
    ("deploy: Photo Storage claim 2Ti", APP + "unas.yaml", "PersistentVolumeClaim/immich-unas-pics",
     "spec.resources.requests.storage", "2Ti"),
    ("deploy: Photo Storage claim ReadWriteMany", APP + "unas.yaml", "PersistentVolumeClaim/immich-unas-pics",
     "spec.accessModes", ["ReadWriteMany"]),
    ("deploy: Library Storage immich-unas Capacity 2Ti", APP + "unas.yaml", LIB, "spec.capacity.storage", "2Ti"),
    ("deploy: Library Storage Access Mode ReadWriteMany", APP + "unas.yaml", LIB, "spec.accessModes", ["ReadWriteMany"]),
    ("deploy: Library Storage Source //192.168.50.115/k8s/immich", APP + "unas.yaml", LIB,
     "spec.csi.volumeAttributes.source", "//192.168.50.115/k8s/immich"),
    ("deploy: Library Storage read-write", APP + "unas.yaml", LIB, "spec.csi.readOnly", Absent()),
    ("deploy: Library Storage claim 2Ti", APP + "unas.yaml", "PersistentVolumeClaim/immich-unas",
     "spec.resources.requests.storage", "2Ti"),
    ("deploy: Library Storage claim ReadWriteMany", APP + "unas.yaml", "PersistentVolumeClaim/immich-unas",
     "spec.accessModes", ["ReadWriteMany"]),
]
for pv in (PICS, LIB):
    n = pv.split("/")[1]
    FACTS += [
        (f"deploy: SMB File mode 0777 ({n})", APP + "unas.yaml", pv, "spec.mountOptions", Has("file_mode=0777")),
        (f"deploy: SMB Directory mode 0777 ({n})", APP + "unas.yaml", pv, "spec.mountOptions", Has("dir_mode=0777")),
        (f"deploy: SMB CSI driver smb.csi.k8s.io ({n})", APP + "unas.yaml", pv, "spec.csi.driver", "smb.csi.k8s.io"),
        (f"deploy: SMB reclaim policy Retain ({n})", APP + "unas.yaml", pv, "spec.persistentVolumeReclaimPolicy",
         "Retain"),
        (f"site: SMB credentials csi-smbcreds in kube-system ({n})", APP + "unas.yaml", pv,
         "spec.csi.nodeStageSecretRef", {"name": "csi-smbcreds", "namespace": "kube-system"}),
    ]
FACTS += [
    ("deploy: Primary S3 Destination s3://keiretsu/${LOCATION}/immich/postgres/", APP + "s3-backup.yaml",
     "ObjectStore/immich-s3", "spec.configuration.destinationPath", "s3://keiretsu/${LOCATION}/immich/postgres/"),
    ("deploy: Primary S3 Endpoint https://nyc3.digitaloceanspaces.com", APP + "s3-backup.yaml", "ObjectStore/immich-s3",
     "spec.configuration.endpointURL", "https://nyc3.digitaloceanspaces.com"),
    ("deploy: Primary S3 Retention 30 days", APP + "s3-backup.yaml", "ObjectStore/immich-s3", "spec.retentionPolicy",
     "30d"),
    ("deploy: DigitalOcean access key ${COMMON_S3_ACCESS_KEY}", APP + "s3-backup.yaml", "Secret/immich-s3-secret",
     "stringData.ACCESS_KEY_ID", "${COMMON_S3_ACCESS_KEY}"),
    ("deploy: DigitalOcean secret key ${COMMON_S3_SECRET_KEY}", APP + "s3-backup.yaml", "Secret/immich-s3-secret",
     "stringData.ACCESS_SECRET_KEY", "${COMMON_S3_SECRET_KEY}"),
    ("deploy: the primary store reads the DigitalOcean credentials", APP + "s3-backup.yaml", "ObjectStore/immich-s3",
     "spec.configuration.s3Credentials.accessKeyId.name", "immich-s3-secret"),
    ("deploy: Secondary S3 (MinIO) Destination s3://immich-postgres-backups/", APP + "s3-backup-minio.yaml",
     "ObjectStore/immich-minio", "spec.configuration.destinationPath", "s3://immich-postgres-backups/"),
    ("deploy: Secondary S3 Endpoint http://minio-hl.home.svc.cluster.local:9000", APP + "s3-backup-minio.yaml",
     "ObjectStore/immich-minio", "spec.configuration.endpointURL", "http://minio-hl.home.svc.cluster.local:9000"),
    ("deploy: Secondary S3 Retention 30 days", APP + "s3-backup-minio.yaml", "ObjectStore/immich-minio",
     "spec.retentionPolicy", "30d"),
    ("deploy: MinIO access key ${MINIO_ACCESS_KEY}", APP + "s3-backup-minio.yaml", "Secret/immich-minio-secret",
     "stringData.ACCESS_KEY_ID", "${MINIO_ACCESS_KEY}"),
    ("deploy: MinIO secret key ${MINIO_SECRET_KEY}", APP + "s3-backup-minio.yaml", "Secret/immich-minio-secret",
     "stringData.ACCESS_SECRET_KEY", "${MINIO_SECRET_KEY}"),
    ("deploy: the MinIO store reads the MinIO credentials", APP + "s3-backup-minio.yaml", "ObjectStore/immich-minio",
     "spec.configuration.s3Credentials.secretAccessKey.name", "immich-minio-secret"),
    ("deploy: pg-restore.yaml uses the same image", "recovery:apps/immich/app/pg-restore.yaml",
     "Cluster/immich-postgres-restore", "spec.imageName", IMAGE),
    ("deploy: pg-restore.yaml uses the same storage", "recovery:apps/immich/app/pg-restore.yaml",
     "Cluster/immich-postgres-restore", "spec.storage", {"size": "8Gi", "storageClass": "ceph-block-replicated-nvme"}),
    ("deploy: pg-restore.yaml restores from the primary backup location", "recovery:apps/immich/app/pg-restore.yaml",
     "Cluster/immich-postgres-restore", "spec.externalClusters[name=origin].plugin.parameters.barmanObjectName",
     "immich-s3"),
    ("deploy: pg-restore.yaml reads the deployed cluster's archive", "recovery:apps/immich/app/pg-restore.yaml",
     "Cluster/immich-postgres-restore", "spec.externalClusters[name=origin].plugin.parameters.serverName",
     "immich-postgresql-ceph"),
    ("deploy: Secret immich-postgres-user from vaults/K8s/items/immich-pg", APP + "secret.yaml",
     "OnePasswordItem/immich-postgres-user", "spec.itemPath", "vaults/K8s/items/immich-pg"),
    ("deploy: Secret immich-dragonfly-secret from vaults/K8s/items/immich-dragonfly", APP + "secret.yaml",
     "OnePasswordItem/immich-dragonfly-secret", "spec.itemPath", "vaults/K8s/items/immich-dragonfly"),
    ("deploy: Domains immich.rajsingh.info, immich.lukehouge.com", APP + "httproute.yaml", "HTTPRoute/immich",
     "spec.hostnames", ["immich.rajsingh.info", "immich.lukehouge.com"]),
    ("deploy: Port 2283", APP + "httproute.yaml", "HTTPRoute/immich", "spec.rules[0].backendRefs[0].port", 2283),
    ("deploy: the route reaches the Immich server", APP + "httproute.yaml", "HTTPRoute/immich",
     "spec.rules[0].backendRefs[0].name", "immich-server"),
    ("deploy: Path / (all traffic)", APP + "httproute.yaml", "HTTPRoute/immich", "spec.rules[0].matches[0].path",
     {"type": "PathPrefix", "value": "/"}),
    ("deploy: Uses both Tailscale and public gateways", APP + "httproute.yaml", "HTTPRoute/immich",
     "spec.parentRefs[*].name", ["ts", "public"]),
    ("deploy: the gateways are in namespace home", APP + "httproute.yaml", "HTTPRoute/immich",
     "spec.parentRefs[*].namespace", ["home", "home"]),
    ("deploy: Homer service categorization as Media", APP + "httproute.yaml", "HTTPRoute/immich", HOMER % "category",
     "Media"),
    ("deploy: Homer custom icon", APP + "httproute.yaml", "HTTPRoute/immich", HOMER % "icon", NonEmpty()),
    ("deploy: Homer description", APP + "httproute.yaml", "HTTPRoute/immich", HOMER % "description", NonEmpty()),
    ("deploy: Homer keyword tags", APP + "httproute.yaml", "HTTPRoute/immich", HOMER % "keywords", NonEmpty()),
    ("deploy: Protocol HTTP/HTTPS (public gateway)", "tree:platform/gateways/app/public.yaml", "Gateway/public",
     "spec.listeners[*].protocol", ["HTTP", "HTTPS"]),
    ("deploy: Protocol HTTP/HTTPS (tailscale gateway)", "tree:platform/gateways/app/ts.yaml", "Gateway/ts",
     "spec.listeners[*].protocol", ["HTTP", "HTTPS"]),
    ("deploy: Multi-domain support rajsingh.info", "tree:platform/gateways/app/certificate.yaml",
     "Certificate/gateways-tls", "spec.dnsNames", Has("*.rajsingh.info")),
    ("deploy: Multi-domain support lukehouge.com", "tree:platform/gateways/app/certificate.yaml",
     "Certificate/gateways-tls", "spec.dnsNames", Has("*.lukehouge.com")),
]
for dep, why in [("cloudnative-pg", "CloudNative-PG"), ("barman-cloud-plugin", "Barman Cloud backups"),
                 ("dragonfly-operator", "Dragonfly Operator"), ("volsync", "Volsync"),
                 ("onepassword-connect", "1Password Operator"), ("gateways", "Gateway API"),
                 ("csi-driver-smb", "SMB CSI Driver"), ("rook-ceph-cluster", "Ceph Storage"),
                 ("prometheus-operator-crds", "Immich metrics and CNPG pod monitor (Prometheus)")]:
    FACTS.append((f"deploy: Required {why}: immich waits for {dep}", "tree:apps/immich/ks.yaml",
                  "Kustomization/immich", "spec.dependsOn[*].name", Has(dep)))
KS = ("tree:apps/immich/ks.yaml", "Kustomization/immich")
FACTS += [
    ("deploy: Flux Source Git repository home-kubernetes", *KS, "spec.sourceRef",
     {"kind": "GitRepository", "name": "home-kubernetes", "namespace": "flux-system"}),
    ("deploy: Flux Path ./clusters/${CLUSTER_NAME}/apps/immich/app", *KS, "spec.path",
     "./clusters/${CLUSTER_NAME}/apps/immich/app"),
    ("deploy: Flux Interval 30 minutes", *KS, "spec.interval", "30m"),
    ("deploy: Flux Timeout 5 minutes", *KS, "spec.timeout", "5m"),
    ("deploy: Integration with Prometheus stack (the operator's CRDs installed)",
     "tree:platform/prometheus-operator-crds/app/helmrelease.yaml", "HelmRelease/prometheus-operator-crds",
     "spec.chart.spec.chart", "prometheus-operator-crds"),
    ("deploy: ${CLUSTER_NAME} is talos-robbinsdale", "tree:flux/cluster-settings.yaml", "ConfigMap/cluster-settings",
     "data.CLUSTER_NAME", "talos-robbinsdale"),
    ("deploy: ${LOCATION} for backups (robbinsdale)", "tree:flux/cluster-settings.yaml", "ConfigMap/cluster-settings",
     "data.LOCATION", "robbinsdale"),
    ("deploy: ${COMMON_S3_*} and ${MINIO_*} come from the cluster's secrets", "talos:tank!flux-bootstrap-secrets",
     "Secret/cluster-secrets", "stringData",
     HasKeys("COMMON_S3_ACCESS_KEY", "COMMON_S3_SECRET_KEY", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY")),

    # ---- site.md: cluster and nodes ----
    ("site: Talos v1.10.5", "schematic", None, "version", "v1.10.5"),
    ("site: Image Factory schematic with the official extensions", "schematic", None,
     "schematic.customization.systemExtensions.officialExtensions",
     ["siderolabs/amd-ucode", "siderolabs/amdgpu-firmware", "siderolabs/intel-ucode", "siderolabs/i915-ucode",
      "siderolabs/realtek-firmware", "siderolabs/thunderbolt", "siderolabs/util-linux-tools", "siderolabs/zfs"]),
    ("site: Cluster name talos-robbinsdale", "talos:tank", None, "cluster.clusterName", "talos-robbinsdale"),
    ("site: API endpoint https://k8s.robbinsdale.local:6443", "talos:tank", None, "cluster.controlPlane.endpoint",
     "https://k8s.robbinsdale.local:6443"),
    ("site: allowSchedulingOnControlPlanes: true", "talos:tank", None, "cluster.allowSchedulingOnControlPlanes", True),
    ("site: Pod CIDR 10.1.0.0/16", "talos:tank", None, "cluster.network.podSubnets", ["10.1.0.0/16"]),
    ("site: service CIDR 10.0.0.0/16", "talos:tank", None, "cluster.network.serviceSubnets", ["10.0.0.0/16"]),
    ("site: load-balancer CIDR 10.69.0.0/16", "tree:platform/cilium-lb/app/pool.yaml",
     "CiliumLoadBalancerIPPool/lb-pool", "spec.blocks[*].cidr", ["10.69.0.0/16"]),
    ("site: Talos CNI none", "talos:tank", None, "cluster.network.cni.name", "none"),
    ("site: kube-proxy disabled", "talos:tank", None, "cluster.proxy.disabled", True),
    ("site: Cilium is installed by Flux", "tree:platform/cilium/app/helmrelease.yaml", "HelmRelease/cilium",
     "spec.values.kubeProxyReplacement", True),
    ("site: the LAN gateway 192.168.50.1 is the BGP peer of the LB range", "tree:platform/cilium-lb/app/bgp.yaml",
     "CiliumBGPClusterConfig/lb-pool", "spec.bgpInstances[0].peers[0].peerAddress", "192.168.50.1"),
    ("site: CIDRs in cluster-settings", "tree:flux/cluster-settings.yaml", "ConfigMap/cluster-settings", "data",
     HasKeys("CLUSTER_POD_CIDR", "CLUSTER_SERVICE_CIDR", "CLUSTER_LB_CIDR")),
    ("site: TIMEZONE=America/Chicago", "tree:flux/cluster-settings.yaml", "ConfigMap/cluster-settings",
     "data.TIMEZONE", "America/Chicago"),
    ("site: LAN 192.168.50.0/24", "config", None, "site.lan.cidr", "192.168.50.0/24"),
    ("site: LAN gateway 192.168.50.1", "config", None, "site.lan.gateway", "192.168.50.1"),
    ("site: Rook uses all nodes", "tree:platform/rook-ceph-cluster/app/cephcluster.yaml", "CephCluster/rook-ceph",
     "spec.storage.useAllNodes", True),
    ("site: Rook uses all empty devices", "tree:platform/rook-ceph-cluster/app/cephcluster.yaml",
     "CephCluster/rook-ceph", "spec.storage.useAllDevices", True),
]
for n in NODES:
    FACTS += [
        (f"site: node {n}, hostname {n}.local", f"talos:{n}", None, "machine.network.hostname", f"{n}.local"),
        (f"site: Talos on the first NVMe of {n} (nvme0n1)", f"talos:{n}", None, "machine.install.disk",
         "/dev/nvme0n1"),
        (f"site: the second NVMe of {n} becomes a Ceph OSD (wiped first)", "config", None,
         f"nodes[name={n}].cephDisks[0]", {"path": "/dev/nvme[1-9]n1", "transport": "nvme", "match": "all",
                                           "wipe": True}),
        (f"site: the SATA disks of {n} become Ceph OSDs (wiped first)", "config", None,
         f"nodes[name={n}].cephDisks[1]", {"transport": "sata", "match": "any", "wipe": True}),
        (f"site: {n} runs Talos v1.10.5 with the site's schematic", f"talos:{n}", None, "machine.install.image",
         Suffix(":v1.10.5")),
    ]
for n in CPS:
    FACTS += [
        (f"site: VIP 192.168.50.25 on control plane {n}", f"talos:{n}", None, "machine.network.interfaces[0].vip.ip",
         "192.168.50.25"),
        (f"site: DHCP on the LAN interface of {n}", f"talos:{n}", None, "machine.network.interfaces[0].dhcp", True),
    ]
FACTS += [
    # Talos runs DHCP on every link of a machine config without interfaces
    ("site: DHCP on the LAN interface of silver (Talos' default)", "talos:silver", None,
     "machine.network.interfaces", Absent()),
    ("site: silver carries no VIP (a worker)", "talos:silver", None, "machine.type", "worker"),

    # ---- site.md: Flux and the GitOps repository ----
    ("site: GitRepository home-kubernetes in flux-system", "tree:flux/gitrepository.yaml",
     "GitRepository/home-kubernetes", "metadata.namespace", "flux-system"),
    ("site: GitRepository branch main", "tree:flux/gitrepository.yaml", "GitRepository/home-kubernetes",
     "spec.ref.branch", "main"),
    ("site: apps/<app>/ holds ks.yaml, kustomization.yaml, namespace.yaml", "tree:apps/immich/kustomization.yaml",
     None, "resources", ["namespace.yaml", "ks.yaml"]),
    ("site: substituteFrom common-settings, common-secrets, cluster-settings, cluster-secrets (immich)", *KS,
     "spec.postBuild.substituteFrom[*].name", ["common-settings", "common-secrets", "cluster-settings",
                                              "cluster-secrets"]),
    ("site: substituteFrom common-settings, common-secrets, cluster-settings, cluster-secrets (root)",
     "tree:flux/cluster.yaml", "Kustomization/cluster", "spec.postBuild.substituteFrom[*].name",
     ["common-settings", "common-secrets", "cluster-settings", "cluster-secrets"]),
    ("site: SOPS decryption with secret sops-gpg", *KS, "spec.decryption",
     {"provider": "sops", "secretRef": {"name": "sops-gpg"}}),
    ("site: sops-gpg in flux-system created at bootstrap", "talos:tank!flux-bootstrap-secrets", "Secret/sops-gpg",
     "metadata.namespace", "flux-system"),
    ("site: Flux v2.6.4", "talos:tank", None, "cluster.extraManifests",
     Has("https://github.com/fluxcd/flux2/releases/download/v2.6.4/install.yaml")),

    # ---- site.md: platform components ----
    ("site: CloudNative-PG chart cloudnative-pg 0.24.0", "tree:platform/cloudnative-pg/app/helmrelease.yaml",
     "HelmRelease/cloudnative-pg", "spec.chart.spec", {"chart": "cloudnative-pg", "version": "0.24.0",
     "sourceRef": {"kind": "HelmRepository", "name": "cloudnative-pg", "namespace": "flux-system"}}),
    ("site: Barman Cloud plugin v0.5.0", "tree:platform/barman-cloud-plugin/app/kustomization.yaml", None,
     "resources", ["https://github.com/cloudnative-pg/plugin-barman-cloud/releases/download/v0.5.0/manifest.yaml"]),
    ("site: object stores are barmancloud.cnpg.io/v1 ObjectStore", APP + "s3-backup.yaml", "ObjectStore/immich-s3",
     "apiVersion", "barmancloud.cnpg.io/v1"),
    ("site: clusters use the plugin barman-cloud.cloudnative-pg.io", APP + "pg.yaml", PG, "spec.plugins[0].name",
     "barman-cloud.cloudnative-pg.io"),
    ("site: Dragonfly operator v1.1.8", "tree:platform/dragonfly-operator/app/helmrelease.yaml",
     "HelmRelease/dragonfly-operator", "spec.chart.spec.version", "v1.1.8"),
    ("site: Volsync chart 0.12.1", "tree:platform/volsync/app/helmrelease.yaml", "HelmRelease/volsync",
     "spec.chart.spec.version", "0.12.1"),
    ("site: 1Password chart connect", "tree:platform/onepassword-connect/app/helmrelease.yaml",
     "HelmRelease/onepassword-connect", "spec.chart.spec.chart", "connect"),
    ("site: 1Password chart connect 1.17.1", "tree:platform/onepassword-connect/app/helmrelease.yaml",
     "HelmRelease/onepassword-connect", "spec.chart.spec.version", "1.17.1"),
    ("site: 1Password credentials secret op-credentials", "tree:platform/onepassword-connect/app/helmrelease.yaml",
     "HelmRelease/onepassword-connect", "spec.values.connect.credentialsName", "op-credentials"),
    ("site: 1Password token secret onepassword-token", "tree:platform/onepassword-connect/app/helmrelease.yaml",
     "HelmRelease/onepassword-connect", "spec.values.operator.token.name", "onepassword-token"),
    ("site: op-credentials is a bootstrap secret", "talos:tank!flux-bootstrap-secrets", "Secret/op-credentials",
     "metadata.namespace", "onepassword"),
    ("site: onepassword-token is a bootstrap secret", "talos:tank!flux-bootstrap-secrets", "Secret/onepassword-token",
     "metadata.namespace", "onepassword"),
    ("site: SMB CSI driver chart v1.18.0", "tree:platform/csi-driver-smb/app/helmrelease.yaml",
     "HelmRelease/csi-driver-smb", "spec.chart.spec.version", "v1.18.0"),
    ("site: SMB CSI driver in kube-system", "tree:platform/csi-driver-smb/app/helmrelease.yaml",
     "HelmRelease/csi-driver-smb", "metadata.namespace", "kube-system"),
    ("site: SMB credentials secret csi-smbcreds in kube-system", "talos:tank!flux-bootstrap-secrets",
     "Secret/csi-smbcreds", "metadata.namespace", "kube-system"),
    ("site: Rook-Ceph v1.17.5", "tree:platform/rook-ceph/app/helmrelease.yaml", "HelmRelease/rook-ceph",
     "spec.chart.spec.version", "v1.17.5"),
    ("site: Ceph v19.2", "tree:platform/rook-ceph-cluster/app/cephcluster.yaml", "CephCluster/rook-ceph",
     "spec.cephVersion.image", "quay.io/ceph/ceph:v19.2"),
    ("site: the block pool is replicated x3", "tree:platform/rook-ceph-cluster/app/cephblockpool.yaml",
     "CephBlockPool/ceph-blockpool-replicated-nvme", "spec.replicated.size", 3),
    ("site: the block pool is on device class nvme", "tree:platform/rook-ceph-cluster/app/cephblockpool.yaml",
     "CephBlockPool/ceph-blockpool-replicated-nvme", "spec.deviceClass", "nvme"),
    ("site: StorageClass ceph-block-replicated-nvme uses that pool",
     "tree:platform/rook-ceph-cluster/app/storageclass.yaml", "StorageClass/ceph-block-replicated-nvme",
     "parameters.pool", "ceph-blockpool-replicated-nvme"),
    ("site: StorageClass ceph-block-replicated-nvme is the cluster default",
     "tree:platform/rook-ceph-cluster/app/storageclass.yaml", "StorageClass/ceph-block-replicated-nvme",
     "metadata.annotations.{storageclass.kubernetes.io/is-default-class}", "true"),
    ("site: Gateway API via Envoy Gateway", "tree:platform/gateways/app/gatewayclass.yaml", "GatewayClass/envoy",
     "spec.controllerName", "gateway.envoyproxy.io/gatewayclass-controller"),
    ("site: Gateway ts in namespace home", "tree:platform/gateways/app/ts.yaml", "Gateway/ts", "metadata.namespace",
     "home"),
    ("site: Gateway ts is the Tailscale one", "tree:platform/gateways/app/ts.yaml", "EnvoyProxy/ts",
     "spec.provider.kubernetes.envoyService.loadBalancerClass", "tailscale"),
    ("site: Gateway public in namespace home", "tree:platform/gateways/app/public.yaml", "Gateway/public",
     "metadata.namespace", "home"),
    ("site: Homer dashboard fed by annotations on HTTPRoutes", APP + "httproute.yaml", "HTTPRoute/immich",
     HOMER % "name", "Immich"),
]

def tokens(path):
    # keys joined by '.', a {key} may hold dots; [..] suffixes select in lists
    for m in re.finditer(r"(\{[^}]*\}|[^.\[{]+)?((?:\[[^\]]*\])*)(?:\.|$)", path):
        if m.group(0) == "":
            continue
        if m.group(1):
            yield ("key", m.group(1).strip("{}"))
        for sel in re.findall(r"\[([^\]]*)\]", m.group(2)):
            yield ("sel", sel)

def walk(x, toks):
    toks = list(toks)
    for i, (t, v) in enumerate(toks):
        if t == "key":
            if not isinstance(x, dict) or v not in x:
                return MISSING
            x = x[v]
        elif v == "*":
            if not isinstance(x, list):
                return MISSING
            return [walk(e, toks[i + 1:]) for e in x]
        elif "=" in v:
            k, want = v.split("=", 1)
            hit = [e for e in x if isinstance(e, dict) and e.get(k) == want] if isinstance(x, list) else []
            if len(hit) != 1:
                return MISSING
            x = hit[0]
        else:
            if not isinstance(x, list) or int(v) >= len(x):
                return MISSING
            x = x[int(v)]
    return x

def load(source, dirs):
    kind, _, rest = source.partition(":")
    if kind in ("tree", "recovery"):
        return list(yaml.safe_load_all(open(os.path.join(dirs[kind], rest))))
    if kind == "config":
        return [yaml.safe_load(open(dirs["config"]))]
    if kind == "schematic":
        s = json.load(open(dirs["schematic"]))
        s["schematic"] = yaml.safe_load(s["schematic"])
        return [s]
    node, _, manifest = rest.partition("!")
    cfg = yaml.safe_load(open(os.path.join(dirs["talos"], node + ".yaml")))
    if not manifest:
        return [cfg]
    m = [x for x in cfg["cluster"].get("inlineManifests", []) if x["name"] == manifest]
    return list(yaml.safe_load_all(m[0]["contents"])) if m else []

def pick(docs, selector):
    docs = [d for d in docs if d]
    if selector is None:
        return docs[0] if len(docs) == 1 else MISSING
    kind, name = selector.split("/", 1)
    hit = [d for d in docs if d.get("kind") == kind and d.get("metadata", {}).get("name") == name]
    return hit[0] if len(hit) == 1 else MISSING

def main():
    dirs = dict(a.split("=", 1) for a in sys.argv[1:])
    names = set()
    for name, source, selector, path, want in FACTS:
        assert name not in names, f"two rows named {name!r}"
        names.add(name)
        try:
            doc = pick(load(source, dirs), selector)
        except OSError as e:
            print(f"not ok\t{name}\t{source}: {e.strerror}")
            continue
        where = f"{source.split(':', 1)[-1]} {selector or ''} {path}".replace("  ", " ")
        if doc is MISSING:
            print(f"not ok\t{name}\t{source}: no document {selector}")
            continue
        toks = list(tokens(path))
        got = walk(doc, toks)
        # not set, where the map that would hold it exists (a typo in a path never passes)
        if isinstance(want, Absent) and not isinstance(walk(doc, toks[:-1]), dict):
            got = "no map holding it"
        good = want.test(got) if hasattr(want, "test") else (got == want and type(got) == type(want))
        if good:
            print(f"ok\t{name}\t{where}")
        elif getattr(want, "secret", False):
            keys = sorted(got) if isinstance(got, dict) else got
            print(f"not ok\t{name}\t{where}: expected {want!r}, found keys {keys!r}")
        else:
            print(f"not ok\t{name}\t{where}: expected {want!r}, found {got!r}")
    print(f"facts\t{len(FACTS)}")

main()
PY

# run_facts TREE TALOS: the checker over the tree TREE and the configs in TALOS (and
# the recovery tree and the schematic made above); one line per fact:
# ok|not ok TAB name TAB where
run_facts() {
	/usr/bin/python3 "$T/facts.py" "tree=$1/$R" "recovery=$T/recovery/$R" "talos=$2" \
		"schematic=$T/schematic.json" "config=$T/config.yaml"
}
run_facts "$T/tree" "$T/talos" >"$T/facts.out" 2>"$T/facts.err"
rc=$?
if [ "$rc" -ne 0 ] || ! grep -q '^facts	' "$T/facts.out"; then
	not_ok "the fact checker ran (exit $rc)"
	sed 's/^/#   /' "$T/facts.err" | tail -20
fi
while IFS=$'\t' read -r res name where; do
	case $res in
	ok) ok "$name ($where)" ;;
	"not ok") not_ok "$name: $where" ;;
	facts) diag "$name facts checked" ;;
	esac
done <"$T/facts.out"

# ---- the checker fails on a changed fact, and only on that one ------------------
# mutate DESC render|talos SET ROW...: render (or talos gen) with --set SET; the ROWs
# (facts' names) must be exactly the rows reported not ok
mutate() {
	local d=$1 what=$2 set=$3 out=$T/mut.$RANDOM bad want rows
	shift 3
	if [ "$what" = render ]; then
		"$APPLIANCE" render "$P" --set "$set" --out "$out" >"$T/mut.log" 2>&1
	else
		"$APPLIANCE" talos gen "$P" --secrets "$T/bundle.yaml" --out "$out" --set "$set" \
			--set "secrets.gitDeployKey=file:$T/key" --set "secrets.sopsKey=file:$T/key" \
			--set "secrets.opCredentials=file:$T/key" >"$T/mut.log" 2>&1
	fi || {
		not_ok "$d: $what --set $set failed"
		sed 's/^/#   /' "$T/mut.log" | tail -5
		return
	}
	if [ "$what" = render ]; then run_facts "$out" "$T/talos"; else run_facts "$T/tree" "$out"; fi >"$T/mut.out" 2>&1
	bad=$(grep '^not ok' "$T/mut.out" | cut -f2)
	want=$(printf '%s\n' "$@")
	rows=$(printf '%s\n' "$@" | paste -sd ';' | sed 's/;/; /g')
	if [ "$bad" = "$want" ]; then
		ok "$d: $what --set $set is flagged on exactly: $rows"
	else
		not_ok "$d: $what --set $set: expected only '$rows' to fail, got: ${bad:-nothing}"
	fi
}
mutate "a number" render apps.immich.redis.replicas=2 "deploy: Dragonfly Replicas 3"
mutate "a schedule" render "apps.immich.database.backupSchedule=0 0 22 * * *" "deploy: Daily backup schedule at 11 PM"
mutate "a Flux timeout" render apps.immich.timeout=15m "deploy: Flux Timeout 5 minutes"
mutate "a count" render apps.immich.database.instances=2 "deploy: PostgreSQL Instances 1"
mutate "a node fact" talos talos.vip=192.168.50.26 "site: VIP 192.168.50.25 on control plane tank" \
	"site: VIP 192.168.50.25 on control plane titan" "site: VIP 192.168.50.25 on control plane stone"
# the plugin's name comes from the profile (platform.barmanPlugin.pluginName), not from C
mutate "an upstream name" render platform.barmanPlugin.pluginName=barman.example.org \
	"deploy: the daily backup goes through Barman Cloud" "site: clusters use the plugin barman-cloud.cloudnative-pg.io"
