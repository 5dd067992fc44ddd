/* Deterministic YAML output through libyaml's emitter. Build a small value
 * tree, then emit it: keys keep insertion order, strings are quoted whenever a
 * plain scalar would change meaning ("0777", "on", "yes", "${VAR}", "23:00",
 * "1.10"), so re-rendering is byte-identical. Used by render, talos and pxe.
 * Optional fields: y_str/y_plain/y_block(NULL) return NULL and y_set/y_push
 * skip a NULL value, so `y_set(m, "region", y_str(maybe_null))` just works.
 * OWNER: render work (issue 4). */
#ifndef APPLIANCE_YEMIT_H
#define APPLIANCE_YEMIT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct app_err;
struct yval;
struct ynode;

struct yval *y_map(void);
struct yval *y_seq(void);
struct yval *y_str(const char *s); /* a string, quoted when needed to stay one */
struct yval *y_int(long long v);
struct yval *y_bool(bool v);
struct yval *y_plain(const char *s); /* emitted as written, plain (numbers like 0.5) */
struct yval *y_block(const char *s); /* literal block scalar (|) for multi-line text */

/* map[key] = v (appended; a key set twice is a programming error: aborts). Returns map. */
struct yval *y_set(struct yval *map, const char *key, struct yval *v);
/* Nested maps created on the way: y_at(m, "spec.chart.spec") returns the innermost. */
struct yval *y_at(struct yval *map, const char *dotted);
struct yval *y_push(struct yval *seq, struct yval *v); /* returns seq */
struct yval *y_strs(const char *const *v, size_t n);   /* sequence of strings */

/* A copy of a parsed YAML node (a free map of the profile, e.g. chart
 * values): maps and sequences as they are, plain scalars stay plain (so
 * true, 7445 and null keep their meaning), quoted scalars stay strings. */
struct yval *y_from_ynode(const struct ynode *n);

/* Entries of a map or sequence (0 for scalars). */
size_t y_len(const struct yval *v);

/* Emit docs as a YAML stream ("---" between documents), appended to out. */
int y_emit(struct yval *const *docs, size_t n, struct buf *out, struct app_err *e);
void y_free(struct yval *v);

#endif
