/* appliance config PROFILE: the effective profile, every layer merged (the
 * built-in defaults, PROFILE, --site overlays, --set), as YAML. Secret
 * references are shown as references (env:NAME, file:PATH); their values are
 * never read, and anything under secrets: that is not a reference is
 * redacted. */
#include <string.h>

#include "cmd.h"
#include "base/err.h"
#include "base/util.h"
#include "base/yemit.h"
#include "base/ytree.h"
#include "profile/model.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance config PROFILE [--site FILE]... [--set KEY=VALUE]...\n\n"
		   "Print the effective profile: the built-in defaults, PROFILE, each --site FILE\n"
		   "and each --set merged (later wins), as YAML. Secret references are shown,\n"
		   "never their values. The profile must be valid (appliance validate).\n\n"
		   "examples:\n"
		   "  appliance config site.yaml\n"
		   "  appliance config site.yaml --set talos.version=v1.11.2 | less\n\n"
		   "exit: 0 ok, 2 usage error or invalid profile\n");
}

static struct yval *redacted(const struct ynode *root)
{
	struct yval *out = y_map();

	for (size_t i = 0; root && root->type == YN_MAP && i < root->n; i++) {
		const char *key = root->keys[i]->value;
		const struct ynode *v = root->items[i];
		if (strcmp(key, "secrets") != 0 || v->type != YN_MAP) {
			y_set(out, key, y_from_ynode(v));
			continue;
		}
		struct yval *s = y_map();
		for (size_t k = 0; k < v->n; k++) {
			const char *ref = v->items[k]->type == YN_SCALAR ? v->items[k]->value : "";
			bool is_ref = strncmp(ref, "env:", 4) == 0 || strncmp(ref, "file:", 5) == 0;
			y_set(s, v->keys[k]->value, y_str(is_ref ? ref : "<redacted>"));
		}
		y_set(out, key, s);
	}
	return out;
}

int cmd_config(int argc, char **argv)
{
	struct profile_opts po = { 0 };
	struct app_err e = { 0 };
	struct buf out = { 0 };
	struct yval *doc;
	struct model *m;
	int r;

	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i])) {
			usage(stdout);
			profile_opts_free(&po);
			return EXIT_OK;
		}
		r = profile_opts_arg(&po, argc, argv, &i);
		if (r < 0) {
			profile_opts_free(&po);
			return EXIT_USAGE;
		}
		if (r == 0 && (r = cmd_profile_arg("config", &po, argv[i])) != 0) {
			profile_opts_free(&po);
			return r;
		}
	}
	cmd_default_profile(&po);
	if (!po.profile) {
		profile_opts_free(&po);
		return cmd_usage_error("config", "no PROFILE given");
	}
	m = cmd_load_model(&po, true);
	profile_opts_free(&po);
	if (!m)
		return EXIT_USAGE;
	doc = redacted(m->tree->root);
	r = y_emit(&doc, 1, &out, &e);
	y_free(doc);
	model_free(m);
	if (r < 0) {
		buf_free(&out);
		cmd_err(&e);
		return EXIT_FAIL;
	}
	fputs(out.data ? out.data : "", stdout);
	buf_free(&out);
	return EXIT_OK;
}
