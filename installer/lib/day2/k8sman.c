/* The bootstrap manifests sync of `appliance upgrade --kubernetes`; see
 * k8sman.h for what upstream does and where. */
#include "day2/k8sman.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "base/ytree.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What the RESTMapper would find by discovery, for the kinds Talos renders
 * (controllers/k8s/manifest.go templates). */
static const struct kind {
	const char *kind, *plural;
	bool namespaced;
	enum k8sman_rollout rollout;
} KINDS[] = {
	{ "ClusterRole", "clusterroles", false, K8SMAN_NONE },
	{ "ClusterRoleBinding", "clusterrolebindings", false, K8SMAN_NONE },
	{ "ConfigMap", "configmaps", true, K8SMAN_NONE },
	{ "CustomResourceDefinition", "customresourcedefinitions", false, K8SMAN_NONE },
	{ "DaemonSet", "daemonsets", true, K8SMAN_DAEMONSET },
	{ "Deployment", "deployments", true, K8SMAN_DEPLOYMENT },
	{ "Namespace", "namespaces", false, K8SMAN_NONE },
	{ "Role", "roles", true, K8SMAN_NONE },
	{ "RoleBinding", "rolebindings", true, K8SMAN_NONE },
	{ "Secret", "secrets", true, K8SMAN_NONE },
	{ "Service", "services", true, K8SMAN_NONE },
	{ "ServiceAccount", "serviceaccounts", true, K8SMAN_NONE },
};

static const char *sval(const struct ynode *n)
{
	return n && n->type == YN_SCALAR ? n->value : NULL;
}

int k8sman_add(struct k8sman *m, const char *id, const char *yaml, size_t len, struct app_err *e)
{
	struct ytree *t = NULL;
	int r = ytree_parse(id, yaml, len, &t, e);

	if (r < 0)
		return app_err_prefix(e, "manifest resource '%s'", id);
	m->trees = xrealloc(m->trees, (m->n_trees + 1) * sizeof(*m->trees));
	m->trees[m->n_trees++] = t;
	if (!t->root)
		return 0;
	if (t->root->type != YN_SEQ)
		return app_err_set(e, -EINVAL, "manifest resource '%s': expected a list of objects", id);
	for (size_t i = 0; i < t->root->n; i++) {
		struct ynode *o = t->root->items[i];
		const char *av = sval(ynode_map_get(o, "apiVersion")), *kind = sval(ynode_map_get(o, "kind"));
		const char *name = sval(ytree_get(o, "metadata.name"));
		const char *ns = sval(ytree_get(o, "metadata.namespace"));
		const struct kind *k = NULL;
		struct k8sman_obj *x;
		const char *slash;

		if (!av || !kind || !name)
			return app_err_set(
			    e, -EINVAL,
			    "manifest resource '%s' item %zu: no apiVersion, kind or metadata.name", id, i);
		for (size_t j = 0; j < ARRAY_SIZE(KINDS) && !k; j++)
			if (strcmp(KINDS[j].kind, kind) == 0)
				k = &KINDS[j];
		if (!k)
			return app_err_set(
			    e, -EINVAL, "manifest resource '%s': kind '%s' of '%s' is not one Talos renders",
			    id, kind, name);
		if (k->namespaced && (!ns || !ns[0]))
			ns = "default";
		m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
		x = &m->v[m->n++];
		x->node = o;
		x->rollout = strncmp(av, "apps/", 5) == 0 ? k->rollout : K8SMAN_NONE;
		slash = strchr(av, '/');
		x->path = xasprintf("%s.%s/%s%s%s", av, kind, k->namespaced ? ns : "",
				    k->namespaced ? "/" : "", name);
		x->coll = k->namespaced ? xasprintf("/%s/%s/namespaces/%s/%s", slash ? "apis" : "api", av, ns,
						    k->plural)
					: xasprintf("/%s/%s/%s", slash ? "apis" : "api", av, k->plural);
		x->url = xasprintf("%s/%s", x->coll, name);
	}
	return 0;
}

void k8sman_free(struct k8sman *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].url);
		free(m->v[i].coll);
	}
	for (size_t i = 0; i < m->n_trees; i++)
		ytree_free(m->trees[i]);
	free(m->v);
	free(m->trees);
	memset(m, 0, sizeof(*m));
}

static bool json_literal(const struct ynode *n)
{
	static const char *const lit[] = { "null", "true", "false", "~" };
	regex_t re;
	bool num;

	if (!n->plain)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(lit); i++)
		if (strcmp(n->value, lit[i]) == 0)
			return true;
	if (regcomp(&re, "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?$", REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	num = regexec(&re, n->value, 0, NULL, 0) == 0;
	regfree(&re);
	return num;
}

static void emit(const struct ynode *n, const char *rv, int depth, struct buf *out)
{
	switch (n->type) {
	case YN_SCALAR:
		if (json_literal(n))
			buf_printf(out, "%s", strcmp(n->value, "~") == 0 ? "null" : n->value);
		else
			json_buf_str(out, n->value);
		return;
	case YN_SEQ:
		buf_printf(out, "[");
		for (size_t i = 0; i < n->n; i++) {
			buf_printf(out, "%s", i ? "," : "");
			emit(n->items[i], NULL, depth + 1, out);
		}
		buf_printf(out, "]");
		return;
	case YN_MAP: {
		bool first = true;

		buf_printf(out, "{");
		for (size_t i = 0; i < n->n; i++) {
			bool meta = depth == 0 && strcmp(n->keys[i]->value, "metadata") == 0;

			if (depth == 1 && rv && strcmp(n->keys[i]->value, "resourceVersion") == 0)
				continue;
			buf_printf(out, "%s", first ? "" : ",");
			first = false;
			json_buf_str(out, n->keys[i]->value);
			buf_printf(out, ":");
			emit(n->items[i], meta && n->items[i]->type == YN_MAP ? rv : NULL, depth + 1, out);
		}
		if (depth == 1 && rv) {
			buf_printf(out, "%s\"resourceVersion\":", first ? "" : ",");
			json_buf_str(out, rv);
		}
		buf_printf(out, "}");
		return;
	}
	}
}

void k8sman_json(const struct k8sman_obj *o, const char *rv, struct buf *out)
{
	emit(o->node, rv, 0, out);
}

char *k8sman_resource_version(const char *json, size_t len)
{
	struct ytree *t = NULL;
	const char *rv;
	char *ret = NULL;

	if (ytree_parse("reply", json, len, &t, NULL) < 0)
		return NULL;
	rv = sval(ytree_get(t->root, "metadata.resourceVersion"));
	if (rv)
		ret = xstrdup(rv);
	ytree_free(t);
	return ret;
}

/* sync.go getResourceDiff: what Kubernetes sets, not compared */
static bool ignored(const char *path, const char *kind)
{
	static const char *const skip[] = {
		".metadata.uid",
		".metadata.resourceVersion",
		".metadata.generation",
		".metadata.creationTimestamp",
		".metadata.deletionTimestamp",
		".metadata.deletionGracePeriodSeconds",
		".metadata.managedFields",
		".metadata.finalizers",
		".metadata.selfLink",
		".metadata.ownerReferences",
	};

	for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
		if (strcmp(path, skip[i]) == 0)
			return true;
	if (strncmp(path, ".metadata.annotations.", 22) == 0 && strstr(path + 22, "kubernetes.io/"))
		return true;
	return kind && strcmp(kind, "ServiceAccount") == 0 && strcmp(path, ".secrets") == 0;
}

struct cmp {
	const char *kind;
	struct buf *out;
	int n;
};

static void differ(struct cmp *c, const char *path, const struct ynode *a, const struct ynode *b)
{
	if (++c->n > 6)
		return;
	if (c->kind && strcmp(c->kind, "Secret") == 0) { /* its values stay out of the output */
		buf_printf(c->out, "%s: (changed)\n", path + 1);
		return;
	}
	buf_printf(c->out, "%s: %s -> %s\n", path[0] ? path + 1 : ".",
		   !a			  ? "(none)"
		   : a->type == YN_SCALAR ? a->value
					  : "{...}",
		   !b			  ? "(none)"
		   : b->type == YN_SCALAR ? b->value
					  : "{...}");
}

/* annotations left with only Kubernetes' own are none (sync.go filterAnnotations) */
static const struct ynode *annotations(const char *path, const struct ynode *n)
{
	if (!n || n->type != YN_MAP || strcmp(path, ".metadata.annotations") != 0)
		return n;
	for (size_t i = 0; i < n->n; i++)
		if (!strstr(n->keys[i]->value, "kubernetes.io/"))
			return n;
	return NULL;
}

static void compare(struct cmp *c, const char *path, const struct ynode *a, const struct ynode *b)
{
	if (ignored(path, c->kind))
		return;
	a = annotations(path, a);
	b = annotations(path, b);
	if (!a || !b || a->type != b->type) {
		if (a || b)
			differ(c, path, a, b);
		return;
	}
	if (a->type == YN_SCALAR) {
		if (strcmp(a->value, b->value) != 0)
			differ(c, path, a, b);
		return;
	}
	if (a->type == YN_SEQ) {
		for (size_t i = 0; i < a->n || i < b->n; i++) {
			char *p = xasprintf("%s[%zu]", path, i);

			compare(c, p, i < a->n ? a->items[i] : NULL, i < b->n ? b->items[i] : NULL);
			free(p);
		}
		return;
	}
	for (size_t i = 0; i < a->n; i++) {
		char *p = xasprintf("%s.%s", path, a->keys[i]->value);

		compare(c, p, a->items[i], ynode_map_get(b, a->keys[i]->value));
		free(p);
	}
	for (size_t i = 0; i < b->n; i++)
		if (!ynode_map_get(a, b->keys[i]->value)) {
			char *p = xasprintf("%s.%s", path, b->keys[i]->value);

			compare(c, p, NULL, b->items[i]);
			free(p);
		}
}

int k8sman_diff(const char *current, size_t c_len, const char *dry, size_t d_len, struct buf *out,
		struct app_err *e)
{
	struct ytree *a = NULL, *b = NULL;
	struct cmp c = { NULL, out, 0 };
	int r;

	if ((r = ytree_parse("current", current, c_len, &a, e)) < 0 ||
	    (r = ytree_parse("dry-run", dry, d_len, &b, e)) < 0)
		goto out;
	c.kind = sval(ynode_map_get(a->root, "kind"));
	compare(&c, "", a->root, b->root);
	if (c.n > 6)
		buf_printf(out, "(%d more)\n", c.n - 6);
	r = c.n;
out:
	ytree_free(a);
	ytree_free(b);
	return r;
}

static long num(const struct ynode *root, const char *path)
{
	const char *v = sval(ytree_get((struct ynode *)root, path));

	return v ? strtol(v, NULL, 10) : 0;
}

int k8sman_rolled_out(enum k8sman_rollout kind, const char *json, size_t len, char *why, size_t n,
		      struct app_err *e)
{
	struct ytree *t = NULL;
	const struct ynode *r;
	const char *name;
	long gen, obs;
	int rc;

	if ((rc = ytree_parse("reply", json, len, &t, e)) < 0)
		return rc;
	r = t->root;
	name = sval(ytree_get((struct ynode *)r, "metadata.name"));
	name = name ? name : "?";
	gen = num(r, "metadata.generation");
	obs = num(r, "status.observedGeneration");
	rc = 0;
	if (kind == K8SMAN_DEPLOYMENT) {
		long rep = num(r, "status.replicas"), ready = num(r, "status.readyReplicas");
		long upd = num(r, "status.updatedReplicas");

		if (gen != obs)
			snprintf(why, n, "deployment %s generation %ld != observed generation %ld", name, gen,
				 obs);
		else if (ready != rep || upd != rep)
			snprintf(why, n, "deployment %s ready replicas %ld, updated %ld != replicas %ld",
				 name, ready, upd, rep);
		else
			rc = 1;
	} else {
		long want = num(r, "status.desiredNumberScheduled");
		static const struct {
			const char *path, *what;
		} counts[] = {
			{ "status.updatedNumberScheduled", "up-to-date" },
			{ "status.currentNumberScheduled", "scheduled" },
			{ "status.numberAvailable", "available" },
			{ "status.numberReady", "ready" },
		};

		rc = 1;
		if (gen != obs) {
			snprintf(why, n, "daemonset %s observed generation %ld, expected %ld", name, obs,
				 gen);
			rc = 0;
		}
		for (size_t i = 0; i < ARRAY_SIZE(counts) && rc; i++)
			if (num(r, counts[i].path) != want) {
				snprintf(why, n, "daemonset %s: %ld of %ld pods %s", name,
					 num(r, counts[i].path), want, counts[i].what);
				rc = 0;
			}
	}
	ytree_free(t);
	return rc;
}
