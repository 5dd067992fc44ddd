/* The model's helpers: freeing (walking the same schema tables that bound
 * it), source positions, ${VAR} expansion, lookups, and the list helpers. */
#include "profile/model.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/ytree.h"
#include "profile/diag.h"
#include "profile/profile_schema.h"

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

void strlist_push(struct strlist *l, char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = s;
}

void kvlist_add(struct kvlist *l, const char *k, const char *v)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].key = xstrdup(k);
	l->v[l->n].value = xstrdup(v);
	l->n++;
}

const char *kvlist_get(const struct kvlist *l, const char *k)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0)
			return l->v[i].value;
	return NULL;
}

/* ---- freeing (the same tables) ------------------------------------------ */

static void free_table(const struct table *t, void *base)
{
	for (const struct field *f = t->fields; f->key; f++) {
		void *p = AT(base, f->off, void);
		switch (f->type) {
		case T_STRUCT:
			free_table(f->sub, p);
			break;
		case T_LIST: {
			void *arr = *(void **)p;
			size_t n = *(size_t *)((char *)p + sizeof(void *));
			for (size_t i = 0; arr && i < n; i++)
				free_table(f->sub, (char *)arr + i * f->sub->size);
			free(arr);
			break;
		}
		case T_LIST_STR: {
			struct strlist *l = p;
			for (size_t i = 0; i < l->n; i++)
				free(l->v[i]);
			free(l->v);
			l->v = NULL;
			l->n = 0;
			break;
		}
		case T_KV: {
			struct kvlist *l = p;
			for (size_t i = 0; i < l->n; i++) {
				free(l->v[i].key);
				free(l->v[i].value);
			}
			free(l->v);
			l->v = NULL;
			l->n = 0;
			break;
		}
		case T_SIZE:
			free(((struct model_size *)p)->text);
			((struct model_size *)p)->text = NULL;
			break;
		case T_INT:
		case T_BOOL:
			break;
		case T_TREE:
			*(const struct ynode **)p = NULL; /* owned by the tree */
			break;
		default:
			free(*(char **)p);
			*(char **)p = NULL;
		}
	}
}

/* ---- model helpers ------------------------------------------------------ */

void model_free(struct model *m)
{
	if (!m)
		return;
	free_table(&profile_root_table, m);
	free(m->path);
	free(m->dir);
	ytree_free(m->tree);
	free(m);
}

const char *model_where(const struct model *m, const char *key_path)
{
	struct ynode *n = m->tree ? ytree_get(m->tree->root, key_path) : NULL;
	char *s;

	if (!n || strcmp(n->file, PROFILE_DEFAULTS_NAME) == 0)
		return NULL;
	s = xasprintf("%s:%d:%d", n->file, n->line, n->col);
	/* keep it with the tree's file names so it lives until model_free() */
	m->tree->files = xrealloc(m->tree->files, (m->tree->n_files + 1) * sizeof(char *));
	m->tree->files[m->tree->n_files++] = s;
	return s;
}

const char *model_var(const struct model *m, const char *name)
{
	return kvlist_get(&m->site.vars, name);
}

char *model_expand(const struct model *m, const char *text)
{
	struct buf b = { 0 };
	const char *p = text;

	if (!text)
		return NULL;
	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			buf_puts(&b, "${");
			p += 3;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p, '}');
			if (end) {
				char *name = xstrndup(p + 2, (size_t)(end - p - 2));
				const char *v = model_var(m, name);
				free(name);
				if (v) {
					buf_puts(&b, v);
					p = end + 1;
					continue;
				}
			}
		}
		buf_append(&b, p, 1);
		p++;
	}
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

const struct model_node *model_node_by_name(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].name && strcmp(m->nodes[i].name, name) == 0)
			return &m->nodes[i];
	return NULL;
}

char *model_path(const struct model *m, const char *rel)
{
	if (!rel)
		return NULL;
	if (rel[0] == '/' || !m->dir)
		return xstrdup(rel);
	return xasprintf("%s/%s", m->dir, rel);
}
