/* Day-2 Talos API calls. See talosops.h for the messages. */
#include "net/talosops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/ytree.h"
#include "net/pb.h"

/* How to read the X of a { repeated X messages = 1 } reply. */
struct each {
	talosapi_field_fn one_field;
	void *ud;
};

static int copy_str(char *dst, size_t n, const struct pb_field *f)
{
	size_t l = f->len < n - 1 ? f->len : n - 1;

	memcpy(dst, f->data, l);
	dst[l] = '\0';
	return 0;
}

static int on_reply(const void *msg, size_t len, void *ud, struct app_err *e)
{
	struct each *ea = ud;

	return talosapi_each_reply(msg, len, ea->one_field, ea->ud, e);
}

static int call(const struct talosapi_node *n, const struct talosapi_retry *r, const char *path,
		const struct buf *req, struct each *ea, bool repeat_safe, struct app_err *e)
{
	struct talosapi_call c = {
		.path = path,
		.req = req && req->data ? req->data : "",
		.req_len = req ? req->len : 0,
		.fn = on_reply,
		.ud = ea,
		.repeat_safe_after_timeout = repeat_safe,
	};

	return talosapi_call(n, r, &c, e);
}

/* A call to an API a node may not have (an older apid, an RPC Talos left out):
 * UNIMPLEMENTED comes back as -ENOSYS, which callers treat as "not here". */
static int call_optional(const struct talosapi_node *n, const struct talosapi_retry *r,
			 struct talosapi_call *c, struct app_err *e)
{
	int rc = talosapi_call(n, r, c, e);

	return rc < 0 && c->st.code == GRPC_UNIMPLEMENTED ? -ENOSYS : rc;
}

/* ---- Version -------------------------------------------------------------- */

struct ver {
	char *tag;
	size_t n;
	bool seen;
};

static int ver_field(void *ud, const struct pb_field *f, struct app_err *e)
{
	struct ver *v = ud;
	struct pb r;
	struct pb_field g;
	int k;

	if (f->num != 2 || f->wire != 2)
		return 0;
	r = pb_reader(f->data, f->len);
	while ((k = pb_next(&r, &g)) > 0)
		if (g.num == 1 && g.wire == 2) {
			copy_str(v->tag, v->n, &g);
			v->seen = true;
		}
	return k < 0 ? app_err_set(e, -EPROTO, "malformed VersionInfo") : 0;
}

int talosops_version(const struct talosapi_node *n, const struct talosapi_retry *r, char *tag, size_t n_tag,
		     struct app_err *e)
{
	struct ver v = { tag, n_tag, false };
	struct each ea = { ver_field, &v };
	int rc;

	tag[0] = '\0';
	rc = call(n, r, "/machine.MachineService/Version", NULL, &ea, true, e);
	if (rc == 0 && !v.seen)
		rc = app_err_set(e, -EPROTO, "%s: Version reply carries no version tag", n->host);
	return rc;
}

/* ---- ServiceList ---------------------------------------------------------- */

static int svc_field(void *ud, const struct pb_field *f, struct app_err *e)
{
	struct talosops_services *s = ud;
	struct talosops_service *x;
	struct pb r;
	struct pb_field g;
	int k;

	if (f->num != 2 || f->wire != 2)
		return 0;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	x = &s->v[s->n++];
	memset(x, 0, sizeof(*x));
	x->health_unknown = true;
	r = pb_reader(f->data, f->len);
	while ((k = pb_next(&r, &g)) > 0) {
		if (g.num == 1 && g.wire == 2)
			copy_str(x->id, sizeof(x->id), &g);
		else if (g.num == 2 && g.wire == 2)
			copy_str(x->state, sizeof(x->state), &g);
		else if (g.num == 4 && g.wire == 2) {
			struct pb h = pb_reader(g.data, g.len);
			struct pb_field hf;
			int k2;

			x->health_unknown = false;
			while ((k2 = pb_next(&h, &hf)) > 0) {
				if (hf.num == 1 && hf.wire == 0)
					x->health_unknown = hf.v != 0;
				else if (hf.num == 2 && hf.wire == 0)
					x->healthy = hf.v != 0;
				else if (hf.num == 3 && hf.wire == 2)
					copy_str(x->message, sizeof(x->message), &hf);
			}
			if (k2 < 0)
				return app_err_set(e, -EPROTO, "malformed ServiceHealth");
		}
	}
	return k < 0 ? app_err_set(e, -EPROTO, "malformed ServiceInfo") : 0;
}

int talosops_services(const struct talosapi_node *n, const struct talosapi_retry *r,
		      struct talosops_services *ret, struct app_err *e)
{
	struct each ea = { svc_field, ret };
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = call(n, r, "/machine.MachineService/ServiceList", NULL, &ea, true, e);
	if (rc < 0)
		talosops_services_free(ret);
	return rc;
}

void talosops_services_free(struct talosops_services *s)
{
	if (!s)
		return;
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* machine_status.go getReadinessChecks: requiredServices, control planes
 * from the second row on. */
static const char *const required_services[] = { "apid", "machined", "kubelet", "etcd", "trustd" };
#define REQUIRED_WORKER 3

static void add_problem(struct buf *out, size_t *n, const char *id, const char *state, const char *msg)
{
	buf_printf(out, "%s%s (%s%s%s)", *n ? ", " : "", id, state, msg[0] ? ": " : "", msg);
	(*n)++;
}

void talosops_services_judge(const struct talosops_services *s, bool controlplane, struct talosops_verdict *v,
			     struct buf *out)
{
	size_t n_req =
	    controlplane ? sizeof(required_services) / sizeof(required_services[0]) : REQUIRED_WORKER;

	memset(v, 0, sizeof(*v));
	buf_puts(out, "");
	for (size_t i = 0; i < s->n; i++) {
		const struct talosops_service *x = &s->v[i];

		/* Talos keeps a Service resource only for a running service
		 * (controllers/v1alpha1/service.go) */
		if (strcmp(x->state, "Running") != 0)
			continue;
		if (x->health_unknown)
			v->unknown++;
		else if (x->healthy)
			v->healthy++;
		else
			add_problem(out, &v->problems, x->id, x->state, x->message);
	}
	for (size_t k = 0; k < n_req; k++) {
		const struct talosops_service *x = NULL;

		for (size_t i = 0; i < s->n && !x; i++)
			if (strcmp(s->v[i].id, required_services[k]) == 0)
				x = &s->v[i];
		if (!x)
			add_problem(out, &v->problems, required_services[k], "not listed", "");
		else if (strcmp(x->state, "Running") != 0)
			add_problem(out, &v->problems, x->id, x->state[0] ? x->state : "no state",
				    x->health_unknown ? "" : x->message);
	}
}

/* ---- EtcdMemberList ------------------------------------------------------- */

static int member_field(void *ud, const struct pb_field *f, struct app_err *e)
{
	struct talosops_members *m = ud;
	struct talosops_member *x;
	struct pb r;
	struct pb_field g;
	int k;

	if (f->num != 3 || f->wire != 2)
		return 0;
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	x = &m->v[m->n++];
	memset(x, 0, sizeof(*x));
	r = pb_reader(f->data, f->len);
	while ((k = pb_next(&r, &g)) > 0) {
		if (g.num == 2 && g.wire == 0)
			x->id = g.v;
		else if (g.num == 3 && g.wire == 2)
			copy_str(x->hostname, sizeof(x->hostname), &g);
		else if (g.num == 6 && g.wire == 0)
			x->learner = g.v != 0;
	}
	return k < 0 ? app_err_set(e, -EPROTO, "malformed EtcdMember") : 0;
}

int talosops_etcd_members(const struct talosapi_node *n, const struct talosapi_retry *r,
			  struct talosops_members *ret, struct app_err *e)
{
	struct each ea = { member_field, ret };
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = call(n, r, "/machine.MachineService/EtcdMemberList", NULL, &ea, true, e);
	if (rc < 0)
		talosops_members_free(ret);
	return rc;
}

void talosops_members_free(struct talosops_members *m)
{
	if (!m)
		return;
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* ---- ApplyConfiguration --------------------------------------------------- */

static const char *const mode_names[] = {
	[TALOSOPS_MODE_REBOOT] = "reboot",
	[TALOSOPS_MODE_AUTO] = "auto",
	[TALOSOPS_MODE_NO_REBOOT] = "no-reboot",
	[TALOSOPS_MODE_STAGED] = "staged",
	[TALOSOPS_MODE_TRY] = "try",
};

int talosops_mode_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *talosops_mode_name(int mode)
{
	if (mode < 0 || (size_t)mode >= sizeof(mode_names) / sizeof(mode_names[0]))
		return "unknown";
	return mode_names[mode];
}

static int apply_field(void *ud, const struct pb_field *f, struct app_err *e)
{
	struct talosops_applied *a = ud;

	(void)e;
	if (f->num == 2 && f->wire == 2) {
		size_t l = a->warnings ? strlen(a->warnings) : 0;

		a->warnings = xrealloc(a->warnings, l + f->len + 2);
		if (l)
			a->warnings[l++] = '\n';
		memcpy(a->warnings + l, f->data, f->len);
		a->warnings[l + f->len] = '\0';
	} else if (f->num == 3 && f->wire == 0) {
		a->mode = (int)f->v;
	} else if (f->num == 4 && f->wire == 2) {
		free(a->details);
		a->details = xstrndup((const char *)f->data, f->len);
	}
	return 0;
}

static int apply_call(const struct talosapi_node *n, const struct talosapi_retry *r, const void *config,
		      size_t len, int mode, long try_s, bool dry_run, struct talosops_applied *ret,
		      struct app_err *e)
{
	struct buf req = { 0 };
	struct each ea = { apply_field, ret };
	int rc;

	memset(ret, 0, sizeof(*ret));
	pb_put_bytes(&req, 1, config, len);
	pb_put_uint(&req, 4, (uint64_t)mode);
	pb_put_bool(&req, 5, dry_run);
	if (try_s > 0) {
		struct buf dur = { 0 };

		pb_put_uint(&dur, 1, (uint64_t)try_s);
		pb_put_bytes(&req, 6, dur.data, dur.len);
		buf_free(&dur);
	}
	/* a dry run changes nothing, so repeating one is safe; a real apply is not
	 * repeated after a timeout (it may have started a reboot) */
	rc = call(n, r, "/machine.MachineService/ApplyConfiguration", &req, &ea, dry_run, e);
	secure_free(req.data, req.cap);
	if (rc == 0) {
		if (!ret->details)
			ret->details = xstrdup("");
		if (!ret->warnings)
			ret->warnings = xstrdup("");
	} else {
		talosops_applied_free(ret);
	}
	return rc;
}

int talosops_apply(const struct talosapi_node *n, const struct talosapi_retry *r, const void *config,
		   size_t len, int mode, bool dry_run, struct talosops_applied *ret, struct app_err *e)
{
	return apply_call(n, r, config, len, mode, 0, dry_run, ret, e);
}

int talosops_apply_try(const struct talosapi_node *n, const struct talosapi_retry *r, const void *config,
		       size_t len, long timeout_s, bool dry_run, struct talosops_applied *ret,
		       struct app_err *e)
{
	return apply_call(n, r, config, len, TALOSOPS_MODE_TRY, timeout_s, dry_run, ret, e);
}

void talosops_applied_free(struct talosops_applied *a)
{
	if (!a)
		return;
	free(a->details);
	free(a->warnings);
	a->details = a->warnings = NULL;
}

/* ---- Upgrade, Reboot ------------------------------------------------------ */

struct ack {
	char *s;
	size_t n;
};

static int ack_field(void *ud, const struct pb_field *f, struct app_err *e)
{
	struct ack *a = ud;

	(void)e;
	if (f->num == 2 && f->wire == 2 && a->n)
		copy_str(a->s, a->n, f);
	return 0;
}

int talosops_upgrade(const struct talosapi_node *n, const struct talosapi_retry *r, const char *image,
		     bool stage, bool force, char *ack, size_t n_ack, struct app_err *e)
{
	struct buf req = { 0 };
	struct ack a = { ack, n_ack };
	struct each ea = { ack_field, &a };
	int rc;

	if (n_ack)
		ack[0] = '\0';
	pb_put_string(&req, 1, image);
	pb_put_bool(&req, 3, stage);
	pb_put_bool(&req, 4, force);
	rc = call(n, r, "/machine.MachineService/Upgrade", &req, &ea, false, e);
	buf_free(&req);
	/* v1alpha1_server.go Upgrade -> tryLockUpgradeMutex: etcd's
	 * concurrency.ErrLocked while another upgrade's checks hold the lock */
	if (rc < 0 && e && strstr(e->msg, "failed to acquire upgrade mutex"))
		rc = -EBUSY;
	return rc;
}

int talosops_reboot(const struct talosapi_node *n, const struct talosapi_retry *r, struct app_err *e)
{
	struct each ea = { NULL, NULL };

	return call(n, r, "/machine.MachineService/Reboot", NULL, &ea, false, e);
}

/* ---- ImagePull ------------------------------------------------------------ */

int talosops_image_pull(const struct talosapi_node *n, const struct talosapi_retry *r, enum talosops_ns ns,
			const char *ref, struct app_err *e)
{
	struct buf req = { 0 };
	struct each ea = { NULL, NULL };
	struct talosapi_call c = {
		.path = "/machine.MachineService/ImagePull",
		.fn = on_reply,
		.ud = &ea,
		/* a repeat of a pull skips what is already pulled */
		.repeat_safe_after_timeout = true,
	};
	int rc;

	pb_put_uint(&req, 1, (uint64_t)ns);
	pb_put_string(&req, 2, ref);
	c.req = req.data;
	c.req_len = req.len;
	rc = call_optional(n, r, &c, e);
	buf_free(&req);
	return rc;
}

/* ---- Read ----------------------------------------------------------------- */

struct rd {
	struct buf *out;
	size_t max;
};

static int on_read(const void *msg, size_t len, void *ud, struct app_err *e)
{
	struct rd *d = ud;

	if (d->out->len + len > d->max)
		return app_err_set(e, -EMSGSIZE, "file is larger than %zu bytes", d->max);
	return talosapi_decode_data(msg, len, d->out, e);
}

static void rd_reset(void *ud)
{
	struct rd *d = ud;

	d->out->len = 0;
}

int talosops_read(const struct talosapi_node *n, const struct talosapi_retry *r, const char *path, size_t max,
		  struct buf *out, struct app_err *e)
{
	struct buf req = { 0 };
	struct rd d = { out, max };
	struct talosapi_call c = {
		.path = "/machine.MachineService/Read",
		.fn = on_read,
		.ud = &d,
		.reset = rd_reset,
		.repeat_safe_after_timeout = true,
	};
	int rc;

	pb_put_string(&req, 1, path);
	c.req = req.data;
	c.req_len = req.len;
	rc = talosapi_call(n, r, &c, e);
	buf_free(&req);
	if (rc == 0 && !out->data)
		buf_append(out, "", 0);
	return rc;
}

/* ---- Time ----------------------------------------------------------------- */

struct tm_reply {
	char *server;
	size_t n;
	long long local_ms, remote_ms;
	bool have_local, have_remote;
};

static int ts_ms(const struct pb_field *f, long long *ms)
{
	struct pb r = pb_reader(f->data, f->len);
	struct pb_field g;
	long long s = 0, ns = 0;
	int k;

	while ((k = pb_next(&r, &g)) > 0) {
		if (g.num == 1 && g.wire == 0)
			s = (long long)g.v;
		else if (g.num == 2 && g.wire == 0)
			ns = (long long)(int32_t)g.v;
	}
	*ms = s * 1000 + ns / 1000000;
	return k;
}

static int time_field(void *ud, const struct pb_field *f, struct app_err *e)
{
	struct tm_reply *t = ud;

	if (f->num == 2 && f->wire == 2) {
		copy_str(t->server, t->n, f);
	} else if ((f->num == 3 || f->num == 4) && f->wire == 2) {
		if (ts_ms(f, f->num == 3 ? &t->local_ms : &t->remote_ms) < 0)
			return app_err_set(e, -EPROTO, "malformed Timestamp");
		if (f->num == 3)
			t->have_local = true;
		else
			t->have_remote = true;
	}
	return 0;
}

int talosops_time(const struct talosapi_node *n, const struct talosapi_retry *r, char *server,
		  size_t n_server, long long *offset_ms, struct app_err *e)
{
	struct tm_reply t = { server, n_server, 0, 0, false, false };
	struct each ea = { time_field, &t };
	int rc;

	server[0] = '\0';
	rc = call(n, r, "/time.TimeService/Time", NULL, &ea, true, e);
	if (rc < 0)
		return rc;
	if (!t.have_local || !t.have_remote)
		return app_err_set(e, -EPROTO, "%s: Time reply lacks localtime or remotetime", n->host);
	*offset_ms = t.remote_ms - t.local_ms;
	return 0;
}

/* ---- COSI State/List ------------------------------------------------------- */

struct cosi_list {
	struct talosops_resources *out;
};

static int cosi_sub(const uint8_t *data, size_t len, uint32_t want, const uint8_t **v, size_t *n)
{
	struct pb r = pb_reader(data, len);
	struct pb_field f;
	int k;

	*v = NULL;
	*n = 0;
	while ((k = pb_next(&r, &f)) == 1)
		if (f.num == want && f.wire == 2) {
			*v = f.data;
			*n = f.len;
		}
	return k;
}

static int on_cosi(const void *msg, size_t len, void *ud, struct app_err *e)
{
	struct cosi_list *l = ud;
	const uint8_t *res, *md, *spec, *id, *yml;
	size_t n_res, n_md, n_spec, n_id, n_yml;
	struct talosops_resource *it;

	/* ListResponse { Resource resource = 1 }; Resource { Metadata metadata
	 * = 1; Spec spec = 2 }; Metadata { ...; string id = 3 }; Spec { bytes
	 * proto_spec = 1; string yaml_spec = 2 } */
	if (cosi_sub(msg, len, 1, &res, &n_res) < 0 || !res || cosi_sub(res, n_res, 1, &md, &n_md) < 0 ||
	    cosi_sub(res, n_res, 2, &spec, &n_spec) < 0 || !md || cosi_sub(md, n_md, 3, &id, &n_id) < 0 ||
	    (spec && cosi_sub(spec, n_spec, 2, &yml, &n_yml) < 0))
		return app_err_set(e, -EPROTO, "malformed COSI ListResponse");
	if (!spec)
		yml = NULL, n_yml = 0;
	l->out->v = xrealloc(l->out->v, (l->out->n + 1) * sizeof(*l->out->v));
	it = &l->out->v[l->out->n++];
	it->id = xstrndup((const char *)id, n_id);
	it->yaml = xstrndup(yml ? (const char *)yml : "", n_yml);
	return 0;
}

static void cosi_reset(void *ud)
{
	struct cosi_list *l = ud;

	talosops_resources_free(l->out);
}

int talosops_cosi_list(const struct talosapi_node *n, const struct talosapi_retry *r, const char *ns,
		       const char *type, struct talosops_resources *ret, struct app_err *e)
{
	struct buf req = { 0 };
	struct cosi_list l = { ret };
	struct talosapi_call c = {
		.path = "/cosi.resource.State/List",
		.fn = on_cosi,
		.ud = &l,
		.reset = cosi_reset,
		.repeat_safe_after_timeout = true,
	};
	int rc;

	memset(ret, 0, sizeof(*ret));
	pb_put_string(&req, 1, ns);
	pb_put_string(&req, 2, type);
	c.req = req.data;
	c.req_len = req.len;
	rc = call_optional(n, r, &c, e);
	buf_free(&req);
	if (rc < 0)
		talosops_resources_free(ret);
	return rc;
}

void talosops_resources_free(struct talosops_resources *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].id);
		free(s->v[i].yaml);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- MachineStatus -------------------------------------------------------- */

static const char *ysv(struct ynode *root, const char *path)
{
	struct ynode *n = root ? ytree_get(root, path) : NULL;

	return n && n->type == YN_SCALAR ? n->value : NULL;
}

int talosops_machine_status(const struct talosapi_node *n, const struct talosapi_retry *r, char *stage,
			    size_t n_stage, bool *ready, struct buf *unmet, struct app_err *e)
{
	struct talosops_resources res = { 0 };
	struct ytree *t = NULL;
	struct ynode *conds;
	const char *yml = NULL, *v;
	int rc = talosops_cosi_list(n, r, "runtime", "MachineStatuses.runtime.talos.dev", &res, e);

	*ready = false;
	stage[0] = '\0';
	unmet->len = 0;
	buf_puts(unmet, "");
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < res.n; i++)
		if (strcmp(res.v[i].id, "machine") == 0)
			yml = res.v[i].yaml;
	if (!yml)
		rc =
		    app_err_set(e, -EPROTO, "%s: no MachineStatus 'machine' in namespace 'runtime'", n->host);
	else if ((rc = ytree_parse("MachineStatus", yml, strlen(yml), &t, e)) == 0) {
		snprintf(stage, n_stage, "%s", (v = ysv(t->root, "stage")) ? v : "unknown");
		*ready = (v = ysv(t->root, "status.ready")) && strcmp(v, "true") == 0;
		conds = t->root ? ytree_get(t->root, "status.unmetConditions") : NULL;
		for (size_t i = 0; conds && conds->type == YN_SEQ && i < conds->n; i++) {
			const char *name = ysv(conds->items[i], "name"),
				   *why = ysv(conds->items[i], "reason");

			buf_printf(unmet, "%s%s: %s", i ? "; " : "", name ? name : "?", why ? why : "");
		}
	}
	ytree_free(t);
	talosops_resources_free(&res);
	return rc;
}

/* ---- MachineConfig -------------------------------------------------------- */

int talosops_machine_config(const struct talosapi_node *n, const struct talosapi_retry *r, struct buf *active,
			    bool *differs, struct app_err *e)
{
	struct talosops_resources res = { 0 };
	const char *act = NULL, *per = NULL;
	int rc = talosops_cosi_list(n, r, "config", "MachineConfigs.config.talos.dev", &res, e);

	*differs = false;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < res.n; i++)
		if (strcmp(res.v[i].id, "v1alpha1") == 0)
			act = res.v[i].yaml;
		else if (strcmp(res.v[i].id, "persistent") == 0)
			per = res.v[i].yaml;
	if (!act || !*act)
		rc = app_err_set(e, -EPROTO, "%s: no active MachineConfig 'v1alpha1' in namespace 'config'",
				 n->host);
	else {
		buf_puts(active, act);
		*differs = per && strcmp(per, act) != 0;
	}
	for (size_t i = 0; i < res.n; i++)
		if (res.v[i].yaml) {
			secure_free(res.v[i].yaml, strlen(res.v[i].yaml) + 1);
			res.v[i].yaml = NULL;
		}
	talosops_resources_free(&res);
	return rc;
}
