/* appliance rebuild: recover a failed site with the same cluster identity.
 *
 * Preflight (nothing is touched until all of it passes): the secrets bundle is
 * the site's (OS CA fingerprint = talos.caFingerprint), the primary Barman
 * object store holds a base backup and WALs for the server the database
 * recovers from (S3 ListObjectsV2, SigV4), and the NAS folders are there.
 * Then the plan: what is rebuilt and, explicitly, what is not touched. With
 * --apply: the GitOps tree is rendered in recovery mode, the given node is
 * installed through the install flow with the SAME secrets, and etcd is
 * bootstrapped over the Talos API. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cmd.h"
#include "base/err.h"
#include "profile/model.h"
#include "nas/nas.h"
#include "install/plan.h"
#include "render/render.h"
#include "install/report.h"
#include "net/s3.h"
#include "talos/talos_secrets.h"
#include "net/talosapi.h"
#include "base/util.h"
#include "base/json.h"

/* The text report; with --json it goes to stderr and stdout holds only the
 * result object (cmd/result.c). */
static FILE *txt;
/* --json: the preflight rows as [{check, status, detail}] */
static struct buf preflight_json;

static void usage(FILE *f)
{
	fprintf(f, "usage: appliance rebuild PROFILE --secrets FILE [--apply] [OPTIONS]\n"
		   "\n"
		   "Rebuild a failed site with the same cluster identity. Always runs the\n"
		   "preflight first and stops before anything is touched when any check fails:\n"
		   "  secrets   the bundle's OS CA matches the profile's talos.caFingerprint\n"
		   "  backups   the primary object store holds a base backup and WAL files for\n"
		   "            the server the database recovers from (the newest one's age)\n"
		   "  nas       the NAS share and its photos and library folders are there\n"
		   "Without --apply it prints the plan: what will be rebuilt and what will NOT\n"
		   "be touched.\n"
		   "\n"
		   "options:\n"
		   "  --secrets FILE     the site's Talos secrets bundle (kept off-site; never\n"
		   "                     regenerated)\n"
		   "  --apply            carry it out: render the GitOps tree in recovery mode,\n"
		   "                     install --node with the same secrets, bootstrap etcd\n"
		   "                     (--endpoint)\n"
		   "  --out DIR          GitOps checkout to render into (default: gitops.out of\n"
		   "                     the profile)\n"
		   "  --server-name NAME serverName for the new backups (default\n"
		   "                     <source>-recovery)\n"
		   "  --node NAME        with --apply: the node this machine is (install flow)\n"
		   "  --state-dir DIR    with --node: install state (journal, configs, cache)\n"
		   "  --disk-file FILE   with --node: treat an image file as a disk (tests, demo);\n"
		   "                     repeatable\n"
		   "  --sysfs DIR        with --node: sysfs root for identity (tests, demo)\n"
		   "  --hw-root DIR      with --node: root for the disk inventory (tests, demo)\n"
		   "  --endpoint HOST[:PORT]\n"
		   "                     with --apply: Talos API of the first control plane to\n"
		   "                     bootstrap\n"
		   "  --kubeconfig PATH  with --endpoint: where the kubeconfig goes (default\n"
		   "                     ./kubeconfig)\n"
		   "  --wait DURATION    with --endpoint: how long to wait for apid (default 10m)\n"
		   "  --skip-nas         do not check the NAS (the plan never writes to it)\n"
		   "  --json             the result on stdout as one JSON object (preflight rows,\n"
		   "                     backups, what was done; also on failure), the text\n"
		   "                     report on stderr\n"
		   "  --site FILE, --set KEY=VALUE  profile overlays\n"
		   "  -h, --help         this help\n"
		   "\n"
		   "examples:\n"
		   "  appliance rebuild site.yaml --secrets talos-secrets.yaml\n"
		   "  appliance rebuild site.yaml --secrets talos-secrets.yaml --json | jq .ok\n"
		   "\n"
		   "exit codes: 0 ok, 1 failure (a failed preflight touches nothing), 2 usage\n");
}

struct rb_opts {
	struct profile_opts p;
	const char *secrets, *out, *server_name, *node, *state_dir, *sysfs, *hw_root, *endpoint, *kubeconfig,
	    *wait;
	const char **disk_files;
	int n_disk_files;
	bool apply, skip_nas;
	long long wait_ms; /* --wait */
};

static int parse_args(int argc, char **argv, struct rb_opts *o)
{
	static const struct cmd_value_opt vals[] = {
		{ "--secrets", offsetof(struct rb_opts, secrets) },
		{ "--out", offsetof(struct rb_opts, out) },
		{ "--server-name", offsetof(struct rb_opts, server_name) },
		{ "--node", offsetof(struct rb_opts, node) },
		{ "--state-dir", offsetof(struct rb_opts, state_dir) },
		{ "--sysfs", offsetof(struct rb_opts, sysfs) },
		{ "--hw-root", offsetof(struct rb_opts, hw_root) },
		{ "--endpoint", offsetof(struct rb_opts, endpoint) },
		{ "--kubeconfig", offsetof(struct rb_opts, kubeconfig) },
		{ "--wait", offsetof(struct rb_opts, wait) },
		{ "--disk-file", CMD_OPT_OWN },
	};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		const struct cmd_value_opt *hit;
		int r = profile_opts_arg(&o->p, argc, argv, &i);

		if (r < 0)
			return cmd_usage_error("rebuild", "bad option");
		if (r > 0)
			continue;
		if (cmd_is_help(a)) {
			usage(stdout);
			return -1;
		}
		if (strcmp(a, "--apply") == 0) {
			o->apply = true;
			continue;
		}
		if (strcmp(a, "--skip-nas") == 0) {
			o->skip_nas = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) /* the result object (cmd/result.c) */
			continue;
		r = cmd_value_opts("rebuild", argc, argv, &i, vals, sizeof(vals) / sizeof(vals[0]), o, &hit,
				   &v);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0 && hit->off == CMD_OPT_OWN) { /* --disk-file, repeatable */
			o->disk_files =
			    xrealloc(o->disk_files, sizeof(*o->disk_files) * (size_t)(o->n_disk_files + 1));
			o->disk_files[o->n_disk_files++] = v;
		}
		if (r > 0)
			continue;
		r = cmd_profile_arg("rebuild", &o->p, a);
		if (r)
			return r;
	}
	cmd_default_profile(&o->p);
	if (!o->p.profile)
		return cmd_usage_error("rebuild", "no PROFILE given");
	if (!o->secrets)
		return cmd_usage_error("rebuild",
				       "--secrets FILE is required: a rebuild reuses the site's bundle");
	if (!o->apply && (o->node || o->endpoint))
		return cmd_usage_error("rebuild", "--node and --endpoint only make sense with --apply");
	if (o->endpoint) {
		char *h = NULL;
		int port;

		if (talosapi_parse_endpoint(o->endpoint, &h, &port) < 0)
			return cmd_usage_error("rebuild", "--endpoint '%s': expected HOST[:PORT]",
					       o->endpoint);
		free(h);
	}
	if (o->wait && cmd_parse_duration("rebuild", "--wait", o->wait, 0, 86400000, &o->wait_ms))
		return EXIT_USAGE;
	return 0;
}

struct preflight {
	char fingerprint[65];
	char *source, *new_server;
	struct cmd_backups bk; /* bucket, prefix, endpoint, barman */
	char *nas_photos, *nas_library;
};

static void row(const char *status, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row(const char *status, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *detail = NULL;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) < 0)
		detail = NULL;
	va_end(ap);
	buf_puts(&preflight_json, preflight_json.len ? ",{\"check\":" : "[{\"check\":");
	json_buf_str(&preflight_json, name);
	buf_puts(&preflight_json, ",\"status\":");
	json_buf_str(&preflight_json, status);
	buf_puts(&preflight_json, ",\"detail\":");
	json_buf_str(&preflight_json, detail);
	buf_puts(&preflight_json, "}");
	free(detail);

	fprintf(txt, "  %-4s %-8s ", status, name);
	va_start(ap, fmt);
	vfprintf(txt, fmt, ap);
	va_end(ap);
	fputc('\n', txt);
	fflush(txt);
}

static int check_secrets(const struct model *m, const char *path, struct preflight *pf, struct app_err *e)
{
	struct talos_bundle b;
	const char *want = m->talos.ca_fingerprint;
	const char *where = model_where(m, "talos.caFingerprint");
	int r;

	memset(&b, 0, sizeof(b));
	r = talos_secrets_load(path, &b, e);
	if (r < 0)
		return r;
	talos_secrets_fingerprint(&b, pf->fingerprint);
	talos_secrets_free(&b);
	if (!want || !*want)
		return app_err_set(
		    e, -EINVAL,
		    "the profile records no talos.caFingerprint, so '%s' cannot be proven to be "
		    "this site's bundle (its OS CA sha256 is %s: record it in the profile)",
		    path, pf->fingerprint);
	if (strcasecmp(want, pf->fingerprint) != 0)
		return app_err_set(
		    e, -EPERM,
		    "'%s' is not this site's secrets bundle: its OS CA sha256 is %s, the profile "
		    "records %s%s%s",
		    path, pf->fingerprint, want, where ? " at " : "", where ? where : "");
	return 0;
}

static int check_backups(const struct model *m, const struct rb_opts *o, struct preflight *pf,
			 struct app_err *e)
{
	pf->source = xstrdup(render_recovery_source(m));
	pf->new_server = o->server_name ? xstrdup(o->server_name) : xasprintf("%s-recovery", pf->source);
	if (strcmp(pf->new_server, pf->source) == 0)
		return app_err_set(
		    e, -EINVAL,
		    "new backups would go under serverName '%s', the archive being recovered from; "
		    "pick another --server-name",
		    pf->source);
	return cmd_backups_scan(m, pf->source, &pf->bk, e);
}

static int check_nas(const struct model *m, struct preflight *pf, struct app_err *e)
{
	/* read-only: a rebuild never writes to the NAS, not even a probe file */
	struct nas_opts no = NAS_OPTS_INIT;
	struct nas_results res = { 0 };
	const struct nas_result *photos = NULL, *library = NULL;
	int r;

	no.read_only = true;
	r = nas_check(m, &no, &res, e);
	for (size_t i = 0; i < res.n; i++) {
		if (strcmp(res.v[i].id, "photos-read") == 0)
			photos = &res.v[i];
		if (strcmp(res.v[i].id, "library-read") == 0)
			library = &res.v[i];
	}
	if (photos && photos->detail)
		pf->nas_photos = xstrdup(photos->detail);
	if (library && library->detail)
		pf->nas_library = xstrdup(library->detail);
	/* the data a rebuild re-attaches must be there: an empty folder means the
	 * wrong share or folder, or lost data; stop before anything is wiped */
	if (r == 0 && (!photos || photos->entries <= 0))
		r = app_err_set(e, -ENOENT,
				"the NAS photos folder is empty or was not read (%s); refusing to rebuild",
				photos && photos->detail ? photos->detail : "no result");
	else if (r == 0 && (!library || library->entries <= 0))
		r = app_err_set(e, -ENOENT,
				"the NAS library folder is empty or was not read (%s); refusing to rebuild",
				library && library->detail ? library->detail : "no result");
	nas_results_free(&res);
	return r;
}

static void print_plan(const struct model *m, const struct rb_opts *o, const struct preflight *pf,
		       const char *out)
{
	const struct immich_database *d = &m->apps.immich.database;
	char age[32];

	fprintf(txt, "plan:\n  will rebuild:\n");
	for (size_t i = 0; i < m->n_nodes; i++) {
		const struct model_node *n = &m->nodes[i];

		fprintf(
		    txt,
		    "    - node %s (%s): reinstall Talos on its install disk and wipe its Ceph disks (the "
		    "install flow), machine config from the SAME secrets bundle\n",
		    n->name, n->role_text ? n->role_text : "");
	}
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].role == NODE_ROLE_CONTROLPLANE) {
			fprintf(txt,
				"    - etcd: bootstrap on %s over the Talos API, then fetch the kubeconfig\n",
				m->nodes[i].name);
			break;
		}
	s3_format_age(time(NULL) - pf->bk.barman.newest_base_time, age, sizeof(age));
	fprintf(txt,
		"    - database: CNPG cluster %s recovers from s3://%s/%s%s/ (newest base backup %s, %s old) "
		"and archives new backups under serverName %s\n",
		d->cluster ? d->cluster : "", pf->bk.bucket, pf->bk.prefix, pf->source,
		pf->bk.barman.newest_base, age, pf->new_server);
	fprintf(txt, "    - GitOps tree: rendered in recovery mode into %s\n",
		out ? out : "(no --out/gitops.out: not rendered)");
	fprintf(txt, "  will NOT touch:\n");
	fprintf(txt,
		"    - NAS smb://%s:%lld/%s: photos '%s' and library '%s' are re-attached as the same Retain "
		"volumes; nothing writes to them\n",
		m->nas.address ? m->nas.address : "", m->nas.port, m->nas.share ? m->nas.share : "",
		m->nas.photos ? m->nas.photos : "", m->nas.library ? m->nas.library : "");
	fprintf(txt, "    - S3 backups s3://%s/%s%s/: only read; new backups go to s3://%s/%s%s/\n",
		pf->bk.bucket, pf->bk.prefix, pf->source, pf->bk.bucket, pf->bk.prefix, pf->new_server);
	fprintf(
	    txt,
	    "    - secrets bundle %s: reused as it is (same cluster id and CAs; existing talosconfig keeps "
	    "working)\n",
	    o->secrets);
}

static int do_render(const struct model *m, const struct rb_opts *o, const char *out, struct app_err *e)
{
	struct render_opts ro = { .recovery = true, .server_name = o->server_name };
	struct render_tree t = { 0 };
	enum render_state *st = NULL;
	size_t changed = 0;
	int r = render_tree(m, &ro, &t, e);

	if (r == 0) {
		st = xcalloc(t.n_files, sizeof(*st));
		r = render_compare(&t, out, st, e);
	}
	if (r == 0)
		r = render_write(&t, out, st, e);
	for (size_t i = 0; r == 0 && i < t.n_files; i++)
		changed += st[i] == RENDER_NEW || st[i] == RENDER_CHANGED;
	if (r == 0)
		fprintf(txt, "render: %zu files in %s (%zu written), database in recovery mode\n", t.n_files,
			out, changed);
	free(st);
	render_tree_free(&t);
	return r;
}

static int do_install(const struct model *m, const struct rb_opts *o, struct app_err *e)
{
	/* the install's gitops step renders the recovery tree: one render, never
	 * the normal tree first */
	const struct render_opts ro = { .recovery = true, .server_name = o->server_name };
	struct plan_opts po = {
		.render = &ro,
		.model = m,
		.node = o->node,
		.apply = true,
		.unattended = true,
		.state_dir = o->state_dir,
		.secrets = o->secrets,
		.sysfs = o->sysfs,
		.hw_root = o->hw_root,
		.disk_files = o->disk_files,
		.n_disk_files = o->n_disk_files,
	};
	struct plan_outcome out = { 0 };
	int r;

	po.report = report_new(txt, REPORT_PLAIN);
	r = plan_run(&po, &out, e);
	report_free(po.report);
	if (r == 0)
		fprintf(txt, "install: node %s: %d steps ran, %d already done\n", o->node, out.ran,
			out.skipped);
	return r;
}

static int do_bootstrap(const struct rb_opts *o, struct app_err *e)
{
	struct talos_creds creds = { 0 };
	struct buf kube = { 0 };
	enum talosapi_bootstrap_result res;
	char *host = NULL;
	int port = TALOSAPI_PORT, r;

	if (talosapi_parse_endpoint(o->endpoint, &host, &port) < 0)
		return app_err_set(e, -EINVAL, "--endpoint '%s': expected HOST[:PORT]", o->endpoint);
	r = talos_creds_from_secrets(o->secrets, time(NULL), &creds, e);
	if (r == 0) {
		struct talosapi_node tn = { .host = host, .port = port, .creds = &creds };
		struct talosapi_retry rt = { .deadline_ms = o->wait ? (long)o->wait_ms : 600000,
					     .on_retry = cmd_talos_on_retry };

		r = talosapi_bootstrap(&tn, &rt, &res, e);
		if (r == 0)
			fprintf(txt, "etcd: %s\n",
				res == TALOSAPI_ALREADY_BOOTSTRAPPED ? "already bootstrapped"
								     : "bootstrapped");
		if (r == 0)
			r = talosapi_kubeconfig(&tn, &rt, &kube, e);
		if (r == 0) {
			const char *path = o->kubeconfig ? o->kubeconfig : "kubeconfig";

			r = write_file_atomic(path, kube.data, kube.len, 0600, e);
			if (r == 0)
				fprintf(txt, "kubeconfig: %s (mode 0600)\n", path);
		}
	}
	if (kube.data)
		secure_free(kube.data, kube.cap);
	talos_creds_free(&creds);
	free(host);
	return r;
}

int cmd_rebuild(int argc, char **argv)
{
	struct rb_opts o = { 0 };
	struct preflight pf = { 0 };
	struct buf failed = { 0 };
	struct app_err e = { 0 };
	struct model *m = NULL;
	char *out = NULL;
	int rc = EXIT_FAIL, r;

	txt = cmd_json_begin(argc, argv, "rebuild") ? stderr : stdout;
	r = parse_args(argc, argv, &o);
	if (r != 0) {
		free(o.disk_files);
		profile_opts_free(&o.p);
		return r < 0 ? EXIT_OK : r;
	}
	m = cmd_load_model(&o.p, false);
	if (!m) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.out)
		out = xstrdup(o.out);
	else if (m->gitops.out)
		out = model_path(m, m->gitops.out);
	if (o.apply && !out) {
		rc = cmd_usage_error("rebuild",
				     "--apply renders the GitOps tree: give --out DIR (or gitops.out)");
		goto out;
	}

	cmd_json_str("cluster", m->site.cluster);
	cmd_json_str("secrets", o.secrets);
	cmd_json_bool("apply", o.apply);
	cmd_json_str("out", out);
	fprintf(txt, "rebuild: site %s, secrets %s\npreflight:\n", m->site.cluster ? m->site.cluster : "",
		o.secrets);
	fflush(txt);
	/* every check runs, so one run shows everything that is wrong */
	if (check_secrets(m, o.secrets, &pf, &e) < 0) {
		row("FAIL", "secrets", "%s", e.msg);
		buf_puts(&failed, failed.len ? ", secrets" : "secrets");
	} else {
		row("ok", "secrets",
		    "bundle is this site's: OS CA sha256 %.16s... matches talos.caFingerprint",
		    pf.fingerprint);
	}
	if (check_backups(m, &o, &pf, &e) < 0) {
		row("FAIL", "backups", "%s", e.msg);
		buf_puts(&failed, failed.len ? ", backups" : "backups");
	} else {
		char ab[32], aw[32], skipped[160] = "";

		s3_format_age(time(NULL) - pf.bk.barman.newest_base_time, ab, sizeof(ab));
		s3_format_age(time(NULL) - pf.bk.barman.newest_wal_time, aw, sizeof(aw));
		if (pf.bk.barman.not_done)
			snprintf(skipped, sizeof(skipped), ", %zu newer not completed (%s: %s)",
				 pf.bk.barman.not_done, pf.bk.barman.newest_not_done,
				 pf.bk.barman.newest_not_done_status);
		row("ok", "backups",
		    "s3://%s/%s%s/: %zu base backup%s, newest completed %s (%s old)%s; %zu WAL file%s, "
		    "newest %s (%s old)",
		    pf.bk.bucket, pf.bk.prefix, pf.source, pf.bk.barman.base_backups,
		    pf.bk.barman.base_backups == 1 ? "" : "s", pf.bk.barman.newest_base, ab, skipped,
		    pf.bk.barman.wals, pf.bk.barman.wals == 1 ? "" : "s", pf.bk.barman.newest_wal, aw);
	}
	if (o.skip_nas) {
		row("skip", "nas", "not checked (--skip-nas)");
	} else if (check_nas(m, &pf, &e) < 0) {
		row("FAIL", "nas", "%s", e.msg);
		buf_puts(&failed, failed.len ? ", nas" : "nas");
	} else {
		row("ok", "nas", "photos: %s", pf.nas_photos ? pf.nas_photos : "ok");
		row("ok", "nas", "library: %s", pf.nas_library ? pf.nas_library : "ok");
	}
	buf_puts(&preflight_json, preflight_json.len ? "]" : "[]");
	cmd_json_raw("preflight", preflight_json.data);
	if (failed.len) {
		cmd_error("rebuild stopped before touching any disk: preflight failed: %s", failed.data);
		goto out;
	}
	cmd_json_str("caFingerprint", pf.fingerprint);
	cmd_json_str("recoverFrom", pf.source);
	cmd_json_str("newServerName", pf.new_server);
	{
		char *where = xasprintf("s3://%s/%s%s/", pf.bk.bucket, pf.bk.prefix, pf.source);
		cmd_json_str("backups", where);
		free(where);
	}
	cmd_json_int("baseBackups", (long long)pf.bk.barman.base_backups);
	cmd_json_str("newestBaseBackup", pf.bk.barman.newest_base);
	cmd_json_int("walFiles", (long long)pf.bk.barman.wals);
	cmd_json_str("newestWal", pf.bk.barman.newest_wal);

	print_plan(m, &o, &pf, out);
	if (!o.apply) {
		fprintf(txt, "dry run: nothing was changed; run again with --apply to rebuild\n");
		rc = EXIT_OK;
		goto out;
	}

	/* install first (its gitops step already renders in recovery mode, into
	 * gitops.out when the profile has one), then the recovery tree into OUT:
	 * the same bytes, so an unchanged file is not rewritten */
	if (o.node) {
		cmd_json_str("node", o.node);
		if (do_install(m, &o, &e) < 0) {
			cmd_error("installing node '%s': %s", o.node, e.msg);
			goto out;
		}
		cmd_json_bool("installed", true);
	} else {
		fprintf(txt,
			"install: boot each node from the live USB or PXE and run\n"
			"  appliance install PROFILE --secrets %s --apply\n"
			"(or re-run this command there with --node NAME)\n",
			o.secrets);
	}
	if (do_render(m, &o, out, &e) < 0) {
		cmd_error("rendering the recovery tree: %s", e.msg);
		goto out;
	}
	cmd_json_bool("rendered", true);
	if (o.endpoint) {
		if (do_bootstrap(&o, &e) < 0) {
			cmd_error("bootstrap: %s", e.msg);
			goto out;
		}
		cmd_json_bool("bootstrapped", true);
	} else {
		fprintf(txt,
			"bootstrap: once the control planes run Talos: appliance bootstrap PROFILE --secrets "
			"%s\n",
			o.secrets);
	}
	rc = EXIT_OK;
out:
	buf_free(&preflight_json);
	buf_free(&failed);
	cmd_backups_free(&pf.bk);
	free(pf.source);
	free(pf.new_server);
	free(pf.nas_photos);
	free(pf.nas_library);
	free(out);
	free(o.disk_files);
	if (m)
		model_free(m);
	profile_opts_free(&o.p);
	return rc;
}
