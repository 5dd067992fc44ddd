#include "profile/secret.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "profile/model.h"
#include "base/util.h"

#define SECRET_MAX (1u << 20)

const char *secret_ref(const struct model *m, const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < m->secrets.n; i++)
		if (strcmp(m->secrets.v[i].key, name) == 0)
			return m->secrets.v[i].value;
	return NULL;
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
		r = read_file(path, SECRET_MAX, &b, e);
		free(path);
		if (r < 0) {
			secure_free(b.data, b.cap);
			return app_err_prefix(e, "secret '%s'", name);
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
	return 0;
}

void secret_free(struct secret *s)
{
	if (!s || !s->data)
		return;
	secure_free(s->data, s->len + 1);
	s->data = NULL;
	s->len = 0;
}
