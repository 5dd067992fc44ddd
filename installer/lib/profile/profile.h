/* Profile loading: YAML -> merged tree -> strict validation -> typed model.
 *
 * Layers, later wins: built-in defaults (profiles/defaults.yaml, compiled in)
 * <- PROFILE <- each --site FILE <- each --set KEY=VALUE. Maps merge key by key;
 * scalars and sequences replace.
 *
 * Every problem is collected (never just the first), each with its source
 * position and key path; see docs/profile.md for the rules.
 *
 * The loader's pieces, each with its own header: diag.h (diagnostics),
 * value.h (the syntax of single values, the size and duration parsers),
 * bind.h (the schema walk), rules.h (rules across fields), keys.h (the key
 * reference), model.h (the model and its helpers). This header brings the
 * ones a command needs: diagnostics, value parsers and the key reference. */
#ifndef APPLIANCE_PROFILE_H
#define APPLIANCE_PROFILE_H

#include "profile/diag.h"
#include "profile/keys.h"
#include "profile/model.h"
#include "profile/value.h"

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

/* The compiled-in defaults (NUL-terminated YAML). */
const char *profile_defaults_yaml(void);

/* The compiled-in default size at key PATH ("talos.installDiskMinSize"), for
 * a command that runs without a profile (identify). 0, or -ENOENT/-EINVAL. */
int profile_default_size(const char *path, uint64_t *ret);

#endif
