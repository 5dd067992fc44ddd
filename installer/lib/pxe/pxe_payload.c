/* Per-node PXE payloads: machine config + only the secrets the node's own
 * config carries. See pxe_payload.h. */
#include "pxe/pxe_payload.h"

#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "profile/secret.h"
#include "pxe/pxe.h"
#include "pxe/pxe_cpio.h"
#include "talos/talos_config.h"
#include "talos/talos_pki.h"
#include "talos/talos_secrets.h"

#define PAYLOAD_CAP (8UL * 1024 * 1024)

char *pxe_payload_dir(const char *out)
{
	size_t n = strlen(out);

	while (n > 1 && out[n - 1] == '/')
		n--;
	return xasprintf("%.*s.payloads", (int)n, out);
}

/* ---- which files the build may read ------------------------------------------------ */

static int check_one(const struct model *m, const struct pxe_opts *o, const char *key, const char *ref,
		     const char *dir, struct app_err *e)
{
	const char *where = model_where(m, key);
	char *abs = model_path(m, ref);
	char *real = realpath(abs, NULL);
	int r = 0;

	if (ref[0] == '/') {
		bool allowed = false;
		for (size_t i = 0; i < o->n_allow_files && !allowed; i++) {
			char *a = realpath(o->allow_files[i], NULL);
			allowed = strcmp(o->allow_files[i], ref) == 0 || (a && real && strcmp(a, real) == 0);
			free(a);
		}
		if (!allowed && !(real && path_beneath(real, dir)))
			r = app_err_set(e, -EPERM,
					"%s%s%s: file '%s' is outside the profile's folder '%s': an absolute "
					"path is read only when allowed with --allow-file %s",
					where ? where : "", where ? ": " : "", key, ref, dir, ref);
	} else if (real && !path_beneath(real, dir)) {
		r = app_err_set(e, -EPERM,
				"%s%s%s: file '%s' resolves to '%s', outside the profile's folder '%s': "
				"refused (name it by an absolute path and allow it with --allow-file)",
				where ? where : "", where ? ": " : "", key, ref, real, dir);
	}
	free(real);
	free(abs);
	return r;
}

int pxe_check_files(const struct model *m, const struct pxe_opts *o, struct app_err *e)
{
	char *dir = realpath(m->dir ? m->dir : ".", NULL);
	int r = 0;

	if (!dir)
		return app_err_set(e, -errno, "profile folder '%s': %s", m->dir ? m->dir : ".",
				   strerror(errno));
	if (m->talos.image.pins && model_where(m, "talos.image.pins"))
		r = check_one(m, o, "talos.image.pins", m->talos.image.pins, dir, e);
	for (size_t i = 0; r == 0 && i < m->secrets.n; i++) {
		const char *ref = m->secrets.v[i].value;
		if (ref && strncmp(ref, "file:", 5) == 0) {
			char *key = xasprintf("secrets.%s", m->secrets.v[i].key);
			r = check_one(m, o, key, ref + 5, dir, e);
			free(key);
		}
	}
	free(dir);
	return r;
}

/* ---- payloads -------------------------------------------------------------------- */

static bool safe_name(const char *s)
{
	if (!s || !*s || *s == '.' || *s == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* Does the config carry value: as written, base64 as in a Kubernetes Secret's
 * data, or base64 twice (1Password Connect's credentials file is itself
 * base64 inside the Secret's data)? */
static bool config_carries(const struct buf *cfg, const struct secret *s)
{
	char *enc, *enc2;
	bool found;

	if (s->len == 0)
		return false;
	if (memmem(cfg->data, cfg->len, s->data, s->len))
		return true;
	enc = talos_b64_encode(s->data, s->len);
	found = memmem(cfg->data, cfg->len, enc, strlen(enc)) != NULL;
	if (!found) {
		enc2 = talos_b64_encode(enc, strlen(enc));
		found = memmem(cfg->data, cfg->len, enc2, strlen(enc2)) != NULL;
		secure_free(enc2, strlen(enc2) + 1);
	}
	secure_free(enc, strlen(enc) + 1);
	return found;
}

/* The names of the profile's secrets whose values CFG carries, as written or
 * base64 (a file secret also without its trailing newlines). A secret that
 * cannot be read here was not rendered into CFG either. */
static void config_secrets(const struct model *m, const struct buf *cfg, struct strlist *names)
{
	for (size_t i = 0; i < m->secrets.n; i++) {
		struct app_err e = { 0 };
		struct secret s = { 0 };
		bool found;

		if (secret_read(m, m->secrets.v[i].key, 0, &s, &e) < 0)
			continue;
		found = config_carries(cfg, &s);
		while (!found && s.len && (s.data[s.len - 1] == '\n' || s.data[s.len - 1] == '\r')) {
			s.len--;
			found = config_carries(cfg, &s);
		}
		if (found)
			strlist_push(names, xstrdup(m->secrets.v[i].key));
		secret_free(&s);
	}
}

/* The secrets the install on a node reads itself (its NAS preflight). */
static void install_secrets(const struct model *m, const char *out[2])
{
	out[0] = m->nas.username_secret;
	out[1] = m->nas.password_secret;
}

/* secrets.env + secrets.yaml for the secrets node's config carries. */
static int node_secrets(const struct model *m, const struct buf *cfg, struct buf *env, struct buf *overlay,
			struct strlist *names, struct app_err *e)
{
	const char *want[2];
	int r = 0;

	install_secrets(m, want);
	for (size_t i = 0; r == 0 && i < sizeof(want) / sizeof(want[0]); i++) {
		struct secret s = { 0 };
		if (!want[i] || !secret_ref(m, want[i]))
			continue;
		r = secret_read(m, want[i], 1, &s, e);
		if (r == 0 && config_carries(cfg, &s)) {
			if (!safe_name(want[i]))
				r = app_err_set(e, -EINVAL,
						"secret name '%s': expected letters, digits, '.', '-', '_'",
						want[i]);
			else if (memchr(s.data, '\n', s.len) || memchr(s.data, '\0', s.len))
				r = app_err_set(
				    e, -EINVAL,
				    "secret '%s' (%s) holds a line break or NUL: it cannot travel as a "
				    "KEY=VALUE line",
				    want[i], secret_ref(m, want[i]));
			if (r == 0) {
				buf_printf(env, "APPLIANCE_PXE_SECRET_%zu=", names->n + 1);
				buf_append(env, s.data, s.len);
				buf_puts(env, "\n");
				if (!overlay->len)
					buf_puts(
					    overlay,
					    "# secrets delivered with this node's payload (appliance pxe)\n"
					    "secrets:\n");
				buf_printf(overlay, "  %s: env:APPLIANCE_PXE_SECRET_%zu\n", want[i],
					   names->n + 1);
				names->v = xrealloc(names->v, sizeof(*names->v) * (names->n + 1));
				names->v[names->n++] = xstrdup(want[i]);
			}
		}
		secret_free(&s);
	}
	return r;
}

static int pack_node(const struct model *m, const struct model_node *n, const struct talos_bundle *b,
		     struct pxe_payload_info *info, struct app_err *e)
{
	struct buf cfg = { 0 }, env = { 0 }, overlay = { 0 };
	struct pxe_cpio c;
	char *what = xasprintf("payload of node '%s'", n->name), *name = NULL;
	bool named = false;
	int r;

	info->node = xstrdup(n->name);
	r = pxe_cpio_open(&c, what, PAYLOAD_CAP, e);
	if (r == 0 && !safe_name(n->name))
		r = app_err_set(e, -EINVAL, "node name '%s': expected letters, digits, '.', '-', '_'",
				n->name);
	if (r == 0) {
		r = talos_config_render(m, n, b, NULL, &cfg, e);
		named = r < 0; /* its messages already name the node */
	}
	if (r == 0) {
		config_secrets(m, &cfg, &info->config_secrets);
		info->ca_keys = n->role == NODE_ROLE_CONTROLPLANE;
		r = node_secrets(m, &cfg, &env, &overlay, &info->secrets, e);
	}
	if (r == 0) {
		name = xasprintf("%s\n", n->name);
		r = pxe_cpio_add(&c, "payload/node", AE_IFREG, NULL, name, strlen(name), e);
	}
	if (r == 0)
		r = pxe_cpio_add(&c, "payload/config.yaml", AE_IFREG, NULL, cfg.data, cfg.len, e);
	if (r == 0 && env.len)
		r = pxe_cpio_add(&c, "payload/secrets.env", AE_IFREG, NULL, env.data, env.len, e);
	if (r == 0 && overlay.len)
		r = pxe_cpio_add(&c, "payload/secrets.yaml", AE_IFREG, NULL, overlay.data, overlay.len, e);
	if (r == 0)
		r = pxe_cpio_close(&c, e);
	if (r == 0) {
		/* keep only the bytes (wiped on free) */
		info->bytes = c.used;
		info->data = xmalloc(c.used ? c.used : 1);
		memcpy(info->data, c.mem, c.used);
	}
	if (r < 0 && !named)
		app_err_prefix(e, "node '%s'", n->name);
	pxe_cpio_free(&c);
	if (cfg.data)
		secure_free(cfg.data, cfg.cap);
	if (env.data)
		secure_free(env.data, env.cap);
	buf_free(&overlay);
	free(name);
	free(what);
	return r;
}

/* Empty dir of what an earlier build left (payloads, served marks, log). */
static int clear_dir(const char *dir, struct app_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return app_err_set(e, -errno, "cannot read directory '%s': %s", dir, strerror(errno));
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0)
			r = app_err_set(e, -errno, "cannot remove '%s/%s': %s", dir, de->d_name,
					strerror(errno));
	}
	closedir(d);
	return r;
}

int pxe_payloads_render(const struct model *m, const struct pxe_opts *o, struct pxe_payloads *ret,
			struct app_err *e)
{
	struct pxe_payloads p = { 0 };
	struct talos_bundle b = { 0 };
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!o->secrets)
		return 0;
	r = talos_config_minor(m->talos.version, e);
	if (r < 0)
		return r;
	r = talos_secrets_load_for(o->secrets, m->talos.ca_fingerprint, &b, e);
	if (r < 0)
		return r;
	p.dir = pxe_payload_dir(o->out);
	for (size_t i = 0; r == 0 && i < m->n_nodes; i++) {
		p.v = xrealloc(p.v, sizeof(*p.v) * (p.n + 1));
		memset(&p.v[p.n], 0, sizeof(p.v[p.n]));
		r = pack_node(m, &m->nodes[i], &b, &p.v[p.n++], e);
	}
	talos_secrets_free(&b);
	if (r < 0) {
		pxe_payloads_free(&p);
		return r;
	}
	*ret = p;
	return 0;
}

int pxe_payloads_write(struct pxe_payloads *p, struct app_err *e)
{
	struct stat st;
	int r = 0;

	if (!p->dir)
		return 0;
	if (mkdir(p->dir, 0700) != 0 && errno != EEXIST)
		r = app_err_set(e, -errno, "cannot create '%s': %s", p->dir, strerror(errno));
	else if (lstat(p->dir, &st) != 0 || !S_ISDIR(st.st_mode))
		r = app_err_set(e, -ENOTDIR, "'%s' is not a directory", p->dir);
	else if (st.st_uid != geteuid())
		r = app_err_set(
		    e, -EPERM,
		    "'%s' belongs to uid %u, not to this user (%u): refusing to put payloads there", p->dir,
		    (unsigned)st.st_uid, (unsigned)geteuid());
	else if (chmod(p->dir, 0700) != 0)
		r = app_err_set(e, -errno, "cannot chmod '%s': %s", p->dir, strerror(errno));
	if (r == 0)
		r = clear_dir(p->dir, e);
	for (size_t i = 0; r == 0 && i < p->n; i++) {
		char *path = xasprintf("%s/%s.cpio", p->dir, p->v[i].node);
		r = write_file_atomic(path, p->v[i].data, p->v[i].bytes, 0600, e);
		free(path);
	}
	return r;
}

void pxe_payloads_free(struct pxe_payloads *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].node);
		if (p->v[i].data)
			secure_free(p->v[i].data, p->v[i].bytes);
		for (size_t k = 0; k < p->v[i].secrets.n; k++)
			free(p->v[i].secrets.v[k]);
		free(p->v[i].secrets.v);
		for (size_t k = 0; k < p->v[i].config_secrets.n; k++)
			free(p->v[i].config_secrets.v[k]);
		free(p->v[i].config_secrets.v);
	}
	free(p->v);
	free(p->dir);
	memset(p, 0, sizeof(*p));
}
