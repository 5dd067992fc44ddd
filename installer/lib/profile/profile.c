/* Profile loading: parse each layer, merge, then bind the merged tree into
 * the model through the schema tables (bind.c) and check the rules that
 * span fields (rules.c), collecting every problem (diag.c). */
#include "profile/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/ytree.h"
#include "profile/bind.h"
#include "profile/rules.h"

extern const char appliance_defaults_yaml[];

const char *profile_defaults_yaml(void)
{
	return appliance_defaults_yaml;
}

int profile_default_size(const char *path, uint64_t *ret)
{
	struct app_err e = { 0 };
	struct ytree *t = NULL;
	struct ynode *n;
	int r = ytree_parse(PROFILE_DEFAULTS_NAME, appliance_defaults_yaml, strlen(appliance_defaults_yaml),
			    &t, &e);

	if (r < 0)
		return r;
	n = ytree_get(t->root, path);
	r = n && n->type == YN_SCALAR ? profile_parse_size(n->value, ret) : -ENOENT;
	ytree_free(t);
	return r;
}

/* The two Talos files a user may hand over where a profile is expected, by
 * their top-level keys: the bundle `talos secrets` writes (cluster, secrets,
 * trustdinfo, certs: siderolabs/talos v1.10.5 pkg/machinery/config/generate/
 * secrets/bundle.go) and a v1alpha1 machine config (version, machine, cluster).
 * Either one is said in one line instead of a score of unrelated errors. */
static const struct {
	const char *keys[4];
	const char *what, *option;
} talos_shapes[] = {
	{ { "cluster", "secrets", "trustdinfo", "certs" }, "a Talos secrets bundle", "--secrets" },
	{ { "version", "machine", "cluster", NULL }, "a Talos machine config", "--config" },
};

static int refuse_talos_shape(const struct ynode *root, const char *path, struct diags *d)
{
	if (ynode_map_get(root, "apiVersion"))
		return 0;
	for (size_t i = 0; i < sizeof(talos_shapes) / sizeof(talos_shapes[0]); i++) {
		size_t k = 0;

		while (k < 4 && talos_shapes[i].keys[k] && ynode_map_get(root, talos_shapes[i].keys[k]))
			k++;
		if (k < 4 && talos_shapes[i].keys[k])
			continue;
		diag_raw(d, path, root->line, root->col,
			 xasprintf("%s looks like %s, not an appliance profile (pass it with %s)", path,
				   talos_shapes[i].what, talos_shapes[i].option));
		return -EINVAL;
	}
	return 0;
}

static int load_layer(struct ytree *base, const char *path, struct diags *d)
{
	struct app_err e = { 0 };
	struct ytree *t = NULL;
	int r = ytree_parse_file(path, &t, &e);

	if (r < 0) {
		/* ytree's messages start with "PATH:LINE:COL: " when they have a position */
		size_t plen = strlen(path);
		int line = 1, col = 1, used = 0;
		const char *msg = e.msg;

		if (strncmp(e.msg, path, plen) == 0 &&
		    sscanf(e.msg + plen, ":%d:%d: %n", &line, &col, &used) == 2 && used > 0)
			msg = e.msg + plen + used;
		diag_raw(d, path, line, col, xstrdup(msg));
		return r;
	}
	if (!t->root || ynode_is_null(t->root)) {
		diag_raw(d, path, 1, 1, xstrdup("the file is empty; expected an appliance profile"));
		ytree_free(t);
		return -EINVAL;
	}
	if (t->root->type != YN_MAP) {
		diag_raw(d, path, t->root->line, t->root->col,
			 xasprintf("expected a mapping at the top, found %s", diag_kind(t->root)));
		ytree_free(t);
		return -EINVAL;
	}
	r = refuse_talos_shape(t->root, path, d);
	if (r < 0) {
		ytree_free(t);
		return r;
	}
	ytree_merge(base, t);
	return 0;
}

int profile_load(const struct profile_input *in, struct model **ret, struct diags *d)
{
	struct app_err e = { 0 };
	struct ytree *t = NULL;
	struct model *m;
	struct diag_ctx c = { .d = d, .profile = in->profile };
	int r;

	*ret = NULL;
	r = ytree_parse(PROFILE_DEFAULTS_NAME, appliance_defaults_yaml, strlen(appliance_defaults_yaml), &t,
			&e);
	if (r < 0) { /* a build problem, not the user's */
		diag_raw(d, PROFILE_DEFAULTS_NAME, 1, 1, xstrdup(e.msg));
		return r;
	}
	r = load_layer(t, in->profile, d);
	for (int i = 0; r == 0 && i < in->n_sites; i++)
		r = load_layer(t, in->sites[i], d);
	for (int i = 0; r == 0 && i < in->n_sets; i++) {
		r = ytree_set(t, in->sets[i], &e);
		if (r < 0)
			diag_raw(d, "--set", 1, 1, xstrdup(e.msg));
	}
	if (r < 0) {
		ytree_free(t);
		diags_sort(d);
		return r;
	}

	m = xcalloc(1, sizeof(*m));
	c.secrets = ynode_map_get(t->root, "secrets");
	profile_bind(&c, t->root, m);
	profile_check_rules(&c, m, t);
	m->tree = t;
	m->path = xstrdup(in->profile);
	{
		char *slash = strrchr(m->path, '/');
		m->dir = slash ? xstrndup(m->path, (size_t)(slash - m->path)) : xstrdup(".");
	}
	diags_sort(d);
	if (d->errors) {
		model_free(m);
		return -EINVAL;
	}
	*ret = m;
	return 0;
}
