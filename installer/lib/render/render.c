/* The render tree: files of documents, the objects they define and the
 * references between them; consistency check; emit. The Flux wiring (shared
 * with Talos bootstrap) is built here too; the platform and the Immich app
 * are in render_platform.c, render_network.c and render_app.c, the reconcile
 * check in render_check.c, the output directory in render_output.c. */
#include "render/render.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "profile/model.h"
#include "base/util.h"
#include "base/yemit.h"

/* Namespaces every cluster has: never rendered, always there. */
static const char *const builtin_namespaces[] = { "default", "kube-system", "kube-public",
						  "kube-node-lease" };

/* ---- building ----------------------------------------------------------- */

static size_t file_index(struct render_tree *t, const char *path)
{
	for (size_t i = 0; i < t->n_files; i++)
		if (strcmp(t->files[i].path, path) == 0)
			return i;
	t->files = xrealloc(t->files, (t->n_files + 1) * sizeof(*t->files));
	memset(&t->files[t->n_files], 0, sizeof(*t->files));
	t->files[t->n_files].path = xstrdup(path);
	return t->n_files++;
}

void render_file(struct render_ctx *c, const char *fmt, ...)
{
	va_list ap;
	char *rel, *path;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	path = xasprintf("%s/%s", c->t->root, rel);
	c->file = file_index(c->t, path);
	free(path);
	free(rel);
}

void render_doc(struct render_ctx *c, struct yval *doc)
{
	struct render_file *f = &c->t->files[c->file];

	f->docs = xrealloc(f->docs, (f->n_docs + 1) * sizeof(*f->docs));
	f->docs[f->n_docs++] = doc;
}

void render_problem(struct render_ctx *c, const char *fmt, ...)
{
	struct render_tree *t = c->t;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		abort();
	va_end(ap);
	t->problems = xrealloc(t->problems, (t->n_problems + 1) * sizeof(*t->problems));
	t->problems[t->n_problems++] = p;
}

static bool is_builtin_namespace(const char *ns)
{
	for (size_t i = 0; i < sizeof(builtin_namespaces) / sizeof(builtin_namespaces[0]); i++)
		if (strcmp(ns, builtin_namespaces[i]) == 0)
			return true;
	return false;
}

struct yval *render_obj(struct render_ctx *c, const char *api_version, const char *kind, const char *ns,
			const char *name)
{
	struct render_tree *t = c->t;
	struct yval *doc = y_map(), *meta;
	struct render_obj *o;

	y_set(doc, "apiVersion", y_str(api_version));
	y_set(doc, "kind", y_str(kind));
	meta = y_at(doc, "metadata");
	y_set(meta, "name", y_str(name ? name : ""));
	if (ns)
		y_set(meta, "namespace", y_str(ns));
	render_doc(c, doc);
	t->objs = xrealloc(t->objs, (t->n_objs + 1) * sizeof(*t->objs));
	o = &t->objs[t->n_objs];
	o->api = xstrdup(api_version);
	o->kind = xstrdup(kind);
	o->ns = xstrdup(ns ? ns : "");
	o->name = xstrdup(name ? name : "");
	o->file = c->file;
	c->obj = t->n_objs++;
	if (ns && !is_builtin_namespace(ns))
		render_ref(c, "Namespace", "", ns, "namespace",
			   !c->m->apps.immich.namespace || strcmp(ns, c->m->apps.immich.namespace) != 0);
	return doc;
}

void render_ref(struct render_ctx *c, const char *kinds, const char *ns, const char *name, const char *key,
		bool outside)
{
	struct render_tree *t = c->t;
	struct render_ref *r;

	t->refs = xrealloc(t->refs, (t->n_refs + 1) * sizeof(*t->refs));
	r = &t->refs[t->n_refs++];
	r->from = c->obj;
	r->kinds = xstrdup(kinds);
	r->ns = xstrdup(ns ? ns : "");
	r->name = xstrdup(name ? name : "");
	r->key = xstrdup(key);
	r->outside = outside;
}

void render_kustomization(struct render_ctx *c, const char *dir, const char *const *subdirs, size_t n)
{
	struct render_tree *t = c->t;
	bool top = strcmp(dir, ".") == 0;
	char *prefix = top ? xasprintf("%s/", t->root) : xasprintf("%s/%s/", t->root, dir);
	size_t plen = strlen(prefix);
	struct yval *doc = y_map(), *res = y_seq();

	for (size_t i = 0; i < t->n_files; i++) {
		const char *p = t->files[i].path;
		if (strncmp(p, prefix, plen) == 0 && !strchr(p + plen, '/') &&
		    strcmp(p + plen, "kustomization.yaml") != 0)
			y_push(res, y_str(p + plen));
	}
	for (size_t i = 0; i < n; i++)
		y_push(res, y_str(subdirs[i]));
	y_set(doc, "apiVersion", y_str("kustomize.config.k8s.io/v1beta1"));
	y_set(doc, "kind", y_str("Kustomization"));
	y_set(doc, "resources", res);
	if (top)
		render_file(c, "kustomization.yaml");
	else
		render_file(c, "%s/kustomization.yaml", dir);
	render_doc(c, doc);
	free(prefix);
}

static const char *flux_ns(const struct model *m)
{
	return m->gitops.flux.namespace;
}

static struct yval *subst_source(const char *kind, const char *name, bool optional)
{
	struct yval *e = y_map();

	y_set(e, "kind", y_str(kind));
	y_set(e, "name", y_str(name));
	if (optional)
		y_set(e, "optional", y_bool(true));
	return e;
}

static bool is_ours(const char *name, const char *ours)
{
	return ours && strcmp(name, ours) == 0;
}

/* postBuild.substituteFrom: what the site may add later first (optional:
 * Flux treats a missing one as empty), ours last (Flux: later sources
 * overwrite earlier ones) and required: the ConfigMap of site.vars and the
 * Secret of site.secretVars that Talos creates at first boot. */
void render_flux_common(struct render_ctx *c, struct yval *spec)
{
	const struct model *m = c->m;
	const struct model_gitops *g = &m->gitops;
	struct yval *sub = y_seq();

	y_set(spec, "prune", y_bool(true));
	y_set(y_at(spec, "sourceRef"), "kind", y_str("GitRepository"));
	y_set(y_at(spec, "sourceRef"), "name", y_str(g->repository));
	y_set(y_at(spec, "sourceRef"), "namespace", y_str(flux_ns(m)));
	render_ref(c, "GitRepository", flux_ns(m), g->repository, "gitops.repository", true);
	if (g->sops_secret) {
		y_set(y_at(spec, "decryption"), "provider", y_str("sops"));
		y_set(y_at(spec, "decryption.secretRef"), "name", y_str(g->sops_secret_name));
		render_ref(c, "Secret", flux_ns(m), g->sops_secret_name, "gitops.sopsSecretName", true);
	}
	for (size_t i = 0; i < g->substitute_configmaps.n; i++)
		if (!is_ours(g->substitute_configmaps.v[i], g->settings_configmap))
			y_push(sub, subst_source("ConfigMap", g->substitute_configmaps.v[i], true));
	for (size_t i = 0; i < g->substitute_secrets.n; i++)
		if (!is_ours(g->substitute_secrets.v[i], g->secrets_name))
			y_push(sub, subst_source("Secret", g->substitute_secrets.v[i], true));
	y_push(sub, subst_source("ConfigMap", g->settings_configmap, false));
	render_ref(c, "ConfigMap", flux_ns(m), g->settings_configmap, "gitops.settingsConfigMap", true);
	if (m->site.secret_vars.n) {
		y_push(sub, subst_source("Secret", g->secrets_name, false));
		render_ref(c, "Secret", flux_ns(m), g->secrets_name, "gitops.secretsName", true);
	}
	y_set(y_at(spec, "postBuild"), "substituteFrom", sub);
}

static void ks_record(struct render_ctx *c, const char *name, const char *dir, const char *const *deps,
		      size_t n_deps, const char *deps_key)
{
	struct render_tree *t = c->t;
	struct render_ks *k;

	t->ks = xrealloc(t->ks, (t->n_ks + 1) * sizeof(*t->ks));
	k = &t->ks[t->n_ks++];
	memset(k, 0, sizeof(*k));
	k->name = xstrdup(name ? name : "");
	k->dir = xstrdup(dir);
	k->deps = xcalloc(n_deps ? n_deps : 1, sizeof(*k->deps));
	for (size_t i = 0; i < n_deps; i++)
		k->deps[i] = xstrdup(deps[i]);
	k->n_deps = n_deps;
	k->deps_key = xstrdup(deps_key ? deps_key : "");
	k->file = c->file;
}

struct yval *render_flux_ks(struct render_ctx *c, const char *name, const char *dir, const char *target_ns,
			    const char *const *deps, size_t n_deps, const char *deps_key,
			    const char *interval, const char *retry, const char *timeout)
{
	const struct model *m = c->m;
	struct yval *doc, *spec, *seq = y_seq();
	char *path;

	doc = render_obj(c, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", flux_ns(m), name);
	spec = y_at(doc, "spec");
	if (target_ns)
		y_set(spec, "targetNamespace", y_str(target_ns));
	for (size_t i = 0; i < n_deps; i++) {
		y_push(seq, y_set(y_map(), "name", y_str(deps[i])));
		render_ref(c, "Kustomization", flux_ns(m), deps[i], deps_key, true);
	}
	if (y_len(seq))
		y_set(spec, "dependsOn", seq);
	else
		y_free(seq);
	path =
	    strcmp(dir, ".") == 0 ? model_expand(m, m->gitops.path) : xasprintf("%s/%s", m->gitops.path, dir);
	y_set(spec, "path", y_str(path));
	free(path);
	y_set(spec, "interval", y_str(interval));
	retry = retry ? retry : m->gitops.retry_interval;
	timeout = timeout ? timeout : m->gitops.timeout;
	y_set(spec, "retryInterval", y_str(retry));
	y_set(spec, "timeout", y_str(timeout));
	if (strcmp(dir, ".") != 0)
		y_set(spec, "wait", y_bool(true));
	render_flux_common(c, spec);
	ks_record(c, name, dir, deps, n_deps, deps_key);
	c->t->ks[c->t->n_ks - 1].timed = retry && timeout;
	return spec;
}

void render_ks_waits(struct render_ctx *c, const char *fmt, ...)
{
	struct render_ks *k = &c->t->ks[c->t->n_ks - 1];
	va_list ap;
	char *w;

	va_start(ap, fmt);
	if (vasprintf(&w, fmt, ap) < 0)
		abort();
	va_end(ap);
	free(k->waits);
	k->waits = w;
}

void render_namespace(struct render_ctx *c, const char *ns, const char *pod_security)
{
	static const char *const modes[] = { "enforce", "audit", "warn" };
	struct yval *doc = render_obj(c, "v1", "Namespace", NULL, ns), *labels;

	/* removing a component from the profile must not delete its data with the namespace */
	y_set(y_at(doc, "metadata.labels"), "kustomize.toolkit.fluxcd.io/prune", y_str("disabled"));
	labels = y_at(doc, "metadata.labels");
	for (size_t i = 0; pod_security && i < sizeof(modes) / sizeof(modes[0]); i++) {
		char *k = xasprintf("pod-security.kubernetes.io/%s", modes[i]);
		y_set(labels, k, y_str(pod_security));
		free(k);
	}
}

void render_use(struct render_ctx *c, const char *api, const char *kind, const char *key)
{
	struct render_tree *t = c->t;
	struct render_use *u;

	t->uses = xrealloc(t->uses, (t->n_uses + 1) * sizeof(*t->uses));
	u = &t->uses[t->n_uses++];
	u->file = c->file;
	u->api = xstrdup(api);
	u->kind = xstrdup(kind);
	u->key = xstrdup(key);
}

void render_crds(struct render_ctx *c, const char *kinds, const char *ks, const char *key)
{
	struct render_tree *t = c->t;

	for (const char *p = kinds; p && *p;) {
		const char *bar = strchr(p, '|'), *end = bar ? bar : p + strlen(p);
		const char *slash = memchr(p, '/', (size_t)(end - p));
		struct render_crd *d;

		if (!slash)
			abort(); /* table bug: "group/Kind" */
		t->crds = xrealloc(t->crds, (t->n_crds + 1) * sizeof(*t->crds));
		d = &t->crds[t->n_crds++];
		d->api_group = xstrndup(p, (size_t)(slash - p));
		d->kind = xstrndup(slash + 1, (size_t)(end - slash - 1));
		d->ks = ks ? xstrdup(ks) : NULL;
		d->key = xstrdup(key);
		p = bar ? bar + 1 : NULL;
	}
}

void render_boot(struct render_ctx *c, const char *kind, const char *ns, const char *name)
{
	struct render_tree *t = c->t;

	if (!name)
		return;
	t->boot = xrealloc(t->boot, (t->n_boot + 1) * sizeof(*t->boot));
	t->boot[t->n_boot++] = xasprintf("%s %s/%s", kind, ns ? ns : "", name);
}

void render_helmrepository(struct render_ctx *c, const struct helm_chart *chart, const char *key)
{
	struct render_tree *t = c->t;
	size_t saved_file = c->file, saved_obj = c->obj;
	struct yval *doc, *spec;
	char *path;

	if (c->o->only_app)
		return;
	path = xasprintf("%s/flux/repositories/%s.yaml", t->root, chart->name);
	for (size_t i = 0; i < t->n_files; i++)
		if (strcmp(t->files[i].path, path) == 0) {
			free(path);
			return; /* the same chart twice: one repository */
		}
	free(path);
	render_file(c, "flux/repositories/%s.yaml", chart->name);
	doc = render_obj(c, "source.toolkit.fluxcd.io/v1", "HelmRepository", flux_ns(c->m), chart->name);
	spec = y_at(doc, "spec");
	y_set(spec, "interval", y_str(c->m->gitops.interval));
	if (chart->repository && strncmp(chart->repository, "oci://", 6) == 0)
		y_set(spec, "type", y_str("oci"));
	y_set(spec, "url", y_str(chart->repository));
	if (!chart->repository)
		render_problem(c, "%s.repository is not set (chart '%s')", key, chart->name);
	c->file = saved_file;
	c->obj = saved_obj;
}

struct yval *render_helmrelease(struct render_ctx *c, const char *ns, const char *name, const char *interval,
				const struct helm_chart *chart)
{
	struct yval *doc = render_obj(c, "helm.toolkit.fluxcd.io/v2", "HelmRelease", ns, name);
	struct yval *spec = y_at(doc, "spec"), *cs;

	y_set(spec, "interval", y_str(interval));
	cs = y_at(spec, "chart.spec");
	y_set(cs, "chart", y_str(chart->name));
	y_set(cs, "version", y_str(chart->version));
	y_set(y_at(cs, "sourceRef"), "kind", y_str("HelmRepository"));
	y_set(y_at(cs, "sourceRef"), "name", y_str(chart->name));
	y_set(y_at(cs, "sourceRef"), "namespace", y_str(flux_ns(c->m)));
	return doc;
}

/* The objects Flux needs to pull the repository by itself: rendered into
 * flux/ of the tree and, unchanged, into Talos inlineManifests. */
static void render_flux_wiring(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct model_gitops *g = &m->gitops;
	struct yval *doc, *spec, *data;

	render_file(c, "flux/namespace.yaml");
	render_namespace(c, flux_ns(m), NULL);

	render_file(c, "flux/gitrepository.yaml");
	doc = render_obj(c, "source.toolkit.fluxcd.io/v1", "GitRepository", flux_ns(m), g->repository);
	spec = y_at(doc, "spec");
	y_set(spec, "interval", y_str(g->interval));
	y_set(spec, "url", y_str(g->url));
	y_set(y_at(spec, "ref"), "branch", y_str(g->branch));
	if (g->credentials_secret) {
		/* the in-cluster Secret carries the name of the profile's secret entry */
		y_set(y_at(spec, "secretRef"), "name", y_str(g->credentials_name));
	}
	if (!g->url)
		render_problem(c, "gitops.url is not set: Flux cannot pull the repository");

	render_file(c, "flux/cluster.yaml");
	render_flux_ks(c, m->gitops.root_kustomization, ".", NULL, NULL, 0, NULL, g->interval, NULL, NULL);
	render_ks_waits(c, "the platform and app Kustomizations applied");

	render_file(c, "flux/cluster-settings.yaml");
	doc = render_obj(c, "v1", "ConfigMap", flux_ns(m), g->settings_configmap);
	data = y_at(doc, "data");
	for (size_t i = 0; i < m->site.vars.n; i++)
		y_set(data, m->site.vars.v[i].key, y_str(m->site.vars.v[i].value));
}

/* What Talos creates at first boot beside the Flux wiring (talos_config.c's
 * bootstrap secrets and render_bootstrap_secrets()). */
static void render_boot_objects(struct render_ctx *c)
{
	const struct model *m = c->m;
	const struct model_platform *p = &m->platform;

	if (m->site.secret_vars.n)
		render_boot(c, "Secret", flux_ns(m), m->gitops.secrets_name);
	if (m->gitops.sops_secret)
		render_boot(c, "Secret", flux_ns(m), m->gitops.sops_secret_name);
	if (m->gitops.credentials_secret)
		render_boot(c, "Secret", flux_ns(m), m->gitops.credentials_name);
	if (p->onepassword.enabled && p->onepassword_credentials_secret)
		render_boot(c, "Secret", p->onepassword.namespace, p->onepassword_credentials_name);
	if (p->onepassword.enabled && p->onepassword_token_secret)
		render_boot(c, "Secret", p->onepassword.namespace, p->onepassword_token_name);
	if (p->smb_csi.enabled)
		render_boot(c, "Secret", p->smb_csi.namespace, p->smb_credentials_name);
}

/* "./clusters/${CLUSTER_NAME}" -> "clusters/talos-robbinsdale"; NULL when
 * the path would leave the output directory. */
static char *tree_root(const struct model *m, struct app_err *e)
{
	char *x, *p, *r;

	if (!m->gitops.path) {
		app_err_set(e, -EINVAL, "gitops.path is not set");
		return NULL;
	}
	x = model_expand(m, m->gitops.path);
	if (x[0] == '/') {
		app_err_set(e, -EINVAL, "gitops.path '%s' must be relative to the repository",
			    m->gitops.path);
		free(x);
		return NULL;
	}
	p = x;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	r = xstrdup(p);
	while (*r && r[strlen(r) - 1] == '/')
		r[strlen(r) - 1] = '\0';
	if (!*r || strstr(r, "${") || strcmp(r, "..") == 0 || strncmp(r, "../", 3) == 0 ||
	    strstr(r, "/../") || (strlen(r) >= 3 && strcmp(r + strlen(r) - 3, "/..") == 0)) {
		app_err_set(e, -EINVAL,
			    "gitops.path '%s' expands to '%s': expected a directory inside the repository",
			    m->gitops.path, p);
		free(r);
		r = NULL;
	}
	free(x);
	return r;
}

static int tree_init(const struct model *m, const struct render_opts *o, struct render_tree *t,
		     struct app_err *e)
{
	memset(t, 0, sizeof(*t));
	t->root = tree_root(m, e);
	if (!t->root)
		return -EINVAL;
	t->only_app = o->only_app;
	if (!m->gitops.flux.namespace || !m->gitops.repository || !m->gitops.settings_configmap)
		return app_err_set(
		    e, -EINVAL,
		    "gitops.flux.namespace, gitops.repository and gitops.settingsConfigMap must be set");
	return 0;
}

int render_tree_build(const struct model *m, const struct render_opts *o, struct render_tree *t,
		      struct app_err *e)
{
	static const struct render_opts none = { 0 };
	struct render_ctx c = { .m = m, .o = o ? o : &none, .t = t };
	static const char *const top[] = { "flux", "platform", "apps" };
	int r;

	r = tree_init(m, c.o, t, e);
	if (r < 0)
		return r;
	render_boot_objects(&c);
	if (!c.o->only_app) {
		render_flux_wiring(&c);
		r = render_platform(&c, e);
		if (r < 0)
			return r;
	}
	r = render_app(&c, e);
	if (r < 0)
		return r;
	if (!c.o->only_app) {
		static const char *const repos[] = { "repositories" };
		char **list = NULL;
		size_t n = 0;

		/* flux/repositories/kustomization.yaml and flux/kustomization.yaml */
		render_kustomization(&c, "flux/repositories", NULL, 0);
		render_kustomization(&c, "flux", repos, 1);
		/* platform/kustomization.yaml: every component directory */
		for (size_t i = 0; i < t->n_files; i++) {
			const char *p = t->files[i].path + strlen(t->root) + 1, *s;
			if (strncmp(p, "platform/", 9) != 0 || !(s = strchr(p + 9, '/')) ||
			    strcmp(s, "/kustomization.yaml") != 0)
				continue;
			list = xrealloc(list, (n + 1) * sizeof(*list));
			list[n++] = xstrndup(p + 9, (size_t)(s - p - 9));
		}
		if (n)
			render_kustomization(&c, "platform", (const char *const *)list, n);
		for (size_t i = 0; i < n; i++)
			free(list[i]);
		free(list);
		/* only the directories that have something in them */
		{
			const char *present[3];
			size_t np = 0;

			for (size_t i = 0; i < 3; i++) {
				char *k = xasprintf("%s/%s/kustomization.yaml", t->root, top[i]);
				for (size_t j = 0; j < t->n_files; j++)
					if (strcmp(t->files[j].path, k) == 0) {
						present[np++] = top[i];
						break;
					}
				free(k);
			}
			render_kustomization(&c, ".", present, np);
		}
	}
	return 0;
}

/* ---- consistency -------------------------------------------------------- */

static bool kind_in(const char *kind, const char *kinds)
{
	size_t n = strlen(kind);

	for (const char *p = kinds; p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, kind, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static void obj_id(const struct render_obj *o, char *out, size_t size)
{
	if (o->ns[0])
		snprintf(out, size, "%s %s/%s", o->kind, o->ns, o->name);
	else
		snprintf(out, size, "%s %s", o->kind, o->name);
}

static void add_problem(struct render_tree *t, char *p)
{
	t->problems = xrealloc(t->problems, (t->n_problems + 1) * sizeof(*t->problems));
	t->problems[t->n_problems++] = p;
}

int render_tree_check(struct render_tree *t, struct app_err *e)
{
	char a[512], b[512];

	for (size_t i = 0; i < t->n_objs; i++)
		for (size_t j = i + 1; j < t->n_objs; j++) {
			const struct render_obj *x = &t->objs[i], *y = &t->objs[j];
			if (strcmp(x->kind, y->kind) != 0 || strcmp(x->ns, y->ns) != 0 ||
			    strcmp(x->name, y->name) != 0)
				continue;
			obj_id(x, a, sizeof(a));
			add_problem(t, xasprintf("%s is defined twice: in %s and in %s", a,
						 t->files[x->file].path, t->files[y->file].path));
		}
	for (size_t i = 0; i < t->n_refs; i++) {
		const struct render_ref *r = &t->refs[i];
		const struct render_obj *from = &t->objs[r->from];
		bool found = false;
		char *kinds;

		if (r->outside && t->only_app)
			continue;
		for (size_t j = 0; j < t->n_objs && !found; j++) {
			const struct render_obj *o = &t->objs[j];
			found = kind_in(o->kind, r->kinds) && strcmp(o->ns, r->ns) == 0 &&
				strcmp(o->name, r->name) == 0;
		}
		for (size_t j = 0; j < t->n_boot && !found; j++) {
			const char *sp = strchr(t->boot[j], ' ');
			char *id = xasprintf("%s/%s", r->ns, r->name);
			char *kind = xstrndup(t->boot[j], (size_t)(sp - t->boot[j]));
			found = kind_in(kind, r->kinds) && strcmp(sp + 1, id) == 0;
			free(id);
			free(kind);
		}
		if (found)
			continue;
		obj_id(from, a, sizeof(a));
		if (r->ns[0])
			snprintf(b, sizeof(b), "%s/%s", r->ns, r->name);
		else
			snprintf(b, sizeof(b), "%s", r->name);
		kinds = xstrdup(r->kinds);
		for (char *bar; (bar = strchr(kinds, '|'));) {
			char *k2;
			*bar = '\0';
			k2 = xasprintf("%s or %s", kinds, bar + 1);
			free(kinds);
			kinds = k2;
		}
		add_problem(t,
			    xasprintf("%s (%s) refers to %s '%s' (set by %s), but no such object is rendered",
				      a, t->files[from->file].path, kinds, b, r->key));
		free(kinds);
	}
	render_tree_check_reconcile(t);
	if (t->n_problems == 0)
		return 0;
	if (t->n_problems == 1)
		return app_err_set(e, -EINVAL, "%s", t->problems[0]);
	return app_err_set(e, -EINVAL, "%s (and %zu more problem%s)", t->problems[0], t->n_problems - 1,
			   t->n_problems == 2 ? "" : "s");
}

/* ---- emitting ----------------------------------------------------------- */

int render_tree_emit(struct render_tree *t, struct app_err *e)
{
	for (size_t i = 0; i < t->n_files; i++) {
		struct render_file *f = &t->files[i];
		struct buf b = { 0 };
		int r;

		buf_puts(&b, RENDER_MARKER "\n");
		r = y_emit(f->docs, f->n_docs, &b, e);
		if (r < 0) {
			buf_free(&b);
			return app_err_prefix(e, "%s", f->path);
		}
		free(f->text);
		f->text = b.data;
		f->len = b.len;
	}
	return 0;
}

static bool var_defined(const struct model *m, const char *name, size_t len)
{
	const struct kvlist *lists[] = { &m->site.vars, &m->site.secret_vars };

	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++)
			if (strlen(lists[l]->v[i].key) == len && strncmp(lists[l]->v[i].key, name, len) == 0)
				return true;
	return false;
}

int render_tree_check_vars(const struct model *m, struct render_tree *t, struct app_err *e)
{
	size_t before = t->n_problems;

	for (size_t i = 0; i < t->n_files; i++) {
		const char *s = t->files[i].text;

		for (const char *p = s ? strstr(s, "${") : NULL; p; p = strstr(p + 2, "${")) {
			const char *end = strchr(p + 2, '}');

			if (p > s && p[-1] == '$')
				continue; /* $${X}: a literal ${X} */
			if (!end || var_defined(m, p + 2, (size_t)(end - p - 2)))
				continue;
			add_problem(t,
				    xasprintf("%s uses ${%.*s}, which no substitution source that will "
					      "exist defines: set site.vars.%.*s (or site.secretVars.%.*s); "
					      "Flux would substitute an empty string",
					      t->files[i].path, (int)(end - p - 2), p + 2, (int)(end - p - 2),
					      p + 2, (int)(end - p - 2), p + 2));
		}
	}
	if (t->n_problems == before)
		return 0;
	return app_err_set(e, -EINVAL, "%s", t->problems[before]);
}

int render_tree(const struct model *m, const struct render_opts *o, struct render_tree *t, struct app_err *e)
{
	int r = render_tree_build(m, o, t, e);

	if (r < 0)
		return r;
	r = render_tree_check(t, e);
	if (r < 0)
		return r;
	r = render_tree_emit(t, e);
	if (r < 0)
		return r;
	return render_tree_check_vars(m, t, e);
}

void render_tree_free(struct render_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_files; i++) {
		for (size_t j = 0; j < t->files[i].n_docs; j++)
			y_free(t->files[i].docs[j]);
		free(t->files[i].docs);
		free(t->files[i].path);
		free(t->files[i].text);
	}
	for (size_t i = 0; i < t->n_ks; i++) {
		for (size_t j = 0; j < t->ks[i].n_deps; j++)
			free(t->ks[i].deps[j]);
		free(t->ks[i].deps);
		free(t->ks[i].name);
		free(t->ks[i].dir);
		free(t->ks[i].deps_key);
		free(t->ks[i].waits);
	}
	for (size_t i = 0; i < t->n_uses; i++) {
		free(t->uses[i].api);
		free(t->uses[i].kind);
		free(t->uses[i].key);
	}
	for (size_t i = 0; i < t->n_crds; i++) {
		free(t->crds[i].api_group);
		free(t->crds[i].kind);
		free(t->crds[i].ks);
		free(t->crds[i].key);
	}
	for (size_t i = 0; i < t->n_boot; i++)
		free(t->boot[i]);
	free(t->ks);
	free(t->uses);
	free(t->crds);
	free(t->boot);
	for (size_t i = 0; i < t->n_objs; i++) {
		free(t->objs[i].api);
		free(t->objs[i].kind);
		free(t->objs[i].ns);
		free(t->objs[i].name);
	}
	for (size_t i = 0; i < t->n_refs; i++) {
		free(t->refs[i].kinds);
		free(t->refs[i].ns);
		free(t->refs[i].name);
		free(t->refs[i].key);
	}
	for (size_t i = 0; i < t->n_problems; i++)
		free(t->problems[i]);
	free(t->files);
	free(t->objs);
	free(t->refs);
	free(t->problems);
	free(t->root);
	memset(t, 0, sizeof(*t));
}

/* ---- Talos bootstrap ---------------------------------------------------- */

int render_bootstrap_manifests(const struct model *m, struct buf *out, struct app_err *e)
{
	static const struct render_opts none = { 0 };
	struct render_tree t;
	struct render_ctx c = { .m = m, .o = &none, .t = &t };
	struct yval **docs = NULL;
	size_t n = 0;
	int r;

	r = tree_init(m, &none, &t, e);
	if (r < 0) {
		render_tree_free(&t);
		return r;
	}
	render_flux_wiring(&c);
	t.only_app = true; /* no platform here: do not resolve references to it */
	if (t.n_problems) {
		r = app_err_set(e, -EINVAL, "%s", t.problems[0]);
		goto out;
	}
	for (size_t i = 0; i < t.n_files; i++)
		for (size_t j = 0; j < t.files[i].n_docs; j++) {
			docs = xrealloc(docs, (n + 1) * sizeof(*docs));
			docs[n++] = t.files[i].docs[j];
		}
	if (out->len && out->data[out->len - 1] != '\n')
		buf_puts(out, "\n");
	if (out->len)
		buf_puts(out, "---\n");
	r = y_emit(docs, n, out, e);
out:
	free(docs);
	render_tree_free(&t);
	return r;
}
