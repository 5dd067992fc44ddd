/* What the install steps share: the context one run of the step table fills
 * in (the node, its disks, the image, the config), the shape of a step row,
 * and the few helpers more than one step uses. Only plan.c (the engine) and
 * the steps_*.c files (the rows) include this header; commands use plan.h. */
#ifndef APPLIANCE_STEP_H
#define APPLIANCE_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "disk/disk.h"
#include "disk/hw.h"
#include "install/identity.h"
#include "install/report.h"

struct app_err;
struct journal;
struct model;
struct model_node;
struct plan_opts;
struct wipe_plan;

enum step_kind {
	KIND_FACT,   /* read-only, computed on every run (identity, disks) */
	KIND_CHECK,  /* read-only preflight, journaled; runs in plan too */
	KIND_CHANGE, /* changes the machine; journaled; only with --apply */
};

enum step_id {
	S_IDENTIFY = 0,
	S_INVENTORY,
	S_RESOLVE,
	S_NAS,
	S_IMAGE,
	S_SECRETS,
	S_CONFIG,
	S_WRITE,
	S_CONFIG_PART,
	S_WIPE,
	S_BOOT,
	S_GITOPS,
	S_SUMMARY,
	N_STEPS
};

struct ctx {
	const struct plan_opts *o;
	const struct model *m;
	struct report *rep;
	struct journal *j;
	bool apply;
	const char *step; /* name of the running step */

	const struct model_node *node;
	struct identity id;
	struct hw_inventory inv;
	bool have_inv;
	const struct hw_disk *install;
	const struct hw_disk **ceph;
	size_t n_ceph;

	char *cache_dir, *secrets_path, *node_dir, *sysfs, *efivars, *bootorder_record;
	char *schematic;			  /* Image Factory schematic id */
	char *image_key, *image_url, *image_file; /* pin key, source URL, cache path */
	bool image_local; /* image_file is in o->image_dir (the stick), not the cache */
	char image_sha[65];
	struct buf config; /* machine config (holds secrets: never printed) */
	char config_sha[65], volume_sha[65];

	char digest[N_STEPS][65];
	bool runs[N_STEPS]; /* runs (or would run) in this invocation */
	enum report_status status[N_STEPS];
	char result[N_STEPS][512];
	bool disks_touched;
	int image_phase; /* last image_progress phase reported (-1: none) */
};

/* One row of the step table. A step that cannot run because something it
 * needs is missing returns -ENOSYS and is reported "not available". */
struct step {
	const char *title;
	enum step_kind kind;
	unsigned deps;	/* bit i: step i's result feeds this one */
	unsigned needs; /* bit i: cannot run unless step i succeeded (else blocked) */
	bool writes;	/* a CHECK step that writes files (state dir) when applying */
	bool anytime;	/* safe to stop at any moment: chunk journal or idempotent */
	/* "key=value" lines naming everything the step depends on. NULL: none. */
	int (*inputs)(struct ctx *c, struct buf *in, struct app_err *e);
	/* plan: say what the step would change and what it leaves alone */
	void (*describe)(struct ctx *c);
	/* do it (FACT and CHECK steps also run in plan mode: c->apply says) */
	int (*run)(struct ctx *c, char *result, size_t n, struct app_err *e);
	/* 0 when the recorded result still holds on the machine; -ESTALE + why */
	int (*check)(struct ctx *c, const char *result, struct app_err *e);
};

#define BIT(s) (1u << (s))

/* -ENOSYS with "not available yet: WHAT". */
int step_unavailable(struct app_err *e, const char *what);

/* One action line of the running step (kind: "file", "erase", "keep", ...). */
void step_action(struct ctx *c, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The disk's path, else its kernel name. */
const char *step_disk_name(const struct hw_disk *d);

/* The claim disk.c's policy checks before d is opened for writing. */
struct disk_claim step_claim(struct ctx *c, const struct hw_disk *d, enum disk_role role);

/* "KEY.path=", "KEY.size=", "KEY.serial=", "KEY.model=" input lines for d. */
void step_disk_inputs(struct buf *in, const char *key, const struct hw_disk *d);

/* 0 when the install disk is resolved, else not available. */
int step_need_install(struct ctx *c, struct app_err *e);

/* STATE_DIR/nodes/NODE/NAME. Caller frees. */
char *step_node_file(struct ctx *c, const char *name);

/* The Ceph wipe this node's disks would get (its refusals included).
 * The caller frees *p with wipe_plan_free() whatever the result. */
int step_wipe_plan(struct ctx *c, struct wipe_plan *p, struct app_err *e);

#endif
