/* Secret values. The profile only names secrets (`secrets:` maps a name to
 * "env:VAR" or "file:PATH"); values are read here when needed, never logged,
 * and freed with secret_free() which wipes them. */
#ifndef APPLIANCE_SECRET_H
#define APPLIANCE_SECRET_H

#include <stddef.h>

struct model;
struct app_err;

struct secret {
	char *data; /* NUL-terminated; may contain NULs for binary file secrets */
	size_t len;
	size_t cap; /* bytes allocated at data (all wiped by secret_free) */
};

/* Read the secret called name. trim: drop trailing newlines (passwords,
 * tokens). Errors name the secret and its reference, never the value. A
 * file: secret must be a regular file of at most 1 MiB; it is opened without
 * blocking, so a FIFO or a device is refused, never read. */
int secret_read(const struct model *m, const char *name, int trim, struct secret *ret, struct app_err *e);

/* Whether secret_read() could read secret NAME, without reading it: a file:
 * reference is resolved and opened as secret_read() does (same folder rule,
 * same refusals); env: references and unknown names are not looked at (0).
 * The message names the path and the reason, not the secret. On success
 * *ret_path is the file's path (caller frees; NULL when not a file: secret)
 * and *ret_mode its permission bits. */
int secret_check(const struct model *m, const char *name, char **ret_path, unsigned *ret_mode,
		 struct app_err *e);

/* The reference text ("env:X" / "file:P") of a secret, or NULL. */
const char *secret_ref(const struct model *m, const char *name);

void secret_free(struct secret *s);

#endif
