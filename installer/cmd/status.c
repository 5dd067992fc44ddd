/* appliance status: one picture of the site, read only. Per node over the
 * Talos API (Version, the running config's install image and type,
 * EtcdMemberList, ServiceList, TimeService/Time); the cluster through the
 * Kubernetes API with the kubeconfig bootstrap wrote (Nodes, Flux
 * Kustomizations and HelmReleases); the NAS (the read-only check); the
 * newest database backup. Exit 0 healthy, 1 degraded (each problem says
 * what to look at), 2 usage. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "base/wrap.h"
#include "day2.h"
#include "day2/nodecfg.h"
#include "nas/nas.h"
#include "net/kubeapi.h"
#include "net/talosops.h"
#include "profile/model.h"
#include "talos/talos_schematic.h"

/* A node's clock further than this from its time server is "not in sync"
 * (Talos itself steps the clock when it is off by more than a second). */
#define TIME_SYNC_MAX_MS 1000
#define NODE_CONFIG_MAX (4u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: appliance status PROFILE (--secrets FILE | --talosconfig FILE) [OPTIONS]\n"
		"\n"
		"Show the site's health in one table, reading only: per node (Talos API\n"
		"reachable, Talos version, schematic, role, etcd member, service health, time\n"
		"sync); the cluster through the Kubernetes API (nodes Ready, Flux\n"
		"Kustomizations and HelmReleases Ready with their messages); the NAS\n"
		"(read-only check); the newest database backup and its age.\n"
		"\n"
		"options:\n"
		"%s"
		"  --kubeconfig PATH     the admin kubeconfig (default: ./kubeconfig, as\n"
		"                        bootstrap writes it)\n"
		"  --skip WHAT           leave out a part: kubernetes, nas or backups\n"
		"                        (repeatable)\n"
		"  --backup-max-age DURATION  a newest base backup older than this is a problem,\n"
		"                        e.g. 36h (default 48h)\n"
		"  --interval DURATION   with --watch: time between rounds (default 10s)\n"
		"  --count N             with --watch: stop after N rounds (default 0: never)\n"
		"  --watch               repeat the report every interval until interrupted, or\n"
		"                        count times\n"
		"  -h, --help            this help\n"
		"\n"
		"examples:\n"
		"  appliance status site.yaml --secrets talos-secrets.yaml \\\n"
		"      --kubeconfig kubeconfig\n"
		"  appliance status site.yaml --secrets talos-secrets.yaml --skip nas --json\n"
		"\n"
		"exit codes: 0 healthy, 1 degraded (the problems say what to look at),\n"
		"            2 usage error\n",
		day2_options_help);
}

struct st_opts {
	struct day2_opts d;
	const char *kubeconfig;
	bool skip_kube, skip_nas, skip_backups, watch;
	const char *repeat_opt; /* --count or --interval as given: only with --watch */
	long count;
	long long interval_ms;
	long backup_max_s;	/* --backup-max-age */
	const char *backup_max; /* as given, for the message */
};

struct node_st {
	const struct day2_node *n;
	bool reachable;
	char version[64];
	char stage[32]; /* MachineStatus; "" when the node does not report it */
	bool ready;
	struct buf unmet;
	struct nodecfg_facts cfg;
	bool have_cfg;
	const char *etcd; /* "member", "learner", "missing", "unknown", "-" */
	size_t svc_total, svc_ok, svc_bad, svc_unknown;
	struct buf svc_text;
	bool have_time, time_ok;
	long long offset_ms;
	char time_server[128];
	char err[1024];
};

struct kube_part {
	const char *label, *path;
	struct kube_objects objs;
	bool ok;
	char err[1024];
};

struct site_st {
	struct node_st *nodes;
	size_t n;
	char schematic[65];
	bool kube_checked, kube_ok;
	char kube_err[1024];
	struct kube_part parts[3];
	bool nas_checked, nas_ok;
	struct nas_results nas;
	char nas_err[1024];
	bool backups_checked, backups_ok;
	struct cmd_backups bk;
	const char *backup_server;
	char backups_err[1024];
	long long backup_age_s;
	struct buf problems; /* one line each: what to look at */
	size_t n_problems;
};

static void problem(struct site_st *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct site_st *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&s->problems, "%s\n", line);
	s->n_problems++;
}

static int own_arg(void *ud, int argc, char **argv, int *i)
{
	static const struct cmd_value_opt vals[] = {
		{ "--kubeconfig", offsetof(struct st_opts, kubeconfig) },
		{ "--skip", CMD_OPT_OWN },
		{ "--count", CMD_OPT_OWN },
		{ "--interval", CMD_OPT_OWN },
		{ "--backup-max-age", offsetof(struct st_opts, backup_max) },
	};
	struct st_opts *o = ud;
	const struct cmd_value_opt *hit;
	const char *v;
	char *end;
	int r;

	if (strcmp(argv[*i], "--watch") == 0) {
		o->watch = true;
		return 1;
	}
	r = cmd_value_opts("status", argc, argv, i, vals, sizeof(vals) / sizeof(vals[0]), o, &hit, &v);
	if (r < 0)
		return -EXIT_USAGE;
	if (r == 0)
		return 0;
	if (strcmp(hit->name, "--kubeconfig") == 0)
		return 1;
	if (strcmp(hit->name, "--backup-max-age") == 0)
		return cmd_parse_duration_s("status", "--backup-max-age", v, 1, 366L * 86400,
					    &o->backup_max_s)
			   ? -EXIT_USAGE
			   : 1;
	if (strcmp(hit->name, "--skip") == 0) {
		if (strcmp(v, "kubernetes") == 0)
			o->skip_kube = true;
		else if (strcmp(v, "nas") == 0)
			o->skip_nas = true;
		else if (strcmp(v, "backups") == 0)
			o->skip_backups = true;
		else
			return -cmd_usage_error("status", "--skip '%s': expected kubernetes, nas or backups",
						v);
		return 1;
	}
	o->repeat_opt = hit->name; /* --count or --interval: only with --watch */
	if (strcmp(hit->name, "--count") == 0) {
		o->count = strtol(v, &end, 10);
		if (*end || !*v || o->count < 0)
			return -cmd_usage_error("status", "--count '%s': expected a whole number", v);
		return 1;
	}
	return cmd_parse_duration("status", "--interval", v, 1, 86400000, &o->interval_ms) ? -EXIT_USAGE : 1;
}

/* ---- gathering ------------------------------------------------------------ */

static void check_node(struct day2 *d, struct node_st *ns, struct site_st *s)
{
	const struct day2_node *n = ns->n;
	struct talosops_services svc = { 0 };
	struct buf cfg = { 0 };
	struct app_err e = { 0 };

	buf_puts(&ns->svc_text, "");
	ns->etcd = n->mn->role == NODE_ROLE_CONTROLPLANE ? "unknown" : "-";
	if (talosops_version(&n->api, &d->once, ns->version, sizeof(ns->version), &e) < 0) {
		snprintf(ns->err, sizeof(ns->err), "%s", e.msg);
		problem(s, "node %s: Talos API %s:%d not reachable: %s", n->mn->name, n->host, n->port,
			e.msg);
		return;
	}
	ns->reachable = true;
	if (d->m->talos.version && strcmp(ns->version, d->m->talos.version) != 0)
		problem(s, "node %s: runs Talos %s, the profile says %s (appliance upgrade)", n->mn->name,
			ns->version, d->m->talos.version);
	/* the machine's stage (talosops_machine_status): running and ready, or why not */
	switch (talosops_machine_status(&n->api, &d->once, ns->stage, sizeof(ns->stage), &ns->ready,
					&ns->unmet, &e)) {
	case 0:
		if (strcmp(ns->stage, "running") != 0 || !ns->ready)
			problem(s, "node %s: Talos reports stage '%s'%s%s%s", n->mn->name, ns->stage,
				ns->ready ? "" : ", not ready", ns->unmet.len ? ": " : "", ns->unmet.data);
		break;
	case -ENOSYS: /* an apid without the resource API: not a problem of the site */
		break;
	default:
		ns->stage[0] = '\0';
		problem(s, "node %s: cannot read its MachineStatus: %s", n->mn->name, e.msg);
	}
	if (talosops_read(&n->api, &d->once, TALOSOPS_CONFIG_PATH, NODE_CONFIG_MAX, &cfg, &e) == 0 &&
	    nodecfg_facts(cfg.data, cfg.len, TALOSOPS_CONFIG_PATH, &ns->cfg, &e) == 0) {
		ns->have_cfg = true;
		if (ns->cfg.type[0] && strcmp(ns->cfg.type, n->mn->role_text) != 0)
			problem(s, "node %s: is a %s, the profile says %s", n->mn->name, ns->cfg.type,
				n->mn->role_text);
		if (s->schematic[0] && strcmp(ns->cfg.schematic, s->schematic) != 0)
			problem(s,
				"node %s: installs '%s', not the Image Factory installer of the profile's "
				"schematic %.12s (appliance upgrade)",
				n->mn->name, ns->cfg.install_image, s->schematic);
	} else {
		problem(s, "node %s: cannot read its machine config: %s", n->mn->name, e.msg);
	}
	if (cfg.data)
		secure_free(cfg.data, cfg.cap);
	if (talosops_services(&n->api, &d->once, &svc, &e) == 0) {
		struct talosops_verdict vd;

		talosops_services_judge(&svc, n->mn->role == NODE_ROLE_CONTROLPLANE, &vd, &ns->svc_text);
		ns->svc_total = svc.n;
		ns->svc_ok = vd.healthy + vd.unknown;
		ns->svc_bad = vd.problems;
		ns->svc_unknown = vd.unknown;
		if (ns->svc_bad)
			problem(s, "node %s: services not healthy: %s", n->mn->name, ns->svc_text.data);
	} else {
		problem(s, "node %s: ServiceList failed: %s", n->mn->name, e.msg);
	}
	talosops_services_free(&svc);
	if (talosops_time(&n->api, &d->once, ns->time_server, sizeof(ns->time_server), &ns->offset_ms, &e) ==
	    0) {
		ns->have_time = true;
		ns->time_ok = llabs(ns->offset_ms) <= TIME_SYNC_MAX_MS;
		if (!ns->time_ok)
			problem(s, "node %s: clock is %+.3fs off its time server %s", n->mn->name,
				(double)ns->offset_ms / 1000.0, ns->time_server);
	} else {
		problem(s, "node %s: time check failed: %s", n->mn->name, e.msg);
	}
}

static void check_etcd(struct day2 *d, struct site_st *s)
{
	struct talosops_members mem = { 0 };
	struct app_err e = { 0 };
	const struct node_st *asked = NULL;
	size_t cps = 0;

	for (size_t i = 0; i < s->n && !asked; i++)
		if (s->nodes[i].reachable && s->nodes[i].n->mn->role == NODE_ROLE_CONTROLPLANE)
			asked = &s->nodes[i];
	for (size_t i = 0; i < d->m->n_nodes; i++)
		cps += d->m->nodes[i].role == NODE_ROLE_CONTROLPLANE;
	if (!asked)
		return;
	if (talosops_etcd_members(&asked->n->api, &d->once, &mem, &e) < 0) {
		problem(s, "etcd: member list from %s failed: %s", asked->n->mn->name, e.msg);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct node_st *ns = &s->nodes[i];

		if (ns->n->mn->role != NODE_ROLE_CONTROLPLANE)
			continue;
		ns->etcd = "missing";
		for (size_t k = 0; k < mem.n; k++)
			if (strcmp(mem.v[k].hostname, ns->n->hostname) == 0)
				ns->etcd = mem.v[k].learner ? "learner" : "member";
		if (strcmp(ns->etcd, "member") != 0)
			problem(s, "etcd: node %s (%s) is %s in the member list of %s", ns->n->mn->name,
				ns->n->hostname, strcmp(ns->etcd, "learner") == 0 ? "only a learner" : "not",
				asked->n->mn->name);
	}
	for (size_t k = 0; k < mem.n; k++) {
		bool known = false;

		for (size_t i = 0; i < d->m->n_nodes; i++) {
			const struct model_node *mn = &d->m->nodes[i];
			const char *h = mn->hostname && *mn->hostname ? mn->hostname : mn->name;

			known |= mn->role == NODE_ROLE_CONTROLPLANE && strcmp(h, mem.v[k].hostname) == 0;
		}
		if (!known)
			problem(s,
				"etcd: member '%s' (%016llx) is no control plane of the profile; remove it "
				"(talosctl etcd remove-member) if that node is gone",
				mem.v[k].hostname[0] ? mem.v[k].hostname : "(not started)",
				(unsigned long long)mem.v[k].id);
	}
	if (mem.n != cps)
		problem(s, "etcd: %zu member%s, the profile has %zu control plane%s", mem.n,
			mem.n == 1 ? "" : "s", cps, cps == 1 ? "" : "s");
	talosops_members_free(&mem);
}

static void check_kube(struct day2 *d, const struct st_opts *o, struct site_st *s)
{
	static const char *const labels[] = { "nodes", "kustomizations", "helmreleases" };
	static const char *const paths[] = { "/api/v1/nodes",
					     "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations",
					     "/apis/helm.toolkit.fluxcd.io/v2/helmreleases" };
	struct kube_client kc = { 0 };
	struct app_err e = { 0 };
	const char *path = o->kubeconfig ? o->kubeconfig : "kubeconfig";

	s->kube_checked = true;
	if (kube_client_from_kubeconfig(path, &kc, &e) < 0) {
		snprintf(s->kube_err, sizeof(s->kube_err), "%s", e.msg);
		problem(s, "kubernetes: %s (appliance bootstrap writes it; or give --kubeconfig)", e.msg);
		return;
	}
	kc.timeout_ms = o->d.timeout_ms > 0 ? o->d.timeout_ms : 10000;
	s->kube_ok = true;
	for (int i = 0; i < 3; i++) {
		struct kube_part *p = &s->parts[i];

		p->label = labels[i];
		p->path = paths[i];
		if (kube_list_ready(&kc, p->path, &p->objs, &e) < 0) {
			snprintf(p->err, sizeof(p->err), "%s", e.msg);
			problem(s, "kubernetes: listing %s failed: %s", p->label, e.msg);
			s->kube_ok = false;
			continue;
		}
		p->ok = true;
		for (size_t k = 0; k < p->objs.n; k++) {
			const struct kube_object *ob = &p->objs.v[k];

			if (ob->ready == KUBE_READY_TRUE)
				continue;
			if (i == 0)
				problem(s, "kubernetes: node %s is not Ready%s%s", ob->name,
					ob->message[0] ? ": " : "", ob->message);
			else
				problem(s, "flux: %s %s/%s is not Ready (%s)%s%s",
					i == 1 ? "Kustomization" : "HelmRelease", ob->namespace, ob->name,
					ob->reason[0] ? ob->reason : "no Ready condition",
					ob->message[0] ? ": " : "", ob->message);
		}
	}
	/* every node of the profile is a Kubernetes node */
	for (size_t i = 0; s->parts[0].ok && i < d->m->n_nodes; i++) {
		const struct model_node *mn = &d->m->nodes[i];
		const char *h = mn->hostname && *mn->hostname ? mn->hostname : mn->name;
		bool found = false;

		for (size_t k = 0; k < s->parts[0].objs.n; k++) {
			const struct kube_object *ob = &s->parts[0].objs.v[k];

			if (strcmp(ob->name, h) != 0)
				continue;
			found = true;
			/* what the node booted, unlike the config's install image,
			 * which an upgrade with another image does not change */
			if (s->schematic[0] && ob->schematic[0] && strcmp(ob->schematic, s->schematic) != 0)
				problem(s,
					"node %s: booted schematic %.12s (its Node's "
					"extensions.talos.dev/schematic), "
					"not the profile's %.12s: its system extensions differ (appliance "
					"upgrade "
					"reinstalls the profile's)",
					mn->name, ob->schematic, s->schematic);
		}
		if (!found)
			problem(s, "kubernetes: node %s (%s) has not joined the cluster", mn->name, h);
	}
	kube_client_free(&kc);
}

static void check_nas(struct day2 *d, struct site_st *s)
{
	struct nas_opts no = NAS_OPTS_INIT;
	struct app_err e = { 0 };

	/* read only: status never writes to the NAS, not even a probe file */
	no.read_only = true;
	s->nas_checked = true;
	if (nas_check(d->m, &no, &s->nas, &e) == 0) {
		s->nas_ok = true;
		return;
	}
	/* e says "nas check failed: <the first failed check's detail>": under
	 * "nas: FAILED" only that detail */
	snprintf(s->nas_err, sizeof(s->nas_err), "%s", e.msg);
	for (size_t i = 0; i < s->nas.n; i++) {
		if (s->nas.v[i].status == NAS_FAIL) {
			snprintf(s->nas_err, sizeof(s->nas_err), "%s", s->nas.v[i].detail);
			break;
		}
	}
	problem(s, "nas: %s (appliance nas check PROFILE for every row)", s->nas_err);
}

static void check_backups(struct day2 *d, const struct st_opts *o, struct site_st *s)
{
	const struct immich_database *db = &d->m->apps.immich.database;
	struct app_err e = { 0 };

	s->backups_checked = true;
	s->backup_server = db->server_name && *db->server_name ? db->server_name : db->cluster;
	if (cmd_backups_scan(d->m, s->backup_server, &s->bk, &e) < 0) {
		snprintf(s->backups_err, sizeof(s->backups_err), "%s", e.msg);
		problem(s, "backups: %s", e.msg);
		return;
	}
	s->backup_age_s = (long long)(time(NULL) - s->bk.barman.newest_base_time);
	s->backups_ok = s->backup_age_s <= o->backup_max_s;
	if (!s->backups_ok) {
		char age[32];

		s3_format_age(s->backup_age_s, age, sizeof(age));
		problem(
		    s,
		    "backups: the newest completed base backup (%s) is %s old (more than %s): look at the "
		    "ScheduledBackup %s and the CNPG cluster %s",
		    s->bk.barman.newest_base, age, o->backup_max, db->backup_name ? db->backup_name : "",
		    db->cluster ? db->cluster : "");
	}
}

static void gather(struct day2 *d, const struct st_opts *o, struct site_st *s)
{
	struct app_err e = { 0 };

	memset(s, 0, sizeof(*s));
	buf_puts(&s->problems, "");
	if (talos_schematic_id(d->m, s->schematic, &e) < 0)
		s->schematic[0] = '\0';
	s->n = d->n;
	s->nodes = xcalloc(d->n ? d->n : 1, sizeof(*s->nodes));
	for (size_t i = 0; i < d->n; i++) {
		s->nodes[i].n = &d->v[i];
		check_node(d, &s->nodes[i], s);
	}
	check_etcd(d, s);
	if (!o->skip_kube)
		check_kube(d, o, s);
	if (!o->skip_nas)
		check_nas(d, s);
	if (!o->skip_backups)
		check_backups(d, o, s);
}

static void site_free(struct site_st *s)
{
	for (size_t i = 0; i < s->n; i++) {
		nodecfg_facts_free(&s->nodes[i].cfg);
		buf_free(&s->nodes[i].svc_text);
		buf_free(&s->nodes[i].unmet);
	}
	free(s->nodes);
	for (int i = 0; i < 3; i++)
		kube_objects_free(&s->parts[i].objs);
	nas_results_free(&s->nas);
	cmd_backups_free(&s->bk);
	buf_free(&s->problems);
}

/* ---- printing ------------------------------------------------------------- */

static size_t ready_count(const struct kube_objects *o)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n; i++)
		n += o->v[i].ready == KUBE_READY_TRUE;
	return n;
}

/* The node table fits 80 columns with realistic names: short cells, each
 * column as wide as its widest cell; what a cell leaves out (the time server,
 * the exact offset, why a node is down or not ready) is in --json and, when
 * something is wrong, in the problems under the table. */
enum {
	COL_NODE,
	COL_ROLE,
	COL_API,
	COL_VERSION,
	COL_STAGE,
	COL_SCHEMATIC,
	COL_ETCD,
	COL_SERVICES,
	COL_TIME,
	NCOLS
};
static const char *const col_head[NCOLS] = { "NODE",	  "ROLE", "API",      "VERSION", "STAGE",
					     "SCHEMATIC", "ETCD", "SERVICES", "TIME" };
typedef char row_cells[NCOLS][72];

static void node_cells(const struct node_st *ns, row_cells c)
{
	const char *cfg_type = ns->have_cfg && ns->cfg.type[0] ? ns->cfg.type : NULL;

	for (int k = 0; k < NCOLS; k++)
		snprintf(c[k], sizeof(c[k]), "-");
	snprintf(c[COL_NODE], sizeof(c[0]), "%s", ns->n->mn->name);
	snprintf(c[COL_ROLE], sizeof(c[0]), "%s", cfg_type ? cfg_type : ns->n->mn->role_text);
	snprintf(c[COL_API], sizeof(c[0]), "%s", ns->reachable ? "ok" : "down");
	if (!ns->reachable)
		return;
	snprintf(c[COL_VERSION], sizeof(c[0]), "%s", ns->version);
	/* a running node that is not ready says so; another stage is itself
	 * the reason (upgrading, booting, ...) */
	if (ns->stage[0])
		snprintf(c[COL_STAGE], sizeof(c[0]), "%s",
			 strcmp(ns->stage, "running") == 0 && !ns->ready ? "not ready" : ns->stage);
	if (ns->have_cfg && ns->cfg.schematic[0])
		snprintf(c[COL_SCHEMATIC], sizeof(c[0]), "%.8s", ns->cfg.schematic);
	snprintf(c[COL_ETCD], sizeof(c[0]), "%s", ns->etcd);
	/* ok: running and healthy, or running with health unknown
	 * (dashboard has no health check), as Talos' readiness counts them */
	if (ns->svc_total)
		snprintf(c[COL_SERVICES], sizeof(c[0]), "%zu/%zu ok", ns->svc_ok, ns->svc_total);
	if (!ns->have_time)
		snprintf(c[COL_TIME], sizeof(c[0]), "failed");
	else if (ns->time_ok)
		snprintf(c[COL_TIME], sizeof(c[0]), "ok %+.1fs", (double)ns->offset_ms / 1000.0);
	else if (llabs(ns->offset_ms) < 1000000)
		snprintf(c[COL_TIME], sizeof(c[0]), "off %+.0fs", (double)ns->offset_ms / 1000.0);
	else
		snprintf(c[COL_TIME], sizeof(c[0]), "off");
}

static void print_row(const row_cells c, const int w[NCOLS])
{
	printf(" ");
	for (int k = 0; k < NCOLS; k++)
		printf(" %-*s", k < NCOLS - 1 ? w[k] : 0, c[k]);
	printf("\n");
}

static void print_text(const struct day2 *d, const struct site_st *s)
{
	row_cells *rows = xcalloc(s->n + 1, sizeof(*rows));
	int w[NCOLS];

	printf("status: site %s, %zu node%s\n", d->m->site.cluster ? d->m->site.cluster : "", s->n,
	       s->n == 1 ? "" : "s");
	for (int k = 0; k < NCOLS; k++) {
		snprintf(rows[0][k], sizeof(rows[0][k]), "%s", col_head[k]);
		w[k] = (int)strlen(col_head[k]);
	}
	for (size_t i = 0; i < s->n; i++) {
		node_cells(&s->nodes[i], rows[i + 1]);
		for (int k = 0; k < NCOLS; k++)
			if ((int)strlen(rows[i + 1][k]) > w[k])
				w[k] = (int)strlen(rows[i + 1][k]);
	}
	for (size_t i = 0; i <= s->n; i++)
		print_row(rows[i], w);
	free(rows);
	if (s->kube_checked) {
		printf("cluster:\n");
		if (s->kube_err[0])
			wrap_print(stdout, "  not checked: ", s->kube_err, 4);
		for (int i = 0; !s->kube_err[0] && i < 3; i++) {
			const struct kube_part *p = &s->parts[i];

			if (!p->ok) {
				char pre[64];

				snprintf(pre, sizeof(pre), "  %-15s failed: ", p->label);
				wrap_print(stdout, pre, p->err, 4);
				continue;
			}
			printf("  %-15s %zu/%zu Ready\n", p->label, ready_count(&p->objs), p->objs.n);
			for (size_t k = 0; k < p->objs.n; k++) {
				const struct kube_object *ob = &p->objs.v[k];
				char *t;

				if (ob->ready == KUBE_READY_TRUE)
					continue;
				t = xasprintf("%s%s%s: %s%s%s", ob->namespace, ob->namespace[0] ? "/" : "",
					      ob->name, ob->reason[0] ? ob->reason : "not Ready",
					      ob->message[0] ? ": " : "", ob->message);
				wrap_print(stdout, "    ", t, 6);
				free(t);
			}
		}
	}
	if (s->nas_checked) {
		if (s->nas_ok)
			printf("nas: ok (read-only check, %zu checks)\n", s->nas.n);
		else
			wrap_print(stdout, "nas: FAILED: ", s->nas_err, 2);
	}
	if (s->backups_checked) {
		char age[32];

		if (s->backups_err[0]) {
			wrap_print(stdout, "backups: FAILED: ", s->backups_err, 2);
		} else {
			s3_format_age(s->backup_age_s, age, sizeof(age));
			/* where: --json (location) */
			printf("backups: newest base backup %s, %s old%s\n", s->bk.barman.newest_base, age,
			       s->backups_ok ? "" : ": TOO OLD");
		}
	}
	if (!s->n_problems) {
		printf("healthy\n");
		return;
	}
	printf("degraded: %zu problem%s; look at:\n", s->n_problems, s->n_problems == 1 ? "" : "s");
	for (const char *p = s->problems.data; p && *p;) {
		const char *nl = strchr(p, '\n');
		char *line = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));

		/* free text: wrapped under 80 columns, continued under the text */
		wrap_print(stdout, "  - ", line, 4);
		free(line);
		p = nl ? nl + 1 : p + strlen(p);
	}
}

static void jkv(struct buf *b, const char *k, const char *v, bool comma)
{
	json_buf_str(b, k);
	buf_puts(b, ":");
	json_buf_str(b, v);
	if (comma)
		buf_puts(b, ",");
}

static void print_json(const struct day2 *d, const struct site_st *s)
{
	struct buf b = { 0 };

	buf_puts(&b, "{\"event\":\"status\",");
	jkv(&b, "site", d->m->site.cluster ? d->m->site.cluster : "", true);
	buf_printf(&b, "\"healthy\":%s,\"nodes\":[", s->n_problems ? "false" : "true");
	for (size_t i = 0; i < s->n; i++) {
		const struct node_st *ns = &s->nodes[i];

		buf_puts(&b, i ? ",{" : "{");
		jkv(&b, "name", ns->n->mn->name, true);
		jkv(&b, "role", ns->have_cfg && ns->cfg.type[0] ? ns->cfg.type : ns->n->mn->role_text, true);
		buf_printf(&b, "\"reachable\":%s,", ns->reachable ? "true" : "false");
		if (!ns->reachable) {
			jkv(&b, "error", ns->err, false);
			buf_puts(&b, "}");
			continue;
		}
		jkv(&b, "version", ns->version, true);
		/* stage "" when the node has no resource API to report it */
		buf_puts(&b, "\"machine\":{");
		jkv(&b, "stage", ns->stage, true);
		buf_printf(&b, "\"ready\":%s,", ns->ready ? "true" : "false");
		jkv(&b, "unmet", ns->unmet.data ? ns->unmet.data : "", false);
		buf_puts(&b, "},");
		jkv(&b, "schematic", ns->have_cfg ? ns->cfg.schematic : "", true);
		jkv(&b, "etcd", ns->etcd, true);
		buf_printf(&b, "\"services\":{\"total\":%zu,\"unhealthy\":%zu,\"health_unknown\":%zu,",
			   ns->svc_total, ns->svc_bad, ns->svc_unknown);
		jkv(&b, "detail", ns->svc_text.data ? ns->svc_text.data : "", false);
		buf_printf(&b, "},\"time\":{\"checked\":%s,\"in_sync\":%s,\"offset_ms\":%lld,",
			   ns->have_time ? "true" : "false", ns->time_ok ? "true" : "false", ns->offset_ms);
		jkv(&b, "server", ns->time_server, false);
		buf_puts(&b, "}}");
	}
	buf_puts(&b, "]");
	if (s->kube_checked) {
		buf_puts(&b, ",\"kubernetes\":{");
		jkv(&b, "error", s->kube_err, false);
		for (int i = 0; !s->kube_err[0] && i < 3; i++) {
			const struct kube_part *p = &s->parts[i];

			buf_printf(&b, ",\"%s\":{\"ok\":%s,\"ready\":%zu,\"total\":%zu,", p->label,
				   p->ok ? "true" : "false", ready_count(&p->objs), p->objs.n);
			jkv(&b, "error", p->err, true);
			buf_puts(&b, "\"not_ready\":[");
			for (size_t k = 0, c = 0; k < p->objs.n; k++) {
				const struct kube_object *ob = &p->objs.v[k];

				if (ob->ready == KUBE_READY_TRUE)
					continue;
				buf_puts(&b, c++ ? ",{" : "{");
				jkv(&b, "namespace", ob->namespace, true);
				jkv(&b, "name", ob->name, true);
				jkv(&b, "reason", ob->reason, true);
				jkv(&b, "message", ob->message, false);
				buf_puts(&b, "}");
			}
			buf_puts(&b, "]}");
		}
		buf_puts(&b, "}");
	}
	if (s->nas_checked) {
		buf_printf(&b, ",\"nas\":{\"ok\":%s,", s->nas_ok ? "true" : "false");
		jkv(&b, "error", s->nas_err, false);
		buf_puts(&b, "}");
	}
	if (s->backups_checked) {
		buf_printf(&b, ",\"backups\":{\"ok\":%s,", s->backups_ok ? "true" : "false");
		jkv(&b, "newest_base", s->bk.barman.newest_base ? s->bk.barman.newest_base : "", true);
		buf_printf(&b, "\"age_seconds\":%lld,", s->backups_err[0] ? -1LL : s->backup_age_s);
		if (!s->backups_err[0]) {
			char *loc = xasprintf("s3://%s/%s%s/", s->bk.bucket, s->bk.prefix, s->backup_server);

			jkv(&b, "location", loc, true);
			free(loc);
		}
		jkv(&b, "error", s->backups_err, false);
		buf_puts(&b, "}");
	}
	buf_puts(&b, ",\"problems\":[");
	for (const char *p = s->problems.data, *first = p; p && *p;) {
		const char *nl = strchr(p, '\n');
		char *line = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));

		if (p != first)
			buf_puts(&b, ",");
		json_buf_str(&b, line);
		free(line);
		p = nl ? nl + 1 : p + strlen(p);
	}
	buf_puts(&b, "]}\n");
	fputs(b.data, stdout);
	buf_free(&b);
}

int cmd_status(int argc, char **argv)
{
	struct st_opts o = { .interval_ms = 10000, .backup_max_s = 48 * 3600, .backup_max = "48h" };
	struct day2 d;
	int rc, r;

	memset(&d, 0, sizeof(d));
	r = day2_parse("status", &o.d, argc, argv, usage, own_arg, &o);
	if (r != 0) {
		day2_opts_free(&o.d);
		return r < 0 ? EXIT_OK : r;
	}
	if (o.repeat_opt && !o.watch) {
		/* without --watch the report ran once and the option was silently ignored */
		day2_opts_free(&o.d);
		return cmd_usage_error("status", "%s repeats the report only with --watch: add --watch",
				       o.repeat_opt);
	}
	rc = day2_setup("status", &o.d, false, &d);
	if (rc != 0)
		goto out;
	for (long round = 1;; round++) {
		struct site_st s;

		gather(&d, &o, &s);
		if (o.watch && !o.d.json && isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		if (o.d.json)
			print_json(&d, &s);
		else
			print_text(&d, &s);
		fflush(stdout);
		rc = s.n_problems ? EXIT_FAIL : EXIT_OK;
		site_free(&s);
		if (!o.watch || (o.count > 0 && round >= o.count))
			break;
		util_sleep_ms((long)o.interval_ms);
	}
out:
	day2_free(&d);
	day2_opts_free(&o.d);
	return rc;
}
