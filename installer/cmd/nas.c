/* appliance nas check|prepare: the site's NAS over SMB (lib/nas.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "profile/value.h"
#include "base/err.h"
#include "base/json.h"
#include "profile/model.h"
#include "nas/nas.h"
#include "base/util.h"

static const char usage_text[] =
    "usage: appliance nas check PROFILE [--site FILE]... [--set KEY=VALUE]...\n"
    "                 [--json] [--timeout DURATION] [--retries N]\n"
    "       appliance nas prepare PROFILE [--site FILE]... [--set KEY=VALUE]...\n"
    "                 [--apply] [--json]\n"
    "\n"
    "check    preflight the NAS the profile names (nas:): TCP reachability, SMB3 or\n"
    "         newer, credentials, share, photos folder (read only, never written),\n"
    "         library folder (write probe), free space (nas.minFree) and capacity\n"
    "         (nas.capacity, warning). Exit 0 when every required check passes, 1\n"
    "         otherwise.\n"
    "prepare  create the Immich upload-location layout under the library folder\n"
    "         (library, upload, thumbs, encoded-video, profile, backups, each with\n"
    "         its '.immich' marker). Never deletes or overwrites. Dry run unless\n"
    "         --apply.\n"
    "\n"
    "options:\n"
    "  --json         machine-readable output on stdout\n"
    "  --timeout DURATION  per-operation timeout, e.g. 10s or 500ms (default\n"
    "                 nas.timeout)\n"
    "  --retries N    extra attempts on transient errors (default nas.retries)\n"
    "  --apply        prepare: make the changes (default: show them)\n"
    "  --site FILE, --set KEY=VALUE   as for every profile command\n"
    "\n"
    "examples:\n"
    "  appliance nas check site.yaml\n"
    "  appliance nas check site.yaml --timeout 30s --json\n"
    "  appliance nas prepare site.yaml             # what it would create\n";

struct nas_args {
	struct profile_opts prof;
	struct nas_opts opts;
	bool json;
	bool apply;
};

static int parse_num(const char *sub, const char *opt, const char *v, long long min, long long max,
		     long long *ret)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return cmd_usage_error(sub, "%s '%s': expected a number from %lld to %lld", opt, v, min, max);
	*ret = n;
	return 0;
}

/* Returns 0, or an exit code (usage error / help). */
static int parse(const char *sub, bool is_check, int argc, char **argv, struct nas_args *a, bool *ret_help)
{
	long long n = 0;
	int r;

	*ret_help = false;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (cmd_is_help(s)) {
			*ret_help = true;
			return 0;
		}
		r = profile_opts_arg(&a->prof, argc, argv, &i);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		if (strcmp(s, "--json") == 0) {
			a->json = true;
		} else if (!is_check && strcmp(s, "--apply") == 0) {
			a->apply = true;
		} else if (is_check && (strcmp(s, "--timeout") == 0 || strcmp(s, "--retries") == 0)) {
			bool t = strcmp(s, "--timeout") == 0;
			if (i + 1 >= argc)
				return cmd_usage_error(sub, "option '%s' needs a value", s);
			if (t) {
				long long ms;
				if (cmd_parse_duration(sub, s, argv[++i], 1, 3600000, &ms))
					return EXIT_USAGE;
				a->opts.timeout_ms = ms;
			} else {
				if (parse_num(sub, s, argv[++i], 0, 100, &n))
					return EXIT_USAGE;
				a->opts.retries = (int)n;
			}
		} else if (s[0] == '-' && s[1]) {
			return cmd_usage_error(sub, "unknown option '%s'", s);
		} else if (!a->prof.profile) {
			a->prof.profile = s;
		} else {
			return cmd_usage_error(sub, "unexpected argument '%s'", s);
		}
	}
	cmd_default_profile(&a->prof);
	if (!a->prof.profile)
		return cmd_usage_error(sub, "no PROFILE given");
	return 0;
}

/* Parse, print the help or load the profile: the model, or NULL with the exit
 * code in *ret_rc. */
static struct model *load(const char *sub, bool is_check, int argc, char **argv, struct nas_args *a,
			  int *ret_rc)
{
	struct model *m;
	bool help;
	int r;

	r = parse(sub, is_check, argc, argv, a, &help);
	if (r || help) {
		if (help)
			fputs(usage_text, stdout);
		profile_opts_free(&a->prof);
		*ret_rc = help ? EXIT_OK : r;
		return NULL;
	}
	m = cmd_load_model(&a->prof, a->json);
	profile_opts_free(&a->prof);
	if (!m)
		*ret_rc = EXIT_USAGE;
	return m;
}

static void print_check(const struct model *m, const struct nas_results *r)
{
	char *url = nas_url(m->nas.address, m->nas.port > 0 ? m->nas.port : 445, m->nas.share, NULL);
	int fails = 0, warns = 0;

	printf("nas check %s\n", url);
	for (size_t i = 0; i < r->n; i++) {
		const struct nas_result *row = &r->v[i];
		printf("%-5s %-14s %s\n", nas_status_name(row->status), row->id,
		       row->detail ? row->detail : "");
		if (row->hint && (row->status == NAS_FAIL || row->status == NAS_WARN))
			printf("%-5s %-14s hint: %s\n", "", "", row->hint);
		fails += row->status == NAS_FAIL;
		warns += row->status == NAS_WARN;
	}
	printf("result: %s (%d failed, %d warning%s)\n", r->pass ? "pass" : "fail", fails, warns,
	       warns == 1 ? "" : "s");
	free(url);
}

static int do_check(int argc, char **argv)
{
	struct nas_args a = { .opts = NAS_OPTS_INIT };
	struct nas_results res = { 0 };
	struct app_err e = { 0 };
	struct model *m;
	int r;

	m = load("nas check", true, argc, argv, &a, &r);
	if (!m)
		return r;
	r = nas_check(m, &a.opts, &res, &e);
	if (a.json) {
		struct buf b = { 0 };
		nas_results_json(m, &res, &b);
		fputs(b.data, stdout);
		buf_free(&b);
	} else {
		print_check(m, &res);
	}
	nas_results_free(&res);
	model_free(m);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static const char *step_word(const struct nas_step *s)
{
	static const char *const words[] = {
		[NAS_STEP_EXISTS] = "exists", [NAS_STEP_WOULD] = "would create", [NAS_STEP_DONE] = "created"
	};
	return words[s->state];
}

static void print_plan(const struct nas_plan *p, bool apply, bool json, const struct app_err *e, int r)
{
	if (json) {
		struct buf b = { 0 };
		buf_printf(&b, "{\"apply\":%s,\"ok\":%s,\"changes\":%zu,\"error\":", apply ? "true" : "false",
			   r < 0 ? "false" : "true", p->changes);
		json_buf_str(&b, r < 0 ? e->msg : NULL);
		buf_puts(&b, ",\"steps\":[");
		for (size_t i = 0; i < p->n; i++) {
			buf_printf(&b, "%s{\"kind\":\"%s\",\"state\":\"%s\",\"url\":", i ? "," : "",
				   p->v[i].kind == NAS_STEP_MKDIR ? "directory" : "marker",
				   p->v[i].state == NAS_STEP_EXISTS  ? "exists"
				   : p->v[i].state == NAS_STEP_WOULD ? "would-create"
								     : "created");
			json_buf_str(&b, p->v[i].url);
			buf_puts(&b, "}");
		}
		buf_puts(&b, "]}\n");
		fputs(b.data, stdout);
		buf_free(&b);
		return;
	}
	for (size_t i = 0; i < p->n; i++)
		printf("%-13s %s%s\n", step_word(&p->v[i]), p->v[i].url,
		       p->v[i].kind == NAS_STEP_MKDIR ? "/" : "");
	if (r < 0)
		return;
	if (!p->changes)
		printf("nothing to do: the Immich layout is complete\n");
	else if (apply)
		printf("%zu created\n", p->changes);
	else
		printf("%zu to create; run with --apply to create them\n", p->changes);
}

static int do_prepare(int argc, char **argv)
{
	struct nas_args a = { .opts = NAS_OPTS_INIT };
	struct nas_plan plan = { 0 };
	struct app_err e = { 0 };
	struct model *m;
	int r;

	m = load("nas prepare", false, argc, argv, &a, &r);
	if (!m)
		return r;
	r = nas_prepare(m, &a.opts, a.apply, &plan, &e);
	print_plan(&plan, a.apply, a.json, &e, r);
	if (r < 0)
		cmd_err(&e);
	nas_plan_free(&plan);
	model_free(m);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

int cmd_nas(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("nas", "expected 'check' or 'prepare'");
	if (cmd_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "check") == 0)
		return do_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "prepare") == 0)
		return do_prepare(argc - 1, argv + 1);
	return cmd_usage_error("nas", "unknown subcommand '%s' (expected 'check' or 'prepare')", argv[1]);
}
