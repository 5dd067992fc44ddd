/* Resolve a node's disk selectors (installDisk, cephDisks[]) against the
 * inventory. Exact or nothing: a single-disk role that matches zero or
 * several disks, a matched disk below the role's minimum size, or one disk
 * claimed by two roles is an error that lists every candidate and why it did
 * or did not match. Never "first match".
 *
 * OWNER: disks work (issue 6). */
#ifndef APPLIANCE_SELECTOR_H
#define APPLIANCE_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "disk/disk.h"
#include "disk/hw.h"
#include "profile/model.h"

struct app_err;
struct buf;

struct selector_role {
	enum disk_role role;
	char *key; /* "nodes[0].installDisk", "nodes[0].cephDisks[1]" */
	const struct disk_selector *sel;
	bool many;     /* cephDisks match: all (one or more) or any (zero or more) */
	bool optional; /* match: any: zero disks is fine */
	bool wipe;     /* cephDisks wipe: true */
	uint64_t min_size;
	char *min_text; /* min_size as written, and where: "10Gi (talos.installDiskMinSize)" */
	size_t *disks;	/* indexes into the inventory */
	size_t n_disks;
};

struct selector_result {
	struct selector_role *v;
	size_t n;
	char *report; /* every role, every candidate, matched or not and why (also on failure) */
};

/* 1 when d matches s, 0 when not; why gets "serial 'X' matches 'S*'" style
 * reasons (all of them when it matches, the first mismatch when not). */
int selector_match(const struct disk_selector *s, const struct hw_disk *d, char *why, size_t n);

/* True when no field of s is set. */
bool selector_empty(const struct disk_selector *s);

/* Resolve every configured role of node. Roles with an empty selector are
 * skipped. On error *ret still holds the report (free it with
 * selector_result_free), e->msg holds a summary with the candidates. */
int selector_resolve_node(const struct model *m, const struct model_node *node,
			  const struct hw_inventory *inv, struct selector_result *ret, struct app_err *e);

/* Index of node in m->nodes (for "nodes[N]" keys). */
size_t selector_node_index(const struct model *m, const struct model_node *node);

void selector_result_free(struct selector_result *r);

#endif
