/* The schema walk: type-check and bind (see bind.h). */
#include "profile/bind.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/ytree.h"
#include "profile/profile_schema.h"
#include "profile/value.h"

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

static const char *type_name(enum ftype t)
{
	switch (t) {
	case T_SIZE:
		return "a size such as 8Gi or 2Ti";
	case T_INT:
		return "an integer";
	case T_BOOL:
		return "true or false";
	case T_LIST_STR:
	case T_LIST:
		return "a list";
	case T_KV:
	case T_TREE:
	case T_STRUCT:
		return "a mapping";
	default:
		return "a single value";
	}
}

static bool secret_defined(const struct diag_ctx *c, const char *name)
{
	return c->secrets && ynode_map_get(c->secrets, name) != NULL;
}

/* A secret name that names nothing under `secrets:`. The value is not
 * echoed: a person who writes the password itself in place of its name must
 * not find it in a log. The defined names (and the nearest) are safe to show. */
static void secret_undefined(struct diag_ctx *c, const struct ynode *n, const char *path, const char *s)
{
	const struct ynode *m = c->secrets;
	struct buf names = { 0 };
	const char **cand = NULL;
	const char *near = NULL;
	size_t nc = 0;

	for (size_t i = 0; m && m->type == YN_MAP && i < m->n; i++) {
		cand = xrealloc(cand, sizeof(*cand) * (nc + 1));
		cand[nc++] = m->keys[i]->value;
		buf_printf(&names, "%s'%s'", i ? ", " : "", m->keys[i]->value);
	}
	if (nc)
		near = value_closest(s, cand, sizeof(*cand), nc);
	if (near)
		diag_node(c, n, path, DIAG_ERROR,
			  "names no secret defined under 'secrets:' (value not shown); did you mean '%s'?",
			  near);
	else
		diag_node(c, n, path, DIAG_ERROR,
			  "names no secret defined under 'secrets:' (value not shown; defined: %s)",
			  names.data ? names.data : "none");
	buf_free(&names);
	free(cand);
}

/* Check one scalar value against a type. Adds a diagnostic and returns false
 * when it does not fit. */
static bool check_scalar(struct diag_ctx *c, const struct field *f, enum ftype t, const struct ynode *n,
			 const char *path)
{
	const char *s = n->value, *why = NULL;

	if (n->type != YN_SCALAR) {
		diag_node(c, n, path, DIAG_ERROR, "expected %s, found %s", type_name(t), diag_kind(n));
		return false;
	}
	if (strstr(s, PROFILE_CHOOSE_MARKER)) { /* appliance init's marker: one message for it */
		diag_node(c, n, path, DIAG_ERROR, "still to choose: %s", s);
		return false;
	}
	switch (t) {
	case T_STR:
		return true;
	case T_NAME:
		if (!value_is_k8s_name(s))
			why = "expected a Kubernetes name (a-z, 0-9, '-', '.'; alphanumeric at both ends)";
		break;
	case T_HOST:
		if (!value_is_hostname(s))
			why = "not a valid hostname (labels of letters, digits and '-', at most 63 "
			      "characters each)";
		break;
	case T_ADDR:
		if (!value_is_ip(s) && !value_is_hostname(s))
			why = "expected a hostname or an IP address";
		break;
	case T_IP:
		if (!value_is_ip(s))
			why = "not a valid IP address";
		break;
	case T_CIDR:
		if (!value_is_cidr(s))
			why = "not a valid CIDR (address/prefix, e.g. 10.1.0.0/16)";
		break;
	case T_MAC:
		if (!value_is_mac(s))
			why = "not a valid MAC address (six hex pairs, e.g. 52:54:00:12:34:56)";
		break;
	case T_URL: {
		const char *r = value_check_url(s, f->url_schemes);
		if (r == value_bad_scheme) {
			struct buf b = { 0 };
			const char *const *sc = f->url_schemes;
			static const char *const web[] = { "http", "https", NULL };
			for (int i = 0; (sc ? sc : web)[i]; i++)
				buf_printf(&b, "%s%s://", i ? ", " : "", (sc ? sc : web)[i]);
			diag_node(c, n, path, DIAG_ERROR, "unsupported URL scheme in '%s'; expected %s", s,
				  b.data);
			buf_free(&b);
			return false;
		}
		why = r;
		break;
	}
	case T_CRON:
		why = value_check_cron(s);
		break;
	case T_DURATION: {
		long long ms;
		if (profile_parse_duration(s, &ms) < 0)
			why = "expected a duration such as 30s, 5m or 1h30m";
		break;
	}
	case T_RETENTION: {
		size_t len = strlen(s);
		bool ok = len >= 2 && strchr("dwm", s[len - 1]) && s[0] != '0';
		for (size_t i = 0; ok && i + 1 < len; i++)
			ok = isdigit((unsigned char)s[i]);
		if (!ok)
			why = "expected a retention such as 30d, 4w or 3m";
		break;
	}
	case T_VERSION:
		if (!value_is_version(s))
			why = "expected a version such as v1.10.5";
		break;
	case T_SECRET:
		if (!secret_defined(c, s)) {
			secret_undefined(c, n, path, s);
			return false;
		}
		break;
	case T_SECREF:
		if (strncmp(s, "env:", 4) == 0) {
			if (!value_is_varname(s + 4))
				why = "'env:' must be followed by an environment variable name";
		} else if (strncmp(s, "file:", 5) == 0) {
			if (!s[5])
				why = "'file:' must be followed by a path";
		} else {
			why = "a secret must be a reference 'env:NAME' or 'file:PATH', never a literal value";
		}
		break;
	case T_ENUM: {
		bool ok = false;
		for (int i = 0; f->choices[i]; i++)
			ok |= strcmp(s, f->choices[i]) == 0;
		if (!ok) {
			struct buf b = { 0 };
			size_t nc = 0;
			for (; f->choices[nc]; nc++)
				buf_printf(&b, "%s'%s'", nc ? ", " : "", f->choices[nc]);
			const char *near =
			    value_closest(s, (const char *const *)f->choices, sizeof(char *), nc);
			if (near)
				diag_node(c, n, path, DIAG_ERROR, "'%s' is not one of %s; did you mean '%s'?",
					  s, b.data, near);
			else
				diag_node(c, n, path, DIAG_ERROR, "'%s' is not one of %s", s, b.data);
			buf_free(&b);
			return false;
		}
		break;
	}
	case T_MODE:
		if (strlen(s) != 4 || s[0] != '0' || !strchr("01234567", s[1]) || !strchr("01234567", s[2]) ||
		    !strchr("01234567", s[3]) || !s[1] || !s[2] || !s[3])
			why = "expected an octal file mode such as \"0777\" (quote it)";
		break;
	case T_QTY:
		if (!value_is_k8s_quantity(s))
			why = "expected a Kubernetes quantity such as 25m, 1000M or 1Gi";
		break;
	case T_VARNAME:
		if (!value_is_varname(s))
			why = "expected a variable name (letters, digits and '_')";
		break;
	case T_PATHSEG:
		if (!*s || strchr(s, '/') || strchr(s, '\\') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
			why = "expected one folder name (no '/')";
		break;
	case T_HEX64: {
		bool ok = strlen(s) == 64;
		for (int i = 0; ok && i < 64; i++)
			ok = isxdigit((unsigned char)s[i]);
		if (!ok)
			why = "expected 64 hexadecimal digits (a SHA-256)";
		break;
	}
	case T_SIZE: {
		uint64_t v;
		int r = profile_parse_size(s, &v);
		if (r == -ERANGE)
			why = "size is too large";
		else if (r < 0)
			why =
			    "malformed size; expected a number with an optional unit such as 8Gi, 2Ti, 500GB";
		else if ((f->flags & F_K8S) && !value_is_k8s_quantity(s))
			why = "Kubernetes reads this size and does not take that unit; write e.g. 8G (10^9 "
			      "bytes) or 8Gi (2^30 bytes)";
		break;
	}
	case T_INT: {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (!*s || *end || errno) {
			why = "expected an integer";
		} else if (f->min < f->max && (v < f->min || v > f->max)) {
			diag_node(c, n, path, DIAG_ERROR, "%lld is out of range (%lld to %lld)", v, f->min,
				  f->max);
			return false;
		}
		break;
	}
	case T_BOOL:
		if (strcmp(s, "true") && strcmp(s, "false") && strcmp(s, "True") && strcmp(s, "False") &&
		    strcmp(s, "TRUE") && strcmp(s, "FALSE"))
			why = "expected true or false";
		break;
	default:
		why = "internal: not a scalar type";
	}
	if (why && t == T_SECREF) /* may be the secret itself: never echoed */
		diag_node(c, n, path, DIAG_ERROR, "%s (found %zu characters; value not shown)", why,
			  strlen(s));
	else if (why)
		diag_node(c, n, path, DIAG_ERROR, "%s (found '%s')", why, s);
	if (why)
		return false;
	return true;
}

/* ---- binding ------------------------------------------------------------ */

static void bind_scalar(enum ftype t, const char *s, void *dst)
{
	switch (t) {
	case T_SIZE: {
		struct model_size *z = dst;
		z->text = xstrdup(s);
		profile_parse_size(s, &z->bytes);
		break;
	}
	case T_INT:
		*(long long *)dst = strtoll(s, NULL, 10);
		break;
	case T_BOOL:
		*(bool *)dst = s[0] == 't' || s[0] == 'T';
		break;
	case T_MAC: {
		char *v = xstrdup(s);
		for (char *p = v; *p; p++)
			*p = *p == '-' ? ':' : (char)tolower((unsigned char)*p);
		*(char **)dst = v;
		break;
	}
	default:
		*(char **)dst = xstrdup(s);
	}
}

static void bind_table(struct diag_ctx *c, const struct ynode *map, const struct table *t, void *base,
		       const char *path);

static void bind_default(const struct field *f, void *base)
{
	void *dst = AT(base, f->off, void);

	if (!f->def)
		return;
	if (f->type == T_LIST_STR) {
		char *copy = xstrdup(f->def), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			strlist_push(dst, xstrdup(tok));
		free(copy);
	} else {
		bind_scalar(f->type, f->def, dst);
	}
}

/* The value must be a mapping or a list: report and return false otherwise. */
static bool expect_kind(struct diag_ctx *c, const struct ynode *n, const char *path, enum ynode_type want)
{
	if (n->type == want)
		return true;
	diag_node(c, n, path, DIAG_ERROR, "expected %s, found %s", want == YN_MAP ? "a mapping" : "a list",
		  diag_kind(n));
	return false;
}

static void bind_field(struct diag_ctx *c, const struct field *f, const struct ynode *n, void *base,
		       const char *path)
{
	void *dst = AT(base, f->off, void);

	switch (f->type) {
	case T_STRUCT:
		if (!expect_kind(c, n, path, YN_MAP))
			return;
		bind_table(c, n, f->sub, dst, path);
		return;
	case T_LIST: {
		void **arr = dst;
		size_t *count = (size_t *)((char *)dst + sizeof(void *));
		if (!expect_kind(c, n, path, YN_SEQ))
			return;
		*arr = xcalloc(n->n ? n->n : 1, f->sub->size);
		*count = n->n;
		for (size_t i = 0; i < n->n; i++) {
			char *ip = xasprintf("%s[%zu]", path, i);
			if (expect_kind(c, n->items[i], ip, YN_MAP))
				bind_table(c, n->items[i], f->sub, (char *)*arr + i * f->sub->size, ip);
			free(ip);
		}
		return;
	}
	case T_LIST_STR: {
		struct strlist *l = dst;
		if (!expect_kind(c, n, path, YN_SEQ))
			return;
		for (size_t i = 0; i < n->n; i++) {
			char *ip = xasprintf("%s[%zu]", path, i);
			char *v = NULL;
			if (check_scalar(c, f, f->elem, n->items[i], ip)) {
				bind_scalar(f->elem, n->items[i]->value, &v);
				strlist_push(l, v);
			}
			free(ip);
		}
		return;
	}
	case T_KV: {
		struct kvlist *l = dst;
		if (!expect_kind(c, n, path, YN_MAP))
			return;
		for (size_t i = 0; i < n->n; i++) {
			const char *k = n->keys[i]->value;
			char *ip = xasprintf("%s.%s", path, k);
			bool key_ok = f->elem == T_SECREF ? value_is_secret_name(k) : value_is_varname(k);
			if (!key_ok) {
				diag_node(c, n->keys[i], ip, DIAG_ERROR, "'%s' is not a valid %s name", k,
					  f->elem == T_SECREF ? "secret" : "variable");
			} else if (!ynode_is_null(n->items[i]) &&
				   check_scalar(c, f, f->elem, n->items[i], ip)) {
				l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
				l->v[l->n].key = xstrdup(k);
				l->v[l->n].value = xstrdup(n->items[i]->value);
				l->n++;
			} else if (ynode_is_null(n->items[i])) {
				diag_node(c, n->items[i], ip, DIAG_ERROR, "has no value");
			}
			free(ip);
		}
		return;
	}
	case T_TREE:
		/* kept as written: the tree lives as long as the model (m->tree) */
		if (expect_kind(c, n, path, YN_MAP))
			*(const struct ynode **)dst = n;
		return;
	default:
		if (check_scalar(c, f, f->type, n, path))
			bind_scalar(f->type, n->value, dst);
	}
}

static void bind_table(struct diag_ctx *c, const struct ynode *map, const struct table *t, void *base,
		       const char *path)
{
	size_t nf = 0;

	while (t->fields[nf].key)
		nf++;
	/* unknown keys first, with a suggestion when one is close */
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->value;
		bool known = false;
		for (size_t j = 0; j < nf && !known; j++)
			known = strcmp(t->fields[j].key, k) == 0;
		if (!known) {
			char *kp = path[0] ? xasprintf("%s.%s", path, k) : xstrdup(k);
			const char *near = value_closest(k, &t->fields[0].key, sizeof(struct field), nf);
			if (near)
				diag_node(c, map->keys[i], kp, DIAG_ERROR,
					  "unknown key '%s'; did you mean '%s'?", k, near);
			else
				diag_node(c, map->keys[i], kp, DIAG_ERROR, "unknown key '%s' in %s", k,
					  t->name);
			free(kp);
		}
	}
	for (size_t j = 0; j < nf; j++) {
		const struct field *f = &t->fields[j];
		const struct ynode *v = ynode_map_get(map, f->key);
		char *kp = path[0] ? xasprintf("%s.%s", path, f->key) : xstrdup(f->key);

		if (v && ynode_is_null(v) && f->type != T_STRUCT)
			v = NULL;
		if (!v) {
			if (f->type == T_STRUCT) {
				/* an absent section still gets its own defaults and required checks */
				static const struct ynode empty = { .type = YN_MAP,
								    .file = PROFILE_DEFAULTS_NAME };
				/* an optional section left out requires nothing inside it */
				c->absent += !(f->flags & F_REQUIRED);
				bind_table(c, &empty, f->sub, AT(base, f->off, void), kp);
				c->absent -= !(f->flags & F_REQUIRED);
				if ((f->flags & F_REQUIRED) && !c->absent)
					diag_node(c, map, kp, DIAG_ERROR, "required section is missing");
			} else if ((f->flags & F_REQUIRED) && !c->absent) {
				diag_node(c, map, kp, DIAG_ERROR, "required key is missing");
			} else {
				bind_default(f, base);
			}
		} else if (f->type == T_STRUCT && ynode_is_null(v)) {
			static const struct ynode empty = { .type = YN_MAP, .file = PROFILE_DEFAULTS_NAME };
			c->absent += !(f->flags & F_REQUIRED);
			bind_table(c, &empty, f->sub, AT(base, f->off, void), kp);
			c->absent -= !(f->flags & F_REQUIRED);
		} else {
			bind_field(c, f, v, base, kp);
		}
		free(kp);
	}
}
void profile_bind(struct diag_ctx *c, const struct ynode *root, struct model *m)
{
	bind_table(c, root, &profile_root_table, m, "");
}
