/* Disk selectors against the inventory: exact matches or an explained error. */
#include "disk/selector.h"

#include <errno.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

bool selector_empty(const struct disk_selector *s)
{
	return !s->path && !s->model && !s->serial && !s->wwid && !s->transport && s->size_op == SIZE_OP_NONE;
}

static const struct {
	enum size_op op;
	const char *text;
} size_ops[] = {
	{ SIZE_OP_EQ, "==" }, { SIZE_OP_GE, ">=" }, { SIZE_OP_LE, "<=" },
	{ SIZE_OP_GT, ">" },  { SIZE_OP_LT, "<" },
};

static const char *op_text(enum size_op op)
{
	for (size_t i = 0; i < sizeof(size_ops) / sizeof(size_ops[0]); i++)
		if (size_ops[i].op == op)
			return size_ops[i].text;
	return "?";
}

static bool size_ok(enum size_op op, uint64_t have, uint64_t want)
{
	switch (op) {
	case SIZE_OP_EQ:
		return have == want;
	case SIZE_OP_GE:
		return have >= want;
	case SIZE_OP_LE:
		return have <= want;
	case SIZE_OP_GT:
		return have > want;
	case SIZE_OP_LT:
		return have < want;
	case SIZE_OP_NONE:
		break;
	}
	return true;
}

static bool glob_ok(const char *pattern, const char *value)
{
	return value && fnmatch(pattern, value, 0) == 0;
}

/* Append "; " + text to why. */
static void why_add(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_add(char *why, size_t n, const char *fmt, ...)
{
	size_t len = strlen(why);
	va_list ap;

	if (len + 3 >= n)
		return;
	if (len) {
		strcpy(why + len, ", ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why + len, n - len, fmt, ap);
	va_end(ap);
}

/* The selector's string keys as one table: name, field in the selector, value on the disk. */
struct str_key {
	const char *name;
	const char *pattern;
	const char *value;
};

int selector_match(const struct disk_selector *s, const struct hw_disk *d, char *why, size_t n)
{
	const struct str_key keys[] = {
		{ "model", s->model, d->model },
		{ "serial", s->serial, d->serial },
		{ "wwid", s->wwid, d->wwid },
		{ "transport", s->transport, d->transport },
	};
	char tmp[512] = "";

	why[0] = '\0';
	if (s->path) {
		const char *hit = glob_ok(s->path, d->path) ? d->path : NULL;

		for (size_t k = 0; !hit && k < d->by_path.n; k++)
			if (glob_ok(s->path, d->by_path.v[k]))
				hit = d->by_path.v[k];
		if (!hit) {
			snprintf(why, n, "path '%s' does not match '%s'", d->path, s->path);
			return 0;
		}
		why_add(tmp, sizeof(tmp), "path '%s' matches '%s'", hit, s->path);
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].pattern)
			continue;
		if (!glob_ok(keys[i].pattern, keys[i].value)) {
			if (keys[i].value)
				snprintf(why, n, "%s '%s' does not match '%s'", keys[i].name, keys[i].value,
					 keys[i].pattern);
			else
				snprintf(why, n, "has no %s (wanted '%s')", keys[i].name, keys[i].pattern);
			return 0;
		}
		why_add(tmp, sizeof(tmp), "%s '%s' matches '%s'", keys[i].name, keys[i].value,
			keys[i].pattern);
	}
	if (s->size_op != SIZE_OP_NONE) {
		if (!size_ok(s->size_op, d->size, s->size_bytes)) {
			snprintf(why, n, "size %llu is not %s %llu ('%s')", (unsigned long long)d->size,
				 op_text(s->size_op), (unsigned long long)s->size_bytes,
				 s->size ? s->size : "");
			return 0;
		}
		why_add(tmp, sizeof(tmp), "size %llu %s %llu", (unsigned long long)d->size,
			op_text(s->size_op), (unsigned long long)s->size_bytes);
	}
	snprintf(why, n, "%s", tmp);
	return 1;
}

size_t selector_node_index(const struct model *m, const struct model_node *node)
{
	for (size_t i = 0; m && i < m->n_nodes; i++)
		if (&m->nodes[i] == node)
			return i;
	return 0;
}

void selector_result_free(struct selector_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].min_text);
		free(r->v[i].disks);
	}
	free(r->v);
	free(r->report);
	memset(r, 0, sizeof(*r));
}

static void add_role(struct selector_result *r, enum disk_role role, char *key, const struct disk_selector *s,
		     bool many, bool wipe)
{
	struct selector_role *x;

	r->v = xrealloc(r->v, sizeof(*r->v) * (r->n + 1));
	x = &r->v[r->n++];
	memset(x, 0, sizeof(*x));
	x->role = role;
	x->key = key;
	x->sel = s;
	x->many = many;
	x->wipe = wipe;
	x->min_size = s->min_size.bytes;
	x->min_text = xstrdup(s->min_size.text ? s->min_size.text : "");
}

/* The install disk is at least Talos' minimum (talos.installDiskMinSize), or
 * the selector's own minSize when that is larger. */
static void install_min(struct selector_role *x, const struct model *m)
{
	const struct model_size *t = &m->talos.install_disk_min_size;

	if (!t->bytes || t->bytes <= x->min_size)
		return;
	x->min_size = t->bytes;
	free(x->min_text);
	x->min_text = xasprintf("%s (talos.installDiskMinSize)", t->text ? t->text : "");
}

/* Append to the summary message while it fits; the report has everything. */
static void msg_add(char *msg, size_t cap, const char *text)
{
	size_t len = strlen(msg), tl = strlen(text);

	if (len + tl + 1 < cap) {
		memcpy(msg + len, text, tl + 1);
	} else if (len + 5 < cap && !strstr(msg, "\n  ...")) {
		memcpy(msg + len, "\n  ...", 7);
	}
}

int selector_resolve_node(const struct model *m, const struct model_node *node,
			  const struct hw_inventory *inv, struct selector_result *ret, struct app_err *e)
{
	struct selector_result r = { 0 };
	struct buf rep = { 0 };
	char msg[sizeof(e->msg)] = "";
	size_t ni = selector_node_index(m, node);
	int errors = 0;
	char why[512], sz[32], line[1024];

	if (!selector_empty(&node->install_disk)) {
		add_role(&r, DISK_ROLE_INSTALL, xasprintf("nodes[%zu].installDisk", ni), &node->install_disk,
			 false, false);
		install_min(&r.v[r.n - 1], m);
	}
	for (size_t i = 0; i < node->n_ceph_disks; i++) {
		const struct ceph_disks *c = &node->ceph_disks[i];
		bool many = c->match && (strcmp(c->match, "all") == 0 || strcmp(c->match, "any") == 0);

		if (selector_empty(&c->selector)) {
			snprintf(
			    line, sizeof(line),
			    "nodes[%zu].cephDisks[%zu] has no selector fields; it would match every disk\n",
			    ni, i);
			buf_puts(&rep, line);
			msg_add(msg, sizeof(msg), line);
			errors++;
			continue;
		}
		add_role(&r, DISK_ROLE_CEPH, xasprintf("nodes[%zu].cephDisks[%zu]", ni, i), &c->selector,
			 many, c->wipe);
		r.v[r.n - 1].optional = c->match && strcmp(c->match, "any") == 0;
	}

	for (size_t i = 0; i < r.n; i++) {
		struct selector_role *x = &r.v[i];
		struct buf cand = { 0 };
		bool small = false;

		for (size_t j = 0; j < inv->n; j++) {
			const struct hw_disk *d = &inv->v[j];

			if (selector_match(x->sel, d, why, sizeof(why))) {
				x->disks = xrealloc(x->disks, sizeof(*x->disks) * (x->n_disks + 1));
				x->disks[x->n_disks++] = j;
				if (x->min_size && d->size < x->min_size) {
					small = true;
					buf_printf(
					    &cand, "  %s: matches (%s) but is too small: %s < minimum %s\n",
					    d->path, why, fmt_bytes(d->size, sz, sizeof(sz)), x->min_text);
				} else {
					buf_printf(&cand, "  %s: matches (%s)\n", d->path, why);
				}
			} else {
				buf_printf(&cand, "  %s: no match: %s\n", d->path, why);
			}
		}
		if (inv->n == 0)
			buf_puts(&cand, "  (no disks found)\n");
		if (x->n_disks == 0 && !x->optional)
			snprintf(line, sizeof(line), "%s matches no disk; candidates:\n", x->key);
		else if (!x->many && x->n_disks > 1)
			snprintf(line, sizeof(line),
				 "%s matches %zu disks, expected exactly one; candidates:\n", x->key,
				 x->n_disks);
		else if (small)
			snprintf(line, sizeof(line),
				 "%s matches a disk smaller than its minimum size %s; candidates:\n", x->key,
				 x->min_text);
		else
			snprintf(line, sizeof(line), "%s: %zu disk%s\n", x->key, x->n_disks,
				 x->n_disks == 1 ? "" : "s");
		buf_puts(&rep, line);
		buf_puts(&rep, cand.data ? cand.data : "");
		if ((x->n_disks == 0 && !x->optional) || (!x->many && x->n_disks > 1) || small) {
			errors++;
			if (msg[0])
				msg_add(msg, sizeof(msg), "\n");
			msg_add(msg, sizeof(msg), line);
			/* candidate by candidate: as many whole lines as fit */
			for (char *c = cand.data, *nl; c && *c; c = nl + 1) {
				nl = strchr(c, '\n');
				if (!nl)
					break;
				*nl = '\0';
				msg_add(msg, sizeof(msg), c);
				msg_add(msg, sizeof(msg), "\n");
				*nl = '\n';
			}
		}
		buf_free(&cand);
	}

	/* one disk, one role */
	for (size_t i = 0; i < r.n; i++)
		for (size_t k = 0; k < r.v[i].n_disks; k++)
			for (size_t j = i + 1; j < r.n; j++)
				for (size_t l = 0; l < r.v[j].n_disks; l++) {
					if (r.v[i].disks[k] != r.v[j].disks[l])
						continue;
					snprintf(line, sizeof(line),
						 "disk '%s' is claimed by both %s and %s\n",
						 inv->v[r.v[i].disks[k]].path, r.v[i].key, r.v[j].key);
					buf_puts(&rep, line);
					if (msg[0])
						msg_add(msg, sizeof(msg), "\n");
					msg_add(msg, sizeof(msg), line);
					errors++;
				}

	r.report = rep.data ? rep.data : xstrdup("");
	*ret = r;
	if (errors) {
		size_t len = strlen(msg);

		while (len && msg[len - 1] == '\n')
			msg[--len] = '\0';
		return app_err_set(e, -EINVAL, "node '%s': %s", node->name ? node->name : "?", msg);
	}
	return 0;
}
