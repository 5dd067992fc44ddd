/* The files a profile names (talos.image.pins, each file: secret), checked
 * without reading them, the way the commands that read them open them. */
#ifndef APPLIANCE_PROFILE_FILES_H
#define APPLIANCE_PROFILE_FILES_H

#include "profile/diag.h"
#include "profile/model.h"

/* A warning at the key of each named file that is missing, unreadable, not a
 * regular file, too large or outside the profile's folder: relative paths
 * resolve beside the profile (model_path), as every command resolves them.
 * Warnings, not errors: the machine that validates may not hold the secrets.
 * Messages name the path and the reason, never a file's contents. A file:
 * secret the group or others may read or write warns too (chmod 600). */
void profile_check_files(struct diag_ctx *c, const struct model *m);

#endif
