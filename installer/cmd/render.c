/* appliance render: the Immich stack and its Flux wiring as a GitOps tree. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "base/err.h"
#include "base/json.h"
#include "profile/model.h"
#include "render/render.h"
#include "base/util.h"

extern char **environ;

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance render PROFILE [--site FILE]... [--set KEY=VALUE]...\n"
		   "                       [--out DIR] [--check | --diff] [--json] [--only app]\n"
		   "                       [--recovery [--server-name NAME]]\n"
		   "       appliance render PROFILE --graph\n"
		   "\n"
		   "Render the Immich stack, the platform it needs and the Flux wiring into DIR\n"
		   "(default: gitops.out of the profile) in the repository's layout\n"
		   "(clusters/<cluster>/{flux,platform,apps}). References between the objects are\n"
		   "checked first; nothing is written when one does not resolve. Only files that\n"
		   "render generated (first line is its marker) are ever overwritten.\n"
		   "\n"
		   "  --out DIR          output directory (a checkout of the GitOps repository)\n"
		   "  --check            write nothing; list files that differ; exit 1 when any does\n"
		   "  --diff             like --check, and show a unified diff\n"
		   "  --json             machine-readable result on stdout\n"
		   "  --only app         only clusters/<cluster>/apps/immich (the platform exists)\n"
		   "  --recovery         the database bootstraps by recovery from the primary object\n"
		   "                     store and archives under a new serverName\n"
		   "  --server-name NAME serverName for the new archive (default <source>-recovery)\n"
		   "  --graph            print the Flux Kustomizations as a Markdown table: what\n"
		   "                     each waits for, which CRDs it brings, what its Ready means\n"
		   "\n"
		   "Every render first runs the reconcile check (what Flux would verify): each\n"
		   "Kustomization path has a kustomization.yaml, every substitution source exists\n"
		   "or is optional, every ${VAR} resolves, every namespace is created, and every\n"
		   "kind's CRD is installed by a Kustomization the user waits for.\n"
		   "\n"
		   "examples:\n"
		   "  appliance render site.yaml --out ../homelab         # write the tree\n"
		   "  appliance render site.yaml --out ../homelab --diff  # what would change\n"
		   "  appliance render site.yaml --graph\n"
		   "\n"
		   "exit: 0 ok (no drift), 1 failure or drift, 2 usage error or invalid profile\n");
}

struct render_args {
	struct profile_opts po;
	const char *out;
	bool check, diff, json, graph;
	struct render_opts ro;
};

static int parse(int argc, char **argv, struct render_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int r = profile_opts_arg(&a->po, argc, argv, &i);

		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		if (cmd_is_help(s)) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(s, "--check") == 0) {
			a->check = true;
		} else if (strcmp(s, "--diff") == 0) {
			a->diff = true;
		} else if (strcmp(s, "--json") == 0) {
			a->json = true;
		} else if (strcmp(s, "--graph") == 0) {
			a->graph = true;
		} else if (strcmp(s, "--recovery") == 0) {
			a->ro.recovery = true;
		} else if (strcmp(s, "--out") == 0 || strcmp(s, "--only") == 0 ||
			   strcmp(s, "--server-name") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error("render", "option '%s' needs a value", s);
			if (strcmp(s, "--out") == 0)
				a->out = argv[++i];
			else if (strcmp(s, "--server-name") == 0)
				a->ro.server_name = argv[++i];
			else if (strcmp(argv[++i], "app") == 0)
				a->ro.only_app = true;
			else
				return cmd_usage_error("render", "--only: expected 'app', got '%s'", argv[i]);
		} else if (strncmp(s, "--out=", 6) == 0) {
			a->out = s + 6;
		} else if (strcmp(s, "--only=app") == 0) {
			a->ro.only_app = true;
		} else if (s[0] == '-' && s[1]) {
			return cmd_usage_error("render", "unknown option '%s'", s);
		} else if (!a->po.profile) {
			a->po.profile = s;
		} else {
			return cmd_usage_error("render", "unexpected argument '%s'", s);
		}
	}
	cmd_default_profile(&a->po);
	if (!a->po.profile)
		return cmd_usage_error("render", "no PROFILE given");
	if (a->ro.server_name && !a->ro.recovery)
		return cmd_usage_error("render", "--server-name needs --recovery");
	if (a->check && a->diff)
		return cmd_usage_error("render", "--check and --diff exclude each other");
	return -1;
}

/* diff -u between the file on disk (or nothing) and the rendered text (or
 * nothing: f NULL, a stale file that would be removed). */
static int show_diff(const char *dir, const char *path, const struct render_file *f, bool exists)
{
	char tmp[] = "/tmp/appliance-render.XXXXXX";
	char *old = xasprintf("%s/%s", dir, path), *la = xasprintf("a/%s", path),
	     *lb = xasprintf("b/%s", path);
	char *argv[] = {
		"diff", "-u", "--label", la, "--label", lb, exists ? old : "/dev/null", f ? tmp : "/dev/null",
		NULL
	};
	int fd = mkstemp(tmp), status = 0, r = -1;
	pid_t pid;

	if (fd < 0)
		goto out;
	if (f && write(fd, f->text, f->len) != (ssize_t)f->len) {
		close(fd);
		goto out_unlink;
	}
	close(fd);
	fflush(stdout);
	if (posix_spawnp(&pid, "diff", NULL, NULL, argv, environ) != 0)
		goto out_unlink;
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) <= 1)
		r = 0;
out_unlink:
	unlink(tmp);
out:
	if (r < 0)
		cmd_error("cannot diff '%s'", old);
	free(old);
	free(la);
	free(lb);
	return r;
}

static void print_json(const struct render_args *a, const char *out, const struct render_tree *t,
		       const enum render_state *st, char *const *stale, size_t n_stale, size_t drift,
		       bool wrote)
{
	printf("{\"out\":");
	json_str(stdout, out);
	printf(",\"root\":");
	json_str(stdout, t->root);
	printf(",\"mode\":\"%s\",\"objects\":%zu,\"files\":[",
	       a->check	 ? "check"
	       : a->diff ? "diff"
			 : "write",
	       t->n_objs);
	for (size_t i = 0; i < t->n_files; i++) {
		char sha[65];

		sha256_hex(t->files[i].text, t->files[i].len, sha);
		printf("%s{\"path\":", i ? "," : "");
		json_str(stdout, t->files[i].path);
		printf(",\"state\":\"%s\",\"sha256\":\"%s\"}", render_state_name(st[i]), sha);
	}
	printf("],\"stale\":[");
	for (size_t i = 0; i < n_stale; i++) {
		printf("%s", i ? "," : "");
		json_str(stdout, stale[i]);
	}
	printf("],\"drifted\":%zu,\"written\":%s}\n", drift, wrote ? "true" : "false");
}

static int run(struct render_args *a, const struct model *m)
{
	struct render_tree t = { 0 };
	struct app_err e = { 0 };
	enum render_state *st = NULL;
	char *out = NULL, **stale = NULL;
	size_t drift = 0, foreign = 0, n_stale = 0;
	int rc = EXIT_FAIL, r;

	if (a->graph)
		out = xstrdup("(graph)");
	else if (a->out)
		out = xstrdup(a->out);
	else if (m->gitops.out)
		out = model_path(m, m->gitops.out);
	if (!out) {
		rc = cmd_usage_error("render", "no --out DIR given and the profile has no gitops.out");
		goto done;
	}
	r = render_tree(m, &a->ro, &t, &e);
	if (r < 0) {
		if (t.n_problems) {
			for (size_t i = 0; i < t.n_problems; i++)
				cmd_error("render: %s", t.problems[i]);
			cmd_error("render: %zu problem%s; nothing written", t.n_problems,
				  t.n_problems == 1 ? "" : "s");
			if (a->json) {
				printf("{\"out\":");
				json_str(stdout, out);
				printf(",\"problems\":[");
				for (size_t i = 0; i < t.n_problems; i++) {
					printf("%s", i ? "," : "");
					json_str(stdout, t.problems[i]);
				}
				printf("],\"written\":false}\n");
			}
		} else {
			cmd_err(&e);
		}
		rc = EXIT_USAGE;
		goto done;
	}
	if (a->graph) {
		struct buf g = { 0 };
		render_graph(&t, &g);
		fwrite(g.data, 1, g.len, stdout);
		buf_free(&g);
		rc = EXIT_OK;
		goto done;
	}
	st = xcalloc(t.n_files, sizeof(*st));
	if (render_compare(&t, out, st, &e) < 0) {
		cmd_err(&e);
		goto done;
	}
	if (render_stale(&t, out, &stale, &n_stale, &e) < 0) {
		cmd_err(&e);
		goto done;
	}
	for (size_t i = 0; i < t.n_files; i++) {
		drift += st[i] != RENDER_SAME;
		foreign += st[i] == RENDER_FOREIGN;
	}
	drift += n_stale;
	if (a->check || a->diff) {
		for (size_t i = 0; i < t.n_files; i++) {
			if (st[i] == RENDER_SAME)
				continue;
			if (!a->json)
				fprintf(a->diff ? stderr : stdout, "%s %s\n",
					st[i] == RENDER_NEW ? "missing" : render_state_name(st[i]),
					t.files[i].path);
			if (a->diff && show_diff(out, t.files[i].path, &t.files[i], st[i] != RENDER_NEW) < 0)
				goto done;
		}
		for (size_t i = 0; i < n_stale; i++) {
			if (!a->json)
				fprintf(a->diff ? stderr : stdout, "stale %s\n", stale[i]);
			if (a->diff && show_diff(out, stale[i], NULL, true) < 0)
				goto done;
		}
		if (a->json)
			print_json(a, out, &t, st, stale, n_stale, drift, false);
		else if (drift) /* the summary on stderr: stdout stays the list of files */
			fprintf(stderr,
				"drift: %zu file%s under %s/%s differ%s from what the profile renders "
				"(render without --check writes them)\n",
				drift, drift == 1 ? "" : "s", out, t.root, drift == 1 ? "s" : "");
		else
			fprintf(stderr, "no drift: the %zu files under %s/%s are what the profile renders\n",
				t.n_files, out, t.root);
		rc = drift ? EXIT_FAIL : EXIT_OK;
		goto done;
	}
	if (foreign) {
		for (size_t i = 0; i < t.n_files; i++)
			if (st[i] == RENDER_FOREIGN)
				cmd_error(
				    "render: '%s/%s' was not generated by appliance render; refusing to "
				    "overwrite it",
				    out, t.files[i].path);
		cmd_error("render: nothing written");
		goto done;
	}
	if (render_write(&t, out, st, &e) < 0 || render_remove_stale(out, stale, n_stale, &e) < 0) {
		cmd_err(&e);
		goto done;
	}
	if (a->json) {
		print_json(a, out, &t, st, stale, n_stale, drift, true);
	} else {
		for (size_t i = 0; i < n_stale; i++)
			printf("removed %s (no longer rendered)\n", stale[i]);
		printf("rendered %zu objects in %zu files under %s/%s: %zu written, %zu unchanged\n",
		       t.n_objs, t.n_files, out, t.root, drift - n_stale, t.n_files - (drift - n_stale));
	}
	rc = EXIT_OK;
done:
	render_stale_free(stale, n_stale);
	free(st);
	free(out);
	render_tree_free(&t);
	return rc;
}

int cmd_render(int argc, char **argv)
{
	struct render_args a = { 0 };
	struct model *m;
	int rc = parse(argc, argv, &a);

	if (rc >= 0) {
		profile_opts_free(&a.po);
		return rc;
	}
	m = cmd_load_model(&a.po, false);
	if (!m) {
		profile_opts_free(&a.po);
		return EXIT_USAGE;
	}
	rc = run(&a, m);
	model_free(m);
	profile_opts_free(&a.po);
	return rc;
}
