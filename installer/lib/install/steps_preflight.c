/* The preflight steps: read-only checks that run in plan too (the NAS, the
 * pinned image in the cache, the secrets) and the machine config rendered and
 * validated in memory (written to the state folder only when applying). */
#include "install/steps_preflight.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "image/cache.h"
#include "image/image.h"
#include "install/plan.h"
#include "nas/nas.h"
#include "net/fetch.h"
#include "profile/model.h"
#include "profile/secret.h"
#include "talos/talos_config.h"
#include "talos/talos_identity.h"
#include "talos/talos_schematic.h"
#include "talos/talos_secrets.h"
#include "talos/talos_volume.h"

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

/* With a pre-rendered config (--config, PXE payloads) a node gets only the
 * secrets its own config carries: a worker has no NAS credentials to check with. */
static bool secret_delivered(struct ctx *c, const char *name)
{
	struct secret s = { 0 };
	struct app_err ignore = { 0 };
	int r = name ? secret_read(c->m, name, 1, &s, &ignore) : -ENOENT;

	secret_free(&s);
	return r == 0;
}

static int nas_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct nas_opts no = NAS_OPTS_INIT;
	/* plan writes nothing: the library-write probe runs only when applying */
	no.read_only = !c->apply;
	struct nas_results res = { 0 };
	int r, warn = 0;

	if (c->m->install.offline) {
		step_action(c, "skip",
			    "the NAS at %s is not checked: install.offline is true (the site's "
			    "machines cannot reach it while they install)",
			    c->m->nas.address);
		snprintf(result, n, "skipped: install.offline");
		return 0;
	}
	if (c->o->config && !(secret_delivered(c, c->m->nas.username_secret) &&
			      secret_delivered(c, c->m->nas.password_secret))) {
		step_action(c, "skip",
			    "the NAS credentials did not come with this node's config (only a node whose "
			    "config carries them gets them): the NAS is checked on the nodes that do");
		snprintf(result, n, "not checked here (no NAS credentials delivered)");
		return 0;
	}
	r = nas_check(c->m, &no, &res, e);
	for (size_t i = 0; i < res.n; i++) {
		const struct nas_result *x = &res.v[i];
		step_action(c, nas_status_name(x->status), "%s: %s%s%s%s", x->title,
			    x->detail ? x->detail : "", x->hint ? " (hint: " : "", x->hint ? x->hint : "",
			    x->hint ? ")" : "");
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

/* DIR/<the image's cache name>. Caller frees. */
static char *image_in(struct ctx *c, const char *dir)
{
	char *name = image_cache_name(c->m, c->schematic), *p = xasprintf("%s/%s", dir, name);

	free(name);
	return p;
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
	/* the stick's copy (--image-dir) when there is one, else the cache's */
	c->image_file = c->o->image_dir ? image_in(c, c->o->image_dir) : NULL;
	c->image_local = c->image_file && access(c->image_file, R_OK) == 0;
	if (!c->image_local) {
		free(c->image_file);
		c->image_file = image_in(c, c->cache_dir);
	}
	pins = c->m->talos.image.pins ? model_path(c->m, c->m->talos.image.pins) : NULL;
	if (!pins)
		return app_err_set(e, -EINVAL,
				   "the profile pins no image hashes (talos.image.pins is unset)");
	r = image_pin_lookup(pins, c->image_key, c->image_sha, e);
	if (r == 0)
		r = app_err_set(
		    e, -ENOENT,
		    "image '%s' is not pinned in '%s'; record its hash with: appliance image fetch %s "
		    "--cache %s --trust-on-first-use",
		    c->image_key, pins, c->o->profile_args ? c->o->profile_args : c->m->path, c->cache_dir);
	free(pins);
	if (r < 0)
		return r;
	buf_printf(in, "image.key=%s\nimage.url=%s\nimage.sha256=%s\nimage.cache=%s\noffline=%d\n",
		   c->image_key, c->image_url, c->image_sha, c->image_file, c->m->install.offline);
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

	if (c->image_local) {
		/* the stick's copy: used in place when it matches the pin, never changed */
		r = image_file_sha256(c->image_file, have, e);
		if (r < 0)
			return r;
		if (strcmp(have, c->image_sha) == 0 && stat(c->image_file, &st) == 0) {
			step_action(c, "info", "image %s from %s, sha256 %s as pinned: no download",
				    c->image_key, c->image_file, c->image_sha);
			snprintf(result, n, "source %s size %lld", c->image_file, (long long)st.st_size);
			return 0;
		}
		step_action(c, "warn", "image '%s' has sha256 %s, pinned %s: not used", c->image_file, have,
			    c->image_sha);
		free(c->image_file);
		c->image_file = image_in(c, c->cache_dir);
		c->image_local = false;
	}
	if (stat(c->image_file, &st) == 0) {
		r = image_file_sha256(c->image_file, have, e);
		if (r < 0)
			return r;
		if (strcmp(have, c->image_sha) == 0) {
			step_action(c, "info", "image %s in the cache (%s), sha256 %s as pinned",
				    c->image_key, c->image_file, c->image_sha);
			snprintf(result, n, "cached %s size %lld", c->image_file, (long long)st.st_size);
			return 0;
		}
		if (!c->apply)
			return app_err_set(e, -EBADMSG, "cached image '%s' has sha256 %s, pinned %s",
					   c->image_file, have, c->image_sha);
		unlink(c->image_file);
	}
	if (c->m->install.offline)
		return app_err_set(e, -ENOENT,
				   "install.offline is true and image '%s' (sha256 %s) is neither on the "
				   "stick (%s) nor in the cache (%s); put it on the stick (iso/build.sh "
				   "--image FILE) or into the cache (appliance image fetch)",
				   c->image_key, c->image_sha, c->o->image_dir ? c->o->image_dir : "none",
				   c->cache_dir);
	if (!c->apply) {
		step_action(c, "file", "download %s into %s and verify sha256 %s", c->image_url,
			    c->image_file, c->image_sha);
		return 0;
	}
	r = image_cache_get(
	    &c->m->talos.image,
	    &(struct fetch_opts){
		.url = c->image_url, .ca_file = c->o->ca_file, .progress = fetch_progress, .ctx = c },
	    c->image_file, c->image_sha, NULL, e);
	if (r < 0)
		return r;
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
	if (c->o->config)
		buf_printf(in, "talos.config=%s\n", c->o->config);
	else
		buf_printf(in, "talos.secrets=%s\n", c->secrets_path);
	return 0;
}

/* --config: the secrets that came with the node's config, and the config itself. */
static int secrets_run_delivered(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct buf cfg = { 0 };
	size_t got = 0;
	char sha[65];
	int r;

	for (size_t i = 0; i < c->m->secrets.n; i++) {
		const char *k = c->m->secrets.v[i].key;
		if (secret_delivered(c, k)) {
			step_action(c, "ok", "secret '%s' (%s) is readable", k, c->m->secrets.v[i].value);
			got++;
		} else {
			step_action(c, "skip",
				    "secret '%s' not delivered to this node (its config does not need it)",
				    k);
		}
	}
	r = read_file(c->o->config, 4u << 20, &cfg, e);
	if (r == 0 && cfg.len == 0)
		r = app_err_set(e, -EINVAL, "machine config '%s' is empty", c->o->config);
	if (r == 0) {
		sha256_hex(cfg.data, cfg.len, sha);
		step_action(c, "ok", "machine config '%s' rendered on the admin machine (sha256 %s)",
			    c->o->config, sha);
		snprintf(result, n, "%zu of %zu secrets delivered; pre-rendered machine config", got,
			 c->m->secrets.n);
	}
	if (cfg.data)
		secure_free(cfg.data, cfg.cap);
	return r;
}

/* The Talos bundle: valid and the profile's cluster, or one install may create. */
static int bundle_check(struct ctx *c, struct app_err *e)
{
	struct talos_bundle b = { 0 };
	struct stat st;
	char fp[65];
	int r;

	if (stat(c->secrets_path, &st) != 0) {
		r = talos_identity_may_create(c->m, c->secrets_path, c->o->new_cluster, e);
		if (r == 0)
			step_action(c, "file", "will generate a new Talos secrets bundle at %s (0600)",
				    c->secrets_path);
		return r;
	}
	r = talos_secrets_load(c->secrets_path, &b, e);
	if (r == 0)
		r = talos_identity_check(c->m, c->secrets_path, &b, c->o->new_cluster, e);
	if (r == 0)
		talos_secrets_fingerprint(&b, fp);
	talos_secrets_free(&b);
	if (r == 0)
		step_action(c, "ok", "talos secrets '%s' valid (CA fingerprint %s)", c->secrets_path, fp);
	return r;
}

/* Every secret and the bundle are checked, each problem a 'fail' row, so one run
 * names every missing one (not one per run); the step's error is the first. */
static int secrets_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	struct app_err first = { 0 };
	size_t bad = 0;

	if (c->o->config)
		return secrets_run_delivered(c, result, n, e);
	for (size_t i = 0; i < c->m->secrets.n; i++) {
		struct secret s = { 0 };
		int r = secret_read(c->m, c->m->secrets.v[i].key, 1, &s, e);
		secret_free(&s);
		if (r < 0) {
			step_action(c, "fail", "%s", e->msg);
			if (!bad++)
				first = *e;
			continue;
		}
		step_action(c, "ok", "secret '%s' (%s) is readable", c->m->secrets.v[i].key,
			    c->m->secrets.v[i].value);
	}
	if (bundle_check(c, e) < 0) {
		step_action(c, "fail", "%s", e->msg);
		if (!bad++)
			first = *e;
	}
	if (bad == 1)
		*e = first;
	else if (bad)
		return app_err_set(e, first.code, "%s (and %zu more problem%s in this step)", first.msg,
				   bad - 1, bad > 2 ? "s" : "");
	if (bad)
		return e->code;
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
	if (c->o->config) {
		/* rendered on the admin machine (appliance pxe --secrets): taken as it is */
		if (c->config.data)
			secure_free(c->config.data, c->config.cap);
		memset(&c->config, 0, sizeof(c->config));
		r = read_file(c->o->config, 4u << 20, &c->config, e);
		if (r == 0 && c->config.len == 0)
			r = app_err_set(e, -EINVAL, "machine config '%s' is empty", c->o->config);
		if (r == 0)
			sha256_hex(c->config.data, c->config.len, c->config_sha);
		return r;
	}
	if (stat(c->secrets_path, &st) < 0) {
		if (!c->apply)
			return 1; /* a new bundle: the config is known only once it exists */
		r = talos_identity_may_create(c->m, c->secrets_path, c->o->new_cluster, e);
		if (r == 0)
			r = talos_secrets_generate(&b, time(NULL), e);
		if (r == 0)
			r = talos_secrets_write(c->secrets_path, &b, false, NULL, e);
		talos_secrets_free(&b);
		if (r < 0)
			return r;
		step_action(c, "file", "generated a new Talos secrets bundle at %s (0600)", c->secrets_path);
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
	buf_printf(in, "schematic=%s\ntalos.secrets=%s\nconfig.sha256=%s\n", c->schematic,
		   c->o->config ? c->o->config : c->secrets_path,
		   r == 1 ? "(new secrets bundle)" : c->config_sha);
	return 0;
}

static int config_run(struct ctx *c, char *result, size_t n, struct app_err *e)
{
	char *p, *v;
	struct buf vol = { 0 };
	int r;

	p = step_node_file(c, "config.yaml");
	v = step_node_file(c, "metal-iso.iso");
	if (!c->apply) {
		if (c->config.len)
			step_action(c, "file", "%s (0600, %zu bytes, sha256 %s) and the config volume %s", p,
				    c->config.len, c->config_sha, v);
		else
			step_action(c, "file", "%s and the config volume %s, from the new secrets bundle", p,
				    v);
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
	char *p = step_node_file(c, "config.yaml");
	char want[65] = "";
	int r = file_sha_is(p, c->config_sha, e);

	free(p);
	if (w && (w = strstr(w, "sha256 ")))
		snprintf(want, sizeof(want), "%s", w + 7);
	if (r == 0) {
		p = step_node_file(c, "metal-iso.iso");
		r = file_sha_is(p, want, e);
		free(p);
	}
	return r;
}

/* ---- the rows --------------------------------------------------------------------- */

const struct step step_nas = {
	.title = "check the NAS", .kind = KIND_CHECK, .inputs = nas_inputs, .run = nas_run
};
const struct step step_image = { .title = "image available with its pinned hash",
				 .kind = KIND_CHECK,
				 .writes = true,
				 .anytime = true,
				 .inputs = image_inputs,
				 .run = image_run,
				 .check = image_check };
const struct step step_secrets = {
	.title = "secrets readable", .kind = KIND_CHECK, .inputs = secrets_inputs, .run = secrets_run
};
const struct step step_config = { .needs = BIT(S_IDENTIFY) | BIT(S_SECRETS),
				  .title = "render and validate the machine config",
				  .kind = KIND_CHECK,
				  .writes = true,
				  .deps = BIT(S_SECRETS),
				  .inputs = config_inputs,
				  .run = config_run,
				  .check = config_check };
