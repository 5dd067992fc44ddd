/* The subcommands. Each lives in cmd/<name>.c and exports cmd_<name>().
 * Exit codes, the same for every command (README.md, `appliance help`):
 *   0 ok, 1 the operation failed, 2 usage error or invalid input. */
#ifndef APPLIANCE_CMD_H
#define APPLIANCE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "net/s3.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct model;
struct model_node;
struct hw_opts;
struct app_err;

#define CMD(name) int cmd_##name(int argc, char **argv);
CMD(validate)
CMD(render)
CMD(talos)
CMD(disks)
CMD(wipe)
CMD(image)
CMD(nas)
CMD(plan)
CMD(install)
CMD(pxe)
CMD(bootstrap)
CMD(rebuild)
CMD(status)
CMD(apply)
CMD(upgrade)
CMD(init)
CMD(identify)
CMD(config)
#undef CMD

/* Options every profile-reading command accepts: PROFILE [--site FILE]...
 * [--set KEY=VALUE]... */
struct profile_opts {
	const char *profile;
	const char **sites;
	int n_sites;
	const char **sets;
	int n_sets;
};

/* If argv[*i] is --site/--set (either "--site F" or "--site=F"), record it,
 * advance *i past its value and return 1; return 0 when it is not one of
 * them; -1 (after printing usage) when the value is missing. */
int profile_opts_arg(struct profile_opts *o, int argc, char **argv, int *i);

/* Load, merge and validate. Prints every diagnostic on stderr (or nothing
 * when quiet) and returns NULL when the profile is invalid. */
struct model *cmd_load_model(const struct profile_opts *o, bool quiet);

/* cmd_load_model, then the node NAME of it in *ret_node. NULL (after the
 * diagnostics, or "profile 'P' has no node 'NAME'") when either fails. */
struct model *cmd_load_node(const struct profile_opts *o, const char *name,
			    const struct model_node **ret_node);

void profile_opts_free(struct profile_opts *o);

/* No PROFILE given: $APPLIANCE_PROFILE, else ./appliance.yaml when it exists. */
void cmd_default_profile(struct profile_opts *o);

/* The state folder: $APPLIANCE_STATE_DIR when set and not empty, else
 * /var/lib/appliance (journals, configs, the image cache in its cache/). */
const char *cmd_state_dir(void);

/* "--name VALUE" or "--name=VALUE" at argv[*i]: 1 with the value in *ret (and
 * *i past it), 0 when argv[*i] is another argument, -1 when the value is
 * missing. Prints nothing. */
int cmd_opt_value(int argc, char **argv, int *i, const char *name, const char **ret);
/* The same, for callers that only need "this option's value or not": NULL
 * when argv[*i] is not NAME or has no value. */
const char *cmd_opt(int argc, char **argv, int *i, const char *name);

/* A value option in a command's table: "--name VALUE" or "--name=VALUE", its
 * value stored as a const char * at OFF in the command's options struct, or
 * only handed back to the caller when OFF is CMD_OPT_OWN. */
struct cmd_value_opt {
	const char *name;
	size_t off;
};
#define CMD_OPT_OWN ((size_t)-1)

/* If argv[*i] is one of the N options of T: store its value in OPTS (see
 * above), set *hit and *val, advance *i past it and return 1. 0 when argv[*i]
 * is none of them; -1 after the usage error "option '--name' needs a value"
 * of command CMD. */
int cmd_value_opts(const char *cmd, int argc, char **argv, int *i, const struct cmd_value_opt *t, size_t n,
		   void *opts, const struct cmd_value_opt **hit, const char **val);

/* ARG, which no option took: an option name (leading '-') is a usage error
 * "unknown option", a second positional one "unexpected argument"; else it is
 * the PROFILE. 0 when taken, else the usage error's exit code. */
int cmd_profile_arg(const char *cmd, struct profile_opts *o, const char *arg);

/* The node's Talos API address from the model: its static address (CIDR
 * stripped), else its hostname; NULL when it has neither. Caller frees. */
char *cmd_node_host(const struct model_node *n);

/* talosapi_retry.on_retry for the commands that wait for apid: one line on
 * stderr per failed attempt. */
void cmd_talos_on_retry(void *ud, int attempt, const char *why, long delay_ms);

/* The inventory options of the disk commands: --hw-root DIR and --live PATH
 * (into o), --disk-file FILE (repeatable: appended to *files, the caller
 * frees it). True when argv[*i] was one of them with its value (*i past it);
 * false otherwise, a missing value included. */
bool cmd_hw_opt(int argc, char **argv, int *i, struct hw_opts *o, const char ***files, size_t *n_files);

/* The database's backups in its primary object store
 * (apps.immich.database.primary), read only: where they are and what
 * s3_barman_scan found for serverName server. Credentials come from the
 * site.secretVars the store's access/secret key variables name. */
struct cmd_backups {
	char *bucket, *prefix, *endpoint;
	struct s3_barman barman;
};
int cmd_backups_scan(const struct model *m, const char *server, struct cmd_backups *ret, struct app_err *e);
void cmd_backups_free(struct cmd_backups *b);

/* --config FILE, a node's machine config rendered elsewhere: a regular file of
 * at most MAX bytes that is a Talos machine config (nodecfg_check). 0, or
 * EXIT_USAGE after saying what is wrong with it, naming the file (never a
 * value: it holds secrets). Checked before anything is written. */
int cmd_check_machine_config(const char *path, size_t max);

/* Print "appliance: <msg>" to stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cmd_err(const struct app_err *e);

/* Usage error: prints msg and "try 'appliance CMD --help'", returns 2. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --json result objects (cmd/result.c): cmd_json_begin turns them on when
 * argv holds --json (true then); the command adds its fields; main() prints
 * {"command":..., fields..., "ok":..., "exit":..., "error":...} once the
 * command returns, whatever it returned. cmd_error, cmd_usage_error and a
 * failed profile load record the first error. Text output is the command's
 * own business: print none while cmd_json() is true. */
bool cmd_json_begin(int argc, char **argv, const char *command);
bool cmd_json(void);
void cmd_json_str(const char *key, const char *value); /* NULL: null */
void cmd_json_int(const char *key, long long value);
void cmd_json_bool(const char *key, bool value);
void cmd_json_raw(const char *key, const char *json); /* an array or object the caller built */
void cmd_json_error(const char *msg);
int cmd_json_end(int rc);
/* printf for the text output: nothing while --json is on (the result says it) */
#define cmd_say(...)                         \
	do {                                 \
		if (!cmd_json())             \
			printf(__VA_ARGS__); \
	} while (0)

/* True if arg is -h or --help. */
bool cmd_is_help(const char *arg);

/* Is WORD one of the space-separated words of LIST (NULL: none)? */
bool cmd_in_list(const char *list, const char *word);

/* Option OPT's value V as a duration with its unit, read by the profile's parser (10s,
 * 500ms, 1m30s), from MIN_MS to MAX_MS: 0, or EXIT_USAGE after saying what is wrong (a bare
 * number: "did you mean '5s'?"). */
int cmd_parse_duration(const char *cmd, const char *opt, const char *v, long long min_ms, long long max_ms,
		       long long *ret_ms);
/* The same in whole seconds, rounded up (1500ms waits 2s), from MIN_S to MAX_S. */
int cmd_parse_duration_s(const char *cmd, const char *opt, const char *v, long min_s, long max_s,
			 long *ret_s);

/* The option of command CMD ("nas check" for a subcommand) closest to OPT, OPT itself
 * when CMD has it, or NULL: from the command's --help. Caller frees. */
char *cmd_closest_option(const char *cmd, const char *opt);

#endif
