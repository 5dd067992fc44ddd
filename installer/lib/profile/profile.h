/* Profile loading: YAML -> merged tree -> strict validation -> typed model.
 *
 * Layers, later wins: built-in defaults (profiles/defaults.yaml, compiled in)
 * <- PROFILE <- each --site FILE <- each --set KEY=VALUE. Maps merge key by key;
 * scalars and sequences replace.
 *
 * Every problem is collected (never just the first), each with its source
 * position and key path; see docs/profile.md for the rules. */
#ifndef APPLIANCE_PROFILE_H
#define APPLIANCE_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "profile/model.h"

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

struct profile_input {
	const char *profile;
	const char *const *sites;
	int n_sites;
	const char *const *sets; /* "a.b[0].c=value" */
	int n_sets;
};

/* Load and validate. On success (no errors; warnings allowed) sets *ret and
 * returns 0. Otherwise returns -EINVAL (or -errno for I/O) with every problem
 * in *d, sorted by file, line, column. *d is filled in both cases. */
int profile_load(const struct profile_input *in, struct model **ret, struct diags *d);

/* "FILE:LINE:COL: error: PATH: MESSAGE" lines, sorted. */
void diags_print(const struct diags *d, FILE *f);
/* JSON array of {file,line,column,path,severity,message}. */
void diags_print_json(const struct diags *d, FILE *f);
void diags_free(struct diags *d);

/* "8Gi", "2Ti", "500GB", "1.5T", "4096": bytes. -EINVAL when malformed,
 * -ERANGE on overflow. The one size parser: use it, do not write another. */
int profile_parse_size(const char *s, uint64_t *ret);

/* Go duration ("30m", "1h30m", "10s", "500ms") in milliseconds. */
int profile_parse_duration(const char *s, long long *ms);

/* Every key a profile may have, one per line: "PATH<TAB>TYPE[<TAB>required]
 * [<TAB>default X]" (built-in defaults: profiles/defaults.yaml). */
void profile_print_keys(FILE *f);

/* The compiled-in defaults (NUL-terminated YAML). */
const char *profile_defaults_yaml(void);

#endif
