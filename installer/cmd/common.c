/* Helpers shared by the commands: profile options, loading, error output. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "doc.h"
#include "base/err.h"
#include "day2/nodecfg.h"
#include "disk/hw.h"
#include "profile/model.h"
#include "profile/profile.h"
#include "profile/secret.h"
#include "profile/value.h"
#include "base/util.h"

bool cmd_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

void cmd_error(const char *fmt, ...)
{
	va_list ap;

	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	fprintf(stderr, "appliance: %s\n", msg ? msg : fmt);
	cmd_json_error(msg); /* --json: the result object names it too */
	free(msg);
}

void cmd_err(const struct app_err *e)
{
	cmd_error("%s", e->msg[0] ? e->msg : "failed");
}

int cmd_check_machine_config(const char *path, size_t max)
{
	struct app_err e = { 0 };
	struct buf b = { 0 };
	int r = read_regular(path, max, &b, &e);

	if (r == 0)
		r = nodecfg_check(b.data, b.len, path, &e);
	if (b.data)
		secure_free(b.data, b.cap);
	if (r == 0)
		return 0;
	cmd_error("--config: %s", e.msg);
	return EXIT_USAGE;
}

/* The option of CMD nearest to OPT (jsno -> json; OPT itself when CMD has it), read from
 * the command's own --help (every option is listed there), or NULL. Caller frees. */
char *cmd_closest_option(const char *cmd, const char *opt)
{
	char *argv0 = realpath("/proc/self/exe", NULL), *line = NULL, *near = NULL, *qcmd;
	char **opts = NULL;
	size_t n = 0, cap = 0;
	FILE *p;

	if (!argv0 || strchr(cmd, '\'') || strchr(argv0, '\''))
		goto out;
	/* "nas check": the subcommand's help */
	qcmd = xasprintf("'%s' %s --help 2>/dev/null", argv0, cmd);
	p = popen(qcmd, "r");
	free(qcmd);
	while (p && getline(&line, &cap, p) > 0)
		for (char *s = line; (s = strstr(s, "--")) != NULL;) {
			size_t len = 2;
			while (s[len] && (isalnum((unsigned char)s[len]) || s[len] == '-'))
				len++;
			if (len > 2 && (s == line || !isalnum((unsigned char)s[-1]))) {
				opts = xrealloc(opts, sizeof(*opts) * (n + 1));
				opts[n++] = xstrndup(s, len);
			}
			s += len;
		}
	if (p)
		pclose(p);
	if (n) {
		const char *c = value_closest(opt, (const char *const *)opts, sizeof(*opts), n);
		near = c ? xstrdup(c) : NULL;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(opts[i]);
	free(opts);
	free(line);
	free(argv0);
	return near;
}

/* A misspelt option of CMD: the one meant, never OPT itself. Caller frees. */
static char *nearest_option(const char *cmd, const char *opt)
{
	char *near = cmd_closest_option(cmd, opt);

	if (near && strcmp(near, opt) == 0) {
		free(near);
		near = NULL;
	}
	return near;
}

/* The sub-command of CMD nearest to WORD (secret -> secrets), from the command
 * table's list of its sub-commands, or NULL. Caller frees. */
static char *nearest_subcommand(const char *cmd, const char *word)
{
	size_t n = 0, k = 0;
	const struct command *c = cmd_commands(&n);
	const char *subs = NULL, *near;
	char **names, *list, *save = NULL;

	for (size_t i = 0; i < n && !subs; i++)
		if (strcmp(c[i].name, cmd) == 0 && c[i].doc)
			subs = c[i].doc->subs;
	if (!subs)
		return NULL;
	list = xstrdup(subs);
	names = xcalloc(strlen(list) / 2 + 2, sizeof(*names));
	for (char *w = strtok_r(list, " ", &save); w; w = strtok_r(NULL, " ", &save))
		names[k++] = w;
	near = value_closest(word, (const char *const *)names, sizeof(*names), k);
	near = near ? xstrdup(near) : NULL;
	free(names);
	free(list);
	return (char *)near;
}

/* The option cmd_opt last found without its value: the parse loops then report it as
 * unknown, and cmd_usage_error says what is wrong instead (plan --node). */
static const char *missing_value;

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL, *near = NULL;
	const char *q;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	/* an unknown option: name the one meant, or say its value is missing */
	if (msg && strncmp(msg, "unknown option '", 16) == 0 && (q = strchr(msg + 16, '\''))) {
		char *opt = xstrndup(msg + 16, (size_t)(q - msg - 16));
		if (missing_value && strcmp(opt, missing_value) == 0) {
			free(msg);
			msg = xasprintf("option '%s' needs a value", opt);
		} else if (opt[0] == '-' && opt[1] == '-') {
			near = nearest_option(cmd, opt);
		}
		free(opt);
	} else if (msg && strncmp(msg, "unknown subcommand '", 20) == 0 && (q = strchr(msg + 20, '\''))) {
		char *word = xstrndup(msg + 20, (size_t)(q - msg - 20));
		near = nearest_subcommand(cmd, word);
		free(word);
	}
	fprintf(stderr, "appliance %s: %s", cmd, msg ? msg : fmt);
	if (near)
		fprintf(stderr, "; did you mean '%s'?", near);
	fprintf(stderr, "\ntry 'appliance %s --help'\n", cmd);
	cmd_json_error(msg);
	free(near);
	free(msg);
	return EXIT_USAGE;
}

/* A duration in the largest unit that divides it: 0s, 500ms, 90s, 60m, 24h. */
static const char *fmt_duration(char *buf, size_t size, long long ms)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };

	for (size_t i = ms ? 0 : 2; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms % units[i].ms == 0) {
			snprintf(buf, size, "%lld%s", ms / units[i].ms, units[i].unit);
			return buf;
		}
	snprintf(buf, size, "%lldms", ms);
	return buf;
}

int cmd_parse_duration(const char *cmd, const char *opt, const char *v, long long min_ms, long long max_ms,
		       long long *ret_ms)
{
	long long ms;

	/* the profile's parser: a bare number has no unit and is refused as it is there */
	if (v[0] && strspn(v, "0123456789") == strlen(v))
		return cmd_usage_error(
		    cmd, "%s '%s': a duration needs a unit, as in the profile; did you mean '%ss'?", opt, v,
		    v);
	if (profile_parse_duration(v, &ms) < 0)
		return cmd_usage_error(cmd, "%s '%s': expected a duration such as 10s, 500ms or 1m", opt, v);
	if (ms < min_ms || ms > max_ms) {
		char lo[32], hi[32];

		return cmd_usage_error(cmd, "%s '%s': expected a duration from %s to %s", opt, v,
				       fmt_duration(lo, sizeof(lo), min_ms),
				       fmt_duration(hi, sizeof(hi), max_ms));
	}
	*ret_ms = ms;
	return 0;
}

int cmd_parse_duration_s(const char *cmd, const char *opt, const char *v, long min_s, long max_s, long *ret_s)
{
	long long ms;
	int r = cmd_parse_duration(cmd, opt, v, (long long)min_s * 1000, (long long)max_s * 1000, &ms);

	if (r == 0)
		*ret_s = (long)((ms + 999) / 1000);
	return r;
}

int cmd_opt_value(int argc, char **argv, int *i, const char *name, const char **ret)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*ret = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*ret = argv[++*i];
	return 1;
}

const char *cmd_state_dir(void)
{
	const char *s = getenv("APPLIANCE_STATE_DIR");

	return s && *s ? s : "/var/lib/appliance";
}

const char *cmd_opt(int argc, char **argv, int *i, const char *name)
{
	const char *v = NULL;
	int r = cmd_opt_value(argc, argv, i, name, &v);

	if (r < 0)
		missing_value = argv[*i];
	return r > 0 ? v : NULL;
}

int cmd_value_opts(const char *cmd, int argc, char **argv, int *i, const struct cmd_value_opt *t, size_t n,
		   void *opts, const struct cmd_value_opt **hit, const char **val)
{
	for (size_t k = 0; k < n; k++) {
		int r = cmd_opt_value(argc, argv, i, t[k].name, val);

		if (r == 0)
			continue;
		if (r < 0) {
			cmd_usage_error(cmd, "option '%s' needs a value", t[k].name);
			return -1;
		}
		if (t[k].off != CMD_OPT_OWN)
			*(const char **)((char *)opts + t[k].off) = *val;
		*hit = &t[k];
		return 1;
	}
	return 0;
}

int cmd_profile_arg(const char *cmd, struct profile_opts *o, const char *arg)
{
	if (arg[0] == '-')
		return cmd_usage_error(cmd, "unknown option '%s'", arg);
	if (o->profile)
		return cmd_usage_error(cmd, "unexpected argument '%s'", arg);
	o->profile = arg;
	return 0;
}

void cmd_talos_on_retry(void *ud, int attempt, const char *why, long delay_ms)
{
	(void)ud;
	fprintf(stderr, "appliance: waiting for the Talos API (attempt %d, next in %.1fs): %s\n", attempt,
		(double)delay_ms / 1000.0, why);
}

bool cmd_hw_opt(int argc, char **argv, int *i, struct hw_opts *o, const char ***files, size_t *n_files)
{
	const char *v;

	if ((v = cmd_opt(argc, argv, i, "--hw-root"))) {
		o->root = v;
	} else if ((v = cmd_opt(argc, argv, i, "--live"))) {
		o->live = v;
	} else if ((v = cmd_opt(argc, argv, i, "--disk-file"))) {
		*files = xrealloc(*files, sizeof(**files) * (*n_files + 1));
		(*files)[(*n_files)++] = v;
	} else {
		return false;
	}
	return true;
}

int profile_opts_arg(struct profile_opts *o, int argc, char **argv, int *i)
{
	const char *v;
	int r;

	r = cmd_opt_value(argc, argv, i, "--site", &v);
	if (r > 0) {
		o->sites = xrealloc(o->sites, sizeof(*o->sites) * (size_t)(o->n_sites + 1));
		o->sites[o->n_sites++] = v;
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "appliance: option '--site' needs a value\n");
		return -1;
	}
	r = cmd_opt_value(argc, argv, i, "--set", &v);
	if (r > 0) {
		if (!strchr(v, '=')) {
			fprintf(stderr, "appliance: --set '%s': expected KEY=VALUE\n", v);
			return -1;
		}
		o->sets = xrealloc(o->sets, sizeof(*o->sets) * (size_t)(o->n_sets + 1));
		o->sets[o->n_sets++] = v;
		return 1;
	}
	if (r < 0)
		fprintf(stderr, "appliance: option '--set' needs a value\n");
	return r;
}

void profile_opts_free(struct profile_opts *o)
{
	free(o->sites);
	free(o->sets);
	o->sites = o->sets = NULL;
	o->n_sites = o->n_sets = 0;
}

void cmd_default_profile(struct profile_opts *o)
{
	const char *env = getenv("APPLIANCE_PROFILE");

	if (o->profile)
		return;
	if (env && *env)
		o->profile = env;
	else if (access("appliance.yaml", F_OK) == 0)
		o->profile = "appliance.yaml";
}

struct model *cmd_load_model(const struct profile_opts *o, bool quiet)
{
	struct profile_input in = {
		.profile = o->profile,
		.sites = o->sites,
		.n_sites = o->n_sites,
		.sets = o->sets,
		.n_sets = o->n_sets,
	};
	struct diags d = { 0 };
	struct model *m = NULL;

	if (!o->profile) {
		cmd_error("no PROFILE given");
		return NULL;
	}
	profile_load(&in, &m, &d);
	if (!quiet || !m)
		diags_print(&d, stderr);
	if (!m) {
		char *why =
		    xasprintf("profile '%s' is invalid (appliance validate %s)", o->profile, o->profile);
		cmd_json_error(why);
		free(why);
	}
	diags_free(&d);
	return m;
}

struct model *cmd_load_node(const struct profile_opts *o, const char *name,
			    const struct model_node **ret_node)
{
	struct model *m = cmd_load_model(o, false);

	if (!m)
		return NULL;
	*ret_node = model_node_by_name(m, name);
	if (!*ret_node) {
		cmd_error("profile '%s' has no node '%s'", o->profile, name);
		model_free(m);
		return NULL;
	}
	return m;
}

/* Secret value behind a Flux variable of site.secretVars. */
static int var_secret(const struct model *m, const char *var, struct secret *ret, struct app_err *e)
{
	for (size_t i = 0; var && i < m->site.secret_vars.n; i++)
		if (strcmp(m->site.secret_vars.v[i].key, var) == 0)
			return secret_read(m, m->site.secret_vars.v[i].value, 1, ret, e);
	return app_err_set(e, -ENOENT, "variable '%s' is not mapped to a secret in site.secretVars",
			   var ? var : "");
}

int cmd_backups_scan(const struct model *m, const char *server, struct cmd_backups *ret, struct app_err *e)
{
	const struct immich_object_store *s = &m->apps.immich.database.primary;
	struct secret ak = { 0 }, sk = { 0 };
	char *dest;
	int r;

	if (!s->destination_path || !s->endpoint)
		return app_err_set(
		    e, -EINVAL,
		    "apps.immich.database.primary has no destinationPath/endpoint: no backups to "
		    "read");
	dest = model_expand(m, s->destination_path);
	r = s3_url_split(dest, &ret->bucket, &ret->prefix, e);
	free(dest);
	if (r < 0)
		return app_err_prefix(e, "apps.immich.database.primary.destinationPath");
	ret->endpoint = model_expand(m, s->endpoint);
	if ((r = var_secret(m, s->access_key_var, &ak, e)) < 0 ||
	    (r = var_secret(m, s->secret_key_var, &sk, e)) < 0) {
		secret_free(&ak);
		return app_err_prefix(e, "object store credentials");
	}
	{
		struct s3_target t = {
			.endpoint = ret->endpoint,
			.region = s->region,
			.bucket = ret->bucket,
			.access_key = ak.data,
			.secret_key = sk.data,
		};

		r = s3_barman_scan(&t, ret->prefix, server, &ret->barman, e);
	}
	secret_free(&ak);
	secret_free(&sk);
	return r;
}

void cmd_backups_free(struct cmd_backups *b)
{
	s3_barman_free(&b->barman);
	free(b->bucket);
	free(b->prefix);
	free(b->endpoint);
	b->bucket = b->prefix = b->endpoint = NULL;
}

char *cmd_node_host(const struct model_node *n)
{
	if (n->network.address && *n->network.address) {
		const char *slash = strchr(n->network.address, '/');

		return slash ? xstrndup(n->network.address, (size_t)(slash - n->network.address))
			     : xstrdup(n->network.address);
	}
	if (n->hostname && *n->hostname)
		return xstrdup(n->hostname);
	return NULL;
}
