/* The install, as a table of steps computed from the model and the machine.
 * `plan` and `install` run the same code: each step computes its inputs (and
 * their SHA-256), decides from the journal whether it must run, and either
 * describes what it would change (plan) or does it (install --apply) and
 * records the result. A re-run skips a step whose inputs are unchanged and
 * whose recorded result still checks out on the machine.
 * OWNER: install work (issue 9). */
#ifndef APPLIANCE_PLAN_H
#define APPLIANCE_PLAN_H

#include <signal.h>
#include <stdbool.h>

struct model;
struct report;
struct app_err;

struct render_opts;

struct plan_opts {
	const struct model *model;
	const char *node;      /* --node NAME; NULL with autodetect */
	bool autodetect;       /* --auto: match this machine's identity */
	bool apply;	       /* install --apply; else plan only */
	bool unattended;       /* no questions; Ceph wipes need wipe: true in the profile */
	bool reinstall;	       /* --reinstall: re-image a disk that already runs Talos */
	bool new_cluster;      /* may generate a bundle for a site of several nodes */
	const char *state_dir; /* journal, generated configs, image cache */
	const char *secrets;   /* Talos secrets bundle; NULL: STATE_DIR/talos-secrets.yaml */
	/* the node's machine config, rendered elsewhere (appliance pxe payloads):
	 * used as it is instead of rendering from a bundle; secrets the node was not
	 * given are skipped, not required */
	const char *config;
	const char *cache_dir;	       /* image cache; NULL: STATE_DIR/cache */
	const char *image_dir;	       /* read-only images (the stick's) used before the cache */
	const char *sysfs;	       /* identity + efivarfs root; NULL: /sys */
	const char *hw_root;	       /* disk inventory root; NULL: hw default */
	const char *const *disk_files; /* image files listed as disks (tests, demo) */
	int n_disk_files;
	const char *ca_file;	     /* extra CA for https image mirrors (tests) */
	volatile sig_atomic_t *stop; /* set by SIGINT: stop at the next boundary */
	/* set to 1 while a step runs that is safe to stop at any moment (its own
	 * chunk journal, or idempotent): SIGINT may then end the process at once */
	volatile sig_atomic_t *busy;
	struct report *report;
	/* How the gitops step renders the tree; NULL: the normal tree. rebuild
	 * passes recovery mode so the site's tree is rendered once, in recovery. */
	const struct render_opts *render;
	/* PROFILE and its --site/--set arguments as shell words, for the commands
	 * the steps suggest (complete, ready to paste); NULL: the profile path */
	const char *profile_args;
};

/* Outcome counts of a run. */
struct plan_outcome {
	int ran, skipped, todo, failed, unavailable, blocked;
	bool stopped;
	bool refused; /* stopped before any disk was touched (identity, disks, preflight) */
	/* plan goes on past a failure: "STEP: message" lines of the failures
	 * after the first (the first is in *e), or NULL. Caller frees. */
	char *more_failures;
};

/* Run the plan (and with apply, the install). 0 when every step is done or
 * skipped (plan: when every step could be planned); negative errno with *e
 * naming the failing step otherwise. */
int plan_run(const struct plan_opts *o, struct plan_outcome *out, struct app_err *e);

/* The step names in order, NULL-terminated (docs, tests, bench). */
extern const char *const plan_step_names[];

#endif
