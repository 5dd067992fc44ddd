/* The install engine. plan_run() walks the step table the same way for `plan`
 * and `install`; only `apply` decides whether CHANGE steps describe or act.
 * For each step it computes the inputs' digest, decides from the journal
 * whether the step must run (skip / redo / resume), runs it and journals the
 * result. The steps themselves (steps_node.c, steps_preflight.c,
 * steps_disk.c, steps_finish.c) only call other modules' capabilities. */
#include "install/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "install/journal.h"
#include "install/report.h"
#include "install/step.h"
#include "install/steps_disk.h"
#include "install/steps_finish.h"
#include "install/steps_node.h"
#include "install/steps_preflight.h"

const char *const plan_step_names[] = {
	[S_IDENTIFY] = "identify",
	[S_INVENTORY] = "inventory",
	[S_RESOLVE] = "resolve-disks",
	[S_NAS] = "preflight-nas",
	[S_IMAGE] = "preflight-image",
	[S_SECRETS] = "preflight-secrets",
	[S_CONFIG] = "render-config",
	[S_WRITE] = "write-image",
	[S_CONFIG_PART] = "config-partition",
	[S_WIPE] = "wipe-ceph",
	[S_BOOT] = "boot-order",
	[S_GITOPS] = "gitops",
	[S_SUMMARY] = "summary",
	[N_STEPS] = NULL,
};

/* ---- the table -------------------------------------------------------------------- */

static const struct step *const steps[N_STEPS] = {
	[S_IDENTIFY] = &step_identify, [S_INVENTORY] = &step_inventory, [S_RESOLVE] = &step_resolve,
	[S_NAS] = &step_nas,	       [S_IMAGE] = &step_image,		[S_SECRETS] = &step_secrets,
	[S_CONFIG] = &step_config,     [S_WRITE] = &step_write,		[S_CONFIG_PART] = &step_config_part,
	[S_WIPE] = &step_wipe,	       [S_BOOT] = &step_boot,		[S_GITOPS] = &step_gitops,
	[S_SUMMARY] = &step_summary,
};

/* ---- the walk --------------------------------------------------------------------- */

/* Value of key in a "key=value" text, or NULL. Caller frees. */
static char *kv_get(const char *text, const char *key, size_t klen)
{
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (len > klen && l[klen] == '=' && strncmp(l, key, klen) == 0)
			return xstrndup(l + klen + 1, len - klen - 1);
		l += len + (nl ? 1 : 0);
	}
	return NULL;
}

/* Keys whose values differ between two "key=value" texts, as "a, b". */
static char *changed_keys(const char *old, const char *cur)
{
	const char *texts[2] = { old, cur };
	struct buf out = { 0 };

	for (int side = 0; side < 2; side++) {
		for (const char *l = texts[side]; *l;) {
			const char *nl = strchr(l, '\n'), *eq = strchr(l, '=');
			size_t len = nl ? (size_t)(nl - l) : strlen(l);
			if (eq && eq < l + len) {
				size_t klen = (size_t)(eq - l);
				char *mine = kv_get(texts[side], l, klen),
				     *theirs = kv_get(texts[!side], l, klen);
				char *key = xstrndup(l, klen);
				bool listed = out.data && strstr(out.data, key);
				if (!listed && (!theirs || strcmp(mine, theirs) != 0))
					buf_printf(&out, "%s%s", out.len ? ", " : "", key);
				free(mine);
				free(theirs);
				free(key);
			}
			l += len + (nl ? 1 : 0);
		}
	}
	return out.data ? out.data : xstrdup("(unknown)");
}

static int step_digest(struct ctx *c, int i, struct buf *in, struct app_err *e)
{
	const struct step *s = steps[i];
	int r = 0;

	if (s->inputs)
		r = s->inputs(c, in, e);
	if (r < 0)
		return r;
	for (int d = 0; d < N_STEPS; d++)
		if (s->deps & BIT(d))
			buf_printf(in, "after.%s=%s\n", plan_step_names[d], c->digest[d]);
	if (!in->data)
		buf_puts(in, "");
	sha256_hex(in->data, in->len, c->digest[i]);
	return 0;
}

/* Decide a journaled step's fate. detail gets the reason. */
static enum report_status verdict(struct ctx *c, int i, const char *inputs_text, char *detail, size_t n,
				  struct journal_entry *en, struct app_err *e)
{
	const struct step *s = steps[i];
	struct app_err ce = { 0 };
	int r;

	detail[0] = '\0';
	r = journal_get(c->j, plan_step_names[i], en, e);
	if (r == 0 && en->problem[0]) /* the journal is a hint: say so, then run the step */
		snprintf(detail, n, "journal entry ignored (%s); runs as not done", en->problem);
	if (r < 0 || en->status == JOURNAL_NONE)
		return REPORT_TODO;
	for (int d = 0; d < N_STEPS; d++)
		if ((s->deps & BIT(d)) && c->runs[d] && c->status[d] != REPORT_SKIP) {
			snprintf(detail, n, "runs again because '%s' runs", plan_step_names[d]);
			return REPORT_REDO;
		}
	if (en->status == JOURNAL_STARTED) {
		snprintf(detail, n, "interrupted in a previous run; resumes");
		return REPORT_RESUME;
	}
	if (strcmp(en->inputs, c->digest[i]) != 0) {
		struct buf old = { 0 };
		char *keys;
		journal_inputs(c->j, plan_step_names[i], &old, &ce);
		keys = changed_keys(old.data ? old.data : "", inputs_text);
		snprintf(detail, n, "inputs changed since the last run (%s)", keys);
		free(keys);
		buf_free(&old);
		return REPORT_REDO;
	}
	if (s->check && s->check(c, en->result, &ce) < 0) {
		snprintf(detail, n, "result no longer checks out: %s", ce.msg);
		return REPORT_REDO;
	}
	snprintf(detail, n, "%s", en->result);
	return REPORT_SKIP;
}

static bool stop_requested(const struct plan_opts *o)
{
	return o->stop && *o->stop;
}

static int do_step(struct ctx *c, int i, struct plan_outcome *out, struct app_err *e)
{
	const struct step *s = steps[i];
	struct journal_entry en;
	struct buf in = { 0 };
	char detail[1200];
	enum report_status st = REPORT_DONE;
	int r;

	c->step = plan_step_names[i];
	report_step_begin(c->rep, i + 1, c->step, s->title);
	if (s->kind == KIND_FACT) {
		r = s->run(c, c->result[i], sizeof(c->result[i]), e);
		goto done;
	}
	r = step_digest(c, i, &in, e);
	if (r < 0)
		goto done;
	if (report_get_verbosity(c->rep) > 0 && in.data) /* -v: what the step depends on */
		for (const char *l = in.data, *nl; *l; l = nl ? nl + 1 : l + strlen(l)) {
			nl = strchr(l, '\n');
			report_note(c->rep, c->step, "input %.*s", (int)(nl ? nl - l : (long)strlen(l)), l);
		}
	st = verdict(c, i, in.data, detail, sizeof(detail), &en, e);
	if (st == REPORT_SKIP) {
		snprintf(c->result[i], sizeof(c->result[i]), "%s", en.result);
		c->status[i] = REPORT_SKIP;
		out->skipped++;
		report_step_end(c->rep, c->step, REPORT_SKIP, detail);
		buf_free(&in);
		return 0;
	}
	c->runs[i] = true;
	if (*detail)
		report_action(c->rep, c->step, report_status_name(st), "%s", detail);
	if (s->kind == KIND_CHANGE && !c->apply) {
		if (s->describe)
			s->describe(c);
		c->status[i] = st;
		out->todo++;
		report_step_end(c->rep, c->step, st, "would run with --apply");
		buf_free(&in);
		return 0;
	}
	if (c->apply) {
		r = journal_begin(c->j, c->step, c->digest[i], in.data, e);
		if (r < 0)
			goto done;
	}
	if (c->o->busy && s->anytime && c->apply)
		*c->o->busy = 1;
	r = s->run(c, c->result[i], sizeof(c->result[i]), e);
	if (c->o->busy)
		*c->o->busy = 0;
	if (r == 0 && c->apply)
		r = journal_done(c->j, c->step, c->digest[i], c->result[i], e);
done:
	buf_free(&in);
	if (r == -ENOSYS) {
		c->status[i] = REPORT_UNAVAILABLE;
		out->unavailable++;
		report_step_end(c->rep, c->step, REPORT_UNAVAILABLE, e->msg);
		return 0;
	}
	if (r < 0) {
		c->status[i] = REPORT_FAILED;
		out->failed++;
		report_step_end(c->rep, c->step, REPORT_FAILED, e->msg);
		return app_err_prefix(e, "%s", c->step);
	}
	if (!c->apply && s->kind == KIND_CHECK && s->writes && st != REPORT_SKIP) {
		c->status[i] = st;
		out->todo++;
		report_step_end(c->rep, c->step, st, "checked; writes its files with --apply");
		return 0;
	}
	c->status[i] = REPORT_DONE;
	out->ran++;
	report_step_end(c->rep, c->step, REPORT_DONE, c->result[i][0] ? c->result[i] : NULL);
	return 0;
}

/* Why step i cannot run, or NULL. install stops at its first failure (every
 * later step is blocked); plan goes on with every step that does not need a
 * failed one, so that one problem (a NAS that is down) hides nothing else. */
static const char *blocked_by(const struct ctx *c, int i, unsigned bad, int first_failed, char *why, size_t n)
{
	if (first_failed < 0)
		return NULL;
	if (c->apply) {
		snprintf(why, n, "not run: '%s' failed", plan_step_names[first_failed]);
		return why;
	}
	for (int d = 0; d < N_STEPS; d++)
		if ((steps[i]->needs & BIT(d)) && (bad & BIT(d))) {
			snprintf(why, n, "needs '%s', which %s", plan_step_names[d],
				 c->status[d] == REPORT_BLOCKED ? "is blocked" : "failed");
			return why;
		}
	return NULL;
}

static int walk(struct ctx *c, struct plan_outcome *out, struct app_err *e)
{
	const struct plan_opts *o = c->o;
	struct app_err later = { 0 };
	unsigned bad = 0; /* steps that failed or are blocked */
	int first_failed = -1, ret = 0, r;
	char why[160];

	for (int i = 0; i < N_STEPS; i++) {
		if (stop_requested(o)) {
			out->stopped = true;
			report_step_end(c->rep, plan_step_names[i], REPORT_STOPPED,
					"interrupted; re-run the same command to resume");
			return app_err_set(e, -EINTR, "interrupted before step '%s'; re-run to resume",
					   plan_step_names[i]);
		}
		if (blocked_by(c, i, bad, first_failed, why, sizeof(why))) {
			c->status[i] = REPORT_BLOCKED;
			bad |= BIT(i);
			out->blocked++;
			report_step_begin(c->rep, i + 1, plan_step_names[i], steps[i]->title);
			report_step_end(c->rep, plan_step_names[i], REPORT_BLOCKED, why);
			continue;
		}
		/* the first failure's message is the one returned */
		r = do_step(c, i, out, first_failed < 0 ? e : &later);
		if (i == S_IDENTIFY && r == 0 && c->node)
			c->node_dir = xasprintf("%s/nodes/%s", o->state_dir, c->node->name);
		if (r < 0 && first_failed >= 0) {
			struct buf more = { 0 };
			if (out->more_failures)
				buf_puts(&more, out->more_failures);
			buf_printf(&more, "%s\n", later.msg);
			free(out->more_failures);
			out->more_failures = more.data;
		}
		if (r < 0 || (i == S_IDENTIFY && !c->node)) {
			if (first_failed < 0) {
				ret = r < 0 ? r : app_err_set(e, -ENOSYS, "identify: no node");
				out->refused = !c->disks_touched;
				first_failed = i;
			}
			bad |= BIT(i);
		}
	}
	return ret;
}

static void ctx_free(struct ctx *c)
{
	identity_free(&c->id);
	if (c->have_inv)
		hw_inventory_free(&c->inv);
	free(c->ceph);
	free(c->cache_dir);
	free(c->secrets_path);
	free(c->node_dir);
	free(c->efivars);
	free(c->sysfs);
	free(c->bootorder_record);
	free(c->schematic);
	free(c->image_key);
	free(c->image_url);
	free(c->image_file);
	if (c->config.data)
		secure_free(c->config.data, c->config.cap);
}

int plan_run(const struct plan_opts *o, struct plan_outcome *out, struct app_err *e)
{
	struct ctx c = { .o = o, .m = o->model, .rep = o->report, .apply = o->apply };
	int r;

	memset(out, 0, sizeof(*out));
	r = journal_open(o->state_dir, o->apply, &c.j, e);
	if (r < 0) {
		out->refused = true;
		return r;
	}
	c.cache_dir = o->cache_dir ? xstrdup(o->cache_dir) : xasprintf("%s/cache", o->state_dir);
	c.secrets_path = o->secrets ? xstrdup(o->secrets) : xasprintf("%s/talos-secrets.yaml", o->state_dir);
	c.sysfs = o->sysfs     ? xstrdup(o->sysfs)
		  : o->hw_root ? xasprintf("%s/sys", o->hw_root)
			       : xstrdup("/sys");
	c.efivars = xasprintf("%s/firmware/efi/efivars", c.sysfs);
	c.bootorder_record = xasprintf("%s/bootorder.previous", o->state_dir);
	report_begin(c.rep, o->apply ? "install" : "plan", o->node ? o->node : "(auto)", o->apply, N_STEPS);
	r = walk(&c, out, e);
	if (r == 0 && out->unavailable)
		r = app_err_set(e, -ENOSYS, "%d step%s not available in this build", out->unavailable,
				out->unavailable == 1 ? " is" : "s are");
	ctx_free(&c);
	journal_close(c.j);
	return r;
}
