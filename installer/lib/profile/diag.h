/* Profile diagnostics: every problem found in a profile, each with its
 * source position and key path, collected (never just the first), sorted and
 * printed as text or JSON. */
#ifndef APPLIANCE_PROFILE_DIAG_H
#define APPLIANCE_PROFILE_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct ynode;

/* What `appliance init` writes where a choice is the site's; validate
 * reports each value holding it. */
#define PROFILE_CHOOSE_MARKER "<CHOOSE"

/* The file name that values from the compiled-in defaults carry. */
#define PROFILE_DEFAULTS_NAME "<built-in defaults>"

enum diag_severity { DIAG_ERROR = 0, DIAG_WARNING };

struct diag {
	char *file;
	int line, col; /* 1-based; 0 when unknown */
	char *path;    /* key path: "nodes[0].installDisk.size" ("" for the document) */
	enum diag_severity severity;
	char *msg;
};

struct diags {
	struct diag *v;
	size_t n;
	size_t errors, warnings;
};

/* One validation pass over a merged tree. */
struct diag_ctx {
	struct diags *d;
	const struct ynode *secrets; /* the merged `secrets:` map, for T_SECRET */
	const char *profile;	     /* the user's profile: where defaults' problems are reported */
	int absent;		     /* > 0 inside an optional section the profile leaves out */
};

/* A diagnostic at tree node N (NULL: no node). A value that came from the
 * built-in defaults is reported at the top of the user's profile: that is
 * where the fix goes. */
void diag_node(struct diag_ctx *c, const struct ynode *n, const char *path, enum diag_severity sev,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An error that has no tree node (the file did not parse); takes MSG. */
void diag_raw(struct diags *d, const char *file, int line, int col, char *msg);

/* Sort by file, line, column, path, message. */
void diags_sort(struct diags *d);

/* "a mapping", "a list" or "a single value", for messages. */
const char *diag_kind(const struct ynode *n);

/* "FILE:LINE:COL: error: PATH: MESSAGE" lines, sorted. */
void diags_print(const struct diags *d, FILE *f);
/* JSON array of {file,line,column,path,severity,message}. */
void diags_print_json(const struct diags *d, FILE *f);
void diags_free(struct diags *d);

#endif
