/* The last step of `appliance upgrade --kubernetes`: the bootstrap manifests
 * Talos renders on a control plane, synced into the cluster as talosctl
 * upgrade-k8s ends (talos_managed.go getManifests/syncManifests; how, and
 * where upstream says so: day2/k8sman.h). One journal step. */
#include "upgrade_k8s.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "day2.h"
#include "day2/k8sman.h"
#include "install/journal.h"
#include "install/report.h"
#include "net/kubeapi.h"
#include "net/talosops.h"
#include "profile/model.h"

#define POLL_MS 250

struct man {
	const struct k8s_up_ctx *c;
	size_t node; /* the control plane the manifests are read from */
};

#define MAN_STEP "kubernetes/manifests"

/* Talos' k8s.Manifest resources: namespace k8s.ControlPlaneNamespaceName,
 * type k8s.ManifestType (pkg/machinery/resources/k8s/manifest.go), read as
 * go-kubernetes manifests/get.go GetBootstrapManifests does. */
static int read_manifests(const struct man *u, struct k8sman *m, char inputs[65], struct buf *text,
			  struct app_err *e)
{
	const struct day2_node *n = &u->c->d->v[u->node];
	struct talosops_resources res = { 0 };
	struct buf all = { 0 };
	int r = talosops_cosi_list(&n->api, &u->c->d->once, "controlplane", "Manifests.kubernetes.talos.dev",
				   &res, e);

	if (r < 0)
		return app_err_prefix(e, "reading the bootstrap manifests of %s", n->mn->name);
	buf_printf(text, "node=%s\nmanifests=", n->mn->name);
	for (size_t i = 0; i < res.n && r == 0; i++) {
		buf_printf(&all, "%s\n%s\n", res.v[i].id, res.v[i].yaml);
		buf_printf(text, "%s%s", i ? "," : "", res.v[i].id);
		r = k8sman_add(m, res.v[i].id, res.v[i].yaml, strlen(res.v[i].yaml), e);
	}
	buf_printf(text, "\n");
	/* the manifests hold the bootstrap token: only their hash is kept */
	sha256_hex(all.data ? all.data : "", all.len, inputs);
	buf_printf(text, "sha256=%s\n", inputs);
	if (all.data)
		secure_free(all.data, all.cap);
	talosops_resources_free(&res);
	if (r == 0 && m->n == 0)
		r = app_err_set(e, -ENOENT, "%s has no bootstrap manifests (is it a control plane?)",
				n->mn->name);
	return r;
}

enum { MAN_SAME = 0, MAN_CREATE, MAN_UPDATE };

/* sync.go updateManifest once: MAN_* or <0. */
static int sync_once(const struct man *u, const struct k8sman_obj *o, bool dry, struct buf *diff,
		     struct app_err *e)
{
	struct buf cur = { 0 }, body = { 0 }, ans = { 0 };
	char *rv = NULL, *url = NULL;
	int r = kube_get(u->c->kube, o->url, &cur, e);

	if (r == -ENOENT) {
		r = MAN_CREATE;
		if (!dry) {
			k8sman_json(o, NULL, &body);
			r = kube_request(u->c->kube, "POST", o->coll, body.data, body.len, &ans, e);
			r = r < 0 ? r : MAN_CREATE;
		}
		goto out;
	}
	if (r < 0)
		goto out;
	rv = k8sman_resource_version(cur.data, cur.len);
	k8sman_json(o, rv, &body);
	url = xasprintf("%s?dryRun=All", o->url);
	if ((r = kube_request(u->c->kube, "PUT", url, body.data, body.len, &ans, e)) < 0 ||
	    (r = k8sman_diff(cur.data, cur.len, ans.data, ans.len, diff, e)) <= 0 || dry) {
		r = r > 0 ? MAN_UPDATE : r;
		goto out;
	}
	ans.len = 0;
	r = kube_request(u->c->kube, "PUT", o->url, body.data, body.len, &ans, e);
	r = r < 0 ? r : MAN_UPDATE;
out:
	if (body.data)
		secure_free(body.data, body.cap);
	if (cur.data)
		secure_free(cur.data, cur.cap);
	if (ans.data)
		secure_free(ans.data, ans.cap);
	free(rv);
	free(url);
	return r;
}

/* sync.go retries conflicts (and transient errors) for 3 minutes: here
 * within --wait. */
static int sync_obj(const struct man *u, const struct k8sman_obj *o, bool dry, struct buf *diff,
		    struct app_err *e)
{
	long start = util_mono_ms();

	for (;;) {
		int r;

		diff->len = 0;
		r = sync_once(u, o, dry, diff, e);
		if (r != -EAGAIN || util_mono_ms() - start >= u->c->wait_s * 1000)
			return r < 0 ? app_err_prefix(e, "%s", o->path) : r;
		util_sleep_ms(POLL_MS);
	}
}

static void show_diff(const struct man *u, const struct buf *diff)
{
	const char *p = diff->data;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int l = nl ? (int)(nl - p) : (int)strlen(p);

		report_note(u->c->r, MAN_STEP, "  %.*s", l, p);
		p += l + (nl ? 1 : 0);
	}
}

static const char *const MAN_VERB[] = { "keep", "create", "update" };

static void plan_manifests(const struct man *u, int *bad, size_t *todo)
{
	struct k8sman m = { 0 };
	struct buf text = { 0 }, diff = { 0 };
	struct app_err e = { 0 };
	char inputs[65];
	struct journal_entry je;

	report_step_begin(u->c->r, ++*u->c->idx, MAN_STEP, "plan");
	if (read_manifests(u, &m, inputs, &text, &e) < 0) {
		day2_fail_talos(u->c->r, MAN_STEP, e.msg);
		++*bad;
		goto out;
	}
	if (u->c->j && journal_get(u->c->j, MAN_STEP, &je, NULL) == 0 && je.status == JOURNAL_DONE &&
	    strcmp(je.inputs, inputs) == 0) {
		report_step_end(u->c->r, MAN_STEP, REPORT_SKIP, "in sync (journal)");
		goto out;
	}
	/* not synced since they last changed (or a sync was interrupted): to do */
	(*todo)++;
	report_note(u->c->r, MAN_STEP,
		    "bootstrap manifests Talos renders on %s, as they are now (the kube-proxy "
		    "image follows its config patch):",
		    u->c->d->v[u->node].mn->name);
	for (size_t i = 0; i < m.n; i++) {
		int r = sync_obj(u, &m.v[i], true, &diff, &e);

		if (r < 0) {
			day2_fail_talos(u->c->r, MAN_STEP, e.msg);
			++*bad;
			goto out;
		}
		report_action(u->c->r, MAN_STEP, MAN_VERB[r], "%s", m.v[i].path);
		show_diff(u, &diff);
	}
	report_step_end(u->c->r, MAN_STEP, REPORT_TODO, NULL);
out:
	k8sman_free(&m);
	buf_free(&text);
	buf_free(&diff);
}

/* rollout.go WaitForRollout: the Deployments, then the DaemonSets, among the
 * objects the sync changed. */
static int wait_rollouts(const struct man *u, const struct k8sman *m, const bool *changed, struct app_err *e)
{
	for (int kind = K8SMAN_DEPLOYMENT; kind <= K8SMAN_DAEMONSET; kind++)
		for (size_t i = 0; i < m->n; i++) {
			const struct k8sman_obj *o = &m->v[i];
			long start = util_mono_ms();
			char why[300] = "not read yet";

			if (!changed[i] || (int)o->rollout != kind)
				continue;
			report_note(u->c->r, MAN_STEP, "waiting for the rollout of %s", o->path);
			for (;;) {
				struct buf b = { 0 };
				struct app_err ge = { 0 };
				int r = kube_get(u->c->kube, o->url, &b, &ge);

				r = r < 0
					? (snprintf(why, sizeof(why), "%.200s", ge.msg), 0)
					: k8sman_rolled_out(o->rollout, b.data, b.len, why, sizeof(why), &ge);
				buf_free(&b);
				if (r == 1)
					break;
				if (util_mono_ms() - start >= u->c->wait_s * 1000)
					return app_err_set(e, -ETIMEDOUT,
							   "%s did not roll out within %lds (last: %s)",
							   o->path, u->c->wait_s, why);
				util_sleep_ms(POLL_MS);
			}
			report_note(u->c->r, MAN_STEP, "%s rolled out", o->path);
		}
	return 0;
}

static int run_manifests(const struct man *u)
{
	struct k8sman m = { 0 };
	struct buf text = { 0 }, diff = { 0 };
	struct app_err e = { 0 };
	struct journal_entry je;
	char inputs[65], result[64];
	bool *changed = NULL;
	int n_new = 0, n_upd = 0, rc = -1;
	bool resumed = false;

	report_step_begin(u->c->r, ++*u->c->idx, MAN_STEP, "bootstrap manifests");
	if (read_manifests(u, &m, inputs, &text, &e) < 0)
		goto fail;
	if (journal_get(u->c->j, MAN_STEP, &je, NULL) == 0 && strcmp(je.inputs, inputs) == 0) {
		if (je.status == JOURNAL_DONE) {
			report_step_end(u->c->r, MAN_STEP, REPORT_SKIP, "in sync (journal)");
			rc = 0;
			goto out;
		}
		/* what it changed then may still be rolling out: wait for it too */
		resumed = je.status == JOURNAL_STARTED;
		if (resumed)
			report_note(u->c->r, MAN_STEP, "resuming: the sync was started before (run %d)",
				    je.runs);
	}
	if (journal_begin(u->c->j, MAN_STEP, inputs, text.data, &e) < 0)
		goto fail;
	changed = xcalloc(m.n ? m.n : 1, sizeof(*changed));
	for (size_t i = 0; i < m.n; i++) {
		int r = sync_obj(u, &m.v[i], false, &diff, &e);

		if (r < 0)
			goto fail;
		changed[i] = r != MAN_SAME || (resumed && m.v[i].rollout != K8SMAN_NONE);
		n_new += r == MAN_CREATE;
		n_upd += r == MAN_UPDATE;
		report_note(u->c->r, MAN_STEP, "%s: %s", m.v[i].path,
			    r == MAN_CREATE   ? "created"
			    : r == MAN_UPDATE ? "updated"
					      : "no changes");
		show_diff(u, &diff);
	}
	if (wait_rollouts(u, &m, changed, &e) < 0)
		goto fail;
	snprintf(result, sizeof(result), "%d created, %d updated", n_new, n_upd);
	if (journal_done(u->c->j, MAN_STEP, inputs, result, &e) < 0)
		goto fail;
	report_step_end(u->c->r, MAN_STEP, REPORT_DONE, result);
	rc = 0;
	goto out;
fail:
	day2_fail_talos(u->c->r, MAN_STEP, e.msg);
out:
	free(changed);
	k8sman_free(&m);
	buf_free(&text);
	buf_free(&diff);
	return rc;
}

int k8s_man_plan(const struct k8s_up_ctx *c, size_t node, size_t *todo)
{
	struct man u = { c, node };
	int bad = 0;

	plan_manifests(&u, &bad, todo);
	return bad;
}

int k8s_man_run(const struct k8s_up_ctx *c, size_t node)
{
	struct man u = { c, node };

	return run_manifests(&u);
}
