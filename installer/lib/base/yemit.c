/* Deterministic YAML output through libyaml's event emitter.
 *
 * Quoting: a string is written plain only when (1) libyaml would accept it
 * plain in block context (a conservative subset of that check is done here,
 * so libyaml never silently switches styles on us) and (2) neither a YAML 1.1
 * nor a YAML 1.2 (core schema) reader would resolve the plain scalar to
 * anything but a string: no bool/null keywords (yes, on, ~, ...), no
 * int/float/sexagesimal/timestamp forms ("0777", "1.10", "23:00", "0x1F"),
 * and nothing Flux substitutes (${VAR}), because after substitution the text
 * would be re-resolved. Everything else is double-quoted. Multi-line strings
 * are double-quoted too; y_block() asks for a literal block instead.
 *
 * Convenience for optional fields: y_str(NULL), y_plain(NULL), y_block(NULL)
 * return NULL, and y_set()/y_push() ignore a NULL value. */
#include "base/yemit.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/err.h"
#include "base/util.h"
#include "base/ytree.h"

enum ykind { YK_MAP = 0, YK_SEQ, YK_STR, YK_PLAIN, YK_BLOCK };

struct yval {
	enum ykind kind;
	char *s;	    /* scalars */
	char **keys;	    /* maps */
	struct yval **vals; /* maps and sequences */
	size_t n, cap;
};

static struct yval *y_new(enum ykind kind, const char *s)
{
	struct yval *v = xcalloc(1, sizeof(*v));

	v->kind = kind;
	v->s = s ? xstrdup(s) : NULL;
	return v;
}

struct yval *y_map(void)
{
	return y_new(YK_MAP, NULL);
}

struct yval *y_seq(void)
{
	return y_new(YK_SEQ, NULL);
}

struct yval *y_str(const char *s)
{
	return s ? y_new(YK_STR, s) : NULL;
}

struct yval *y_int(long long v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", v);
	return y_new(YK_PLAIN, tmp);
}

struct yval *y_bool(bool v)
{
	return y_new(YK_PLAIN, v ? "true" : "false");
}

struct yval *y_plain(const char *s)
{
	return s ? y_new(YK_PLAIN, s) : NULL;
}

struct yval *y_block(const char *s)
{
	return s ? y_new(YK_BLOCK, s) : NULL;
}

static void y_grow(struct yval *c)
{
	if (c->n < c->cap)
		return;
	c->cap = c->cap ? c->cap * 2 : 8;
	c->vals = xrealloc(c->vals, c->cap * sizeof(*c->vals));
	if (c->kind == YK_MAP)
		c->keys = xrealloc(c->keys, c->cap * sizeof(*c->keys));
}

static struct yval *y_get(const struct yval *map, const char *key, size_t keylen)
{
	for (size_t i = 0; i < map->n; i++)
		if (strlen(map->keys[i]) == keylen && memcmp(map->keys[i], key, keylen) == 0)
			return map->vals[i];
	return NULL;
}

static void y_bug(const char *what, const char *key)
{
	fprintf(stderr, "appliance: yemit: %s '%s' (programming error)\n", what, key);
	abort();
}

struct yval *y_set(struct yval *map, const char *key, struct yval *v)
{
	if (map->kind != YK_MAP)
		y_bug("y_set on a non-map, key", key);
	if (!v)
		return map;
	if (y_get(map, key, strlen(key)))
		y_bug("duplicate key", key);
	y_grow(map);
	map->keys[map->n] = xstrdup(key);
	map->vals[map->n++] = v;
	return map;
}

struct yval *y_at(struct yval *map, const char *dotted)
{
	const char *p = dotted;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		struct yval *next;

		if (map->kind != YK_MAP)
			y_bug("y_at through a non-map at", dotted);
		next = y_get(map, p, len);
		if (!next) {
			char *k = xstrndup(p, len);
			next = y_map();
			y_set(map, k, next);
			free(k);
		} else if (next->kind != YK_MAP) {
			y_bug("y_at: not a map", dotted);
		}
		map = next;
		p += len;
		if (*p == '.')
			p++;
	}
	return map;
}

struct yval *y_push(struct yval *seq, struct yval *v)
{
	if (seq->kind != YK_SEQ)
		y_bug("y_push on a non-sequence", v && v->s ? v->s : "");
	if (!v)
		return seq;
	y_grow(seq);
	seq->vals[seq->n++] = v;
	return seq;
}

struct yval *y_strs(const char *const *v, size_t n)
{
	struct yval *s = y_seq();

	for (size_t i = 0; i < n; i++)
		y_push(s, y_str(v[i]));
	return s;
}

size_t y_len(const struct yval *v)
{
	return v && (v->kind == YK_MAP || v->kind == YK_SEQ) ? v->n : 0;
}

void y_free(struct yval *v)
{
	if (!v)
		return;
	/* documents carry secret values (machine configs, Secrets): wipe them */
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys && v->keys[i]) {
			wipe(v->keys[i], strlen(v->keys[i]));
			free(v->keys[i]);
		}
		y_free(v->vals[i]);
	}
	free(v->keys);
	free(v->vals);
	if (v->s)
		wipe(v->s, strlen(v->s));
	free(v->s);
	free(v);
}

/* ---- quoting ------------------------------------------------------------ */

/* Words a YAML 1.1 or 1.2 reader turns into a bool, null or merge/value key. */
static const char *const special_words[] = {
	"y",	"Y",	"yes",	"Yes",	 "YES",	  "n",	   "N",	 "no", "No", "NO",
	"true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off",
	"Off",	"OFF",	"~",	"null",	 "Null",  "NULL",  "<<", "=",
};

/* Plain forms that resolve to int, float or timestamp in YAML 1.1 or 1.2. */
static const char *const number_res[] = {
	"^[-+]?0b[01_]+$",
	"^[-+]?0o?[0-7_]+$",
	"^[-+]?[0-9][0-9_]*$",
	"^[-+]?0x[0-9a-fA-F_]+$",
	"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?$",
	"^[-+]?([0-9][0-9_]*)?\\.[0-9._]*([eE][-+]?[0-9]+)?$",
	"^[-+]?[0-9][0-9_]*(\\.[0-9_]*)?[eE][-+]?[0-9]+$",
	"^[-+]?\\.(inf|Inf|INF)$",
	"^\\.(nan|NaN|NAN)$",
	"^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?",
};
#define N_NUMBER_RES (sizeof(number_res) / sizeof(number_res[0]))

static regex_t number_re[N_NUMBER_RES];
static pthread_once_t number_once = PTHREAD_ONCE_INIT;

static void number_init(void)
{
	for (size_t i = 0; i < N_NUMBER_RES; i++)
		if (regcomp(&number_re[i], number_res[i], REG_EXTENDED | REG_NOSUB) != 0)
			y_bug("bad built-in regex", number_res[i]);
}

/* A conservative subset of what libyaml accepts as a block plain scalar. */
static bool plain_syntax_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c == ':' && p[1] == ' ')
			return false;
		if (c == ' ' && p[1] == '#')
			return false;
	}
	return true;
}

static bool resolves_to_non_string(const char *s)
{
	for (size_t i = 0; i < sizeof(special_words) / sizeof(special_words[0]); i++)
		if (strcmp(s, special_words[i]) == 0)
			return true;
	pthread_once(&number_once, number_init);
	for (size_t i = 0; i < N_NUMBER_RES; i++)
		if (regexec(&number_re[i], s, 0, NULL, 0) == 0)
			return true;
	/* a number followed by words ("0 0 23 * * *"): quote so nobody misreads it */
	return s[0] >= '0' && s[0] <= '9' && strchr(s, ' ');
}

static bool str_needs_quotes(const char *s)
{
	return !plain_syntax_ok(s) || resolves_to_non_string(s) || strstr(s, "${");
}

struct yval *y_from_ynode(const struct ynode *n)
{
	struct yval *v;

	if (!n)
		return NULL;
	switch (n->type) {
	case YN_MAP:
		v = y_map();
		for (size_t i = 0; i < n->n; i++)
			y_set(v, n->keys[i]->value, y_from_ynode(n->items[i]));
		return v;
	case YN_SEQ:
		v = y_seq();
		for (size_t i = 0; i < n->n; i++)
			y_push(v, y_from_ynode(n->items[i]));
		return v;
	case YN_SCALAR:
		break;
	}
	if (!n->plain)
		return y_str(n->value); /* quoted: a string, quoted again when needed */
	if (ynode_is_null(n))
		return y_plain("null");
	/* plain: keeps its meaning (true, 7445, kubernetes) when it can be written plain */
	return plain_syntax_ok(n->value) ? y_plain(n->value) : y_str(n->value);
}

/* ---- emitting ----------------------------------------------------------- */

/* libyaml's output buffers held the document (secret values too): wipe them
 * before libyaml frees them. */
static void emitter_free(yaml_emitter_t *em)
{
	if (em->buffer.start)
		wipe(em->buffer.start, (size_t)(em->buffer.end - em->buffer.start));
	if (em->raw_buffer.start)
		wipe(em->raw_buffer.start, (size_t)(em->raw_buffer.end - em->raw_buffer.start));
	yaml_emitter_delete(em);
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	buf_append(data, buffer, size);
	return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style))
		return 0;
	return yaml_emitter_emit(em, &ev);
}

static int emit_str(yaml_emitter_t *em, const char *s)
{
	return emit_scalar(em, s,
			   str_needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE);
}

static int emit_node(yaml_emitter_t *em, const struct yval *v)
{
	yaml_event_t ev;

	switch (v->kind) {
	case YK_MAP:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return 0;
		for (size_t i = 0; i < v->n; i++)
			if (!emit_str(em, v->keys[i]) || !emit_node(em, v->vals[i]))
				return 0;
		return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
	case YK_SEQ:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return 0;
		for (size_t i = 0; i < v->n; i++)
			if (!emit_node(em, v->vals[i]))
				return 0;
		return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
	case YK_STR:
		return emit_str(em, v->s);
	case YK_PLAIN:
		return emit_scalar(em, v->s, YAML_PLAIN_SCALAR_STYLE);
	case YK_BLOCK:
		return emit_scalar(em, v->s, YAML_LITERAL_SCALAR_STYLE);
	}
	return 0;
}

int y_emit(struct yval *const *docs, size_t n, struct buf *out, struct app_err *e)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int ok;

	if (!yaml_emitter_initialize(&em))
		return app_err_set(e, -ENOMEM, "cannot initialize the yaml emitter");
	yaml_emitter_set_output(&em, write_handler, out);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, -1); /* never fold long lines */
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_break(&em, YAML_LN_BREAK);

	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev);
	for (size_t i = 0; ok && i < n; i++) {
		ok = yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, i == 0) &&
		     yaml_emitter_emit(&em, &ev) && emit_node(&em, docs[i]) &&
		     yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev);
	}
	ok = ok && yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
	     yaml_emitter_flush(&em);
	if (!ok) {
		int r = app_err_set(e, -EINVAL, "yaml emitter: %s",
				    em.problem ? em.problem : "cannot emit document");
		emitter_free(&em);
		return r;
	}
	emitter_free(&em);
	return 0;
}
