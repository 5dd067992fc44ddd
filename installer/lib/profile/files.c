/* The files a profile names (see files.h). */
#include "profile/files.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "base/ytree.h"
#include "profile/secret.h"

/* Path-valued keys besides the secrets, and what fails without the file. */
static const struct path_key {
	const char *key;
	size_t off; /* of the char * in struct model */
	const char *need;
} path_keys[] = {
	{ "talos.image.pins", offsetof(struct model, talos.image.pins),
	  "install needs the image's hash pinned in it ('appliance image fetch --trust-on-first-use' records "
	  "it)" },
};

/* Where key is written in the profile (NULL: reported without a position). */
static const struct ynode *key_node(const struct model *m, const char *key)
{
	return m->tree ? ytree_get(m->tree->root, key) : NULL;
}

static void warn(struct diag_ctx *c, const struct model *m, const char *key, const char *msg,
		 const char *need)
{
	diag_node(c, key_node(m, key), key, DIAG_WARNING, "%s; %s", msg, need);
}

void profile_check_files(struct diag_ctx *c, const struct model *m)
{
	struct app_err e = { 0 };

	for (size_t i = 0; i < sizeof(path_keys) / sizeof(path_keys[0]); i++) {
		const char *rel = *(char *const *)((const char *)m + path_keys[i].off);
		char *path;
		int fd;

		if (!rel || !*rel)
			continue;
		path = model_path(m, rel);
		fd = open_regular(path, NULL, &e);
		if (fd >= 0)
			close(fd);
		else
			warn(c, m, path_keys[i].key, e.msg, path_keys[i].need);
		free(path);
	}
	for (size_t i = 0; i < m->secrets.n; i++) {
		char *key = xasprintf("secrets.%s", m->secrets.v[i].key), *path;
		unsigned mode;

		if (secret_check(m, m->secrets.v[i].key, &path, &mode, &e) < 0)
			warn(c, m, key, e.msg, "commands that read this secret fail on this machine");
		else if (path && (mode & 077))
			/* like ssh with a private key: group or others may read
			 * (or replace) the secret */
			diag_node(c, key_node(m, key), key, DIAG_WARNING,
				  "'%s' is %s by others (mode %04o): chmod 600 '%s'", path,
				  mode & 044 ? "readable" : "writable", mode, path);
		free(path);
		free(key);
	}
}
