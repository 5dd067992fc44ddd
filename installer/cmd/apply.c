/* appliance apply: the profile's machine configs onto running nodes. First
 * every selected node is asked for a dry run of ApplyConfiguration and the
 * diff Talos reports is shown (secrets redacted); a change to the cluster's
 * identity (CAs, cluster id and secret, endpoint, name) is refused before
 * anything is sent, and so is a version move (upgrade's job). With --apply the configs go out node by node,
 * control planes one at a time, each node waited for (back after a reboot, services healthy, etcd complete)
 * before the next. A re-run is safe: nodes already applied report "No changes." and are skipped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "day2.h"
#include "day2/compat.h"
#include "day2/k8sup.h"
#include "day2/nodecfg.h"
#include "install/journal.h"
#include "install/report.h"
#include "net/talosops.h"
#include "profile/model.h"

#define NODE_CONFIG_MAX (4u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: appliance apply PROFILE --secrets FILE [--node NAME]... [--mode MODE]\n"
		"                       [--apply]\n"
		"\n"
		"Render each node's machine config from the profile and the secrets bundle,\n"
		"show the diff the node reports for a dry run of it, and with --apply apply it\n"
		"node by node: control planes one at a time, then workers, each waited for\n"
		"before the next. Refuses a change to the cluster's identity (CAs, cluster id\n"
		"or secret, control plane endpoint, cluster name) and any move of the Talos or\n"
		"Kubernetes versions the nodes run (appliance upgrade moves versions).\n"
		"\n"
		"options:\n"
		"%s"
		"  --mode MODE           auto (default: Talos decides), no-reboot, reboot, staged\n"
		"                        or try (try: applied without a reboot and not\n"
		"                        persisted; each node goes back to its previous config\n"
		"                        after the try timeout unless a later run applies it in\n"
		"                        another mode)\n"
		"  --try-timeout DURATION  with --mode try: when Talos rolls it back, e.g. 5m\n"
		"                        (default 1m; whole seconds, rounded up)\n"
		"  --apply               apply (without it: the dry run only)\n"
		"  --wait DURATION       per node: how long to wait for it afterwards, e.g. 15m\n"
		"                        (default 10m)\n"
		"  --state-dir DIR       journal (default $APPLIANCE_STATE_DIR or\n"
		"                        /var/lib/appliance)\n"
		"  -h, --help            this help\n"
		"\n"
		"examples:\n"
		"  appliance apply site.yaml --secrets talos-secrets.yaml   # the diff per node\n"
		"  appliance apply site.yaml --secrets talos-secrets.yaml --node w1 --apply\n"
		"  appliance apply site.yaml --secrets talos-secrets.yaml --node w1 \\\n"
		"      --mode try --try-timeout 5m --apply\n"
		"\n"
		"exit codes: 0 ok, 1 a node refused or did not come back, 2 usage error\n",
		day2_options_help);
}

struct ap_opts {
	struct day2_opts d;
	const char *state_dir;
	int mode;
	bool apply;
	long wait_s, try_s; /* try_s: 0 unless --try-timeout */
};

static int own_arg(void *ud, int argc, char **argv, int *i)
{
	static const struct cmd_value_opt vals[] = {
		{ "--mode", CMD_OPT_OWN },
		{ "--try-timeout", CMD_OPT_OWN },
		{ "--state-dir", offsetof(struct ap_opts, state_dir) },
		{ "--wait", CMD_OPT_OWN },
	};
	struct ap_opts *o = ud;
	const struct cmd_value_opt *hit;
	const char *v;
	int r;

	if (strcmp(argv[*i], "--apply") == 0) {
		o->apply = true;
		return 1;
	}
	r = cmd_value_opts("apply", argc, argv, i, vals, sizeof(vals) / sizeof(vals[0]), o, &hit, &v);
	if (r < 0)
		return -EXIT_USAGE;
	if (r == 0 || hit->off != CMD_OPT_OWN)
		return r;
	if (strcmp(hit->name, "--mode") == 0) {
		o->mode = talosops_mode_parse(v);
		if (o->mode < 0)
			return -cmd_usage_error(
			    "apply", "--mode '%s': expected auto, no-reboot, reboot, staged or try", v);
	} else if (strcmp(hit->name, "--try-timeout") == 0) {
		if (cmd_parse_duration_s("apply", "--try-timeout", v, 1, 86400, &o->try_s))
			return -EXIT_USAGE;
	} else if (cmd_parse_duration_s("apply", "--wait", v, 1, 86400, &o->wait_s)) {
		return -EXIT_USAGE;
	}
	return 1;
}

/* What the dry run found for one node. */
struct node_plan {
	struct buf config; /* secret: wiped */
	bool changes, refused;
	bool resume;  /* no changes, but an earlier run applied it and stopped before it was healthy */
	bool confirm; /* no changes, but only on trial (an earlier --mode try): apply to keep it */
	int mode;     /* as Talos resolved it */
	char inputs[65];
	struct buf inputs_text; /* node, config digest, mode: never a secret value */
};

/* The journal step of a node and its inputs: the digest of the config (which
 * holds secrets: only its digest is kept) and the mode. */
static void node_inputs(int mode, const struct day2_node *n, const struct node_plan *np, struct buf *text,
			char inputs[65])
{
	char digest[65];

	sha256_hex(np->config.data, np->config.len, digest);
	buf_printf(text, "node=%s\nconfig-sha256=%s\nmode=%s\n", n->mn->name, digest,
		   talosops_mode_name(mode));
	sha256_hex(text->data, text->len, inputs);
}

/* An earlier run applied this very config in try mode and it is still on
 * trial: Talos runs it (so the dry run finds no changes) but will roll it
 * back unless it is applied again in another mode. */
static bool tried_before(struct journal *j, const struct day2_node *n, const struct node_plan *np)
{
	struct journal_entry je;
	struct buf text = { 0 };
	char step[160], inputs[65];

	snprintf(step, sizeof(step), "apply-%s", n->mn->name);
	node_inputs(TALOSOPS_MODE_TRY, n, np, &text, inputs);
	buf_free(&text);
	return j && journal_get(j, step, &je, NULL) == 0 && je.status != JOURNAL_NONE &&
	       strcmp(je.inputs, inputs) == 0;
}

static bool started_before(struct journal *j, const struct day2_node *n, const struct node_plan *np)
{
	struct journal_entry je;
	char step[160];

	snprintf(step, sizeof(step), "apply-%s", n->mn->name);
	return j && journal_get(j, step, &je, NULL) == 0 && je.status == JOURNAL_STARTED &&
	       strcmp(je.inputs, np->inputs) == 0;
}

/* A node that could not be asked (stage, running config): when an earlier
 * run applied this very config and stopped before the node came back (a
 * Ctrl-C while it rebooted), say so: the node is likely still rebooting and
 * a later re-run resumes it. Reports the step failed. */
static void fail_read(struct journal *j, const struct ap_opts *o, const struct day2_node *n,
		      struct node_plan *np, struct report *r, const char *step, struct app_err *e)
{
	struct buf text = { 0 };

	node_inputs(o->mode, n, np, &text, np->inputs);
	buf_free(&text);
	if (started_before(j, n, np)) {
		char was[sizeof(e->msg)];

		snprintf(was, sizeof(was), "%s", e->msg);
		app_err_set(e, -EAGAIN,
			    "an earlier run applied this config to %s and stopped before it came back: "
			    "if it is still rebooting, wait until it answers (appliance status), then "
			    "re-run: the journal resumes it (%.500s)",
			    n->mn->name, was);
	}
	report_step_end(r, step, REPORT_FAILED, e->msg);
}

/* Versions are upgrade's to move, never apply's: a profile behind the site
 * (not updated after `appliance upgrade`) would render the old kubelet,
 * control-plane and installer images and move them back without a word.
 * Talos: the node's Version against the profile's talos.version (the
 * installer image's tag). Kubernetes: each component image of the config the
 * node runs (as upgrade --kubernetes reads it: the active MachineConfig, or
 * the persisted config on a Talos without the resource API) against the
 * rendered one. 0, or -EPERM with e saying what and why (nothing sent). */
/* A version the profile would move: what ("Talos", "Kubernetes"), the
 * node's, the profile's, and the profile field that holds it. */
struct vmove {
	const char *what, *key;
	char node[64], profile[64];
};

static void vmove_set(struct vmove *m, const char *what, const char *key, const char *node,
		      const char *profile)
{
	if (m->what)
		return; /* the first one found is named */
	m->what = what;
	m->key = key;
	snprintf(m->node, sizeof(m->node), "%s", node);
	snprintf(m->profile, sizeof(m->profile), "%s", profile);
}

static int check_versions(struct day2 *d, const struct day2_node *n, const struct node_plan *np,
			  struct report *r, struct app_err *e)
{
	const char *step = n->mn->name, *want = d->m->talos.version;
	struct k8sup_facts run = { 0 }, ren = { 0 };
	struct vmove older = { 0 }, newer = { 0 };
	struct buf cfg = { 0 };
	char have[64];
	bool differs;
	int rc;

	if (talosops_version(&n->api, &d->once, have, sizeof(have), e) < 0)
		return app_err_prefix(e, "asking %s for its Talos version", n->mn->name);
	if (want && strcmp(have, want) != 0) {
		if (r)
			report_action(r, step, "keep", "Talos %s (the profile says %s)", have, want);
		vmove_set(day2_version_cmp(want, have) < 0 ? &older : &newer, "Talos", "talos.version", have,
			  want);
	}
	rc = talosops_machine_config(&n->api, &d->once, &cfg, &differs, e);
	if (rc < 0) {
		if (cfg.data)
			secure_free(cfg.data, cfg.cap);
		memset(&cfg, 0, sizeof(cfg));
		rc = talosops_read(&n->api, &d->once, TALOSOPS_CONFIG_PATH, NODE_CONFIG_MAX, &cfg, e);
	}
	if (rc == 0)
		rc = k8sup_facts(cfg.data, cfg.len, TALOSOPS_CONFIG_PATH, &run, e);
	if (rc == 0)
		rc = k8sup_facts(np->config.data, np->config.len, "the rendered config", &ren, e);
	for (int c = 0; rc == 0 && c < K8SUP_N; c++) {
		const char *from = k8sup_image_tag(run.image[c]), *to = k8sup_image_tag(ren.image[c]);

		if (!*from || !*to || strcmp(from, to) == 0)
			continue;
		if (r)
			report_action(r, step, "keep", "%s %s (the profile says %s)",
				      k8sup_component(c)->name, from, to);
		/* Kubernetes versions as people write them: without the tag's "v" */
		vmove_set(day2_version_cmp(to, from) < 0 ? &older : &newer, "Kubernetes",
			  "talos.kubernetesVersion", from + (*from == 'v'), to + (*to == 'v'));
	}
	if (rc == 0 && older.what)
		rc = app_err_set(
		    e, -EPERM,
		    "node %s runs %s %s but the profile says %s: apply never moves a version back; "
		    "put the version the site runs in the profile (%s: %s) or use appliance upgrade",
		    n->mn->name, older.what, older.node, older.profile, older.key, older.node);
	else if (rc == 0 && newer.what)
		rc = app_err_set(
		    e, -EPERM,
		    "node %s runs %s %s but the profile says %s: apply does not move versions; use "
		    "appliance upgrade to move versions",
		    n->mn->name, newer.what, newer.node, newer.profile);
	k8sup_facts_free(&run);
	k8sup_facts_free(&ren);
	if (cfg.data)
		secure_free(cfg.data, cfg.cap);
	return rc;
}

/* Dry run on one node: render, guard the identity, ask Talos. 0 ok (see
 * np->changes), -1 refused (reported). */
static int plan_node(struct day2 *d, const struct ap_opts *o, const struct day2_node *n, struct node_plan *np,
		     bool version_refused, struct journal *j, struct report *r)
{
	struct talosops_applied res = { 0 };
	struct buf running = { 0 }, why = { 0 };
	struct app_err e = { 0 };
	const char *step = n->mn->name;
	bool tried;
	int k, rc = -1;

	/* Talos does not refuse an apply while a sequence runs (a REBOOT-mode
	 * apply takes the upgrade over): before anything is sent, not even the
	 * dry run */
	if (!np->config.len && day2_render_config(d, n, &np->config, &e) < 0) {
		report_step_end(r, step, REPORT_FAILED, e.msg);
		return -1;
	}
	if (o->apply && day2_check_stage(d, n, r, step, NULL, &e) < 0) {
		fail_read(j, o, n, np, r, step, &e);
		return -1;
	}
	if (talosops_read(&n->api, &d->once, TALOSOPS_CONFIG_PATH, NODE_CONFIG_MAX, &running, &e) < 0) {
		fail_read(j, o, n, np, r, step, &e);
		goto out;
	}
	k = nodecfg_identity_diff(running.data, running.len, np->config.data, np->config.len, &why, &e);
	if (k != 0) {
		if (k > 0) {
			for (const char *p = why.data; p && *p;) {
				const char *nl = strchr(p, '\n');

				report_action(r, step, "keep", "%.*s", (int)(nl ? nl - p : (long)strlen(p)),
					      p);
				p = nl ? nl + 1 : p + strlen(p);
			}
			snprintf(
			    e.msg, sizeof(e.msg),
			    "refusing: the profile and secrets bundle would change the cluster's identity on "
			    "%s (%d field%s above): its nodes would no longer trust each other or their "
			    "clients. Use the profile and talos secrets bundle this cluster was installed "
			    "with, or rebuild the site (appliance rebuild)",
			    n->mn->name, k, k == 1 ? "" : "s");
		}
		np->refused = true;
		report_step_end(r, step, REPORT_FAILED, e.msg);
		goto out;
	}
	if (version_refused && check_versions(d, n, np, r, &e) < 0) {
		np->refused = true;
		report_step_end(r, step, REPORT_FAILED, e.msg);
		goto out;
	}
	if (version_refused) {
		/* nothing but reads while a version is refused: not even a dry run */
		report_step_end(r, step, REPORT_SKIP, "no dry run: the versions of another node are refused");
		rc = 0;
		goto out;
	}
	/* Talos cancels a pending try rollback at the start of every
	 * ApplyConfiguration call not in TRY mode, dry runs included
	 * (siderolabs/talos v1.10.5 v1alpha1_server.go ApplyConfiguration:
	 * CancelConfigRollbackTimeout before anything else). When an earlier run
	 * tried this very config, ask in TRY mode first (a dry run returns before
	 * RollbackToConfigAfter): the plan must not confirm the trial itself. */
	tried = o->mode != TALOSOPS_MODE_TRY && tried_before(j, n, np);
	if (tried &&
	    talosops_apply_try(&n->api, &d->once, np->config.data, np->config.len, 0, true, &res, &e) == 0 &&
	    strstr(res.details, "No changes.")) {
		np->mode = res.mode;
		np->changes = false;
	} else {
		/* no longer on trial (rolled back, or rebooted): the usual dry run */
		talosops_applied_free(&res);
		tried = false;
		if ((o->mode == TALOSOPS_MODE_TRY
			 ? talosops_apply_try(&n->api, &d->once, np->config.data, np->config.len, o->try_s,
					      true, &res, &e)
			 : talosops_apply(&n->api, &d->once, np->config.data, np->config.len, o->mode, true,
					  &res, &e)) < 0) {
			np->refused = true;
			day2_fail_talos(r, step, e.msg);
			goto out;
		}
		np->mode = res.mode;
		np->changes = !strstr(res.details, "No changes.");
	}
	node_inputs(o->mode, n, np, &np->inputs_text, np->inputs);
	np->resume = !np->changes && started_before(j, n, np);
	np->confirm = !np->changes && !np->resume && tried;
	day2_print_talos(r, step, res.details);
	if (res.warnings[0])
		report_note(r, step, "warnings: %s", res.warnings);
	if (np->resume)
		report_note(r, step,
			    "an earlier run applied this config and stopped before %s was healthy: check it "
			    "again",
			    n->mn->name);
	if (np->confirm)
		report_note(
		    r, step,
		    "%s runs this config on trial (an earlier --mode try): Talos rolls it back unless "
		    "it is applied again; --apply keeps it (%s)",
		    n->mn->name,
		    talosops_mode_name(o->mode == TALOSOPS_MODE_AUTO ? TALOSOPS_MODE_NO_REBOOT : o->mode));
	report_step_end(r, step,
			np->resume		     ? REPORT_RESUME
			: np->changes || np->confirm ? REPORT_TODO
						     : REPORT_NOTHING,
			np->changes   ? talosops_mode_name(res.mode)
			: np->confirm ? "keep the tried config"
				      : "no changes");
	rc = 0;
out:
	talosops_applied_free(&res);
	if (running.data)
		secure_free(running.data, running.cap);
	buf_free(&why);
	return rc;
}

static int apply_node(struct day2 *d, const struct ap_opts *o, const struct day2_node *n,
		      struct node_plan *np, struct journal *j, struct report *r)
{
	struct talosops_applied res = { 0 };
	struct app_err e = { 0 };
	struct day2_wait w = { .timeout_s = o->wait_s };
	char step[160];
	int mode = np->mode;

	snprintf(step, sizeof(step), "apply-%s", n->mn->name);
	if (np->resume) {
		report_note(r, n->mn->name, "resuming: %s was applied by an earlier run; waiting for it",
			    n->mn->name);
	} else {
		/* again: a sequence may have started since the dry run */
		if (day2_check_stage(d, n, r, n->mn->name, NULL, &e) < 0 ||
		    journal_begin(j, step, np->inputs, np->inputs_text.data, &e) < 0)
			goto fail;
		if ((o->mode == TALOSOPS_MODE_TRY
			 ? talosops_apply_try(&n->api, &d->once, np->config.data, np->config.len, o->try_s,
					      false, &res, &e)
			 : talosops_apply(&n->api, &d->once, np->config.data, np->config.len, o->mode, false,
					  &res, &e)) < 0)
			goto fail;
		day2_print_talos(r, n->mn->name, res.details);
		mode = res.mode;
		w.expect_down = res.mode == TALOSOPS_MODE_REBOOT;
		talosops_applied_free(&res);
	}
	if (day2_wait_node(d, n, &w, r, n->mn->name, &e) < 0 ||
	    journal_done(j, step, np->inputs, talosops_mode_name(mode), &e) < 0)
		goto fail;
	report_step_end(r, n->mn->name, REPORT_DONE,
			mode == TALOSOPS_MODE_STAGED ? "staged"
			: mode == TALOSOPS_MODE_TRY  ? "applied on trial"
						     : "applied");
	return 0;
fail:
	day2_fail_talos(r, n->mn->name, e.msg);
	return -1;
}

int cmd_apply(int argc, char **argv)
{
	struct ap_opts o = { .mode = TALOSOPS_MODE_AUTO, .wait_s = 600 };
	struct node_plan *plans = NULL;
	struct report *r = NULL;
	struct journal *j = NULL;
	struct app_err e = { 0 };
	struct day2 d;
	size_t refused = 0, todo = 0;
	bool version_refused = false;
	int rc, idx = 0;
	char *jdir = NULL;

	memset(&d, 0, sizeof(d));
	rc = day2_parse("apply", &o.d, argc, argv, usage, own_arg, &o);
	if (rc != 0) {
		day2_opts_free(&o.d);
		return rc < 0 ? EXIT_OK : rc;
	}
	if (o.try_s && o.mode != TALOSOPS_MODE_TRY) {
		rc = cmd_usage_error("apply", "--try-timeout goes with --mode try");
		goto out;
	}
	rc = day2_setup("apply", &o.d, true, &d);
	if (rc != 0)
		goto out;
	if (!o.state_dir)
		o.state_dir = cmd_state_dir();
	/* the journal: locked when applying, only read for the dry run */
	jdir = xasprintf("%s/apply", o.state_dir);
	if (journal_open_as(jdir, o.apply, "apply", &j, &e) < 0) {
		cmd_err(&e);
		rc = EXIT_FAIL;
		goto out;
	}
	r = report_new(stdout, o.d.json ? REPORT_JSON : REPORT_TTY);
	report_set_inline_failures(r, true);
	plans = xcalloc(d.n ? d.n : 1, sizeof(*plans));
	/* 0. reads only: a version the profile would move (upgrade's job) stops
	 * everything before a dry run is sent anywhere */
	for (size_t i = 0; i < d.n; i++) {
		struct node_plan *np = &plans[i];

		if (day2_render_config(&d, &d.v[i], &np->config, &e) < 0) {
			/* plan_node renders it again and says why */
			if (np->config.data)
				secure_free(np->config.data, np->config.cap);
			memset(&np->config, 0, sizeof(np->config));
		} else if (check_versions(&d, &d.v[i], np, NULL, &e) == -EPERM) {
			version_refused = true;
		}
	}
	report_begin(r, "apply", NULL, o.apply, (int)(o.apply ? 2 * d.n : d.n));
	/* 1. the dry run everywhere first: nothing is applied if any node refuses */
	for (size_t i = 0; i < d.n; i++) {
		report_step_begin(r, ++idx, d.v[i].mn->name, "dry run");
		if (plan_node(&d, &o, &d.v[i], &plans[i], version_refused, j, r) < 0)
			refused++;
		todo += plans[i].changes || plans[i].resume || plans[i].confirm;
	}
	if (refused) {
		char why[160];

		/* not always a refusal: the config may not render (a secret's
		 * environment variable unset) or the node may not answer */
		snprintf(why, sizeof(why),
			 "nothing applied: the dry run failed on %zu node%s (see above); fix that and re-run",
			 refused, refused == 1 ? "" : "s");
		report_end(r, EXIT_FAIL, why);
		rc = EXIT_FAIL;
		goto out;
	}
	if (!o.apply || !todo) {
		report_end(r, EXIT_OK,
			   !todo ? "every node already runs the profile's config"
				 : "dry run: nothing applied; re-run with --apply to apply node by node");
		rc = EXIT_OK;
		goto out;
	}
	/* 2. node by node, control planes first, one at a time */
	day2_stop_on_signal();
	report_note(r, NULL, "journal: %s", journal_dir(j));
	for (size_t i = 0; i < d.n; i++) {
		report_step_begin(r, ++idx, d.v[i].mn->name, "apply");
		if (!plans[i].changes && !plans[i].resume && !plans[i].confirm) {
			report_step_end(r, d.v[i].mn->name, REPORT_SKIP, "no changes");
			continue;
		}
		if (apply_node(&d, &o, &d.v[i], &plans[i], j, r) < 0) {
			char msg[600];

			snprintf(
			    msg, sizeof(msg),
			    "stopped at node %s; the nodes before it are applied. Once it is back, re-run "
			    "the "
			    "same command: applied nodes show no changes and are skipped, and the journal in "
			    "%s has this one",
			    d.v[i].mn->name, journal_dir(j));
			report_end(r, EXIT_FAIL, msg);
			rc = EXIT_FAIL;
			goto out;
		}
	}
	if (o.mode == TALOSOPS_MODE_TRY) {
		char msg[400];

		snprintf(msg, sizeof(msg),
			 "applied in try mode: each node goes back to its previous config %lds after its "
			 "apply; to keep it, re-run with --mode no-reboot --apply before then",
			 o.try_s > 0 ? o.try_s : 60);
		report_end(r, EXIT_OK, msg);
	} else {
		report_end(r, EXIT_OK, "applied: every node runs the profile's config");
	}
	rc = EXIT_OK;
out:
	for (size_t i = 0; plans && i < d.n; i++) {
		if (plans[i].config.data)
			secure_free(plans[i].config.data, plans[i].config.cap);
		buf_free(&plans[i].inputs_text);
	}
	free(plans);
	free(jdir);
	if (j)
		journal_close(j);
	report_free(r);
	day2_free(&d);
	day2_opts_free(&o.d);
	return rc;
}
