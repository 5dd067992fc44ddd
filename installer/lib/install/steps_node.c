/* The steps that find out where the install goes: which node this machine is
 * (identity), its disks (inventory) and their roles under the node's
 * selectors, checked against the disk policy and the Ceph wipe's refusals
 * before anything is touched (resolve-disks). */
#include "install/steps_node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "disk/selector.h"
#include "disk/wipe.h"
#include "install/plan.h"
#include "profile/model.h"

/* ---- identify ---------------------------------------------------------------- */

static int identify_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	char *seen;
	int r;

	r = identity_read(c->sysfs, &c->id, e);
	if (r < 0)
		return r;
	seen = identity_describe(&c->id);
	if (c->o->node) {
		c->node = model_node_by_name(c->m, c->o->node);
		if (!c->node) {
			struct buf names = { 0 };
			for (size_t i = 0; i < c->m->n_nodes; i++)
				buf_printf(&names, "%s'%s'", i ? ", " : "", c->m->nodes[i].name);
			r = app_err_set(e, -ENOENT, "node '%s' is not in the profile (nodes: %s)", c->o->node,
					names.data ? names.data : "none");
			buf_free(&names);
			free(seen);
			return r;
		}
		{
			const struct model_node *auto_node = NULL;
			struct app_err ignore;
			if (identity_match(c->m, &c->id, &auto_node, &ignore) == 0 && auto_node != c->node)
				step_action(c, "warn", "this machine's identity matches node '%s', not '%s'",
					    auto_node->name, c->node->name);
		}
		step_action(c, "info", "this machine: %s", seen);
		snprintf(result, n, "node '%s' (given with --node)", c->node->name);
	} else {
		r = identity_match(c->m, &c->id, &c->node, e);
		if (r < 0) {
			free(seen);
			return r;
		}
		step_action(c, "info", "this machine: %s", seen);
		snprintf(result, n, "node '%s' matched by identity", c->node->name);
	}
	free(seen);
	return 0;
}

/* ---- inventory ----------------------------------------------------------------- */

static int inventory_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct hw_opts ho = {
		.root = c->o->hw_root,
		.files = c->o->disk_files,
		.n_files = (size_t)c->o->n_disk_files,
	};
	int r = hw_inventory(&ho, &c->inv, e);

	if (r < 0)
		return r;
	c->have_inv = true;
	for (size_t i = 0; i < c->inv.n; i++) {
		const struct hw_disk *d = &c->inv.v[i];
		char sz[32];
		report_action(c->rep, c->step, "info", "%s %s %s%s%s%s", step_disk_name(d),
			      fmt_bytes(d->size, sz, sizeof(sz)), d->transport ? d->transport : "?",
			      d->model ? " model " : "", d->model ? d->model : "",
			      d->live ? " (live system)" : "");
	}
	snprintf(result, n, "%zu disks", c->inv.n);
	return 0;
}

/* ---- resolve disks (selectors: disks work) ------------------------------------ */

static void resolve_keep(struct ctx *c);

/* The install disk can take this image, and does not already run Talos.
 * The metal image is laid out in 512-byte sectors (its GPT would be
 * misread on a 4Kn disk). A disk Talos has booted from carries STATE and
 * EPHEMERAL (XFS, labelled so; created at first boot, after the BIOS/BOOT
 * entries are dropped on UEFI: internal/app/machined/pkg/runtime/v1alpha1/
 * bootloader/bootloader.go CleanupBootloader), which an image of ours never
 * has; re-imaging it would throw that node's etcd member and data away, so
 * only --reinstall does. A disk we imaged but Talos never booted is a
 * resumable install and passes. */
static int install_disk_fits(struct ctx *c, const struct hw_disk *d, struct app_err *e)
{
	static const char *const talos_labels[] = { "STATE", "EPHEMERAL", "metal-iso" };
	struct buf found = { 0 };
	bool booted = false;
	int r = 0;

	if (d->lsec && d->lsec != 512)
		return app_err_set(e, -ENOTSUP,
				   "install disk '%s' has %u-byte logical sectors; the Talos metal image is "
				   "laid out for 512-byte sectors (a 4Kn image is not supported yet); "
				   "refusing to write it",
				   step_disk_name(d), d->lsec);
	for (size_t k = 0; k < sizeof(talos_labels) / sizeof(talos_labels[0]); k++)
		for (size_t i = 0; i < d->n_sigs; i++) {
			const struct hw_sig *g = &d->sigs[i];

			if (!g->label || strcmp(g->label, talos_labels[k]) != 0 || g->partno <= 0)
				continue;
			buf_printf(&found, "%s%s (%s, partition %d)", found.len ? ", " : "", g->label,
				   g->type, g->partno);
			booted |= k < 2;
			break;
		}
	if (booted && !c->o->reinstall)
		r = app_err_set(e, -EEXIST,
				"install disk '%s' already runs Talos: %s; Talos created STATE/EPHEMERAL at "
				"its first boot, so this node was installed and booted; refusing to re-image "
				"it (that would discard its etcd member and data); give --reinstall to "
				"overwrite it",
				step_disk_name(d), found.data);
	else if (booted)
		step_action(c, "reinstall", "%s already runs Talos (%s); --reinstall: it is re-imaged",
			    step_disk_name(d), found.data);
	buf_free(&found);
	return r;
}

static int resolve_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct selector_result res = { 0 };
	size_t used = 0;
	int r;

	if (!c->have_inv)
		return step_unavailable(e, "no disk inventory");
	r = selector_resolve_node(c->m, c->node, &c->inv, &res, e);
	if (r < 0) {
		selector_result_free(&res);
		return r;
	}
	for (size_t i = 0; i < res.n; i++) {
		const struct selector_role *ro = &res.v[i];
		for (size_t k = 0; k < ro->n_disks; k++) {
			const struct hw_disk *d = &c->inv.v[ro->disks[k]];
			if (ro->role == DISK_ROLE_INSTALL) {
				c->install = d;
			} else {
				c->ceph = xrealloc(c->ceph, sizeof(*c->ceph) * (c->n_ceph + 1));
				c->ceph[c->n_ceph++] = d;
			}
		}
	}
	selector_result_free(&res);
	if (!c->install) {
		return app_err_set(e, -ENOENT, "node '%s' has no install disk selector", c->node->name);
	}
	r = install_disk_fits(c, c->install, e);
	if (r < 0)
		return r;
	/* the policy, now, before anything is touched: a refusal stops the plan */
	{
		struct disk_claim cl = step_claim(c, c->install, DISK_ROLE_INSTALL);
		r = disk_policy_check_inv(&cl, &c->inv, c->install, e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_ceph; i++) {
		struct disk_claim cl = step_claim(c, c->ceph[i], DISK_ROLE_CEPH);
		r = disk_policy_check_inv(&cl, &c->inv, c->ceph[i], e);
		if (r < 0)
			return r;
	}
	/* the Ceph wipe's own refusals (unattended without wipe: true, ...) before any write */
	if (c->n_ceph) {
		struct wipe_plan wp;
		r = step_wipe_plan(c, &wp, e);
		wipe_plan_free(&wp);
		if (r < 0)
			return r;
	}
	step_action(c, "install", "%s (serial %s) is the install disk", step_disk_name(c->install),
		    c->install->serial ? c->install->serial : "none");
	used = (size_t)snprintf(result, n, "install %s", step_disk_name(c->install));
	for (size_t i = 0; i < c->n_ceph; i++) {
		step_action(c, "ceph", "%s (serial %s) is a Ceph disk", step_disk_name(c->ceph[i]),
			    c->ceph[i]->serial ? c->ceph[i]->serial : "none");
		if (used < n)
			used += (size_t)snprintf(result + used, n - used, "%s%s", i ? ", " : "; ceph ",
						 step_disk_name(c->ceph[i]));
	}
	resolve_keep(c);
	return 0;
}

static void resolve_keep(struct ctx *c)
{
	for (size_t i = 0; i < c->inv.n; i++) {
		const struct hw_disk *d = &c->inv.v[i];
		bool used = d == c->install;
		for (size_t k = 0; k < c->n_ceph; k++)
			used |= d == c->ceph[k];
		if (!used)
			step_action(c, "keep", "%s: no role on node '%s'; never opened for writing",
				    step_disk_name(d), c->node->name);
	}
}

/* ---- the rows --------------------------------------------------------------------- */

const struct step step_identify = { .title = "identify this node", .kind = KIND_FACT, .run = identify_run };
const struct step step_inventory = { .title = "inventory disks", .kind = KIND_FACT, .run = inventory_run };
const struct step step_resolve = { .needs = BIT(S_IDENTIFY) | BIT(S_INVENTORY),
				   .title = "resolve the node's disks",
				   .kind = KIND_FACT,
				   .run = resolve_run };
