/* Profile diagnostics: collect, attribute to a source position, sort, print. */
#include "profile/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "base/ytree.h"

static void diag_at(struct diags *d, const char *file, int line, int col, const char *path,
		    enum diag_severity sev, const char *fmt, va_list ap)
{
	struct diag *g;

	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	g = &d->v[d->n++];
	g->file = xstrdup(file ? file : "");
	g->line = line;
	g->col = col;
	g->path = xstrdup(path ? path : "");
	g->severity = sev;
	if (vasprintf(&g->msg, fmt, ap) < 0)
		g->msg = xstrdup("(out of memory)");
	if (sev == DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
}

void diag_raw(struct diags *d, const char *file, int line, int col, char *msg)
{
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = (struct diag){ .file = xstrdup(file),
				      .line = line,
				      .col = col,
				      .path = xstrdup(""),
				      .severity = DIAG_ERROR,
				      .msg = msg };
	d->errors++;
}

void diag_node(struct diag_ctx *c, const struct ynode *n, const char *path, enum diag_severity sev,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (n && strcmp(n->file, PROFILE_DEFAULTS_NAME) != 0)
		diag_at(c->d, n->file, n->line, n->col, path, sev, fmt, ap);
	else
		diag_at(c->d, c->profile, 1, 1, path, sev, fmt, ap);
	va_end(ap);
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int r = strcmp(x->file, y->file);

	if (r)
		return r;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	r = strcmp(x->path, y->path);
	return r ? r : strcmp(x->msg, y->msg);
}

void diags_sort(struct diags *d)
{
	if (d->n)
		qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
}

const char *diag_kind(const struct ynode *n)
{
	return n->type == YN_MAP ? "a mapping" : n->type == YN_SEQ ? "a list" : "a single value";
}

void diags_print(const struct diags *d, FILE *f)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		fprintf(f, "%s:%d:%d: %s: ", g->file, g->line, g->col,
			g->severity == DIAG_ERROR ? "error" : "warning");
		if (g->path[0])
			fprintf(f, "%s: ", g->path);
		fprintf(f, "%s\n", g->msg);
	}
}

void diags_print_json(const struct diags *d, FILE *f)
{
	fputc('[', f);
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		fprintf(f, "%s{\"file\":", i ? "," : "");
		json_str(f, g->file);
		fprintf(f, ",\"line\":%d,\"column\":%d,\"path\":", g->line, g->col);
		json_str(f, g->path);
		fprintf(f,
			",\"severity\":\"%s\",\"message\":", g->severity == DIAG_ERROR ? "error" : "warning");
		json_str(f, g->msg);
		fputc('}', f);
	}
	fputc(']', f);
}

void diags_free(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].path);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
