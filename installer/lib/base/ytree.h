/* A YAML document as a tree that remembers where each node came from
 * (file:line:col), parsed with libyaml. Hostile input is refused early:
 * size, depth and node-count limits; aliases are refused outright (no alias
 * bombs), so is more than one document. */
#ifndef APPLIANCE_YTREE_H
#define APPLIANCE_YTREE_H

#include <stdbool.h>
#include <stddef.h>

struct app_err;

enum ynode_type { YN_SCALAR = 0, YN_MAP, YN_SEQ };

struct ynode {
	enum ynode_type type;
	char *value; /* scalar text (NUL-terminated) */
	size_t len;
	bool plain; /* plain (unquoted) scalar: may mean null/bool/number */
	const char *file;
	int line, col; /* 1-based */
	/* map: keys[i] -> items[i]; seq: items[i] */
	struct ynode **keys;
	struct ynode **items;
	size_t n;
};

struct ytree {
	struct ynode *root; /* NULL for an empty document */
	char **files;	    /* file names the nodes point to */
	size_t n_files;
};

#define YTREE_MAX_BYTES (4u << 20)
#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES 200000
#define YTREE_MAX_SCALAR (256u << 10)

/* Parse a YAML text (name is used in positions and messages). Errors read
 * "FILE:LINE:COL: message" in e->msg. */
int ytree_parse(const char *name, const char *text, size_t len, struct ytree **ret, struct app_err *e);
int ytree_parse_file(const char *path, struct ytree **ret, struct app_err *e);
/* yaml_parser_delete after wiping libyaml's input buffers (the document may
 * hold secrets): use it for every parser that read a secret. */
struct yaml_parser_s;
void ytree_parser_delete(struct yaml_parser_s *p);
/* -EINVAL with "NAME:LINE:COL: YAML syntax error: PROBLEM" for a parser that
 * failed (libyaml's problems are fixed words: no value is echoed). */
int ytree_syntax_error(const struct yaml_parser_s *p, const char *name, struct app_err *e);

void ytree_free(struct ytree *t);

/* Merge src over dst: maps merge key by key, anything else replaces. src is
 * consumed (its nodes move into dst); src must not be used afterwards. */
void ytree_merge(struct ytree *dst, struct ytree *src);

/* Set a value at a key path ("a.b[2].c") from a --set argument, creating maps
 * on the way. The value is parsed as a YAML scalar. */
int ytree_set(struct ytree *t, const char *assignment, struct app_err *e);

/* Look up a key path; NULL when absent. */
struct ynode *ytree_get(struct ynode *root, const char *path);
struct ynode *ynode_map_get(const struct ynode *map, const char *key);

/* YAML 1.1/1.2 null: plain "", "~", "null", "Null", "NULL". */
bool ynode_is_null(const struct ynode *n);

#endif
