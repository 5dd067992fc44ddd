/* What apply, upgrade and status share: their common options (credentials,
 * per-node endpoints, node selection, --json), loading the profile, and the
 * list of nodes to visit in the order a rolling change takes: control planes
 * one at a time first, then workers, each in profile order. */
#ifndef APPLIANCE_CMD_DAY2_H
#define APPLIANCE_CMD_DAY2_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd.h"
#include "net/talosapi.h"

struct talos_bundle;

struct day2_opts {
	struct profile_opts p;
	const char *secrets, *talosconfig, *context;
	const char **endpoints; /* NODE=HOST[:PORT] */
	int n_endpoints;
	const char **nodes; /* --node NAME: only these */
	int n_nodes;
	bool json;
	long long timeout_ms; /* per Talos API call (default 10 s) */
};

/* One of the shared options at argv[*i]: 1 taken (*i past its value), 0 not
 * one of them, or the usage error's exit code (2) negated. */
int day2_arg(const char *cmd, struct day2_opts *o, int argc, char **argv, int *i);
/* The whole argument loop of a day-2 command: the shared options, -h/--help
 * (usage on stdout, then -1), the command's own options through own (1 taken
 * with *i past its value, 0 not one of them, or a usage exit code negated),
 * then PROFILE. 0, -1 (help shown) or the usage error's exit code. */
int day2_parse(const char *cmd, struct day2_opts *o, int argc, char **argv, void (*usage)(FILE *f),
	       int (*own)(void *ud, int argc, char **argv, int *i), void *ud);
/* The help lines of the shared options. */
extern const char day2_options_help[];

struct day2_node {
	const struct model_node *mn;
	const char *hostname; /* the node's hostname (etcd member name), else its name */
	char *host;	      /* Talos API address */
	int port;
	struct talosapi_node api;
};

struct day2 {
	struct model *m;
	struct talos_creds creds;
	struct talos_bundle *bundle; /* with --secrets only */
	struct day2_node *v;	     /* selected nodes: control planes, then workers */
	size_t n;
	struct talosapi_retry once; /* one attempt of timeout_ms */
};

/* Check the options, load the profile and the credentials, resolve the
 * nodes. 0, or the exit code after printing why. need_bundle: the command
 * renders machine configs (apply, upgrade --kubernetes) and needs --secrets. */
int day2_setup(const char *cmd, struct day2_opts *o, bool need_bundle, struct day2 *ret);
void day2_free(struct day2 *d);
void day2_opts_free(struct day2_opts *o);

/* The machine config node would get from the profile and the bundle (holds
 * secrets: the caller wipes it with secure_free). */
int day2_render_config(const struct day2 *d, const struct day2_node *n, struct buf *out, struct app_err *e);

/* Every control plane of the profile is a started, voting etcd member in
 * the member list node ask reports. 0, or -1 with e naming who is missing
 * (or not started, or only a learner). */
int day2_etcd_full(const struct day2 *d, const struct day2_node *ask, struct app_err *e);

struct report;
struct kube_client;

/* What day2_wait_node waits for. */
struct day2_wait {
	long timeout_s;			/* the whole wait */
	const char *want_version;	/* Talos version the node must answer with (NULL: any) */
	const char *from_version;	/* what it ran before (NULL: unknown): back on a third
					 * version, another upgrade ran instead of ours */
	bool expect_down;		/* the node reboots: see it go away first */
	bool etcd_self_only;		/* a control plane: only itself back in etcd (upgrade --force) */
	const struct kube_client *kube; /* also wait for its Kubernetes Node to be Ready (may be NULL) */
};

/* After an apply or upgrade: wait, polling, until the node answers (after
 * having gone down when expect_down) with want_version, its services are
 * healthy, for a control plane etcd lists every control plane, and (with
 * w->kube) its Kubernetes Node is Ready. 0, or
 * -ETIMEDOUT / -EREMOTEIO with e saying which condition did not come and what
 * was seen last. Notes progress under step. */
int day2_wait_node(const struct day2 *d, const struct day2_node *n, const struct day2_wait *w,
		   struct report *r, const char *step, struct app_err *e);

/* Before acting on a node: the stage Talos reports (day2/machstat.h). 0 go
 * on (a node without the resource API is noted under step, not refused),
 * -EBUSY when a sequence runs there (upgrading, installing, rebooting,
 * resetting, shutting down) with e saying so, or the read's error. The
 * stage ("" when unknown) into stage (32 bytes) unless NULL. */
int day2_check_stage(const struct day2 *d, const struct day2_node *n, struct report *r, const char *step,
		     char *stage, struct app_err *e);

/* Text from Talos (a dry run's diff, an apply's mode details) as one note per
 * line with secret values redacted (nodecfg_redact_diff). */
void day2_print_talos(struct report *r, const char *step, const char *details);
/* A failed step whose message may carry Talos' config diff: its lines after
 * the first as redacted notes, the first line (redacted) as the failure. */
void day2_fail_talos(struct report *r, const char *step, const char *msg);

/* From here on (--apply, the journal open) Ctrl-C or SIGTERM stops at once with
 * exit 1 and says how to continue, instead of dying silently (exit 130/143):
 * the journal already holds the step that was running. */
void day2_stop_on_signal(void);

#endif
