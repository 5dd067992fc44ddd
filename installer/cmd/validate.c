/* appliance validate PROFILE [--site FILE]... [--set KEY=VALUE]... [--json] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "base/json.h"
#include "base/err.h"
#include "base/util.h"
#include "profile/files.h"
#include "profile/profile.h"
#include "base/ytree.h"
#include "render/render.h"
#include "talos/talos_check.h"
#include "talos/talos_identity.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: appliance validate PROFILE [--site FILE]... [--set KEY=VALUE]... [--json]\n       "
		"appliance validate --keys\n\n"
		"Check a profile strictly and report every problem at once, sorted, as\n"
		"  FILE:LINE:COL: error: KEY.PATH: MESSAGE\n"
		"Layers, later wins: built-in defaults, PROFILE, each --site FILE, each --set.\n"
		"A file it names (talos.image.pins, a file: secret) that cannot be opened\n"
		"beside the profile is a warning: this machine may not hold the secrets.\n\n"
		"  --site FILE      merge a site overlay over the profile\n"
		"  --set KEY=VALUE  override one value (KEY like nodes[0].role or nas.port)\n"
		"  --json           print {\"valid\",\"errors\",\"warnings\",\"diagnostics\"} on stdout\n\n"
		"examples:\n"
		"  appliance validate site.yaml\n"
		"  appliance validate site.yaml --set talos.version=v1.11.2 --json\n"
		"  appliance validate --keys | grep nas.\n\n"
		"exit: 0 valid (warnings allowed), 2 invalid or usage error\n");
}

struct talos_report {
	const struct model *m;
	struct diag_ctx c;
};

/* N as the profile writes it: a section merged over the defaults keeps their position, so
 * its first key the profile writes stands for it; NULL when the profile writes none. */
static const struct ynode *in_profile(const struct ynode *n)
{
	const struct ynode *first = NULL;

	if (!n || strcmp(n->file, PROFILE_DEFAULTS_NAME) != 0)
		return n;
	for (size_t i = 0; n->type == YN_MAP && i < n->n; i++)
		if (strcmp(n->keys[i]->file, PROFILE_DEFAULTS_NAME) != 0 &&
		    (!first || n->keys[i]->line < first->line))
			first = n->keys[i];
	return first;
}

/* A problem talos gen would have, at the profile key's position, else at the nearest
 * section the profile writes (else at the top of the profile, as diag_node does). */
static void talos_problem(void *ctx, const char *key, bool warning, const struct app_err *e)
{
	struct talos_report *t = ctx;
	const struct ynode *n = NULL;
	char *k = xstrdup(key), *dot;
	const char *msg = e->msg;
	size_t kl = strlen(key);

	while (!n && k[0]) {
		n = in_profile(t->m->tree ? ytree_get(t->m->tree->root, k) : NULL);
		dot = strrchr(k, '.');
		*(dot ? dot : k) = '\0';
	}
	free(k);
	/* "talos.cni 'custom': ..." after the key path reads "talos.cni: 'custom': ..." */
	if (strncmp(msg, key, kl) == 0 && msg[kl] == ' ')
		msg += kl + 1;
	diag_node(&t->c, n, key, warning ? DIAG_WARNING : DIAG_ERROR, "%s", msg);
}

int cmd_validate(int argc, char **argv)
{
	struct profile_opts o = { 0 };
	struct profile_input in;
	struct diags d = { 0 };
	struct model *m = NULL;
	bool json = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (cmd_is_help(argv[i])) {
			usage(stdout);
			profile_opts_free(&o);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--keys") == 0) {
			profile_print_keys(stdout);
			profile_opts_free(&o);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
			continue;
		}
		r = profile_opts_arg(&o, argc, argv, &i);
		if (r < 0) {
			/* profile_opts_arg said what is wrong: each failure once */
			profile_opts_free(&o);
			fputs("try 'appliance validate --help'\n", stderr);
			return EXIT_USAGE;
		}
		if (r > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1]) {
			profile_opts_free(&o);
			return cmd_usage_error("validate", "unknown option '%s'", argv[i]);
		}
		if (o.profile) {
			profile_opts_free(&o);
			return cmd_usage_error("validate", "unexpected argument '%s'", argv[i]);
		}
		o.profile = argv[i];
	}
	cmd_default_profile(&o);
	if (!o.profile) {
		profile_opts_free(&o);
		return cmd_usage_error("validate", "no PROFILE given");
	}
	in = (struct profile_input){ .profile = o.profile,
				     .sites = o.sites,
				     .n_sites = o.n_sites,
				     .sets = o.sets,
				     .n_sets = o.n_sets };
	r = profile_load(&in, &m, &d);
	if (r == 0) {
		/* what render refuses, validate refuses: the tree is built and checked in memory */
		struct render_opts ro = { 0 };
		struct render_tree t;
		struct app_err e = { 0 };
		memset(&t, 0, sizeof(t));
		if (render_tree(m, &ro, &t, &e) < 0) {
			diag_raw(&d, o.profile, 1, 1, xasprintf("render: %s", e.msg));
			r = -EINVAL;
		}
		render_tree_free(&t);
		/* what talos gen refuses without a bundle: the same checks (talos/talos_check.h) */
		struct talos_report tr = { .m = m, .c = { .d = &d, .profile = o.profile } };
		if (talos_check_all(m, talos_problem, &tr))
			r = -EINVAL;
		if (talos_identity_recorded(m, &e) < 0)
			talos_problem(&tr, "talos.caFingerprint", true, &e);
		/* the files it names, which install and render open later (warnings) */
		profile_check_files(&tr.c, m);
		diags_sort(&d);
	}
	if (json) {
		printf("{\"profile\":");
		json_str(stdout, o.profile);
		printf(",\"valid\":%s,\"errors\":%zu,\"warnings\":%zu,\"diagnostics\":",
		       r == 0 ? "true" : "false", d.errors, d.warnings);
		diags_print_json(&d, stdout);
		printf("}\n");
	} else {
		diags_print(&d, stderr);
		if (r == 0)
			printf("%s: valid (%zu node%s, cluster '%s', %zu warning%s)\n", o.profile, m->n_nodes,
			       m->n_nodes == 1 ? "" : "s", m->site.cluster, d.warnings,
			       d.warnings == 1 ? "" : "s");
		else
			fprintf(stderr, "%s: %zu error%s\n", o.profile, d.errors, d.errors == 1 ? "" : "s");
	}
	diags_free(&d);
	model_free(m);
	profile_opts_free(&o);
	return r == 0 ? EXIT_OK : EXIT_USAGE;
}
