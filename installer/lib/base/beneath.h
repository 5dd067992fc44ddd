/* Files beneath a root directory, never outside it: every component below the
 * root is opened with O_NOFOLLOW (a symbolic link anywhere below the root is
 * refused, not followed), so a link planted in a checkout cannot send a write
 * or a removal elsewhere. The root itself is the caller's choice and trusted. */
#ifndef APPLIANCE_BENEATH_H
#define APPLIANCE_BENEATH_H

#include <stddef.h>
#include <sys/types.h>

struct app_err;

/* write_file_atomic for root/rel: missing directories below root are created
 * (0755), the temp file and the rename stay in rel's directory. rel is
 * relative, with no "." or ".." components. */
int write_file_beneath(const char *root, const char *rel, const void *data, size_t len, mode_t mode,
		       struct app_err *e);

/* unlink root/rel (ENOENT is not an error), then remove the directories of
 * rel that became empty, up to (not including) root. */
int unlink_beneath(const char *root, const char *rel, struct app_err *e);

#endif
