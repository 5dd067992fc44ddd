/* The install steps. Each row of `steps` says what the step reads (inputs),
 * what it would change (describe), how it does it (run) and how to tell that
 * its result is still on the machine (check). plan_run() walks the table the
 * same way for `plan` and `install`; only `apply` decides whether CHANGE
 * steps describe or act. Every capability is another module's (hw, selector,
 * disk, nas, image, fetch, partition, wipe, talos_*, render): the step
 * functions only call them, journal the result and report. A step that cannot
 * run because something it needs is missing returns -ENOSYS and is reported
 * "not available" rather than failing silently. */
#include "install/plan.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk/disk.h"
#include "install/efiboot.h"
#include "base/err.h"
#include "net/fetch.h"
#include "disk/hw.h"
#include "install/identity.h"
#include "image/image.h"
#include "install/journal.h"
#include "profile/model.h"
#include "nas/nas.h"
#include "image/partition.h"
#include "install/report.h"
#include "profile/secret.h"
#include "disk/selector.h"
#include "render/render.h"
#include "talos/talos_config.h"
#include "talos/talos_schematic.h"
#include "talos/talos_secrets.h"
#include "talos/talos_volume.h"
#include "base/util.h"
#include "disk/wipe.h"

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

struct step {
	const char *name;
	const char *title;
	enum step_kind kind;
	unsigned deps; /* bit i: step i's result feeds this one */
	bool writes;   /* a CHECK step that writes files (state dir) when applying */
	bool anytime;  /* safe to stop at any moment: chunk journal or idempotent */
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

static int unavailable(struct app_err *e, const char *what)
{
	return app_err_set(e, -ENOSYS, "not available yet: %s", what);
}

static void action(struct ctx *c, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void action(struct ctx *c, const char *kind, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0) {
		report_action(c->rep, c->step, kind, "%s", s);
		free(s);
	}
	va_end(ap);
}

static const char *disk_name(const struct hw_disk *d)
{
	return d->path ? d->path : d->name;
}

static const char *size_str(uint64_t b, char *buf, size_t n)
{
	return fmt_bytes(b, buf, n);
}

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
				action(c, "warn", "this machine's identity matches node '%s', not '%s'",
				       auto_node->name, c->node->name);
		}
		snprintf(result, n, "node '%s' (given with --node; this machine: %s)", c->node->name, seen);
	} else {
		r = identity_match(c->m, &c->id, &c->node, e);
		if (r < 0) {
			free(seen);
			return r;
		}
		snprintf(result, n, "node '%s' matched by identity (this machine: %s)", c->node->name, seen);
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
		report_action(c->rep, c->step, "info", "%s %s %s%s%s%s", disk_name(d),
			      size_str(d->size, sz, sizeof(sz)), d->transport ? d->transport : "?",
			      d->model ? " model " : "", d->model ? d->model : "",
			      d->live ? " (live system)" : "");
	}
	snprintf(result, n, "%zu disks", c->inv.n);
	return 0;
}

/* ---- resolve disks (selectors: disks work) ------------------------------------ */

static struct disk_claim claim_for(struct ctx *c, const struct hw_disk *d, enum disk_role role)
{
	struct disk_claim cl = {
		.path = d->dev,
		.role = role,
		.model = c->m,
		.node = c->node,
		.root = c->o->hw_root,
	};
	return cl;
}

static void resolve_keep(struct ctx *c);
static int wipe_planned(struct ctx *c, struct wipe_plan *p, struct app_err *e);

static int resolve_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct selector_result res = { 0 };
	size_t used = 0;
	int r;

	if (!c->have_inv)
		return unavailable(e, "no disk inventory");
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
	/* the policy, now, before anything is touched: a refusal stops the plan */
	{
		struct disk_claim cl = claim_for(c, c->install, DISK_ROLE_INSTALL);
		r = disk_policy_check_inv(&cl, &c->inv, c->install, e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_ceph; i++) {
		struct disk_claim cl = claim_for(c, c->ceph[i], DISK_ROLE_CEPH);
		r = disk_policy_check_inv(&cl, &c->inv, c->ceph[i], e);
		if (r < 0)
			return r;
	}
	/* the Ceph wipe's own refusals (unattended without wipe: true, ...) before any write */
	if (c->n_ceph) {
		struct wipe_plan wp;
		r = wipe_planned(c, &wp, e);
		wipe_plan_free(&wp);
		if (r < 0)
			return r;
	}
	action(c, "install", "%s (serial %s) is the install disk", disk_name(c->install),
	       c->install->serial ? c->install->serial : "none");
	used = (size_t)snprintf(result, n, "install %s", disk_name(c->install));
	for (size_t i = 0; i < c->n_ceph; i++) {
		action(c, "ceph", "%s (serial %s) is a Ceph disk", disk_name(c->ceph[i]),
		       c->ceph[i]->serial ? c->ceph[i]->serial : "none");
		if (used < n)
			used += (size_t)snprintf(result + used, n - used, "%s%s", i ? ", " : "; ceph ",
						 disk_name(c->ceph[i]));
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
			action(c, "keep", "%s: no role on node '%s'; never opened for writing", disk_name(d),
			       c->node->name);
	}
}

/* ---- preflight: NAS ----------------------------------------------------------- */

static int nas_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	const struct model_nas *s = &c->m->nas;

	buf_printf(in, "nas.address=%s\nnas.port=%lld\nnas.share=%s\nnas.photos=%s\nnas.library=%s\n",
		   s->address, s->port, s->share, s->photos, s->library);
	buf_printf(in, "nas.username=%s\nnas.password=%s\nnas.minProtocol=%s\nnas.minFree=%s\n",
		   secret_ref(c->m, s->username_secret) ? secret_ref(c->m, s->username_secret) : "",
		   secret_ref(c->m, s->password_secret) ? secret_ref(c->m, s->password_secret) : "",
		   s->min_protocol ? s->min_protocol : "", s->min_free.text ? s->min_free.text : "");
	return 0;
}

static int nas_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct nas_opts no = NAS_OPTS_INIT;
	struct nas_results res = { 0 };
	int r, warn = 0;

	r = nas_check(c->m, &no, &res, e);
	for (size_t i = 0; i < res.n; i++) {
		const struct nas_result *x = &res.v[i];
		action(c, nas_status_name(x->status), "%s: %s%s%s%s", x->title, x->detail ? x->detail : "",
		       x->hint ? " (hint: " : "", x->hint ? x->hint : "", x->hint ? ")" : "");
		warn += x->status == NAS_WARN;
	}
	if (r == 0)
		snprintf(result, n, "%zu checks passed (%d warnings)", res.n, warn);
	nas_results_free(&res);
	return r;
}

/* ---- preflight: image ----------------------------------------------------------- */

static int schematic_id(struct ctx *c, struct app_err *e)
{
	char hex[65];
	int r;

	if (c->schematic)
		return 0;
	r = talos_schematic_id(c->m, hex, e);
	if (r < 0)
		return r;
	c->schematic = xstrdup(hex);
	return 0;
}

static int image_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	char *pins;
	int r = schematic_id(c, e);

	if (r < 0)
		return r;
	free(c->image_key);
	free(c->image_url);
	free(c->image_file);
	c->image_key = image_pin_key(c->m, c->schematic);
	c->image_url = image_url(c->m, c->schematic);
	{
		char *name = image_cache_name(c->m, c->schematic);
		c->image_file = xasprintf("%s/%s", c->cache_dir, name);
		free(name);
	}
	pins = c->m->talos.image.pins ? model_path(c->m, c->m->talos.image.pins) : NULL;
	if (!pins)
		return app_err_set(e, -EINVAL,
				   "the profile pins no image hashes (talos.image.pins is unset)");
	r = image_pin_lookup(pins, c->image_key, c->image_sha, e);
	if (r == 0)
		r = app_err_set(
		    e, -ENOENT,
		    "image '%s' is not pinned in '%s'; run 'appliance image fetch --trust-on-first-use' "
		    "to record its hash",
		    c->image_key, pins);
	free(pins);
	if (r < 0)
		return r;
	buf_printf(in, "image.key=%s\nimage.url=%s\nimage.sha256=%s\nimage.cache=%s\n", c->image_key,
		   c->image_url, c->image_sha, c->image_file);
	return 0;
}

static void fetch_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct ctx *c = ctx;
	report_progress(c->rep, c->step, done, total);
}

static int image_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct stat st;
	char have[65];
	int r;

	if (stat(c->image_file, &st) == 0) {
		r = image_file_sha256(c->image_file, have, e);
		if (r < 0)
			return r;
		if (strcmp(have, c->image_sha) == 0) {
			action(c, "info", "image %s in the cache (%s), sha256 %s as pinned", c->image_key,
			       c->image_file, c->image_sha);
			snprintf(result, n, "cached %s size %lld", c->image_file, (long long)st.st_size);
			return 0;
		}
		if (!c->apply)
			return app_err_set(e, -EBADMSG, "cached image '%s' has sha256 %s, pinned %s",
					   c->image_file, have, c->image_sha);
		unlink(c->image_file);
	}
	if (!c->apply) {
		action(c, "file", "download %s into %s and verify sha256 %s", c->image_url, c->image_file,
		       c->image_sha);
		return 0;
	}
	{
		struct fetch_opts fo = {
			.url = c->image_url,
			.ca_file = c->o->ca_file,
			.progress = fetch_progress,
			.ctx = c,
		};
		r = mkdir_p(c->cache_dir, 0755, e);
		if (r == 0)
			r = fetch_file(&fo, c->image_file, e);
	}
	if (r < 0)
		return r;
	r = image_file_sha256(c->image_file, have, e);
	if (r < 0)
		return r;
	if (strcmp(have, c->image_sha) != 0) {
		unlink(c->image_file);
		return app_err_set(e, -EBADMSG, "image from '%s' has sha256 %s, pinned %s; removed it",
				   c->image_url, have, c->image_sha);
	}
	if (stat(c->image_file, &st) < 0)
		return app_err_set(e, -errno, "'%s': %s", c->image_file, strerror(errno));
	snprintf(result, n, "cached %s size %lld", c->image_file, (long long)st.st_size);
	return 0;
}

static int image_check(struct ctx *c, const char *result, struct app_err *e)
{
	struct stat st;
	char want[64];

	if (stat(c->image_file, &st) < 0)
		return app_err_set(e, -ESTALE, "cached image '%s' is gone", c->image_file);
	snprintf(want, sizeof(want), "size %lld", (long long)st.st_size);
	if (!strstr(result, want))
		return app_err_set(e, -ESTALE, "cached image '%s' changed size", c->image_file);
	return 0;
}

/* ---- preflight: secrets ---------------------------------------------------------- */

static int secrets_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	for (size_t i = 0; i < c->m->secrets.n; i++)
		buf_printf(in, "secret.%s=%s\n", c->m->secrets.v[i].key, c->m->secrets.v[i].value);
	buf_printf(in, "talos.secrets=%s\n", c->secrets_path);
	return 0;
}

static int secrets_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct talos_bundle b = { 0 };
	struct stat st;
	int r;

	for (size_t i = 0; i < c->m->secrets.n; i++) {
		struct secret s = { 0 };
		r = secret_read(c->m, c->m->secrets.v[i].key, 1, &s, e);
		secret_free(&s);
		if (r < 0)
			return r;
		action(c, "ok", "secret '%s' (%s) is readable", c->m->secrets.v[i].key,
		       c->m->secrets.v[i].value);
	}
	if (stat(c->secrets_path, &st) == 0) {
		r = talos_secrets_load(c->secrets_path, &b, e);
		if (r < 0)
			return r;
		{
			char fp[65];
			talos_secrets_fingerprint(&b, fp);
			if (c->m->talos.ca_fingerprint && strcmp(fp, c->m->talos.ca_fingerprint) != 0) {
				talos_secrets_free(&b);
				return app_err_set(
				    e, -EINVAL,
				    "talos secrets '%s' have CA fingerprint %s, the profile records %s",
				    c->secrets_path, fp, c->m->talos.ca_fingerprint);
			}
			action(c, "ok", "talos secrets '%s' valid (CA fingerprint %s)", c->secrets_path, fp);
		}
		talos_secrets_free(&b);
	} else if (c->m->talos.ca_fingerprint) {
		return app_err_set(
		    e, -ENOENT,
		    "talos secrets '%s' missing, and the profile records CA fingerprint %s: pass the "
		    "site's bundle with --secrets FILE",
		    c->secrets_path, c->m->talos.ca_fingerprint);
	} else {
		action(c, "file", "will generate a new Talos secrets bundle at %s (0600)", c->secrets_path);
	}
	snprintf(result, n, "%zu secrets readable", c->m->secrets.n);
	return 0;
}

/* ---- render/validate config (talos work) ---------------------------------------- */

/* The machine config in memory (c->config, holds secrets) and its digest.
 * A missing bundle is generated here, once, when applying. */
static int config_render(struct ctx *c, struct app_err *e)
{
	struct talos_bundle b = { 0 };
	struct stat st;
	int r;

	r = schematic_id(c, e);
	if (r < 0)
		return r;
	if (stat(c->secrets_path, &st) < 0) {
		if (!c->apply)
			return 1; /* a new bundle: the config is known only once it exists */
		r = talos_secrets_generate(&b, time(NULL), e);
		if (r == 0)
			r = talos_secrets_write(c->secrets_path, &b, false, NULL, e);
		talos_secrets_free(&b);
		if (r < 0)
			return r;
		action(c, "file", "generated a new Talos secrets bundle at %s (0600)", c->secrets_path);
	}
	r = talos_secrets_load(c->secrets_path, &b, e);
	if (r < 0)
		return r;
	if (c->config.data)
		secure_free(c->config.data, c->config.cap);
	memset(&c->config, 0, sizeof(c->config));
	r = talos_config_render(c->m, c->node, &b, c->schematic, &c->config, e);
	talos_secrets_free(&b);
	if (r < 0)
		return r;
	sha256_hex(c->config.data, c->config.len, c->config_sha);
	return 0;
}

static int config_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	const struct model_node *nd = c->node;
	const struct model_talos *t = &c->m->talos;
	int r = config_render(c, e);

	if (r < 0)
		return r;
	/* the config's digest decides; the keys below only name what changed */
	buf_printf(in, "node=%s\nnode.role=%s\nnode.hostname=%s\nnode.network.interface=%s\n", nd->name,
		   nd->role_text ? nd->role_text : "", nd->hostname ? nd->hostname : "",
		   nd->network.interface ? nd->network.interface : "");
	buf_printf(in, "node.network.address=%s\nnode.network.gateway=%s\nsite.cluster=%s\n",
		   nd->network.address ? nd->network.address : "",
		   nd->network.gateway ? nd->network.gateway : "",
		   c->m->site.cluster ? c->m->site.cluster : "");
	buf_printf(in, "talos.version=%s\ntalos.endpoint=%s\ntalos.vip=%s\ntalos.cni=%s\n", t->version,
		   t->endpoint ? t->endpoint : "", t->vip ? t->vip : "", t->cni ? t->cni : "");
	buf_printf(in, "schematic=%s\ntalos.secrets=%s\nconfig.sha256=%s\n", c->schematic, c->secrets_path,
		   r == 1 ? "(new secrets bundle)" : c->config_sha);
	return 0;
}

static char *node_file(struct ctx *c, const char *name)
{
	return xasprintf("%s/%s", c->node_dir, name);
}

static int config_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	char *p, *v;
	struct buf vol = { 0 };
	int r;

	p = node_file(c, "config.yaml");
	v = node_file(c, "metal-iso.iso");
	if (!c->apply) {
		if (c->config.len)
			action(c, "file", "%s (0600, %zu bytes, sha256 %s) and the config volume %s", p,
			       c->config.len, c->config_sha, v);
		else
			action(c, "file", "%s and the config volume %s, from the new secrets bundle", p, v);
		free(p);
		free(v);
		return 0;
	}
	r = write_file_atomic(p, c->config.data, c->config.len, 0600, e);
	if (r == 0)
		r = talos_volume_build(c->config.data, c->config.len, v, e);
	if (r == 0)
		r = read_file(v, 64u << 20, &vol, e);
	if (r == 0) {
		sha256_hex(vol.data, vol.len, c->volume_sha);
		snprintf(result, n, "config sha256 %s, volume %zu bytes sha256 %s", c->config_sha, vol.len,
			 c->volume_sha);
	}
	buf_free(&vol);
	free(p);
	free(v);
	return r;
}

static int file_sha_is(const char *path, const char *want, struct app_err *e)
{
	struct buf b = { 0 };
	char have[65];
	int r = read_file(path, 64u << 20, &b, e);

	if (r < 0) {
		buf_free(&b);
		return app_err_set(e, -ESTALE, "'%s' is gone", path);
	}
	sha256_hex(b.data, b.len, have);
	secure_free(b.data, b.cap);
	if (strcmp(have, want) != 0)
		return app_err_set(e, -ESTALE, "'%s' was changed", path);
	return 0;
}

static int config_check(struct ctx *c, const char *result, struct app_err *e)
{
	const char *w = strstr(result, "volume ");
	char *p = node_file(c, "config.yaml");
	char want[65] = "";
	int r = file_sha_is(p, c->config_sha, e);

	free(p);
	if (w && (w = strstr(w, "sha256 ")))
		snprintf(want, sizeof(want), "%s", w + 7);
	if (r == 0) {
		p = node_file(c, "metal-iso.iso");
		r = file_sha_is(p, want, e);
		free(p);
	}
	return r;
}

/* ---- write image ----------------------------------------------------------------- */

static void disk_inputs(struct buf *in, const char *key, const struct hw_disk *d)
{
	buf_printf(in, "%s.path=%s\n%s.size=%llu\n%s.serial=%s\n%s.model=%s\n", key, disk_name(d), key,
		   (unsigned long long)d->size, key, d->serial ? d->serial : "", key,
		   d->model ? d->model : "");
}

static int need_install(struct ctx *c, struct app_err *e)
{
	return c->install ? 0 : unavailable(e, "the install disk is not resolved");
}

static int write_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	int r = need_install(c, e);

	if (r < 0)
		return r;
	if (!c->image_file)
		return unavailable(e, "no image (preflight-image did not run)");
	disk_inputs(in, "disk", c->install);
	buf_printf(in, "image.sha256=%s\n", c->image_sha);
	return 0;
}

static void write_describe(struct ctx *c)
{
	char sz[32];

	action(c, "write", "%s (%s): the whole disk is overwritten with Talos image %s (sha256 %s)",
	       disk_name(c->install), size_str(c->install->size, sz, sizeof(sz)), c->image_key, c->image_sha);
	for (size_t i = 0; i < c->install->n_parts; i++)
		action(c, "erase", "%s partition %d (%s) is replaced", disk_name(c->install),
		       c->install->parts[i].partno, size_str(c->install->parts[i].size, sz, sizeof(sz)));
}

static void image_progress(void *ctx, const struct image_progress *p)
{
	static const char *const phase_names[] = {
		[IMAGE_PHASE_WRITE] = "writing",
		[IMAGE_PHASE_VERIFY] = "reading back and comparing",
		[IMAGE_PHASE_FINISH] = "moving the backup GPT to the end of the disk",
	};
	struct ctx *c = ctx;

	if ((int)p->phase != c->image_phase &&
	    (size_t)p->phase < sizeof(phase_names) / sizeof(phase_names[0])) {
		c->image_phase = (int)p->phase;
		report_note(c->rep, c->step, "%s", phase_names[p->phase]);
		report_progress_restart(c->rep);
	}
	report_progress(c->rep, c->step, p->out_bytes, p->out_total);
}

static char *image_journal_path(struct ctx *c)
{
	return xasprintf("%s/image-%s.journal", journal_dir(c->j), c->install->name);
}

static int write_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct image_result res = { 0 };
	char *jp = image_journal_path(c);
	struct image_write_opts wo = {
		.source = c->image_file,
		.target = claim_for(c, c->install, DISK_ROLE_INSTALL),
		.sha256 = c->image_sha,
		.journal = jp,
	};
	int r;

	c->disks_touched = true;
	c->image_phase = -1;
	r = image_write(&wo, image_progress, c, &res, e);
	free(jp);
	if (r < 0)
		return r;
	snprintf(result, n, "image %s (%llu bytes) on %s, read back ok", res.image_digest,
		 (unsigned long long)res.image_size, disk_name(c->install));
	return 0;
}

/* The image's partitions are still where the image put them. */
static int write_check(struct ctx *c, const char *result, struct app_err *e)
{
	struct image_info ii;
	struct hw_sig *sigs = NULL;
	struct hw_part *parts = NULL;
	size_t ns = 0, np = 0;
	char *pt = NULL;
	int fd, r;

	r = image_inspect(c->image_file, NULL, &ii, e);
	if (r < 0)
		return r;
	fd = open(c->install->dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return app_err_set(e, -ESTALE, "cannot read '%s': %s", c->install->dev, strerror(errno));
	r = hw_probe_fd(fd, c->install->size, c->install->dev, &sigs, &ns, &parts, &np, &pt, e);
	close(fd);
	if (r == 0) {
		for (unsigned i = 0; i < ii.n_parts && r == 0; i++) {
			bool found = false;
			for (size_t k = 0; k < np; k++)
				found |= (unsigned)parts[k].partno == ii.parts[i].partno &&
					 parts[k].start == ii.parts[i].start &&
					 parts[k].size == ii.parts[i].size;
			if (!found)
				r = app_err_set(e, -ESTALE,
						"'%s' no longer has the image's partition %u (%s)",
						disk_name(c->install), ii.parts[i].partno, ii.parts[i].name);
		}
	}
	hw_sigs_free(sigs, ns);
	hw_parts_free(parts, np);
	free(pt);
	return r;
}

/* ---- config partition (image work: partition.h) --------------------------------- */

static int cpart_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	int r = need_install(c, e);

	if (r < 0)
		return r;
	disk_inputs(in, "disk", c->install);
	return 0;
}

static void cpart_describe(struct ctx *c)
{
	action(c, "partition",
	       "%s: add GPT partition '%s' after the image's last partition, holding %s/metal-iso.iso",
	       disk_name(c->install), PARTITION_CONFIG_NAME, c->node_dir);
}

static char *volume_path(struct ctx *c)
{
	return xasprintf("%s/metal-iso.iso", c->node_dir);
}

static int cpart_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct disk_claim cl = claim_for(c, c->install, DISK_ROLE_INSTALL);
	struct partition_entry pe;
	enum partition_config_action act;
	struct buf vol = { 0 };
	char *vp = volume_path(c), sha[65];
	int fd, r;

	r = read_file(vp, 64u << 20, &vol, e);
	free(vp);
	if (r < 0)
		goto out;
	c->disks_touched = true;
	fd = disk_open_write_inv(&cl, &c->inv, c->install, 0, e);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = partition_config(fd, c->install->dev, vol.len, true, &pe, &act, e);
	if (r == 0 && pwrite(fd, vol.data, vol.len, (off_t)pe.start) != (ssize_t)vol.len)
		r = app_err_set(e, -errno ? -errno : -EIO,
				"cannot write the config volume to '%s' at %llu: %s", disk_name(c->install),
				(unsigned long long)pe.start, strerror(errno));
	if (r == 0 && fsync(fd) < 0)
		r = app_err_set(e, -errno, "cannot sync '%s': %s", disk_name(c->install), strerror(errno));
	close(fd);
	if (r == 0) {
		sha256_hex(vol.data, vol.len, sha);
		snprintf(result, n, "partition %u '%s' at %llu, %llu bytes, volume sha256 %s", pe.partno,
			 PARTITION_CONFIG_NAME, (unsigned long long)pe.start, (unsigned long long)pe.size,
			 sha);
	}
out:
	buf_free(&vol);
	return r;
}

/* The metal-iso partition is there and holds the volume we wrote. */
static int cpart_check(struct ctx *c, const char *result, struct app_err *e)
{
	struct partition_entry pe[16];
	unsigned np = 0;
	struct buf vol = { 0 };
	char *vp = volume_path(c), have[65], want[65];
	const char *w = strstr(result, "sha256 ");
	int fd, r;

	r = read_file(vp, 64u << 20, &vol, e);
	free(vp);
	if (r < 0) {
		buf_free(&vol);
		return -ESTALE;
	}
	sha256_hex(vol.data, vol.len, want);
	if (!w || strcmp(w + 7, want) != 0) {
		buf_free(&vol);
		return app_err_set(e, -ESTALE, "the config volume changed since it was written");
	}
	fd = open(c->install->dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf_free(&vol);
		return app_err_set(e, -ESTALE, "cannot read '%s': %s", disk_name(c->install),
				   strerror(errno));
	}
	r = partition_list(fd, c->install->dev, pe, 16, &np, NULL, e);
	if (r == 0) {
		r = app_err_set(e, -ESTALE, "'%s' has no '%s' partition", disk_name(c->install),
				PARTITION_CONFIG_NAME);
		for (unsigned i = 0; i < np; i++) {
			if (strcmp(pe[i].name, PARTITION_CONFIG_NAME) != 0)
				continue;
			if (pread(fd, vol.data, vol.len, (off_t)pe[i].start) != (ssize_t)vol.len) {
				r = app_err_set(e, -ESTALE, "cannot read '%s' partition %u",
						disk_name(c->install), pe[i].partno);
				break;
			}
			sha256_hex(vol.data, vol.len, have);
			r = strcmp(have, want) == 0
				? 0
				: app_err_set(e, -ESTALE, "'%s' partition %u does not hold the config volume",
					      disk_name(c->install), pe[i].partno);
			break;
		}
	}
	close(fd);
	buf_free(&vol);
	return r < 0 ? -ESTALE : 0;
}

/* ---- wipe ceph disks (disks work: wipe.h) ---------------------------------------- */

static int wipe_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	if (!c->install)
		return unavailable(e, "the node's disks are not resolved");
	for (size_t i = 0; i < c->n_ceph; i++) {
		char key[32];
		snprintf(key, sizeof(key), "ceph%zu", i);
		disk_inputs(in, key, c->ceph[i]);
	}
	return 0;
}

static int wipe_planned(struct ctx *c, struct wipe_plan *p, struct app_err *e)
{
	struct wipe_opts wo = { .unattended = c->o->unattended, .root = c->o->hw_root };

	memset(p, 0, sizeof(*p));
	return wipe_plan_node(c->m, c->node, &c->inv, &wo, p, e);
}

static void wipe_describe(struct ctx *c)
{
	struct wipe_plan p;
	struct app_err e = { 0 };
	char sz[32];

	if (wipe_planned(c, &p, &e) < 0) {
		action(c, "refused", "%s", e.msg);
		wipe_plan_free(&p);
		return;
	}
	for (size_t i = 0; i < p.n; i++) {
		const struct wipe_target *t = &p.v[i];
		for (size_t k = 0; k < t->n; k++)
			/* "signature ceph_bluestore", else the region's own name ("gpt-backup", "rook-1G") */
			action(c, "erase", "%s: %s%s at offset %llu, %s%s", t->path,
			       t->v[k].kind == WIPE_SIGNATURE ? "signature " : "",
			       t->v[k].type ? t->v[k].type : wipe_kind_name(t->v[k].kind),
			       (unsigned long long)t->v[k].offset, size_str(t->v[k].length, sz, sizeof(sz)),
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
	r = wipe_planned(c, &p, e);
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
			return app_err_set(e, -ESTALE, "cannot probe '%s': %s", disk_name(d), d->probe_error);
		if (d->n_sigs || d->pttype)
			return app_err_set(e, -ESTALE, "'%s' carries %s again", disk_name(d),
					   d->n_sigs ? d->sigs[0].type : d->pttype);
	}
	return 0;
}

/* ---- boot order ------------------------------------------------------------------ */

static int boot_inputs(struct ctx *c, struct buf *in, struct app_err *e)
{
	int r = need_install(c, e);

	if (r < 0)
		return r;
	buf_printf(in, "efivars=%s\nuefi=%d\n", c->efivars, efiboot_is_uefi(c->efivars));
	disk_inputs(in, "disk", c->install);
	return 0;
}

static void boot_describe(struct ctx *c)
{
	char order[256] = "";
	struct app_err ignore;

	if (!efiboot_is_uefi(c->efivars)) {
		action(c, "info", "no UEFI variables at %s: BIOS boot; nothing is written", c->efivars);
		return;
	}
	efiboot_order(c->efivars, order, sizeof(order), &ignore);
	action(c, "firmware",
	       "add a boot entry for %s's EFI partition (%s) and put it first in BootOrder (now %s); "
	       "the previous order is kept in %s",
	       disk_name(c->install), EFIBOOT_LOADER, *order ? order : "unset", c->bootorder_record);
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
			    disk_name(c->install));
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
		action(c, "info",
		       "the profile names no local GitOps checkout (gitops.out): nothing to render");
	else
		action(c, "file", "render the GitOps tree for cluster '%s' into %s", c->m->site.cluster,
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
			action(c, "file", "%s/%s/%s (%s)", c->m->gitops.out, t.root, t.files[i].path,
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

static int summary_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	int counts[16] = { 0 };

	for (int i = 0; i < S_SUMMARY; i++)
		counts[c->status[i]]++;
	snprintf(result, n, "%d %s, %d already done, %d to do, %d not available", counts[REPORT_DONE],
		 c->apply ? "done now" : "checked", counts[REPORT_SKIP],
		 counts[REPORT_TODO] + counts[REPORT_REDO] + counts[REPORT_RESUME],
		 counts[REPORT_UNAVAILABLE]);
	if (!c->node)
		return 0;
	for (int i = 0; i < S_SUMMARY; i++)
		if (c->result[i][0])
			report_note(c->rep, c->step, "%-17s %s", plan_step_names[i], c->result[i]);
	if (c->apply && c->install && counts[REPORT_UNAVAILABLE] == 0 && counts[REPORT_FAILED] == 0) {
		report_note(c->rep, c->step,
			    "next boot: Talos from %s reads its config from the 'metal-iso' "
			    "partition, installs itself and joins cluster '%s'",
			    disk_name(c->install), c->m->site.cluster);
		report_note(c->rep, c->step,
			    "follow it: 'appliance bootstrap %s --secrets %s --node %s' once the node "
			    "answers on the Talos API (port 50000)",
			    c->m->path, c->secrets_path, c->node->name);
	}
	return 0;
}

/* ---- the table -------------------------------------------------------------------- */

static const struct step steps[N_STEPS] = {
	[S_IDENTIFY] = { .title = "identify this node", .kind = KIND_FACT, .run = identify_run },
	[S_INVENTORY] = { .title = "inventory disks", .kind = KIND_FACT, .run = inventory_run },
	[S_RESOLVE] = { .title = "resolve the node's disks", .kind = KIND_FACT, .run = resolve_run },
	[S_NAS] = { .title = "check the NAS", .kind = KIND_CHECK, .inputs = nas_inputs, .run = nas_run },
	[S_IMAGE] = { .title = "image available with its pinned hash",
		      .kind = KIND_CHECK,
		      .writes = true,
		      .anytime = true,
		      .inputs = image_inputs,
		      .run = image_run,
		      .check = image_check },
	[S_SECRETS] = { .title = "secrets readable",
			.kind = KIND_CHECK,
			.inputs = secrets_inputs,
			.run = secrets_run },
	[S_CONFIG] = { .title = "render and validate the machine config",
		       .kind = KIND_CHECK,
		       .writes = true,
		       .deps = BIT(S_SECRETS),
		       .inputs = config_inputs,
		       .run = config_run,
		       .check = config_check },
	[S_WRITE] = { .title = "write the Talos image",
		      .kind = KIND_CHANGE,
		      .anytime = true,
		      .deps = BIT(S_IMAGE),
		      .inputs = write_inputs,
		      .describe = write_describe,
		      .run = write_run,
		      .check = write_check },
	[S_CONFIG_PART] = { .title = "add the metal-iso config partition",
			    .kind = KIND_CHANGE,
			    .deps = BIT(S_WRITE) | BIT(S_CONFIG),
			    .inputs = cpart_inputs,
			    .describe = cpart_describe,
			    .run = cpart_run,
			    .check = cpart_check },
	[S_WIPE] = { .title = "prepare the Ceph disks",
		     .kind = KIND_CHANGE,
		     .anytime = true,
		     .inputs = wipe_inputs,
		     .describe = wipe_describe,
		     .run = wipe_run,
		     .check = wipe_check },
	[S_BOOT] = { .title = "set the firmware boot order",
		     .kind = KIND_CHANGE,
		     .deps = BIT(S_WRITE),
		     .inputs = boot_inputs,
		     .describe = boot_describe,
		     .run = boot_run,
		     .check = boot_check },
	[S_GITOPS] = { .title = "render the GitOps tree",
		       .kind = KIND_CHANGE,
		       .inputs = gitops_inputs,
		       .describe = gitops_describe,
		       .run = gitops_run,
		       .check = gitops_check },
	[S_SUMMARY] = { .title = "summary", .kind = KIND_FACT, .run = summary_run },
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
	const struct step *s = &steps[i];
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
	const struct step *s = &steps[i];
	struct app_err ce = { 0 };
	int r;

	detail[0] = '\0';
	r = journal_get(c->j, plan_step_names[i], en, e);
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
	const struct step *s = &steps[i];
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
	for (int i = 0; i < N_STEPS; i++) {
		if (stop_requested(o)) {
			out->stopped = true;
			report_step_end(c.rep, plan_step_names[i], REPORT_STOPPED,
					"interrupted; re-run the same command to resume");
			r = app_err_set(e, -EINTR, "interrupted before step '%s'; re-run to resume",
					plan_step_names[i]);
			break;
		}
		r = do_step(&c, i, out, e);
		if (i == S_IDENTIFY && !c.node && r == 0)
			r = app_err_set(e, -ENOSYS, "identify: no node");
		if (r < 0) {
			out->refused = !c.disks_touched;
			break;
		}
		if (i == S_IDENTIFY && c.node)
			c.node_dir = xasprintf("%s/nodes/%s", o->state_dir, c.node->name);
		if (i == S_IDENTIFY && !c.node)
			break;
	}
	if (r == 0 && out->unavailable)
		r = app_err_set(e, -ENOSYS, "%d step%s not available in this build", out->unavailable,
				out->unavailable == 1 ? " is" : "s are");
	ctx_free(&c);
	journal_close(c.j);
	return r;
}
