/* Prepare Ceph disks to Rook's standard: plan (what would be erased, like
 * `wipefs --no-act`), apply (in parallel, one thread per disk), verify clean,
 * optional backup of every erased region and restore from it.
 *
 * Apply, per disk: erase every signature libblkid finds on the disk and its
 * partitions; zero the protective MBR and both GPT headers + entry arrays;
 * zero 200 KiB at Rook's zap offsets (0, 1 GiB, 10 GiB, 100 GiB, 1000 GiB,
 * those inside the disk); discard the whole disk when it supports discard
 * (image files: punch a hole) else zero the first and last 100 MiB; re-read
 * the partition table; re-probe and fail unless libblkid finds nothing.
 * With a backup directory, discard is replaced by zeroing the first and last
 * 100 MiB so that everything erased is in the backup.
 *
 * Every disk is opened through the policy (disk.h). OWNER: disks work (issue 6). */
#ifndef APPLIANCE_WIPE_H
#define APPLIANCE_WIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/hw.h"
#include "profile/model.h"

struct app_err;

enum wipe_kind {
	WIPE_SIGNATURE = 0, /* a libblkid signature's magic */
	WIPE_MBR,	    /* sector 0: (protective) MBR */
	WIPE_GPT,	    /* GPT header + entries, primary or backup */
	WIPE_ROOK,	    /* 200 KiB at a Rook zap offset */
	WIPE_DISCARD,	    /* discard the whole device */
	WIPE_ZERO,	    /* zero the first / last 100 MiB */
};

struct wipe_region {
	uint64_t offset, length;
	enum wipe_kind kind;
	char *type; /* signature type, "gpt-primary", "rook-1G", ... */
	int partno; /* signatures: 0 disk, N partition */
};

struct wipe_target {
	char *path; /* as the inventory lists it */
	char *key;  /* nodes[0].cephDisks[1], or NULL */
	uint64_t size;
	uint32_t lsec;
	bool discard;
	struct wipe_region *v;
	size_t n;
};

struct wipe_plan {
	struct wipe_target *v;
	size_t n;
	/* for the policy check at apply time */
	const struct model *model;
	const struct model_node *node;
	const struct hw_inventory *inv;
	char *root, *live;
};

struct wipe_opts {
	bool unattended;  /* only entries with wipe: true */
	bool backup;	  /* plan for a backup: zero instead of discard */
	const char *only; /* only this disk (must be one of the node's Ceph disks) */
	const char *root; /* hw root (for the policy at apply time) */
	const char *live; /* live medium path (policy) */
};

struct wipe_disk_result {
	char *path;
	int rc;		/* 0 or negative errno */
	char msg[1024]; /* error when rc < 0 */
	double seconds;
	bool discarded;
	uint64_t bytes_zeroed;
	size_t regions;
};

struct wipe_result {
	struct wipe_disk_result *v;
	size_t n;
	double seconds; /* wall time of the whole run */
};

/* Regions to erase on one disk, in the order they are applied. */
void wipe_plan_disk(const struct hw_disk *d, bool backup, struct wipe_target *ret);

/* Resolve the node's Ceph disks (selector.h), check each against the policy
 * (disk.h), and plan each. inv must be a probed inventory of the whole machine
 * and outlive the plan. */
int wipe_plan_node(const struct model *m, const struct model_node *node, const struct hw_inventory *inv,
		   const struct wipe_opts *o, struct wipe_plan *ret, struct app_err *e);

/* Apply a plan: disks in parallel. backup_dir (optional) receives every
 * region before it is erased, with an index for wipe_restore. Returns 0 when
 * every disk came out clean; else the first failure (all results in *res). */
int wipe_apply(const struct wipe_plan *p, const char *backup_dir, struct wipe_result *res, struct app_err *e);

/* Write back every region saved in backup_dir (checked against its sha256),
 * through the policy (no node: any disk the policy allows). */
int wipe_restore(const char *backup_dir, const char *root, const char *live, struct wipe_result *res,
		 struct app_err *e);

const char *wipe_kind_name(enum wipe_kind k);
void wipe_plan_free(struct wipe_plan *p);
void wipe_result_free(struct wipe_result *r);

#endif
