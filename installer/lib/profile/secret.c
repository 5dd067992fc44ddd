#include "profile/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "profile/model.h"
#include "base/util.h"

#define SECRET_MAX (1u << 20)

/* A file: secret: a regular file under SECRET_MAX, opened without blocking
 * (a FIFO must not hang the program, /dev/zero must not fill its memory).
 * Returns the fd; messages name the path, not the secret. */
static int open_secret_file(const char *path, struct app_err *e)
{
	char lim[32];
	struct stat st;
	int fd = open_regular(path, &st, e);

	if (fd >= 0 && (uint64_t)st.st_size > SECRET_MAX) {
		close(fd);
		fd = app_err_set(e, -EFBIG, "'%s' is larger than %s; refusing to read it", path,
				 fmt_bytes(SECRET_MAX, lim, sizeof(lim)));
	}
	return fd;
}

const char *secret_ref(const struct model *m, const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < m->secrets.n; i++)
		if (strcmp(m->secrets.v[i].key, name) == 0)
			return m->secrets.v[i].value;
	return NULL;
}

/* The path of file:REF, beside the profile; a relative reference stays in the
 * profile's folder: a profile from elsewhere must not pull '../../etc/shadow'
 * into a rendered Secret. Messages name the path, not the secret. */
static int secret_file_path(const struct model *m, const char *ref, char **ret, struct app_err *e)
{
	char *path = model_path(m, ref), *dir, *real;
	int r = 0;

	if (ref[0] != '/') {
		dir = realpath(m->dir ? m->dir : ".", NULL);
		real = realpath(path, NULL);
		if (dir && real && !path_beneath(real, dir))
			r = app_err_set(e, -EPERM,
					"file '%s' resolves to '%s', outside the profile's folder '%s': "
					"refused (name it by an absolute path)",
					ref, real, dir);
		free(dir);
		free(real);
	}
	if (r < 0)
		free(path);
	else
		*ret = path;
	return r;
}

/* Open the file of file:REF (its path in *ret_path, caller frees). */
static int secret_file_open(const struct model *m, const char *ref, char **ret_path, struct app_err *e)
{
	int r = secret_file_path(m, ref, ret_path, e);

	return r < 0 ? r : open_secret_file(*ret_path, e);
}

int secret_check(const struct model *m, const char *name, char **ret_path, unsigned *ret_mode,
		 struct app_err *e)
{
	const char *ref = secret_ref(m, name);
	char *path = NULL;
	struct stat st;
	int fd;

	*ret_path = NULL;
	*ret_mode = 0;
	if (!ref || strncmp(ref, "file:", 5) != 0)
		return 0;
	fd = secret_file_open(m, ref + 5, &path, e);
	if (fd < 0) {
		free(path);
		return fd;
	}
	if (fstat(fd, &st) == 0)
		*ret_mode = (unsigned)st.st_mode & 07777;
	close(fd);
	*ret_path = path;
	return 0;
}

int secret_read(const struct model *m, const char *name, int trim, struct secret *ret, struct app_err *e)
{
	const char *ref = secret_ref(m, name);
	struct buf b = { 0 };
	int r;

	ret->data = NULL;
	ret->len = 0;
	if (!ref)
		return app_err_set(e, -ENOENT, "secret '%s' is not defined under 'secrets:'",
				   name ? name : "");
	if (strncmp(ref, "env:", 4) == 0) {
		const char *v = getenv(ref + 4);
		if (!v)
			return app_err_set(e, -ENOENT, "secret '%s': environment variable '%s' is not set",
					   name, ref + 4);
		buf_puts(&b, v);
	} else if (strncmp(ref, "file:", 5) == 0) {
		char *path = NULL;
		int fd = secret_file_open(m, ref + 5, &path, e);

		r = fd < 0 ? fd : read_fd(fd, path, SECRET_MAX, &b, e);
		if (fd >= 0)
			close(fd);
		free(path);
		if (r < 0) {
			app_err_prefix(e, "secret '%s'", name);
			buf_free(&b);
			return r;
		}
	} else {
		return app_err_set(e, -EINVAL, "secret '%s': reference must start with 'env:' or 'file:'",
				   name);
	}
	if (trim)
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.data[--b.len] = '\0';
	if (!b.data)
		buf_append(&b, "", 0);
	ret->data = b.data;
	ret->len = b.len;
	ret->cap = b.cap;
	return 0;
}

void secret_free(struct secret *s)
{
	if (!s || !s->data)
		return;
	secure_free(s->data, s->cap > s->len ? s->cap : s->len + 1);
	s->data = NULL;
	s->len = 0;
	s->cap = 0;
}
