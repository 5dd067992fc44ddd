/* What Flux would verify before anything is applied (the reconcile check),
 * the dependency graph of the Flux Kustomizations, and the cluster-secrets
 * Secret Talos creates at first boot.
 *
 * Flux semantics relied on (fluxcd/kustomize-controller docs/spec/v1/
 * kustomizations.md): a Kustomization fails when its path has no
 * kustomization.yaml; a substituteFrom source that is missing fails it unless
 * `optional: true` (then it counts as empty); later sources overwrite earlier
 * ones; dependsOn waits for the named Kustomizations to be Ready. A kind is
 * applied only when its CRD exists, so every object's Kustomization must
 * depend, directly or through others, on the one that installs its CRD. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/yemit.h"
#include "profile/model.h"
#include "profile/secret.h"
#include "render/render.h"

static void problem(struct render_tree *t, char *p)
{
	t->problems = xrealloc(t->problems, (t->n_problems + 1) * sizeof(*t->problems));
	t->problems[t->n_problems++] = p;
}

static const struct render_ks *ks_by_name(const struct render_tree *t, const char *name)
{
	for (size_t i = 0; i < t->n_ks; i++)
		if (strcmp(t->ks[i].name, name) == 0)
			return &t->ks[i];
	return NULL;
}

/* The Kustomization that applies file (relative to nothing: a tree path):
 * the one whose dir holds it; the root one otherwise. */
static const struct render_ks *ks_of_file(const struct render_tree *t, const char *path)
{
	const struct render_ks *best = NULL;
	size_t rl = strlen(t->root), best_len = 0;

	if (strncmp(path, t->root, rl) != 0 || path[rl] != '/')
		return NULL;
	path += rl + 1;
	for (size_t i = 0; i < t->n_ks; i++) {
		const char *d = t->ks[i].dir;
		size_t n = strlen(d);
		if (strcmp(d, ".") == 0) {
			if (!best)
				best = &t->ks[i];
			continue;
		}
		if (strncmp(path, d, n) == 0 && path[n] == '/' && n > best_len) {
			best = &t->ks[i];
			best_len = n;
		}
	}
	return best;
}

/* from waits for `to`, directly or through the Kustomizations it waits for. */
static bool depends_on(const struct render_tree *t, const struct render_ks *from, const char *to,
		       size_t depth)
{
	if (depth > t->n_ks)
		return false; /* a cycle */
	for (size_t i = 0; i < from->n_deps; i++) {
		const struct render_ks *d;
		if (strcmp(from->deps[i], to) == 0)
			return true;
		d = ks_by_name(t, from->deps[i]);
		if (d && depends_on(t, d, to, depth + 1))
			return true;
	}
	return false;
}

static char *api_group(const char *api)
{
	const char *slash = strchr(api, '/');

	return slash ? xstrndup(api, (size_t)(slash - api)) : xstrdup("");
}

/* Kinds every cluster has, or Flux has from its install manifest. */
static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

static bool builtin_group(const char *group)
{
	/* core (""), apps, batch...; *.k8s.io except the Gateway API's CRDs; Flux's own */
	if (strcmp(group, "gateway.networking.k8s.io") == 0)
		return false;
	return !strchr(group, '.') || ends_with(group, ".k8s.io") || ends_with(group, ".toolkit.fluxcd.io");
}

static void check_kind(struct render_tree *t, const char *file, const char *api, const char *kind,
		       const char *what)
{
	const struct render_ks *k = ks_of_file(t, file);
	char *group = api_group(api);
	const struct render_crd *crd = NULL;

	if (builtin_group(group) || t->only_app || !k)
		goto out;
	for (size_t i = 0; i < t->n_crds && !crd; i++)
		if (strcmp(t->crds[i].api_group, group) == 0 && strcmp(t->crds[i].kind, kind) == 0)
			crd = &t->crds[i];
	if (!crd) {
		problem(t, xasprintf("%s (%s): no component is known to install the CRD of %s/%s", what, file,
				     group, kind));
	} else if (!crd->ks) {
		problem(t, xasprintf("%s (%s) needs the CRD of %s, but %s is disabled: enable it or remove "
				     "what uses it",
				     what, file, kind, crd->key));
	} else if (strcmp(crd->ks, k->name) != 0 && !depends_on(t, k, crd->ks, 0)) {
		problem(t, xasprintf("Kustomization %s applies %s (%s) but does not wait for '%s', which "
				     "installs its CRD: add '%s' to %s",
				     k->name, what, file, crd->ks, crd->ks,
				     k->deps_key[0] ? k->deps_key : "its dependsOn"));
	}
out:
	free(group);
}

void render_tree_check_reconcile(struct render_tree *t)
{
	/* every Flux path is a directory with a kustomization.yaml */
	for (size_t i = 0; i < t->n_ks; i++) {
		const struct render_ks *k = &t->ks[i];
		char *want = strcmp(k->dir, ".") == 0
				 ? xasprintf("%s/kustomization.yaml", t->root)
				 : xasprintf("%s/%s/kustomization.yaml", t->root, k->dir);
		bool found = false;

		for (size_t j = 0; j < t->n_files && !found; j++)
			found = strcmp(t->files[j].path, want) == 0;
		if (!found && !(t->only_app && strncmp(k->dir, "apps/", 5) != 0))
			problem(t, xasprintf("Kustomization %s (%s) reconciles '%s', which has no "
					     "kustomization.yaml",
					     k->name, t->files[k->file].path, k->dir));
		if (!k->timed)
			problem(t,
				xasprintf("Kustomization %s (%s) has no retryInterval or timeout: a "
					  "failure would wait the whole interval; set gitops.retryInterval "
					  "and gitops.timeout",
					  k->name, t->files[k->file].path));
		free(want);
	}
	/* every kind's CRD comes from a Kustomization this one waits for */
	for (size_t i = 0; i < t->n_objs; i++) {
		const struct render_obj *o = &t->objs[i];
		char *what = o->ns[0] ? xasprintf("%s %s/%s", o->kind, o->ns, o->name)
				      : xasprintf("%s %s", o->kind, o->name);
		check_kind(t, t->files[o->file].path, o->api, o->kind, what);
		free(what);
	}
	for (size_t i = 0; i < t->n_uses; i++) {
		const struct render_use *u = &t->uses[i];
		char *what = xasprintf("%s (from %s)", u->kind, u->key);
		check_kind(t, t->files[u->file].path, u->api, u->kind, what);
		free(what);
	}
}

/* ---- the graph ----------------------------------------------------------- */

static void crds_of(const struct render_tree *t, const char *ks, struct buf *out)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_crds; i++)
		if (t->crds[i].ks && strcmp(t->crds[i].ks, ks) == 0)
			buf_printf(out, "%s%s", n++ ? ", " : "", t->crds[i].kind);
	if (!n)
		buf_puts(out, "-");
}

void render_graph(const struct render_tree *t, struct buf *out)
{
	buf_puts(out, "| Kustomization | waits for (dependsOn) | brings the CRDs of | Ready means |\n"
		      "|---|---|---|---|\n");
	for (size_t i = 0; i < t->n_ks; i++) {
		const struct render_ks *k = &t->ks[i];

		buf_printf(out, "| `%s` | ", k->name);
		for (size_t j = 0; j < k->n_deps; j++)
			buf_printf(out, "%s`%s`", j ? ", " : "", k->deps[j]);
		if (!k->n_deps)
			buf_puts(out, "-");
		buf_puts(out, " | ");
		crds_of(t, k->name, out);
		buf_printf(out, " | %s |\n", k->waits ? k->waits : "every object applied is Ready (wait)");
	}
}

/* ---- cluster-secrets ------------------------------------------------------ */

int render_bootstrap_secrets(const struct model *m, struct buf *out, struct app_err *e)
{
	const struct kvlist *sv = &m->site.secret_vars;
	struct secret *vals;
	struct yval *doc, *data;
	int r = 0;

	if (!sv->n)
		return 0;
	if (!m->gitops.secrets_name || !m->gitops.flux.namespace)
		return app_err_set(e, -EINVAL,
				   "gitops.secretsName and gitops.flux.namespace must be set "
				   "(site.secretVars become that Secret)");
	vals = xcalloc(sv->n, sizeof(*vals));
	doc = y_map();
	y_set(doc, "apiVersion", y_str("v1"));
	y_set(doc, "kind", y_str("Secret"));
	y_set(y_at(doc, "metadata"), "name", y_str(m->gitops.secrets_name));
	y_set(y_at(doc, "metadata"), "namespace", y_str(m->gitops.flux.namespace));
	y_set(doc, "type", y_str("Opaque"));
	data = y_at(doc, "stringData");
	for (size_t i = 0; i < sv->n && r == 0; i++) {
		r = secret_read(m, sv->v[i].value, 1, &vals[i], e);
		if (r < 0)
			app_err_prefix(e, "site.secretVars.%s", sv->v[i].key);
		else
			y_set(data, sv->v[i].key, y_str(vals[i].data));
	}
	if (r == 0) {
		if (out->len && out->data[out->len - 1] != '\n')
			buf_puts(out, "\n");
		if (out->len)
			buf_puts(out, "---\n");
		r = y_emit(&doc, 1, out, e);
	}
	y_free(doc);
	for (size_t i = 0; i < sv->n; i++)
		secret_free(&vals[i]);
	free(vals);
	return r;
}
