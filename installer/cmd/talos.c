/* appliance talos: secrets bundle, machine configs + talosconfig, Image
 * Factory schematic and asset URLs, metal-iso config volume. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"
#include "base/err.h"
#include "base/json.h"
#include "profile/model.h"
#include "talos/talos_assets.h"
#include "talos/talos_config.h"
#include "talos/talos_schematic.h"
#include "talos/talos_secrets.h"
#include "talos/talos_talosconfig.h"
#include "talos/talos_volume.h"
#include "base/util.h"

/* Keep an existing talosconfig while its certificate has 30 days left. */
#define TALOSCONFIG_MIN_VALID (30L * 24 * 3600)
#define TALOSCONFIG_MAX (1u << 20)

static const char usage_text[] =
    "usage: appliance talos secrets PROFILE --out FILE [--rotate] [--json]\n"
    "       appliance talos gen PROFILE --secrets FILE --out DIR [--node NAME]...\n"
    "                 [--json]\n"
    "       appliance talos schematic PROFILE [--id | --urls | --json]\n"
    "       appliance talos config-volume PROFILE --node NAME --out FILE\n"
    "                 (--secrets FILE | --config FILE)\n"
    "\n"
    "  secrets        generate the cluster's secrets bundle (talosctl gen secrets\n"
    "                 layout, mode 0600); an existing bundle is never replaced\n"
    "                 unless --rotate (the old one is kept). --json: {out,\n"
    "                 caFingerprint, previous} (never a key)\n"
    "  gen            write DIR/<node>.yaml (machine config per node) and\n"
    "                 DIR/talosconfig, mode 0600; an existing talosconfig for the\n"
    "                 same OS CA is kept while valid for 30 more days. --json:\n"
    "                 {configs: [{node, role, path}], talosconfig, kept}\n"
    "  schematic      print the Image Factory schematic (canonical form), its id\n"
    "                 and asset URLs\n"
    "  config-volume  build the metal-iso ISO9660 volume holding the node's\n"
    "                 config.yaml\n"
    "\n"
    "every form also takes: [--site FILE]... [--set KEY=VALUE]...\n"
    "supported Talos versions: v1.10.x, v1.11.x, v1.12.x\n"
    "\n"
    "examples:\n"
    "  appliance talos secrets site.yaml --out talos-secrets.yaml\n"
    "  appliance talos gen site.yaml --secrets talos-secrets.yaml --out configs\n"
    "  appliance talos schematic site.yaml --id\n";

struct talos_args {
	struct profile_opts po;
	const char *out, *secrets, *config;
	const char **nodes;
	int n_nodes;
	bool rotate, id_only, urls_only, json;
};

static int usage_error(const char *fmt, const char *arg)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	return cmd_usage_error("talos", fmt, arg);
#pragma GCC diagnostic pop
}

/* Options of one subcommand; allowed lists which ones it takes. */
static int parse_args(int argc, char **argv, const char *allowed, struct talos_args *a)
{
	static const struct {
		const char *name;
		size_t off; /* const char * field, or (size_t)-1 for flags */
	} opts[] = {
		{ "--out", offsetof(struct talos_args, out) },
		{ "--secrets", offsetof(struct talos_args, secrets) },
		{ "--config", offsetof(struct talos_args, config) },
	};

	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		bool done = false;
		int r = profile_opts_arg(&a->po, argc, argv, &i);

		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !done; k++) {
			size_t n = strlen(opts[k].name);
			if (strncmp(arg, opts[k].name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
				continue;
			if (!strstr(allowed, opts[k].name))
				return usage_error("option '%s' does not apply here", opts[k].name);
			if (arg[n] == '=') {
				*(const char **)((char *)a + opts[k].off) = arg + n + 1;
			} else {
				if (i + 1 >= argc)
					return usage_error("option '%s' needs a value", opts[k].name);
				*(const char **)((char *)a + opts[k].off) = argv[++i];
			}
			done = true;
		}
		if (done)
			continue;
		if (strncmp(arg, "--node", 6) == 0 && (arg[6] == '\0' || arg[6] == '=') &&
		    strstr(allowed, "--node")) {
			if (arg[6] == '\0' && i + 1 >= argc)
				return usage_error("option '%s' needs a value", "--node");
			a->nodes = xrealloc(a->nodes, sizeof(*a->nodes) * (size_t)(a->n_nodes + 1));
			a->nodes[a->n_nodes++] = arg[6] == '=' ? arg + 7 : argv[++i];
		} else if (strcmp(arg, "--rotate") == 0 && strstr(allowed, "--rotate")) {
			a->rotate = true;
		} else if (strcmp(arg, "--id") == 0 && strstr(allowed, "--id")) {
			a->id_only = true;
		} else if (strcmp(arg, "--urls") == 0 && strstr(allowed, "--urls")) {
			a->urls_only = true;
		} else if (strcmp(arg, "--json") == 0 && strstr(allowed, "--json")) {
			a->json = true;
		} else if (arg[0] == '-' && arg[1]) {
			static const char *const all[] = { "--node", "--rotate", "--id", "--urls", "--json" };
			for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
				if (strncmp(arg, all[k], strlen(all[k])) == 0 &&
				    (arg[strlen(all[k])] == '\0' || arg[strlen(all[k])] == '='))
					return usage_error("option '%s' does not apply here", all[k]);
			return usage_error("unknown option '%s'", arg);
		} else if (!a->po.profile) {
			a->po.profile = arg;
		} else {
			return usage_error("unexpected argument '%s'", arg);
		}
	}
	cmd_default_profile(&a->po);
	if (!a->po.profile)
		return usage_error("%s", "no PROFILE given");
	return 0;
}

static int fail(const struct app_err *e, int code)
{
	cmd_err(e);
	return code;
}

/* Invalid input (the profile or a given file is wrong) is exit 2; I/O and
 * other failures 1. */
static int exit_for(const struct app_err *e)
{
	return e->code == -EINVAL || e->code == -ENOTSUP ? EXIT_USAGE : EXIT_FAIL;
}

static int do_secrets(struct talos_args *a)
{
	struct app_err e = { 0 };
	struct talos_bundle b;
	struct model *m;
	char fp[65], *old = NULL;
	int r;

	if (!a->out)
		return usage_error("%s", "'secrets' needs --out FILE");
	m = cmd_load_model(&a->po, false);
	if (!m)
		return EXIT_USAGE;
	model_free(m);
	if (talos_secrets_may_write(a->out, a->rotate, &e) < 0)
		return fail(&e, EXIT_FAIL);
	r = talos_secrets_generate(&b, time(NULL), &e);
	if (r == 0)
		r = talos_secrets_write(a->out, &b, a->rotate, &old, &e);
	if (r < 0) {
		talos_secrets_free(&b);
		return fail(&e, exit_for(&e));
	}
	talos_secrets_fingerprint(&b, fp);
	talos_secrets_free(&b);
	if (a->json) { /* names and the CA's fingerprint: never a key */
		cmd_json_str("out", a->out);
		cmd_json_str("mode", "0600");
		cmd_json_str("caFingerprint", fp);
		cmd_json_str("previous", old);
		free(old);
		return EXIT_OK;
	}
	if (old)
		printf("kept the previous bundle as %s\n", old);
	printf("wrote secrets bundle %s (mode 0600)\n", a->out);
	printf("OS CA fingerprint: %s\n", fp);
	printf("record it in the profile as talos.caFingerprint so rebuilds refuse another bundle\n");
	free(old);
	return EXIT_OK;
}

/* Load the bundle and check it against the profile's recorded identity. */
static int load_bundle(const struct model *m, const char *path, struct talos_bundle *b, struct app_err *e)
{
	return talos_secrets_load_for(path, m->talos.ca_fingerprint, b, e);
}

static bool node_selected(const struct talos_args *a, const char *name)
{
	if (!a->n_nodes)
		return true;
	for (int i = 0; i < a->n_nodes; i++)
		if (strcmp(a->nodes[i], name) == 0)
			return true;
	return false;
}

static int gen_talosconfig(const struct model *m, const struct talos_bundle *b, const char *dir, bool *kept,
			   struct app_err *e)
{
	char *path = xasprintf("%s/talosconfig", dir);
	struct buf old = { 0 }, out = { 0 };
	struct stat st;
	int r;

	*kept = false;
	if (stat(path, &st) == 0) {
		r = read_file(path, TALOSCONFIG_MAX, &old, e);
		if (r == 0 && talos_talosconfig_check(old.data, old.len, b, time(NULL), TALOSCONFIG_MIN_VALID,
						      NULL) == 0) {
			*kept = true;
			goto out;
		}
	}
	r = talos_talosconfig_render(m, b, time(NULL), &out, e);
	if (r == 0)
		r = write_file_atomic(path, out.data, out.len, 0600, e);
out:
	secure_free(old.data, old.cap);
	secure_free(out.data, out.cap);
	free(path);
	return r;
}

static int do_gen(struct talos_args *a)
{
	struct app_err e = { 0 };
	struct talos_bundle b;
	struct model *m;
	char id[65];
	int r, matched = 0;
	bool kept = false;
	struct buf json = { 0 }; /* --json: the configs written, never their contents */
	struct buf *cfgs;

	if (!a->secrets || !a->out)
		return usage_error("%s", "'gen' needs --secrets FILE and --out DIR");
	m = cmd_load_model(&a->po, false);
	if (!m)
		return EXIT_USAGE;
	for (int i = 0; i < a->n_nodes; i++)
		if (!model_node_by_name(m, a->nodes[i])) {
			cmd_error("no node '%s' in the profile", a->nodes[i]);
			model_free(m);
			return EXIT_USAGE;
		}
	r = talos_config_minor(m->talos.version, &e);
	if (r >= 0)
		r = talos_schematic_id(m, id, &e);
	if (r >= 0)
		r = load_bundle(m, a->secrets, &b, &e);
	if (r < 0) {
		model_free(m);
		return fail(&e, exit_for(&e));
	}
	/* every config rendered before anything is written: a secret that cannot be read
	 * (or any other refusal) leaves no directory and no config of another node */
	cfgs = xcalloc(m->n_nodes ? m->n_nodes : 1, sizeof(*cfgs));
	r = 0;
	for (size_t i = 0; r == 0 && i < m->n_nodes; i++)
		if (node_selected(a, m->nodes[i].name)) {
			matched++;
			r = talos_config_render(m, &m->nodes[i], &b, id, &cfgs[i], &e);
		}
	if (r == 0)
		r = mkdir_p(a->out, 0700, &e);
	buf_puts(&json, "[");
	for (size_t i = 0; r == 0 && i < m->n_nodes; i++) {
		const struct model_node *node = &m->nodes[i];
		char *path;

		if (!node_selected(a, node->name))
			continue;
		path = xasprintf("%s/%s.yaml", a->out, node->name);
		r = write_file_atomic(path, cfgs[i].data, cfgs[i].len, 0600, &e);
		if (r == 0) {
			cmd_say("wrote %s (%s)\n", path, node->role_text ? node->role_text : "");
			buf_puts(&json, json.len > 1 ? ",{\"node\":" : "{\"node\":");
			json_buf_str(&json, node->name);
			buf_puts(&json, ",\"role\":");
			json_buf_str(&json, node->role_text ? node->role_text : "");
			buf_puts(&json, ",\"path\":");
			json_buf_str(&json, path);
			buf_puts(&json, "}");
		}
		free(path);
	}
	for (size_t i = 0; i < m->n_nodes; i++)
		secure_free(cfgs[i].data, cfgs[i].cap);
	free(cfgs);
	if (r == 0) {
		r = gen_talosconfig(m, &b, a->out, &kept, &e);
		if (r == 0)
			cmd_say("%s %s/talosconfig\n", kept ? "kept" : "wrote", a->out);
	}
	buf_puts(&json, "]");
	if (r == 0 && a->json) {
		char *tc = xasprintf("%s/talosconfig", a->out);
		cmd_json_raw("configs", json.data);
		cmd_json_str("talosconfig", tc);
		cmd_json_bool("kept", kept);
		free(tc);
	}
	buf_free(&json);
	talos_secrets_free(&b);
	model_free(m);
	if (r < 0)
		return fail(&e, exit_for(&e));
	return EXIT_OK;
}

static int do_schematic(struct talos_args *a)
{
	struct app_err e = { 0 };
	struct buf text = { 0 };
	struct model *m;
	char id[65];
	int r;

	m = cmd_load_model(&a->po, false);
	if (!m)
		return EXIT_USAGE;
	r = talos_schematic_render(m, &text, &e);
	if (r < 0) {
		model_free(m);
		return fail(&e, EXIT_USAGE);
	}
	sha256_hex(text.data, text.len, id);
	if (a->id_only) {
		printf("%s\n", id);
	} else if (a->json) {
		printf("{\"id\":\"%s\",\"schematic\":", id);
		json_str(stdout, text.data);
		printf(",\"version\":");
		json_str(stdout, m->talos.version);
		printf(",\"urls\":{");
		for (int i = 0; i < TALOS_ASSET_COUNT; i++) {
			char *url = talos_asset_url(m, id, (enum talos_asset)i);
			printf("%s", i ? "," : "");
			json_str(stdout, talos_asset_name((enum talos_asset)i));
			putchar(':');
			json_str(stdout, url);
			free(url);
		}
		printf("}}\n");
	} else {
		if (!a->urls_only)
			printf("%s# id: %s\n# talos: %s\n", text.data, id, m->talos.version);
		for (int i = 0; i < TALOS_ASSET_COUNT; i++) {
			char *url = talos_asset_url(m, id, (enum talos_asset)i);
			printf(a->urls_only ? "%s %s\n" : "# %s: %s\n", talos_asset_name((enum talos_asset)i),
			       url);
			free(url);
		}
	}
	buf_free(&text);
	model_free(m);
	return EXIT_OK;
}

static int do_volume(struct talos_args *a)
{
	struct app_err e = { 0 };
	struct buf cfg = { 0 };
	struct talos_bundle b;
	const struct model_node *node;
	struct model *m;
	char id[65];
	int r;

	if (a->n_nodes != 1 || !a->out || !a->secrets == !a->config)
		return usage_error(
		    "%s", "'config-volume' needs --node NAME, --out FILE and one of --secrets FILE or "
			  "--config FILE");
	m = cmd_load_model(&a->po, false);
	if (!m)
		return EXIT_USAGE;
	node = model_node_by_name(m, a->nodes[0]);
	if (!node) {
		cmd_error("no node '%s' in the profile", a->nodes[0]);
		model_free(m);
		return EXIT_USAGE;
	}
	if (a->config && cmd_check_machine_config(a->config, 8u << 20) != 0) {
		model_free(m);
		return EXIT_USAGE;
	}
	if (a->config) {
		r = read_file(a->config, 8u << 20, &cfg, &e);
	} else {
		r = talos_schematic_id(m, id, &e);
		if (r == 0)
			r = load_bundle(m, a->secrets, &b, &e);
		if (r == 0) {
			r = talos_config_render(m, node, &b, id, &cfg, &e);
			talos_secrets_free(&b);
		}
	}
	if (r == 0)
		r = talos_volume_build(cfg.data, cfg.len, a->out, &e);
	secure_free(cfg.data, cfg.cap);
	if (r == 0)
		printf("wrote %s (iso9660, label %s, %s for node %s, mode 0600)\n", a->out,
		       TALOS_VOLUME_LABEL, TALOS_VOLUME_FILE, node->name);
	model_free(m);
	return r < 0 ? fail(&e, exit_for(&e)) : EXIT_OK;
}

static const struct {
	const char *name;
	const char *options;
	int (*fn)(struct talos_args *a);
} subcommands[] = {
	{ "secrets", "--out --rotate --json", do_secrets },
	{ "gen", "--secrets --out --node --json", do_gen },
	{ "schematic", "--id --urls --json", do_schematic },
	{ "config-volume", "--node --out --secrets --config", do_volume },
};

int cmd_talos(int argc, char **argv)
{
	struct talos_args a = { 0 };
	int r;

	if (argc < 2)
		return usage_error("%s", "missing subcommand (secrets, gen, schematic, config-volume)");
	if (cmd_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	for (int i = 2; i < argc; i++)
		if (cmd_is_help(argv[i])) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[1], subcommands[i].name) != 0)
			continue;
		/* --json of secrets and gen: the result object (schematic prints its own) */
		if (subcommands[i].fn == do_secrets)
			cmd_json_begin(argc, argv, "talos secrets");
		else if (subcommands[i].fn == do_gen)
			cmd_json_begin(argc, argv, "talos gen");
		r = parse_args(argc, argv, subcommands[i].options, &a);
		if (r == 0)
			r = subcommands[i].fn(&a);
		profile_opts_free(&a.po);
		free(a.nodes);
		return r;
	}
	return usage_error("unknown subcommand '%s'", argv[1]);
}
