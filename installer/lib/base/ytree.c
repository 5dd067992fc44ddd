#include "base/ytree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/err.h"
#include "base/util.h"

static struct ynode *node_new(enum ynode_type type, const char *file, const yaml_mark_t *mark)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->file = file;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

void ytree_parser_delete(yaml_parser_t *p)
{
	/* libyaml's input buffers held the document (a secrets bundle, too) */
	if (p->buffer.start)
		wipe(p->buffer.start, (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start)
		wipe(p->raw_buffer.start, (size_t)(p->raw_buffer.end - p->raw_buffer.start));
	yaml_parser_delete(p);
}

int ytree_syntax_error(const yaml_parser_t *p, const char *name, struct app_err *e)
{
	return app_err_set(e, -EINVAL, "%s:%zu:%zu: YAML syntax error: %s%s%s", name,
			   p->problem_mark.line + 1, p->problem_mark.column + 1,
			   p->problem ? p->problem : "invalid YAML", p->context ? " " : "",
			   p->context ? p->context : "");
}

static void node_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			node_free(n->keys[i]);
		node_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	if (n->value) /* a secrets bundle is parsed here: its keys are wiped */
		wipe(n->value, strlen(n->value));
	free(n->value);
	free(n);
}

void ytree_free(struct ytree *t)
{
	if (!t)
		return;
	node_free(t->root);
	for (size_t i = 0; i < t->n_files; i++)
		free(t->files[i]);
	free(t->files);
	free(t);
}

struct ynode *ynode_map_get(const struct ynode *map, const char *key)
{
	if (!map || map->type != YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
	if (!n)
		return true;
	if (n->type != YN_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	       strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

static void add_child(struct ynode *parent, struct ynode *key, struct ynode *value)
{
	if ((parent->n & (parent->n - 1)) == 0) { /* grow at powers of two */
		size_t cap = parent->n ? parent->n * 2 : 4;
		if (parent->type == YN_MAP)
			parent->keys = xrealloc(parent->keys, cap * sizeof(*parent->keys));
		parent->items = xrealloc(parent->items, cap * sizeof(*parent->items));
	}
	if (parent->type == YN_MAP)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = value;
}

struct frame {
	struct ynode *node;
	struct ynode *pending_key; /* map: key read, value not yet */
};

static const char *event_name(yaml_event_type_t t)
{
	switch (t) {
	case YAML_ALIAS_EVENT:
		return "alias";
	default:
		return "event";
	}
}

int ytree_parse(const char *name, const char *text, size_t len, struct ytree **ret, struct app_err *e)
{
	struct frame stack[YTREE_MAX_DEPTH + 1];
	int depth = 0, r = 0, docs = 0;
	size_t nodes = 0;
	yaml_parser_t p;
	yaml_event_t ev;
	struct ytree *t = xcalloc(1, sizeof(*t));
	const char *file;
	bool done = false;

	*ret = NULL;
	t->files = xcalloc(1, sizeof(char *));
	t->files[0] = xstrdup(name);
	t->n_files = 1;
	file = t->files[0];

	if (len > YTREE_MAX_BYTES) {
		ytree_free(t);
		return app_err_set(e, -EFBIG, "%s:1:1: file is %zu bytes; a profile may have at most %u",
				   name, len, YTREE_MAX_BYTES);
	}
	if (memchr(text, '\0', len)) {
		ytree_free(t);
		return app_err_set(e, -EINVAL, "%s:1:1: file contains NUL bytes; not a YAML text", name);
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		struct ynode *n = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			r = ytree_syntax_error(&p, name, e);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				r = app_err_set(
				    e, -EINVAL,
				    "%s:%zu:%zu: a profile is one YAML document; found a second one", name,
				    ev.start_mark.line + 1, ev.start_mark.column + 1);
			break;
		case YAML_ALIAS_EVENT:
			r = app_err_set(
			    e, -EINVAL,
			    "%s:%zu:%zu: YAML %s '*%s' is not allowed in a profile; write the value out",
			    name, ev.start_mark.line + 1, ev.start_mark.column + 1, event_name(ev.type),
			    (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			if (ev.data.scalar.length > YTREE_MAX_SCALAR) {
				r = app_err_set(e, -EFBIG,
						"%s:%zu:%zu: value is %zu bytes long; at most %u allowed",
						name, ev.start_mark.line + 1, ev.start_mark.column + 1,
						ev.data.scalar.length, YTREE_MAX_SCALAR);
				break;
			}
			n = node_new(YN_SCALAR, file, &ev.start_mark);
			n->value = xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth >= YTREE_MAX_DEPTH) {
				r = app_err_set(e, -EINVAL, "%s:%zu:%zu: nesting deeper than %d levels", name,
						ev.start_mark.line + 1, ev.start_mark.column + 1,
						YTREE_MAX_DEPTH);
				break;
			}
			n = node_new(ev.type == YAML_MAPPING_START_EVENT ? YN_MAP : YN_SEQ, file,
				     &ev.start_mark);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			n = stack[--depth].node; /* completed: attach below */
			break;
		default:
			break;
		}
		if (r == 0 && n && ++nodes > YTREE_MAX_NODES)
			r = app_err_set(e, -E2BIG, "%s:%zu:%zu: more than %d values; refusing", name,
					ev.start_mark.line + 1, ev.start_mark.column + 1, YTREE_MAX_NODES);
		if (r < 0) {
			if (n && (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
				  ev.type == YAML_SEQUENCE_START_EVENT))
				node_free(n);
			else if (n)
				node_free(n);
			yaml_event_delete(&ev);
			break;
		}
		if (n && (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)) {
			stack[depth].node = n;
			stack[depth].pending_key = NULL;
			depth++;
		} else if (n) {
			/* a finished node: attach to the parent, or it is the root */
			if (depth == 0) {
				t->root = n;
			} else {
				struct frame *f = &stack[depth - 1];
				if (f->node->type == YN_SEQ) {
					add_child(f->node, NULL, n);
				} else if (!f->pending_key) {
					if (n->type != YN_SCALAR) {
						r = app_err_set(
						    e, -EINVAL,
						    "%s:%d:%d: a mapping key must be a plain value", name,
						    n->line, n->col);
						node_free(n);
					} else if (ynode_map_get(f->node, n->value)) {
						r = app_err_set(e, -EINVAL, "%s:%d:%d: duplicate key '%s'",
								name, n->line, n->col, n->value);
						node_free(n);
					} else {
						f->pending_key = n;
					}
				} else {
					add_child(f->node, f->pending_key, n);
					f->pending_key = NULL;
				}
			}
		}
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	ytree_parser_delete(&p);
	if (r < 0) {
		/* free partially built nodes still on the stack */
		while (depth > 0) {
			struct frame *f = &stack[--depth];
			node_free(f->pending_key);
			if (depth > 0) {
				struct frame *pf = &stack[depth - 1];
				if (pf->node->type == YN_SEQ)
					add_child(pf->node, NULL, f->node);
				else if (pf->pending_key) {
					add_child(pf->node, pf->pending_key, f->node);
					pf->pending_key = NULL;
				} else
					node_free(f->node);
			} else {
				node_free(f->node);
			}
		}
		ytree_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int ytree_parse_file(const char *path, struct ytree **ret, struct app_err *e)
{
	struct buf b = { 0 };
	int r = read_file(path, YTREE_MAX_BYTES, &b, e);

	if (r == -EFBIG)
		r = app_err_set(e, r, "%s:1:1: file is larger than %u bytes; not a profile", path,
				YTREE_MAX_BYTES);
	if (r == 0)
		r = ytree_parse(path, b.data ? b.data : "", b.len, ret, e);
	buf_free(&b);
	return r;
}

static void merge_node(struct ynode **dst, struct ynode *src)
{
	if ((*dst)->type != YN_MAP || src->type != YN_MAP) {
		node_free(*dst);
		*dst = src;
		return;
	}
	for (size_t i = 0; i < src->n; i++) {
		bool found = false;
		for (size_t j = 0; j < (*dst)->n; j++) {
			if (strcmp((*dst)->keys[j]->value, src->keys[i]->value) == 0) {
				/* keep the overlay's key position: it says where the value came from */
				node_free((*dst)->keys[j]);
				(*dst)->keys[j] = src->keys[i];
				merge_node(&(*dst)->items[j], src->items[i]);
				found = true;
				break;
			}
		}
		if (!found)
			add_child(*dst, src->keys[i], src->items[i]);
	}
	free(src->keys);
	free(src->items);
	free(src->value);
	free(src);
}

void ytree_merge(struct ytree *dst, struct ytree *src)
{
	dst->files = xrealloc(dst->files, (dst->n_files + src->n_files) * sizeof(char *));
	memcpy(dst->files + dst->n_files, src->files, src->n_files * sizeof(char *));
	dst->n_files += src->n_files;
	free(src->files);
	if (src->root && !ynode_is_null(src->root)) {
		if (!dst->root)
			dst->root = src->root;
		else
			merge_node(&dst->root, src->root);
	} else {
		node_free(src->root);
	}
	free(src);
}

/* Split the next path segment: "name" or "name[3]". Returns segment length. */
static size_t segment(const char *p, long *index)
{
	size_t n = strcspn(p, ".[");

	*index = -1;
	if (p[n] == '[') {
		char *end;
		long v = strtol(p + n + 1, &end, 10);
		if (*end == ']' && v >= 0 && end > p + n + 1)
			*index = v;
		else
			*index = -2;
	}
	return n;
}

struct ynode *ytree_get(struct ynode *root, const char *path)
{
	struct ynode *n = root;
	const char *p = path;

	while (n && *p) {
		long idx;
		size_t len = segment(p, &idx);
		char *key = xstrndup(p, len);
		if (len)
			n = ynode_map_get(n, key);
		free(key);
		if (idx == -2)
			return NULL;
		if (n && idx >= 0)
			n = (n->type == YN_SEQ && (size_t)idx < n->n) ? n->items[idx] : NULL;
		p += len;
		if (*p == '[')
			p = strchr(p, ']') + 1;
		if (*p == '.')
			p++;
	}
	return n;
}

int ytree_set(struct ytree *t, const char *assignment, struct app_err *e)
{
	const char *eq = strchr(assignment, '=');
	char *path, *name;
	struct ytree *vt = NULL;
	struct ynode *n, *value;
	const char *p;
	int r;

	if (!eq || eq == assignment)
		return app_err_set(e, -EINVAL, "--set '%s': expected KEY=VALUE", assignment);
	path = xstrndup(assignment, (size_t)(eq - assignment));
	name = xasprintf("--set %s", path);
	r = ytree_parse(name, eq + 1, strlen(eq + 1), &vt, e);
	free(name);
	if (r < 0) {
		free(path);
		return r;
	}
	value = vt->root;
	vt->root = NULL;
	if (!value) { /* "--set a.b=" means an empty string */
		yaml_mark_t m = { 0 };
		value = node_new(YN_SCALAR, vt->files[0], &m);
		value->value = xstrdup("");
		value->plain = false;
	}
	if (!t->root) {
		yaml_mark_t m = { 0 };
		t->root = node_new(YN_MAP, vt->files[0], &m);
	}
	n = t->root;
	p = path;
	while (*p) {
		long idx;
		size_t len = segment(p, &idx);
		char *key = xstrndup(p, len);
		struct ynode **slot = NULL;
		bool last;

		if (idx == -2 || len == 0) {
			r = app_err_set(e, -EINVAL, "--set '%s': malformed key path", path);
			free(key);
			break;
		}
		if (n->type != YN_MAP) {
			r = app_err_set(e, -EINVAL, "--set '%s': '%s' is not inside a mapping", path, key);
			free(key);
			break;
		}
		for (size_t i = 0; i < n->n; i++)
			if (strcmp(n->keys[i]->value, key) == 0)
				slot = &n->items[i];
		p += len;
		if (*p == '[')
			p = strchr(p, ']') + 1;
		if (*p == '.')
			p++;
		last = *p == '\0';
		if (!slot) {
			if (idx >= 0) {
				r = app_err_set(e, -EINVAL, "--set '%s': '%s' has no item %ld", path, key,
						idx);
				free(key);
				break;
			}
			yaml_mark_t m = { 0 };
			struct ynode *k = node_new(YN_SCALAR, vt->files[0], &m);
			k->value = key;
			k->len = strlen(key);
			k->plain = true;
			key = NULL;
			add_child(n, k, last ? value : node_new(YN_MAP, vt->files[0], &m));
			slot = &n->items[n->n - 1];
			if (last) {
				value = NULL;
				break;
			}
		}
		free(key);
		if (idx >= 0) {
			if ((*slot)->type != YN_SEQ) {
				r = app_err_set(e, -EINVAL, "--set '%s': no item %ld there: not a list", path,
						idx);
				break;
			}
			if ((size_t)idx >= (*slot)->n) {
				size_t have = (*slot)->n;
				if (have == 0)
					r = app_err_set(e, -EINVAL,
							"--set '%s': no item %ld there: the list is empty",
							path, idx);
				else if (have == 1)
					r = app_err_set(
					    e, -EINVAL,
					    "--set '%s': no item %ld there: the list has 1 item, [0]", path,
					    idx);
				else
					r = app_err_set(e, -EINVAL,
							"--set '%s': no item %ld there: the list has %zu "
							"items, [0] to [%zu]",
							path, idx, have, have - 1);
				break;
			}
			slot = &(*slot)->items[idx];
		}
		if (last) {
			node_free(*slot);
			*slot = value;
			value = NULL;
			break;
		}
		if ((*slot)->type != YN_MAP && (*slot)->type != YN_SEQ) {
			yaml_mark_t m = { 0 };
			node_free(*slot);
			*slot = node_new(YN_MAP, vt->files[0], &m);
		}
		n = *slot;
	}
	node_free(value);
	/* keep the file name alive: nodes point to it */
	ytree_merge(t, vt);
	free(path);
	return r;
}
