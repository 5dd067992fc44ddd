/* The command table and each command's options as data: what `appliance
 * help`, the man page (`appliance _man`) and the shell completions
 * (`appliance _complete`) are made of, so they cannot drift from the program.
 * tests/integration/cli_docs.sh checks every table against the command's own
 * parser (the option names in cmd/<name>.c) and its --help.
 *
 * A new command is one row in main.c's table; with .doc NULL its options are
 * read from its --help (every option written "--name ARG" there). Give it a
 * struct cmd_doc (beside its parser) to have its arguments, sub-commands and
 * option texts in the man page and the completions. */
#ifndef APPLIANCE_CMD_DOC_H
#define APPLIANCE_CMD_DOC_H

#include <stddef.h>

struct cmd_opt {
	const char *name; /* "--out" */
	const char *arg;  /* its value ("DIR", "FILE", "NAME", ...), NULL for a flag. FILE and PATH
			   * complete as files, DIR as folders, NAME of --node as the profile's nodes */
	const char *subs; /* the sub-commands it applies to ("gen config-volume"), NULL: all */
	const char *help; /* one line */
};

struct cmd_doc {
	const char *args;	    /* positional arguments ("PROFILE", "SOURCE DEVICE"), or NULL */
	const char *subs;	    /* sub-commands, space-separated, or NULL */
	const struct cmd_opt *opts; /* ends with { NULL } */
	const char *exit;	    /* what 1 means for it, when more precise than "failure" */
};

struct command {
	const char *name; /* a name starting with '_' is internal: not in `appliance help` */
	int (*fn)(int argc, char **argv);
	const char *summary;
	const struct cmd_doc *doc;
};

/* main.c's table. */
const struct command *cmd_commands(size_t *n);

#define DOC(name) extern const struct cmd_doc cmd_doc_##name;
DOC(validate)
DOC(render)
DOC(talos)
DOC(disks)
DOC(wipe)
DOC(image)
DOC(nas)
DOC(plan)
DOC(install)
DOC(pxe)
DOC(bootstrap)
DOC(rebuild)
DOC(version)
DOC(help)
#undef DOC

/* The internal commands: `_complete` (for the shell completions) and `_man`
 * (the COMMANDS section of appliance(1)); see cmd/complete.c. */
int cmd__complete(int argc, char **argv);
int cmd__man(int argc, char **argv);

#endif
