/* The steps after the install disk: the Ceph disks wiped, the firmware boot
 * order, the GitOps tree rendered into the local checkout, and the summary. */
#include "install/steps_finish.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "disk/wipe.h"
#include "install/efiboot.h"
#include "install/plan.h"
#include "profile/model.h"
#include "render/render.h"

/* ---- wipe ceph disks (disks work: wipe.h) ---------------------------------------- */

static int wipe_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	if (!c->install)
		return step_unavailable(e, "the node's disks are not resolved");
	for (size_t i = 0; i < c->n_ceph; i++) {
		char key[32];
		snprintf(key, sizeof(key), "ceph%zu", i);
		step_disk_inputs(in, key, c->ceph[i]);
	}
	return 0;
}

static void wipe_describe(struct ctx *c)
{
	struct wipe_plan p;
	struct app_err e = { 0 };
	char sz[32];

	if (step_wipe_plan(c, &p, &e) < 0) {
		step_action(c, "refused", "%s", e.msg);
		wipe_plan_free(&p);
		return;
	}
	for (size_t i = 0; i < p.n; i++) {
		const struct wipe_target *t = &p.v[i];
		for (size_t k = 0; k < t->n; k++)
			/* "signature ceph_bluestore", else the region's own name ("gpt-backup", "rook-1G") */
			step_action(c, "erase", "%s: %s%s at offset %llu, %s%s", t->path,
				    t->v[k].kind == WIPE_SIGNATURE ? "signature " : "",
				    t->v[k].type ? t->v[k].type : wipe_kind_name(t->v[k].kind),
				    (unsigned long long)t->v[k].offset,
				    fmt_bytes(t->v[k].length, sz, sizeof(sz)),
				    t->v[k].partno ? " (in a partition)" : "");
	}
	wipe_plan_free(&p);
}

static int wipe_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct wipe_plan p;
	struct wipe_result res = { 0 };
	size_t used = 0;
	int r;

	if (c->n_ceph == 0) {
		snprintf(result, n, "no Ceph disks");
		return 0;
	}
	r = step_wipe_plan(c, &p, e);
	if (r == -ENOSYS)
		return r;
	if (r == 0) {
		c->disks_touched = true;
		r = wipe_apply(&p, NULL, &res, e);
	}
	for (size_t i = 0; r == 0 && i < res.n && used < n; i++)
		used += (size_t)snprintf(result + used, n - used, "%s%s clean (%zu regions)", i ? ", " : "",
					 res.v[i].path, res.v[i].regions);
	wipe_result_free(&res);
	wipe_plan_free(&p);
	return r;
}

/* Every Ceph disk still probes clean. */
static int wipe_check(struct ctx *c, const char *result, struct app_err *e)
{
	for (size_t i = 0; i < c->n_ceph; i++) {
		const struct hw_disk *d = c->ceph[i];
		if (d->probe_error)
			return app_err_set(e, -ESTALE, "cannot probe '%s': %s", step_disk_name(d),
					   d->probe_error);
		if (d->n_sigs || d->pttype)
			return app_err_set(e, -ESTALE, "'%s' carries %s again", step_disk_name(d),
					   d->n_sigs ? d->sigs[0].type : d->pttype);
	}
	return 0;
}

/* ---- boot order ------------------------------------------------------------------ */

static int boot_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	int r = step_need_install(c, e);

	if (r < 0)
		return r;
	buf_printf(in, "efivars=%s\nuefi=%d\n", c->efivars, efiboot_is_uefi(c->efivars));
	step_disk_inputs(in, "disk", c->install);
	return 0;
}

static void boot_describe(struct ctx *c)
{
	char order[256] = "";
	struct app_err ignore;

	if (!efiboot_is_uefi(c->efivars)) {
		step_action(c, "info", "no UEFI variables at %s: BIOS boot; nothing is written", c->efivars);
		return;
	}
	efiboot_order(c->efivars, order, sizeof(order), &ignore);
	step_action(c, "firmware",
		    "add a boot entry for %s's EFI partition (%s) and put it first in BootOrder (now %s); "
		    "the previous order is kept in %s",
		    step_disk_name(c->install), EFIBOOT_LOADER, *order ? order : "unset",
		    c->bootorder_record);
}

static int boot_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct efiboot_target t;
	int r;

	if (!efiboot_is_uefi(c->efivars)) {
		snprintf(result, n, "bios");
		report_note(c->rep, c->step,
			    "this machine boots with BIOS: choose '%s' first in the firmware boot menu "
			    "(or remove the installer medium) before rebooting",
			    step_disk_name(c->install));
		return 0;
	}
	r = efiboot_find_esp(c->install->dev, &t, e);
	if (r < 0)
		return r;
	return efiboot_apply(c->efivars, &t, c->bootorder_record, result, n, e);
}

static int boot_check(struct ctx *c, const char *result, struct app_err *e)
{
	struct efiboot_target t;
	int r;

	if (strcmp(result, "bios") == 0)
		return efiboot_is_uefi(c->efivars) ? app_err_set(e, -ESTALE, "machine now has UEFI variables")
						   : 0;
	r = efiboot_find_esp(c->install->dev, &t, e);
	if (r < 0)
		return -ESTALE;
	return efiboot_check(c->efivars, &t, e);
}

/* ---- gitops (render work) --------------------------------------------------------- */

static int gitops_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	buf_printf(in, "gitops.out=%s\n", c->m->gitops.out ? c->m->gitops.out : "");
	if (c->o->render && c->o->render->recovery)
		buf_printf(in, "gitops.recovery=%s\n",
			   c->o->render->server_name ? c->o->render->server_name : "(default)");
	return 0;
}

static void gitops_describe(struct ctx *c)
{
	if (!c->m->gitops.out)
		step_action(c, "info",
			    "the profile names no local GitOps checkout (gitops.out): nothing to render");
	else
		step_action(c, "file", "render the GitOps tree for cluster '%s' into %s", c->m->site.cluster,
			    c->m->gitops.out);
}

/* The tree rendered and compared with gitops.out: states[] per file. */
static int gitops_tree(struct ctx *c, struct render_tree *t, enum render_state **states, struct app_err *e)
{
	static const struct render_opts normal = { 0 };
	int r;

	memset(t, 0, sizeof(*t));
	*states = NULL;
	r = render_tree(c->m, c->o->render ? c->o->render : &normal, t, e);
	if (r < 0)
		return r;
	*states = xcalloc(t->n_files ? t->n_files : 1, sizeof(**states));
	return render_compare(t, c->m->gitops.out, *states, e);
}

static int gitops_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct render_tree t;
	enum render_state *st;
	struct buf all = { 0 };
	size_t changed = 0;
	char sha[65];
	int r;

	if (!c->m->gitops.out) {
		snprintf(result, n, "no gitops.out");
		return 0;
	}
	r = gitops_tree(c, &t, &st, e);
	for (size_t i = 0; r == 0 && i < t.n_files; i++) {
		changed += st[i] != RENDER_SAME;
		buf_append(&all, t.files[i].path, strlen(t.files[i].path) + 1);
		buf_append(&all, t.files[i].text, t.files[i].len);
		if (!c->apply && st[i] != RENDER_SAME)
			step_action(c, "file", "%s/%s/%s (%s)", c->m->gitops.out, t.root, t.files[i].path,
				    render_state_name(st[i]));
	}
	if (r == 0 && c->apply)
		r = render_write(&t, c->m->gitops.out, st, e);
	if (r == 0) {
		sha256_hex(all.data ? all.data : "", all.len, sha);
		snprintf(result, n, "%zu files under %s/%s (%zu written), tree sha256 %s", t.n_files,
			 c->m->gitops.out, t.root, c->apply ? changed : 0, sha);
	}
	buf_free(&all);
	free(st);
	render_tree_free(&t);
	return r;
}

/* Every rendered file is still in gitops.out, unchanged. */
static int gitops_check(struct ctx *c, const char *result, struct app_err *e)
{
	struct render_tree t;
	enum render_state *st;
	int r;

	if (!c->m->gitops.out)
		return 0;
	r = gitops_tree(c, &t, &st, e);
	for (size_t i = 0; r == 0 && i < t.n_files; i++)
		if (st[i] != RENDER_SAME)
			r = app_err_set(e, -ESTALE, "%s/%s/%s is %s", c->m->gitops.out, t.root,
					t.files[i].path, render_state_name(st[i]));
	free(st);
	render_tree_free(&t);
	return r;
}

/* ---- summary ---------------------------------------------------------------------- */

/* A step that will (or may) run with --apply. */
static bool pending(const struct ctx *c, int i)
{
	return c->status[i] == REPORT_TODO || c->status[i] == REPORT_REDO || c->status[i] == REPORT_RESUME;
}

/* A disk's fate from its step: pending does `act`, done before keeps it; a step that failed
 * or is blocked decides nothing yet, and saying "keep" then would hide that --apply changes the
 * disk once the failure is fixed. */
static const char *summary_fate(const struct ctx *c, int step, const char *act, const char **why,
				const char *acting, const char *done, const char *verb, const char *name,
				char *buf, size_t n)
{
	if (pending(c, step)) {
		*why = acting;
		return act;
	}
	if (c->status[step] == REPORT_SKIP || c->status[step] == REPORT_NOTHING) {
		*why = done;
		return "keep     ";
	}
	snprintf(buf, n, "%s %s; %s once that is fixed", name, report_status_name(c->status[step]), verb);
	*why = buf;
	return "undecided";
}

/* plan's last word: every disk of this machine, what --apply does to it. */
static void summary_disks(struct ctx *c)
{
	char sz[32], buf[160];

	if (!c->have_inv)
		return;
	if (c->status[S_RESOLVE] != REPORT_DONE) {
		report_note(c->rep, c->step, "disks: no role is known (resolve-disks %s): none is written",
			    report_status_name(c->status[S_RESOLVE]));
		return;
	}
	report_note(c->rep, c->step, "disks, with --apply:");
	for (size_t i = 0; i < c->inv.n; i++) {
		const struct hw_disk *d = &c->inv.v[i];
		const char *fate = "keep     ", *why = "no role: never opened for writing";
		bool ceph = false;
		for (size_t k = 0; k < c->n_ceph; k++)
			ceph |= d == c->ceph[k];
		if (d == c->install) {
			fate = summary_fate(c, S_WRITE, "overwrite", &why,
					    "whole disk: Talos image + metal-iso config partition",
					    "Talos already installed", "overwritten", "write-image", buf,
					    sizeof(buf));
		} else if (ceph) {
			fate =
			    summary_fate(c, S_WIPE, "erase    ", &why, "Ceph disk: old signatures wiped",
					 "Ceph disk, already clean", "erased", "wipe-ceph", buf, sizeof(buf));
		}
		report_note(c->rep, c->step, "  %s %s: %s", fate, step_disk_name(d), why);
		report_note(c->rep, c->step, "            %s, serial %s, %s",
			    d->model ? d->model : "model unknown", d->serial ? d->serial : "none",
			    fmt_bytes(d->size, sz, sizeof(sz)));
	}
}

static int summary_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	int counts[16] = { 0 }, used;

	for (int i = 0; i < S_SUMMARY; i++)
		counts[c->status[i]]++;
	used = snprintf(result, n, "%d %s, %d already done, %d to do, %d not available", counts[REPORT_DONE],
			c->apply ? "done now" : "checked", counts[REPORT_SKIP],
			counts[REPORT_TODO] + counts[REPORT_REDO] + counts[REPORT_RESUME],
			counts[REPORT_UNAVAILABLE]);
	if (counts[REPORT_FAILED] + counts[REPORT_BLOCKED] && used > 0 && (size_t)used < n)
		snprintf(result + used, n - (size_t)used, ", %d failed, %d blocked", counts[REPORT_FAILED],
			 counts[REPORT_BLOCKED]);
	if (c->node) /* one place with every result (logs of unattended runs) */
		for (int i = 0; i < S_SUMMARY; i++)
			if (c->result[i][0])
				report_note(c->rep, c->step, "%-17s %s", plan_step_names[i], c->result[i]);
	if (!c->apply)
		summary_disks(c);
	if (!c->node)
		return 0;
	if (c->apply && c->install && counts[REPORT_UNAVAILABLE] == 0 && counts[REPORT_FAILED] == 0) {
		report_note(c->rep, c->step, "next boot: Talos from %s joins cluster '%s'",
			    step_disk_name(c->install), c->m->site.cluster);
		report_note(c->rep, c->step, "once the node answers on the Talos API (port 50000):");
		report_note(c->rep, c->step, "  appliance bootstrap %s --secrets %s --node %s",
			    c->o->profile_args ? c->o->profile_args : c->m->path,
			    c->o->config ? "BUNDLE" : c->secrets_path, c->node->name);
	}
	return 0;
}

/* ---- the rows --------------------------------------------------------------------- */

const struct step step_wipe = { .needs = BIT(S_RESOLVE),
				.title = "prepare the Ceph disks",
				.kind = KIND_CHANGE,
				.anytime = true,
				.inputs = wipe_inputs,
				.describe = wipe_describe,
				.run = wipe_run,
				.check = wipe_check };
const struct step step_boot = { .needs = BIT(S_RESOLVE) | BIT(S_WRITE),
				.title = "set the firmware boot order",
				.kind = KIND_CHANGE,
				.deps = BIT(S_WRITE),
				.inputs = boot_inputs,
				.describe = boot_describe,
				.run = boot_run,
				.check = boot_check };
const struct step step_gitops = { .title = "render the GitOps tree",
				  .kind = KIND_CHANGE,
				  .inputs = gitops_inputs,
				  .describe = gitops_describe,
				  .run = gitops_run,
				  .check = gitops_check };
const struct step step_summary = { .title = "summary", .kind = KIND_FACT, .run = summary_run };
