/* In-memory cpio archives for the PXE tree. See pxe_cpio.h. */
#include "pxe/pxe_cpio.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

int pxe_cpio_open(struct pxe_cpio *c, const char *what, size_t cap, struct app_err *e)
{
	memset(c, 0, sizeof(*c));
	c->what = what;
	c->a = archive_write_new();
	c->mem = xmalloc(cap);
	c->cap = cap;
	archive_write_set_format_cpio_newc(c->a);
	archive_write_add_filter_none(c->a);
	archive_write_set_bytes_per_block(c->a, 0);
	if (archive_write_open_memory(c->a, c->mem, cap, &c->used) != ARCHIVE_OK)
		return app_err_set(e, -EIO, "%s: %s", what, archive_error_string(c->a));
	return 0;
}

static int entry(struct pxe_cpio *c, const char *name, unsigned type, const char *link, const void *data,
		 size_t len, struct app_err *e)
{
	struct archive_entry *ae = archive_entry_new();
	int r;

	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, type);
	archive_entry_set_perm(ae, type == AE_IFDIR ? 0700 : type == AE_IFLNK ? 0777 : 0600);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_size(ae, type == AE_IFREG ? (la_int64_t)len : 0);
	if (link)
		archive_entry_set_symlink(ae, link);
	archive_entry_set_nlink(ae, type == AE_IFDIR ? 2 : 1);
	archive_entry_set_ino(ae, ++c->ino);
	archive_entry_set_mtime(ae, 0, 0);
	r = archive_write_header(c->a, ae);
	if (r == ARCHIVE_OK && type == AE_IFREG && len > 0 &&
	    archive_write_data(c->a, data, len) != (la_ssize_t)len)
		r = ARCHIVE_FATAL;
	archive_entry_free(ae);
	if (r != ARCHIVE_OK)
		return app_err_set(e, -EIO, "%s: writing '%s': %s", c->what, name,
				   archive_error_string(c->a));
	return 0;
}

int pxe_cpio_add(struct pxe_cpio *c, const char *name, unsigned type, const char *link, const void *data,
		 size_t len, struct app_err *e)
{
	char *p = xstrdup(name);
	int ret = 0;

	for (char *s = strchr(p, '/'); ret == 0 && s; s = strchr(s + 1, '/')) {
		bool seen = false;

		*s = '\0';
		for (size_t i = 0; i < c->dirs.n && !seen; i++)
			seen = strcmp(c->dirs.v[i], p) == 0;
		if (!seen) {
			ret = entry(c, p, AE_IFDIR, NULL, NULL, 0, e);
			c->dirs.v = xrealloc(c->dirs.v, sizeof(*c->dirs.v) * (c->dirs.n + 1));
			c->dirs.v[c->dirs.n++] = xstrdup(p);
		}
		*s = '/';
	}
	if (ret == 0)
		ret = entry(c, name, type, link, data, len, e);
	free(p);
	return ret;
}

int pxe_cpio_add_file(struct pxe_cpio *c, const char *name, const char *src, size_t max, struct app_err *e)
{
	struct buf b = { 0 };
	int ret = read_file(src, max, &b, e);

	if (ret == 0)
		ret = pxe_cpio_add(c, name, AE_IFREG, NULL, b.data, b.len, e);
	if (b.data)
		secure_free(b.data, b.cap);
	return ret;
}

int pxe_cpio_close(struct pxe_cpio *c, struct app_err *e)
{
	if (archive_write_close(c->a) != ARCHIVE_OK)
		return app_err_set(e, -EFBIG, "%s: %s (more than %zu MiB?)", c->what,
				   archive_error_string(c->a), c->cap >> 20);
	return 0;
}

void pxe_cpio_free(struct pxe_cpio *c)
{
	if (c->a)
		archive_write_free(c->a);
	if (c->mem)
		secure_free(c->mem, c->cap);
	for (size_t i = 0; i < c->dirs.n; i++)
		free(c->dirs.v[i]);
	free(c->dirs.v);
	memset(c, 0, sizeof(*c));
}
