/* The Immich app: apps/immich/{namespace,kustomization,ks}.yaml and app/
 * (helmrelease, pg, pg-restore, s3-backup, s3-backup-minio, redis, volumes,
 * secret, httproute), every value from apps.immich, nas and gitops. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/model.h"
#include "render/render.h"
#include "base/util.h"
#include "base/yemit.h"

#define APP RENDER_APP
#define RECOVERY_SOURCE "origin"

/* Keys the stack reads inside its secrets (the 1Password items carry them). */
#define PG_USER_KEY "username"
#define PG_PASSWORD_KEY "password"
#define REDIS_PASSWORD_KEY "password"
#define S3_ACCESS_KEY "ACCESS_KEY_ID"
#define S3_SECRET_KEY "ACCESS_SECRET_KEY"
#define S3_REGION_KEY "REGION"

static const char *secret_kinds = "Secret|OnePasswordItem";

/* A Secret the app reads. With 1Password on, an OnePasswordItem of the tree
 * makes it (the reference is checked); else the site provides it (SOPS). */
static void secret_ref(struct render_ctx *c, const char *ns, const char *name, const char *key)
{
	if (c->m->platform.onepassword.enabled)
		render_ref(c, secret_kinds, ns, name, key, false);
}

static struct yval *name_map(const char *name)
{
	return y_set(y_map(), "name", y_str(name));
}

static struct yval *secret_key_ref(const char *name, const char *key)
{
	struct yval *v = y_map();

	y_set(y_at(v, "valueFrom.secretKeyRef"), "name", y_str(name));
	y_set(y_at(v, "valueFrom.secretKeyRef"), "key", y_str(key));
	return v;
}

static char *var_ref(const char *var)
{
	return xasprintf("${%s}", var);
}

/* ---- files -------------------------------------------------------------- */

static void app_ks(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct model_immich *a = &m->apps.immich;
	struct yval *spec;

	render_file(c, "apps/" APP "/namespace.yaml");
	render_namespace(c, a->namespace, NULL);

	render_file(c, "apps/" APP "/ks.yaml");
	spec = render_flux_ks(c, APP, "apps/" APP "/app", a->namespace, (const char *const *)a->depends_on.v,
			      a->depends_on.n, "apps.immich.dependsOn", a->interval, a->retry_interval,
			      a->timeout);
	/* wait means the database and the cache really serve, not just exist */
	render_health(spec, "Cluster|Dragonfly");
	render_ks_waits(c, "HelmRelease Ready, CNPG Cluster Ready and Dragonfly phase Ready "
			   "(healthCheckExprs)");
}

/* Metrics objects (ServiceMonitor, PodMonitor) only with the Prometheus
 * Operator CRDs in the cluster (platform.monitoring). */
static bool monitoring_on(const struct model *m)
{
	return m->platform.monitoring.enabled;
}

static void app_helmrelease(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct model_immich *a = &m->apps.immich;
	const struct immich_storage *s = &a->storage;
	struct yval *doc, *spec, *v, *env, *ext;
	char *host;

	render_file(c, "apps/" APP "/app/helmrelease.yaml");
	doc = render_helmrelease(c, a->namespace, APP, a->interval, &a->chart);
	spec = y_at(doc, "spec");
	y_set(y_at(spec, "chart.spec"), "interval", y_str(a->interval));
	render_ref(c, "HelmRepository", m->gitops.flux.namespace, a->chart.name, "apps.immich.chart.name",
		   true);
	render_helmrepository(c, &a->chart, "apps.immich.chart");
	/* helm-controller waits 5m by default (HelmRelease .spec.timeout,
	 * fluxcd/helm-controller docs/spec/v2/helmreleases.md): the first install
	 * pulls the server and machine-learning images and waits for the
	 * database, so the release gets its own timeout (releaseTimeout, else the
	 * Kustomization's). A shorter Kustomization timeout only reports the
	 * Kustomization not Ready until a retry finds the release Ready; Helm's
	 * wait running out fails the install and starts remediation */
	y_set(spec, "timeout", y_str(a->release_timeout ? a->release_timeout : a->timeout));
	y_set(y_at(spec, "install.remediation"), "retries", y_int(a->remediation_retries));
	y_set(y_at(spec, "upgrade"), "cleanupOnFail", y_bool(true));
	y_set(y_at(spec, "upgrade.remediation"), "retries", y_int(a->remediation_retries));

	v = y_at(spec, "values");
	y_set(y_at(v, "image"), "tag", y_str(a->image_tag));
	env = y_at(v, "env");
	host = xasprintf("%s-rw", a->database.cluster);
	y_set(env, "DB_HOSTNAME", y_str(host));
	free(host);
	y_set(env, "DB_DATABASE_NAME", y_str(a->database.database));
	y_set(env, "DB_USERNAME", secret_key_ref(a->database.secret, PG_USER_KEY));
	y_set(env, "DB_PASSWORD", secret_key_ref(a->database.secret, PG_PASSWORD_KEY));
	y_set(env, "REDIS_HOSTNAME", y_str(a->redis.name));
	y_set(env, "REDIS_PASSWORD", secret_key_ref(a->redis.secret, REDIS_PASSWORD_KEY));
	render_ref(c, "Cluster", a->namespace, a->database.cluster, "apps.immich.database.cluster", false);
	secret_ref(c, a->namespace, a->database.secret, "apps.immich.database.secret");
	render_ref(c, "Dragonfly", a->namespace, a->redis.name, "apps.immich.redis.name", false);
	secret_ref(c, a->namespace, a->redis.secret, "apps.immich.redis.secret");

	y_set(y_at(v, "immich.metrics"), "enabled", y_bool(a->metrics && monitoring_on(m)));
	if (a->metrics && monitoring_on(m))
		render_use(c, "monitoring.coreos.com/v1", "ServiceMonitor", "apps.immich.metrics");
	y_set(y_at(v, "immich.persistence.library"), "existingClaim", y_str(s->library.name));
	render_ref(c, "PersistentVolumeClaim", a->namespace, s->library.name,
		   "apps.immich.storage.library.name", false);
	/* the chart's own databases are off: CNPG and Dragonfly serve it */
	y_set(y_at(v, "postgresql"), "enabled", y_bool(false));
	y_set(y_at(v, "redis"), "enabled", y_bool(false));
	/* the existing photos, read-only, as an external library */
	ext = y_at(v, "server.persistence.external");
	y_set(ext, "enabled", y_bool(true));
	y_set(ext, "type", y_str("pvc"));
	y_set(ext, "existingClaim", y_str(s->photos.name));
	y_set(ext, "readOnly", y_bool(s->photos.read_only));
	y_set(ext, "mountPath", y_str(s->photos.mount_path));
	render_ref(c, "PersistentVolumeClaim", a->namespace, s->photos.name,
		   "apps.immich.storage.photos.name", false);
}

/* What both database clusters share: image, size, postgres settings. */
static struct yval *pg_cluster(struct render_ctx *c, const char *name)
{
	const struct model_immich *a = &c->m->apps.immich;
	const struct immich_database *d = &a->database;
	struct yval *doc, *spec;

	doc = render_obj(c, "postgresql.cnpg.io/v1", "Cluster", a->namespace, name);
	spec = y_at(doc, "spec");
	y_set(spec, "instances", y_int(d->instances));
	y_set(spec, "imageName", y_str(d->image));
	if (d->shared_preload_libraries.n)
		y_set(y_at(spec, "postgresql"), "shared_preload_libraries",
		      y_strs((const char *const *)d->shared_preload_libraries.v,
			     d->shared_preload_libraries.n));
	y_set(y_at(spec, "storage"), "size", y_str(d->size.text));
	y_set(y_at(spec, "storage"), "storageClass", y_str(d->storage_class));
	render_ref(c, "StorageClass", "", d->storage_class, "apps.immich.database.storageClass", true);
	if (d->monitoring && monitoring_on(c->m)) {
		y_set(y_at(spec, "monitoring"), "enablePodMonitor", y_bool(true));
		render_use(c, "monitoring.coreos.com/v1", "PodMonitor", "apps.immich.database.monitoring");
	}
	return spec;
}

const char *render_recovery_source(const struct model *m)
{
	const struct immich_database *d = &m->apps.immich.database;

	if (d->restore_source_server)
		return d->restore_source_server;
	return d->server_name ? d->server_name : d->cluster;
}

/* bootstrap.recovery from the primary object store, as serverName src. */
static void pg_recovery(struct render_ctx *c, struct yval *spec, const char *src)
{
	const struct immich_database *d = &c->m->apps.immich.database;
	struct yval *ext = y_map(), *plugin;

	y_set(y_at(spec, "bootstrap.recovery"), "source", y_str(RECOVERY_SOURCE));
	/* the application database and its owner, with the credentials Immich uses */
	y_set(y_at(spec, "bootstrap.recovery"), "database", y_str(d->database));
	y_set(y_at(spec, "bootstrap.recovery"), "owner", y_str(d->owner));
	y_set(y_at(spec, "bootstrap.recovery.secret"), "name", y_str(d->secret));
	render_ref(c, secret_kinds, c->m->apps.immich.namespace, d->secret, "apps.immich.database.secret",
		   false);
	y_set(ext, "name", y_str(RECOVERY_SOURCE));
	plugin = y_at(ext, "plugin");
	y_set(plugin, "name", y_str(c->m->platform.barman_plugin_name));
	y_set(y_at(plugin, "parameters"), "barmanObjectName", y_str(d->primary.name));
	y_set(y_at(plugin, "parameters"), "serverName", y_str(src));
	y_set(spec, "externalClusters", y_push(y_seq(), ext));
	render_ref(c, "ObjectStore", c->m->apps.immich.namespace, d->primary.name,
		   "apps.immich.database.primary.name", false);
}

static void app_pg(struct render_ctx *c)
{
	const struct model_immich *a = &c->m->apps.immich;
	const struct immich_database *d = &a->database;
	struct yval *spec, *doc, *init, *sql, *plugin;
	const char *server = d->server_name ? d->server_name : d->cluster;
	char *recovery_server = NULL;

	render_file(c, "apps/" APP "/app/pg.yaml");
	spec = pg_cluster(c, d->cluster);
	if (c->o->recovery) {
		const char *src = render_recovery_source(c->m);

		recovery_server =
		    c->o->server_name ? xstrdup(c->o->server_name) : xasprintf("%s-recovery", src);
		if (strcmp(recovery_server, src) == 0)
			render_problem(
			    c,
			    "recovery would write new backups under serverName '%s', the archive it "
			    "recovers from; pick another server name",
			    src);
		server = recovery_server;
		pg_recovery(c, spec, src);
	} else {
		init = y_at(spec, "bootstrap.initdb");
		y_set(init, "database", y_str(d->database));
		y_set(init, "owner", y_str(d->owner));
		y_set(y_at(init, "secret"), "name", y_str(d->secret));
		secret_ref(c, a->namespace, d->secret, "apps.immich.database.secret");
		if (d->data_checksums)
			y_set(init, "dataChecksums", y_bool(true));
		sql = y_seq();
		if (d->superuser) {
			char *q = xasprintf("ALTER ROLE \"%s\" WITH SUPERUSER;", d->owner);
			y_push(sql, y_str(q));
			free(q);
		}
		for (size_t i = 0; i < d->extensions.n; i++) {
			char *q =
			    xasprintf("CREATE EXTENSION IF NOT EXISTS \"%s\" CASCADE;", d->extensions.v[i]);
			y_push(sql, y_str(q));
			free(q);
		}
		if (y_len(sql))
			y_set(init, "postInitApplicationSQL", sql);
		else
			y_free(sql);
	}
	/* WAL archiving and base backups through the Barman Cloud plugin */
	plugin = y_map();
	y_set(plugin, "name", y_str(c->m->platform.barman_plugin_name));
	y_set(plugin, "isWALArchiver", y_bool(true));
	y_set(y_at(plugin, "parameters"), "barmanObjectName", y_str(d->primary.name));
	y_set(y_at(plugin, "parameters"), "serverName", y_str(server));
	y_set(spec, "plugins", y_push(y_seq(), plugin));
	render_ref(c, "ObjectStore", a->namespace, d->primary.name, "apps.immich.database.primary.name",
		   false);
	free(recovery_server);

	doc = render_obj(c, "postgresql.cnpg.io/v1", "ScheduledBackup", a->namespace, d->backup_name);
	spec = y_at(doc, "spec");
	y_set(spec, "schedule", y_str(d->backup_schedule));
	y_set(spec, "immediate", y_bool(true));
	y_set(spec, "backupOwnerReference", y_str("self"));
	y_set(y_at(spec, "cluster"), "name", y_str(d->cluster));
	y_set(spec, "method", y_str("plugin"));
	y_set(y_at(spec, "pluginConfiguration"), "name", y_str(c->m->platform.barman_plugin_name));
	render_ref(c, "Cluster", a->namespace, d->cluster, "apps.immich.database.cluster", false);
}

static void app_pg_restore(struct render_ctx *c)
{
	const struct immich_database *d = &c->m->apps.immich.database;
	struct yval *spec;

	/* only when restoring: on a fresh site the archive is empty and the
	 * Cluster would fail while holding its volume */
	if (!d->restore_cluster || !c->o->recovery)
		return;
	render_file(c, "apps/" APP "/app/pg-restore.yaml");
	spec = pg_cluster(c, d->restore_cluster);
	/* no WAL archiver: a restore never writes into the archive it reads */
	pg_recovery(c, spec, render_recovery_source(c->m));
}

static void object_store(struct render_ctx *c, const struct immich_object_store *s, const char *file,
			 const char *key)
{
	const struct model_immich *a = &c->m->apps.immich;
	struct yval *doc, *cfg, *creds;
	char *ak, *sk, *k;

	if (!s->name || !s->enabled)
		return;
	render_file(c, "apps/" APP "/app/%s", file);
	doc = render_obj(c, "v1", "Secret", a->namespace, s->secret);
	y_set(doc, "type", y_str("Opaque"));
	ak = var_ref(s->access_key_var);
	sk = var_ref(s->secret_key_var);
	y_set(y_at(doc, "stringData"), S3_ACCESS_KEY, y_str(ak));
	y_set(y_at(doc, "stringData"), S3_SECRET_KEY, y_str(sk));
	if (s->region)
		y_set(y_at(doc, "stringData"), S3_REGION_KEY, y_str(s->region));
	free(ak);
	free(sk);

	doc = render_obj(c, "barmancloud.cnpg.io/v1", "ObjectStore", a->namespace, s->name);
	y_set(y_at(doc, "spec"), "retentionPolicy", y_str(s->retention));
	cfg = y_at(doc, "spec.configuration");
	y_set(cfg, "destinationPath", y_str(s->destination_path));
	y_set(cfg, "endpointURL", y_str(s->endpoint));
	creds = y_at(cfg, "s3Credentials");
	y_set(y_at(creds, "accessKeyId"), "name", y_str(s->secret));
	y_set(y_at(creds, "accessKeyId"), "key", y_str(S3_ACCESS_KEY));
	y_set(y_at(creds, "secretAccessKey"), "name", y_str(s->secret));
	y_set(y_at(creds, "secretAccessKey"), "key", y_str(S3_SECRET_KEY));
	if (s->region) {
		y_set(y_at(creds, "region"), "name", y_str(s->secret));
		y_set(y_at(creds, "region"), "key", y_str(S3_REGION_KEY));
	}
	k = xasprintf("%s.secret", key);
	render_ref(c, "Secret", a->namespace, s->secret, k, false);
	free(k);
}

static void app_redis(struct render_ctx *c)
{
	const struct model_immich *a = &c->m->apps.immich;
	const struct immich_redis *r = &a->redis;
	struct yval *doc, *spec, *args = y_seq();
	char *arg;

	render_file(c, "apps/" APP "/app/redis.yaml");
	doc = render_obj(c, "dragonflydb.io/v1alpha1", "Dragonfly", a->namespace, r->name);
	spec = y_at(doc, "spec");
	y_set(spec, "image", y_str(r->image));
	y_set(spec, "replicas", y_int(r->replicas));
	arg = xasprintf("--maxmemory=%s", r->max_memory);
	y_push(args, y_str(arg));
	free(arg);
	arg = xasprintf("--proactor_threads=%lld", r->threads);
	y_push(args, y_str(arg));
	free(arg);
	if (r->lua_undeclared_keys)
		y_push(args, y_str("--default_lua_flags=allow-undeclared-keys"));
	y_set(spec, "args", args);
	y_set(y_at(spec, "authentication.passwordFromSecret"), "name", y_str(r->secret));
	y_set(y_at(spec, "authentication.passwordFromSecret"), "key", y_str(REDIS_PASSWORD_KEY));
	secret_ref(c, a->namespace, r->secret, "apps.immich.redis.secret");
	y_set(y_at(spec, "resources.requests"), "cpu", y_str(r->cpu_request));
	y_set(y_at(spec, "resources.requests"), "memory", y_str(r->max_memory));
	y_set(y_at(spec, "resources.limits"), "memory", y_str(r->memory_limit));
}

/* A static SMB PersistentVolume and its claim for one NAS folder. */
static void smb_volume(struct render_ctx *c, const struct immich_volume *vol, const char *folder,
		       const char *key)
{
	const struct model *m = c->m;
	const struct model_immich *a = &m->apps.immich;
	const struct immich_storage *s = &a->storage;
	const char *cap = vol->capacity.text ? vol->capacity.text : m->nas.capacity.text;
	struct yval *doc, *spec, *csi, *opts = y_seq();
	char *source, *handle, *opt, *k;

	source = xasprintf("//%s/%s/%s", m->nas.address, m->nas.share, folder);
	handle = xasprintf("%s/%s/%s", m->nas.address, m->nas.share, folder);

	doc = render_obj(c, "v1", "PersistentVolume", NULL, vol->name);
	y_set(y_at(doc, "metadata.annotations"), "pv.kubernetes.io/provisioned-by", y_str(s->driver));
	spec = y_at(doc, "spec");
	y_set(y_at(spec, "capacity"), "storage", y_str(cap));
	y_set(spec, "accessModes", y_push(y_seq(), y_str(s->access_mode)));
	y_set(spec, "persistentVolumeReclaimPolicy", y_str(s->reclaim_policy));
	y_set(spec, "storageClassName", y_str(s->storage_class ? s->storage_class : ""));
	y_set(y_at(spec, "claimRef"), "namespace", y_str(a->namespace));
	y_set(y_at(spec, "claimRef"), "name", y_str(vol->name));
	opt = xasprintf("dir_mode=%s", s->dir_mode);
	y_push(opts, y_str(opt));
	free(opt);
	opt = xasprintf("file_mode=%s", s->file_mode);
	y_push(opts, y_str(opt));
	free(opt);
	if (m->nas.port && m->nas.port != 445) {
		opt = xasprintf("port=%lld", m->nas.port);
		y_push(opts, y_str(opt));
		free(opt);
	}
	y_set(spec, "mountOptions", opts);
	csi = y_at(spec, "csi");
	y_set(csi, "driver", y_str(s->driver));
	if (vol->read_only)
		y_set(csi, "readOnly", y_bool(true));
	y_set(csi, "volumeHandle", y_str(handle));
	y_set(y_at(csi, "volumeAttributes"), "source", y_str(source));
	y_set(y_at(csi, "nodeStageSecretRef"), "name", y_str(m->platform.smb_credentials_name));
	y_set(y_at(csi, "nodeStageSecretRef"), "namespace", y_str(m->platform.smb_csi.namespace));
	/* The node-stage Secret is not in the GitOps tree: Talos creates it at first
	 * boot (talos_config.c, flux-bootstrap-secrets) from nas.username and
	 * nas.password, the same secrets the NAS preflight authenticates with. */
	if (!c->o->only_app && !m->platform.smb_csi.enabled)
		render_problem(
		    c,
		    "PersistentVolume %s uses CSI driver '%s' (apps.immich.storage.driver), but "
		    "platform.smbCsi is disabled: nothing installs the driver or its node-stage Secret",
		    vol->name, a->storage.driver);
	k = xasprintf("%s.name", key);
	render_ref(c, "PersistentVolumeClaim", a->namespace, vol->name, k, false);

	doc = render_obj(c, "v1", "PersistentVolumeClaim", a->namespace, vol->name);
	spec = y_at(doc, "spec");
	y_set(spec, "accessModes", y_push(y_seq(), y_str(s->access_mode)));
	y_set(y_at(spec, "resources.requests"), "storage", y_str(cap));
	y_set(spec, "storageClassName", y_str(s->storage_class ? s->storage_class : ""));
	y_set(spec, "volumeName", y_str(vol->name));
	render_ref(c, "PersistentVolume", "", vol->name, k, false);
	free(k);
	free(source);
	free(handle);
}

static void app_volumes(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct immich_storage *s = &m->apps.immich.storage;

	render_file(c, "apps/" APP "/app/%s", s->file);
	smb_volume(c, &s->photos, m->nas.photos, "apps.immich.storage.photos");
	smb_volume(c, &s->library, m->nas.library, "apps.immich.storage.library");
}

static void app_secrets(struct render_ctx *c)
{
	const struct model_immich *a = &c->m->apps.immich;
	const struct onepassword_item *items[] = { &a->pg_item, &a->redis_item };
	struct yval *doc;

	if (!c->m->platform.onepassword.enabled) /* the site provides the Secrets */
		return;
	render_file(c, "apps/" APP "/app/secret.yaml");
	for (size_t i = 0; i < 2; i++) {
		if (!items[i]->name)
			continue;
		doc = render_obj(c, "onepassword.com/v1", "OnePasswordItem", a->namespace, items[i]->name);
		y_set(y_at(doc, "spec"), "itemPath", y_str(items[i]->item));
	}
}

static void app_route(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct model_immich *a = &m->apps.immich;
	const struct immich_route *r = &a->route;
	const char *homer = r->homer_annotation_prefix;
	const struct {
		const char *key, *value;
	} ann[] = {
		{ "name", r->homer_name },	   { "category", r->homer_category },
		{ "icon", r->homer_icon },	   { "description", r->homer_description },
		{ "keywords", r->homer_keywords },
	};
	struct yval *doc, *spec, *parents = y_seq(), *rule = y_map(), *match = y_map(), *backend = y_map();

	render_file(c, "apps/" APP "/app/httproute.yaml");
	doc = render_obj(c, "gateway.networking.k8s.io/v1", "HTTPRoute", a->namespace, APP);
	for (size_t i = 0; homer && i < sizeof(ann) / sizeof(ann[0]); i++) {
		char *k;
		if (!ann[i].value)
			continue;
		k = xasprintf("%s%s", homer, ann[i].key);
		y_set(y_at(doc, "metadata.annotations"), k, y_str(ann[i].value));
		free(k);
	}
	spec = y_at(doc, "spec");
	for (size_t i = 0; i < r->gateways.n; i++) {
		struct yval *p;
		/* the Tailscale gateway exists only with the Tailscale operator */
		if (!m->platform.tailscale.enabled && m->platform.gateway_tailscale &&
		    strcmp(r->gateways.v[i], m->platform.gateway_tailscale) == 0)
			continue;
		p = name_map(r->gateways.v[i]);
		y_set(p, "namespace", y_str(m->platform.gateway_namespace));
		y_set(p, "sectionName", y_str("https"));
		y_push(parents, p);
		render_ref(c, "Gateway", m->platform.gateway_namespace, r->gateways.v[i],
			   "apps.immich.route.gateways", true);
	}
	y_set(spec, "parentRefs", parents);
	/* the gateways serve one certificate for site.domains and their wildcards */
	for (size_t i = 0; m->platform.cert_manager.enabled && i < r->hostnames.n; i++) {
		const char *h = r->hostnames.v[i], *dot = strchr(h, '.');
		bool covered = false;
		for (size_t j = 0; j < m->site.domains.n && !covered; j++)
			covered = strcmp(h, m->site.domains.v[j]) == 0 ||
				  (dot && strcmp(dot + 1, m->site.domains.v[j]) == 0);
		if (!covered)
			render_problem(c,
				       "apps.immich.route.hostnames: '%s' is not a site domain or a name "
				       "directly under one (site.domains): the gateways' certificate would "
				       "not cover it",
				       h);
	}
	y_set(spec, "hostnames", y_strs((const char *const *)r->hostnames.v, r->hostnames.n));
	y_set(y_at(match, "path"), "type", y_str("PathPrefix"));
	y_set(y_at(match, "path"), "value", y_str(r->path));
	y_set(rule, "matches", y_push(y_seq(), match));
	y_set(backend, "name", y_str(r->service));
	y_set(backend, "port", y_int(r->port));
	y_set(rule, "backendRefs", y_push(y_seq(), backend));
	y_set(spec, "rules", y_push(y_seq(), rule));
}

/* Values every document needs; all missing ones are reported together. */
static bool app_required(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct model_immich *a = &m->apps.immich;
	const struct immich_database *d = &a->database;
	const struct {
		const char *key;
		const void *value;
	} req[] = {
		{ "apps.immich.namespace", a->namespace },
		{ "apps.immich.interval", a->interval },
		{ "apps.immich.timeout", a->timeout },
		{ "platform.barmanPlugin.pluginName", m->platform.barman_plugin_name },
		{ "apps.immich.chart.name", a->chart.name },
		{ "apps.immich.chart.version", a->chart.version },
		{ "apps.immich.chart.repository", a->chart.repository },
		{ "apps.immich.imageTag", a->image_tag },
		{ "apps.immich.database.cluster", d->cluster },
		{ "apps.immich.database.image", d->image },
		{ "apps.immich.database.size", d->size.text },
		{ "apps.immich.database.storageClass", d->storage_class },
		{ "apps.immich.database.database", d->database },
		{ "apps.immich.database.owner", d->owner },
		{ "apps.immich.database.secret", d->secret },
		{ "apps.immich.database.backupSchedule", d->backup_schedule },
		{ "apps.immich.database.backupName", d->backup_name },
		{ "apps.immich.database.primary.name", d->primary.name },
		{ "apps.immich.database.primary.destinationPath", d->primary.destination_path },
		{ "apps.immich.database.primary.endpoint", d->primary.endpoint },
		{ "apps.immich.database.primary.secret", d->primary.secret },
		{ "apps.immich.database.primary.accessKeyVar", d->primary.access_key_var },
		{ "apps.immich.database.primary.secretKeyVar", d->primary.secret_key_var },
		{ "apps.immich.redis.name", a->redis.name },
		{ "apps.immich.redis.maxMemory", a->redis.max_memory },
		{ "apps.immich.redis.memoryLimit", a->redis.memory_limit },
		{ "apps.immich.redis.cpuRequest", a->redis.cpu_request },
		{ "apps.immich.redis.secret", a->redis.secret },
		{ "apps.immich.storage.photos.name", a->storage.photos.name },
		{ "apps.immich.storage.library.name", a->storage.library.name },
		{ "apps.immich.storage.driver", a->storage.driver },
		{ "apps.immich.storage.fileMode", a->storage.file_mode },
		{ "apps.immich.storage.dirMode", a->storage.dir_mode },
		{ "apps.immich.storage.reclaimPolicy", a->storage.reclaim_policy },
		{ "apps.immich.storage.accessMode", a->storage.access_mode },
		{ "apps.immich.route.path", a->route.path },
		{ "apps.immich.route.service", a->route.service },
		{ "nas.address", m->nas.address },
		{ "nas.share", m->nas.share },
		{ "nas.photos", m->nas.photos },
		{ "nas.library", m->nas.library },
		{ "platform.smbCsi.namespace", m->platform.smb_csi.namespace },
		{ "platform.smbCsi.credentialsName", m->platform.smb_credentials_name },
		{ "platform.gateway.gatewayNamespace", m->platform.gateway_namespace },
	};
	bool ok = true;

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		if (!req[i].value) {
			render_problem(c, "%s is not set: the Immich stack needs it", req[i].key);
			ok = false;
		}
	if (!a->storage.photos.capacity.text && !m->nas.capacity.text) {
		render_problem(c, "apps.immich.storage.photos.capacity (or nas.capacity) is not set");
		ok = false;
	}
	if (!a->storage.library.capacity.text && !m->nas.capacity.text) {
		render_problem(c, "apps.immich.storage.library.capacity (or nas.capacity) is not set");
		ok = false;
	}
	return ok;
}

int render_app(struct render_ctx *c, struct app_err *e)
{
	const struct model_immich *a = &c->m->apps.immich;
	(void)e;
	if (!a->enabled)
		return 0;
	if (!app_required(c))
		return 0;
	app_ks(c);
	app_helmrelease(c);
	app_pg(c);
	object_store(c, &a->database.primary, "s3-backup.yaml", "apps.immich.database.primary");
	object_store(c, &a->database.secondary, "s3-backup-minio.yaml", "apps.immich.database.secondary");
	app_pg_restore(c);
	app_redis(c);
	app_volumes(c);
	app_secrets(c);
	app_route(c);
	render_kustomization(c, "apps/" APP "/app", NULL, 0);
	/* apps/immich/kustomization.yaml: the namespace and the Flux Kustomization, not app/ */
	render_kustomization(c, "apps/" APP, NULL, 0);
	if (!c->o->only_app) {
		static const char *const apps[] = { APP };
		render_kustomization(c, "apps", apps, 1);
	}
	return 0;
}
