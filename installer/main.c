/* appliance: provision Talos nodes, their disks, the NAS and the Immich stack
 * from one profile. This file only dispatches; each command is cmd/<name>.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ytree.h"
#include "cmd/cmd.h"
#include "cmd/doc.h"
#include "base/util.h"
#include "profile/profile.h"
#include "version.h"
#if __has_include("../build/version_info.h")
#include "../build/version_info.h" /* mk/version.mk */
#endif
#ifndef APPLIANCE_COMMIT
#define APPLIANCE_COMMIT "unknown"
#define APPLIANCE_BUILD_DATE "unknown"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "init", cmd_init, "write a commented starter profile for a new site" },
	{ "identify", cmd_identify, "print this machine's node block (MACs, DMI, disks)" },
	{ "validate", cmd_validate, "check a profile and report every problem with its position",
	  &cmd_doc_validate },
	{ "config", cmd_config, "print the effective profile: defaults merged, secrets redacted" },
	{ "render", cmd_render, "render the Immich stack and its Flux wiring into a GitOps tree",
	  &cmd_doc_render },
	{ "talos", cmd_talos, "Talos secrets, machine configs, schematic and config volume", &cmd_doc_talos },
	{ "disks", cmd_disks, "list this machine's disks, their signatures and roles", &cmd_doc_disks },
	{ "wipe", cmd_wipe, "prepare a node's Ceph disks (dry run unless --apply)", &cmd_doc_wipe },
	{ "image", cmd_image, "fetch, write and verify the Talos image", &cmd_doc_image },
	{ "nas", cmd_nas, "check and prepare the site's NAS over SMB", &cmd_doc_nas },
	{ "plan", cmd_plan, "show every step an install would take", &cmd_doc_plan },
	{ "install", cmd_install, "install this node (plan unless --apply)", &cmd_doc_install },
	{ "pxe", cmd_pxe, "build (and serve) a PXE tree for unattended installs", &cmd_doc_pxe },
	{ "bootstrap", cmd_bootstrap, "bootstrap etcd over the Talos API and fetch the kubeconfig",
	  &cmd_doc_bootstrap },
	{ "rebuild", cmd_rebuild, "rebuild a failed site from its secrets and backups", &cmd_doc_rebuild },
	{ "apply", cmd_apply, "apply the profile's machine configs to running nodes (dry run)" },
	{ "upgrade", cmd_upgrade, "upgrade Talos and Kubernetes node by node (plan first)" },
	{ "status", cmd_status, "the site's health: nodes, etcd, cluster, Flux, NAS, backups" },
	{ "version", cmd_version, "print the version", &cmd_doc_version },
	{ "help", cmd_help, "show help for a command", &cmd_doc_help },
	/* internal: for the shell completions and the man page (cmd/complete.c) */
	{ "_complete", cmd__complete, "print commands, options or node names for shell completion", NULL },
	{ "_man", cmd__man, "print the COMMANDS section of appliance(1)", NULL },
};

const struct command *cmd_commands(size_t *n)
{
	*n = sizeof(commands) / sizeof(commands[0]);
	return commands;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void unknown_command(const char *name)
{
	const char *near = value_closest(name, &commands[0].name, sizeof(commands[0]),
					 sizeof(commands) / sizeof(commands[0]));

	if (near)
		fprintf(stderr, "appliance: unknown command '%s'; did you mean '%s'?\n", name, near);
	else
		fprintf(stderr, "appliance: unknown command '%s'\n", name);
	fprintf(stderr, "try 'appliance help' for the list of commands\n");
}

/* The options appliance itself takes before a COMMAND; every other option follows its command. */
static const char *const global_options[] = { "--help", "-h", "--version" };

/* ARGV[1] is an option appliance does not take: name the global option meant, or the
 * command's option when a command follows (appliance --jsn validate). */
static void unknown_global_option(int argc, char **argv)
{
	const char *opt = argv[1], *cmd = argc > 2 ? argv[2] : NULL;
	/* long options only: any one-letter typo is one edit from -h */
	const char *near = opt[1] == '-' ? value_closest(opt, global_options, sizeof(global_options[0]),
							 sizeof(global_options) / sizeof(global_options[0]))
					 : NULL;
	char *of_cmd = NULL, *line = NULL;
	/* a subcommand's own options (appliance --timout nas check): "nas check" when it has one */
	const struct command *c = cmd ? find_command(cmd) : NULL;

	if (!near && c && cmd[0] != '_' && opt[1] == '-') {
		if (argc > 3 && c->doc && c->doc->subs && cmd_in_list(c->doc->subs, argv[3])) {
			line = xasprintf("%s %s", cmd, argv[3]);
			of_cmd = cmd_closest_option(line, opt);
		}
		if (!of_cmd) {
			free(line);
			line = xstrdup(cmd);
			of_cmd = cmd_closest_option(cmd, opt);
		}
	}
	if (near)
		fprintf(stderr, "appliance: unknown option '%s'; did you mean '%s'?\n", opt, near);
	else if (of_cmd)
		fprintf(stderr,
			"appliance: unknown option '%s'; did you mean 'appliance %s %s'? (a command's "
			"options follow it)\n",
			opt, line, of_cmd);
	else
		fprintf(stderr, "appliance: unknown option '%s'\n", opt);
	fprintf(stderr, "try 'appliance help' for the options and commands\n");
	free(of_cmd);
	free(line);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance COMMAND [ARGS]...\n       appliance --help | --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].name[0] != '_')
			fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'appliance help COMMAND' or 'appliance COMMAND --help' for a command's options.\n"
		   "exit codes: 0 ok, 1 failure, 2 usage error or invalid input\n");
}

/* A version the compiled-in defaults pin ("?" when absent). */
static const char *pinned(const struct ytree *t, const char *path)
{
	const struct ynode *n = t ? ytree_get(t->root, path) : NULL;
	return n && n->type == YN_SCALAR ? n->value : "?";
}

static int cmd_version(int argc, char **argv)
{
	struct ytree *t = NULL;
	struct app_err e = { 0 };
	const char *d = profile_defaults_yaml();
	bool json = argc > 1 && strcmp(argv[1], "--json") == 0;

	if (argc > 1 && cmd_is_help(argv[1])) {
		printf("usage: appliance version [--json]\n\n"
		       "The version, the commit and date it was built from, and the versions it\n"
		       "installs by default (Talos, Kubernetes, Flux; profiles may pin others).\n\n"
		       "examples:\n  appliance version\n  appliance version --json | jq -r .commit\n");
		return EXIT_OK;
	}
	if (argc > 2 || (argc > 1 && !json))
		return cmd_usage_error("version", "unexpected argument '%s'", argv[argc > 2 ? 2 : 1]);
	ytree_parse(PROFILE_DEFAULTS_NAME, d, strlen(d), &t, &e);
	if (json)
		printf("{\"version\":\"%s\",\"commit\":\"%s\",\"buildDate\":\"%s\",\"talos\":\"%s\","
		       "\"talosSupported\":[\"v1.10\",\"v1.11\",\"v1.12\"],\"kubernetes\":\"%s\",\"flux\":\"%"
		       "s\"}\n",
		       APPLIANCE_VERSION, APPLIANCE_COMMIT, APPLIANCE_BUILD_DATE, pinned(t, "talos.version"),
		       pinned(t, "talos.kubernetesVersion"), pinned(t, "gitops.flux.version"));
	else
		printf("appliance %s (commit %s, built %s)\n"
		       "installs Talos %s (supports v1.10.x to v1.12.x), Kubernetes %s, Flux %s\n",
		       APPLIANCE_VERSION, APPLIANCE_COMMIT, APPLIANCE_BUILD_DATE, pinned(t, "talos.version"),
		       pinned(t, "talos.kubernetesVersion"), pinned(t, "gitops.flux.version"));
	ytree_free(t);
	return EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;
	char help[] = "--help";
	char *sub[] = { NULL, help, NULL };

	if (argc < 2 || cmd_is_help(argv[1])) {
		usage(stdout);
		return EXIT_OK;
	}
	c = find_command(argv[1]);
	if (!c) {
		unknown_command(argv[1]);
		return EXIT_USAGE;
	}
	if (c->fn == cmd_help) {
		usage(stdout);
		return EXIT_OK;
	}
	sub[0] = argv[1];
	return c->fn(2, sub);
}

int main(int argc, char **argv)
{
	const struct command *c;

	/* before any secret is read: no core dumps, not dumpable (issue 17) */
	protect_process_secrets();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cmd_is_help(argv[1])) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv + 1);
	if (argv[1][0] == '-' && argv[1][1]) {
		unknown_global_option(argc, argv);
		return EXIT_USAGE;
	}
	c = find_command(argv[1]);
	if (!c) {
		unknown_command(argv[1]);
		return EXIT_USAGE;
	}
	/* a command that reports with --json prints its result object whatever it returned */
	return cmd_json_end(c->fn(argc - 1, argv + 1));
}
