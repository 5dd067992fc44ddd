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
 * (a FIFO must not hang the program, /dev/zero must not fill its memory). */
static int read_secret_file(const char *name, const char *path, struct buf *b, struct app_err *e)
{
	char lim[32];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), r;

	if (fd < 0)
		return app_err_set(e, -errno, "secret '%s': cannot open '%s': %s", name, path,
				   strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = app_err_set(e, -errno, "secret '%s': cannot stat '%s': %s", name, path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		r = app_err_set(e, -EINVAL,
				"secret '%s': '%s' is %s, not a regular file; refusing to read it", name,
				path, file_kind(st.st_mode));
	} else if ((uint64_t)st.st_size > SECRET_MAX) {
		r = app_err_set(e, -EFBIG, "secret '%s': '%s' is larger than %s; refusing to read it", name,
				path, fmt_bytes(SECRET_MAX, lim, sizeof(lim)));
	} else {
		r = read_fd(fd, path, SECRET_MAX, b, e);
		if (r < 0)
			app_err_prefix(e, "secret '%s'", name);
	}
	close(fd);
	return r;
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

static int secret_beneath_profile(const struct model *m, const char *name, const char *ref, const char *path,
				  struct app_err *e)
{
	char *dir = realpath(m->dir ? m->dir : ".", NULL), *real = realpath(path, NULL);
	int r = 0;

	if (dir && real && !path_beneath(real, dir))
		r = app_err_set(e, -EPERM,
				"secret '%s': file '%s' resolves to '%s', outside the profile's folder '%s': "
				"refused (name it by an absolute path)",
				name, ref, real, dir);
	free(dir);
	free(real);
	return r;
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
		char *path = model_path(m, ref + 5);

		/* a relative reference stays in the profile's folder: a profile from
		 * elsewhere must not pull '../../etc/shadow' into a rendered Secret */
		r = ref[5] == '/' ? 0 : secret_beneath_profile(m, name, ref + 5, path, e);
		if (r == 0)
			r = read_secret_file(name, path, &b, e);
		free(path);
		if (r < 0) {
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
