/* appliance upgrade: Talos (and Kubernetes) to the versions of the profile,
 * or of --talos / --kubernetes, one node at a time: control planes first,
 * then workers. The plan comes first and refuses what Talos would refuse
 * (version skew, an incomplete etcd). Talos moves with the Upgrade call and
 * always the Image Factory installer of the profile's schematic, so the
 * site's system extensions survive (talosctl upgrade's default image would
 * drop them). Kubernetes moves the way talosctl upgrade-k8s does it: new
 * component images in each node's machine config, applied without a reboot,
 * control planes first. After each node: wait (bounded) for it to answer on
 * the new version, healthy services, Talos' readiness (MachineStatus) and,
 * for a control plane, every etcd member. The first failure stops the run and
 * says how to resume; every node is journaled so a re-run continues where it
 * stopped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "day2.h"
#include "day2/compat.h"
#include "day2/nodecfg.h"
#include "install/journal.h"
#include "install/report.h"
#include "net/kubeapi.h"
#include "net/talosops.h"
#include "profile/model.h"
#include "talos/talos_assets.h"
#include "talos/talos_schematic.h"
#include "upgrade_k8s.h"

#define NODE_CONFIG_MAX (4u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: appliance upgrade PROFILE --secrets FILE [--talos VERSION]\n"
		"                         [--kubernetes VERSION --kubeconfig PATH]\n"
		"                         [--node NAME]... [--apply]\n"
		"\n"
		"Upgrade Talos (and with --kubernetes, Kubernetes) node by node: control\n"
		"planes one at a time, then workers. The plan comes first; --apply carries it\n"
		"out. Talos is installed from the Image Factory installer of the profile's\n"
		"schematic. Each node is waited for (new version, healthy services, Talos'\n"
		"readiness, every etcd member) before the next; the first failure stops the\n"
		"run, and a re-run continues where it stopped (journal in the state\n"
		"directory).\n"
		"Kubernetes moves as talosctl upgrade-k8s moves it: pre-checks, image\n"
		"pre-pull, then kube-apiserver, kube-controller-manager, kube-scheduler one at\n"
		"a time across the control planes, kube-proxy, each kubelet; each a one-image\n"
		"patch of the node's running config (its dry-run diff in the plan), applied\n"
		"without a reboot and waited for; then the bootstrap manifests Talos renders\n"
		"on a control plane are synced into the cluster (the plan shows what would\n"
		"change) and their rollouts waited for.\n"
		"\n"
		"options:\n"
		"%s"
		"  --talos VERSION       upgrade Talos to VERSION (default: the profile's\n"
		"                        talos.version); put it in the profile afterwards\n"
		"  --kubernetes VERSION  also move Kubernetes to VERSION, one minor version at a\n"
		"                        time (needs --kubeconfig: the static pods and Nodes are\n"
		"                        watched)\n"
		"  --apply               carry the plan out (without it: the plan only)\n"
		"  --stage               stage the upgrade, installed during the reboot that\n"
		"                        follows (for a node whose files are busy;\n"
		"                        UpgradeRequest.stage)\n"
		"  --force               skip the etcd checks, ours and Talos' (members all\n"
		"                        started and healthy, not exactly 2, the upgrade lock),\n"
		"                        as talosctl upgrade --force; a control plane upgraded\n"
		"                        with a member missing can lose etcd quorum; afterwards\n"
		"                        only the node itself must be back in etcd; also asks\n"
		"                        a node whose Talos reports it is upgrading (or\n"
		"                        rebooting, resetting...), which Talos then ignores\n"
		"  --wait DURATION       per node (per component with --kubernetes): how long to\n"
		"                        wait for it, e.g. 20m (default 15m)\n"
		"  --kubeconfig PATH     the admin kubeconfig appliance bootstrap wrote: also\n"
		"                        wait for each node to be Ready in Kubernetes\n"
		"  --state-dir DIR       journal (default $APPLIANCE_STATE_DIR or\n"
		"                        /var/lib/appliance)\n"
		"  -h, --help            this help\n"
		"\n"
		"examples:\n"
		"  appliance upgrade site.yaml --secrets talos-secrets.yaml \\\n"
		"      --talos v1.10.6   # the plan\n"
		"  appliance upgrade site.yaml --secrets talos-secrets.yaml \\\n"
		"      --talos v1.10.6 --apply\n"
		"  appliance upgrade site.yaml --secrets talos-secrets.yaml \\\n"
		"      --kubernetes v1.33.3 --kubeconfig kubeconfig --apply\n"
		"  appliance upgrade site.yaml --secrets talos-secrets.yaml \\\n"
		"      --node cp2 --force --apply\n"
		"\n"
		"exit codes: 0 ok, 1 refused or stopped (the message says how to resume),\n"
		"            2 usage error\n",
		day2_options_help);
}

struct up_opts {
	struct day2_opts d;
	const char *talos, *kubernetes, *state_dir, *kubeconfig;
	bool apply, stage, force;
	long wait_s;
	char *sets[2]; /* talos.version=, talos.kubernetesVersion= */
};

static int own_arg(void *ud, int argc, char **argv, int *i)
{
	static const struct cmd_value_opt vals[] = {
		{ "--talos", offsetof(struct up_opts, talos) },
		{ "--kubernetes", offsetof(struct up_opts, kubernetes) },
		{ "--state-dir", offsetof(struct up_opts, state_dir) },
		{ "--kubeconfig", offsetof(struct up_opts, kubeconfig) },
		{ "--wait", CMD_OPT_OWN },
	};
	struct up_opts *o = ud;
	const struct cmd_value_opt *hit;
	const char *v;
	int r;

	if (strcmp(argv[*i], "--apply") == 0) {
		o->apply = true;
		return 1;
	}
	if (strcmp(argv[*i], "--stage") == 0) {
		o->stage = true;
		return 1;
	}
	if (strcmp(argv[*i], "--force") == 0) {
		o->force = true;
		return 1;
	}
	r = cmd_value_opts("upgrade", argc, argv, i, vals, sizeof(vals) / sizeof(vals[0]), o, &hit, &v);
	if (r < 0)
		return -EXIT_USAGE;
	if (r > 0 && hit->off == CMD_OPT_OWN &&
	    cmd_parse_duration_s("upgrade", "--wait", v, 1, 86400, &o->wait_s))
		return -EXIT_USAGE;
	return r;
}

/* One node's part of the plan. */
struct node_up {
	char version[64]; /* Talos it runs */
	char k8s[64];	  /* Kubernetes its kubelet runs ("" when unknown) */
	bool talos;	  /* to do */
	bool resume;	  /* on the target already, but a run stopped before it was found healthy */
	char *err;	  /* why the plan refuses this node */
};

struct up {
	struct day2 d;
	struct up_opts *o;
	struct report *r;
	struct journal *j;
	struct kube_client kube; /* with --kubeconfig */
	char *image;		 /* Image Factory installer of the profile's schematic at the target */
	const char *target, *k8s_target;
	struct node_up *nodes;
	struct k8s_up *k8s; /* with --kubernetes: its steps */
	int idx;
};

static const char *tag_of(const char *image)
{
	const char *c = strrchr(image, ':'), *s = strrchr(image, '/');

	return c && (!s || c > s) ? c + 1 : "";
}

static void talos_inputs(const struct up *u, const struct day2_node *n, char inputs[65], struct buf *text);

/* The journal says an earlier run started the Talos step of n (same image)
 * and never finished it. */
static bool talos_started(const struct up *u, const struct day2_node *n)
{
	struct journal_entry je;
	struct buf text = { 0 };
	char step[160], inputs[65];
	bool started;

	snprintf(step, sizeof(step), "talos-%s", n->mn->name);
	talos_inputs(u, n, inputs, &text);
	buf_free(&text);
	if (!u->j || journal_get(u->j, step, &je, NULL) < 0)
		return false;
	started = je.status == JOURNAL_STARTED && strcmp(je.inputs, inputs) == 0;
	return started;
}

/* Everything Talos would refuse, refused first: fills each node's part of
 * the plan (nu->err when refused); returns how many nodes were refused, and
 * the etcd refusal in etcd_err. Prints nothing: print_plan does. */
static int plan(struct up *u, char *etcd_err, size_t n_etcd)
{
	struct app_err e = { 0 };
	const struct day2_node *first_cp = NULL;
	int bad = 0;

	for (size_t i = 0; i < u->d.n; i++) {
		const struct day2_node *n = &u->d.v[i];
		struct node_up *nu = &u->nodes[i];
		struct buf cfg = { 0 };
		struct nodecfg_facts f = { 0 };
		const char *k;

		if (!first_cp && n->mn->role == NODE_ROLE_CONTROLPLANE)
			first_cp = n;
		e.msg[0] = '\0';
		if (talosops_version(&n->api, &u->d.once, nu->version, sizeof(nu->version), &e) < 0) {
			if (talos_started(u, n)) { /* e.g. Ctrl-C while it rebooted */
				char was[sizeof(e.msg)];

				snprintf(was, sizeof(was), "%s", e.msg);
				app_err_set(&e, -EAGAIN,
					    "%s does not answer, and an earlier run started its upgrade "
					    "and stopped before it came back: it may still be rebooting; "
					    "wait until it answers (appliance status), then re-run: the "
					    "journal resumes it (%.500s)",
					    n->mn->name, was);
			}
			goto refused;
		}
		if (talosops_read(&n->api, &u->d.once, TALOSOPS_CONFIG_PATH, NODE_CONFIG_MAX, &cfg, &e) ==
			0 &&
		    nodecfg_facts(cfg.data, cfg.len, TALOSOPS_CONFIG_PATH, &f, &e) == 0)
			snprintf(nu->k8s, sizeof(nu->k8s), "%s", tag_of(f.kubelet_image));
		if (cfg.data)
			secure_free(cfg.data, cfg.cap);
		nodecfg_facts_free(&f);
		nu->talos = strcmp(nu->version, u->target) != 0;
		nu->resume = !nu->talos && talos_started(u, n);
		if (nu->talos && day2_talos_upgradeable(nu->version, u->target, &e) < 0)
			goto refused;
		/* the Kubernetes the node will run must suit the Talos it will run */
		k = u->k8s_target ? u->k8s_target : nu->k8s;
		if (*k && day2_kubernetes_supported(k, u->target, &e) < 0)
			goto refused;
		if (u->k8s_target) {
			if (!nu->k8s[0]) {
				app_err_set(&e, -EINVAL,
					    "cannot tell which Kubernetes the node runs (no "
					    "machine.kubelet.image in its config)");
				goto refused;
			}
			if (strcmp(nu->k8s, u->k8s_target) != 0 &&
			    day2_kubernetes_path(nu->k8s, u->k8s_target, &e) < 0)
				goto refused;
		}
		continue;
	refused:
		nu->err = xstrdup(e.msg);
		nu->talos = nu->resume = false;
		bad++;
	}
	/* a control plane upgrade with etcd short of a member could lose quorum;
	 * Talos itself refuses (etcd.go ValidateForUpgrade): say so now */
	if (!bad && first_cp && day2_etcd_full(&u->d, first_cp, &e) < 0) {
		if (u->o->force) { /* said, not refused: --force skips Talos' checks too */
			snprintf(etcd_err, n_etcd,
				 "%.700s: --force: upgrading anyway; a control plane upgraded now can lose "
				 "etcd quorum",
				 e.msg);
			return 0;
		}
		snprintf(
		    etcd_err, n_etcd,
		    "%.700s: upgrading a control plane now could lose etcd quorum; bring the member back "
		    "first (appliance status shows it), or give --force",
		    e.msg);
		bad++;
	}
	return bad;
}

static void print_plan(struct up *u)
{
	for (size_t i = 0; i < u->d.n; i++) {
		const char *step = u->d.v[i].mn->name;
		struct node_up *nu = &u->nodes[i];

		report_step_begin(u->r, ++u->idx, step, "plan");
		if (nu->err) {
			report_step_end(u->r, step, REPORT_FAILED, nu->err);
			continue;
		}
		if (nu->talos)
			report_action(u->r, step, "write", "Talos %s -> %s with %s", nu->version, u->target,
				      u->image);
		else if (nu->resume)
			report_action(
			    u->r, step, "write",
			    "Talos %s: an earlier run upgraded it and was interrupted before the node was "
			    "healthy; check it again",
			    nu->version);
		else
			report_action(u->r, step, "keep", "Talos %s already", nu->version);
		report_step_end(u->r, step,
				nu->resume  ? REPORT_RESUME
				: nu->talos ? REPORT_TODO
					    : REPORT_NOTHING,
				NULL);
	}
}

/* A node step's journal inputs: "node=NAME\nKIND=WHAT\n" and its digest. */
static void journal_step(const char *kind, const struct day2_node *n, const char *what, char inputs[65],
			 struct buf *text)
{
	buf_printf(text, "node=%s\n%s=%s\n", n->mn->name, kind, what);
	sha256_hex(text->data, text->len, inputs);
}

static void talos_inputs(const struct up *u, const struct day2_node *n, char inputs[65], struct buf *text)
{
	journal_step("image", n, u->image, inputs, text);
}

/* Talos on one node. 0 done, -1 stopped (reported). */
static int talos_node(struct up *u, const struct day2_node *n, struct node_up *nu)
{
	struct journal_entry je;
	struct buf text = { 0 };
	struct app_err e = { 0 };
	struct day2_wait w = { .timeout_s = u->o->wait_s,
			       .want_version = u->target,
			       .from_version = nu->version,
			       .expect_down = true,
			       .etcd_self_only = u->o->force,
			       .kube = u->o->kubeconfig ? &u->kube : NULL };
	char step[160], inputs[65], ack[128], cur[64], stage[32];
	int rc = -1, k;

	snprintf(step, sizeof(step), "talos-%s", n->mn->name);
	report_step_begin(u->r, ++u->idx, step, "Talos upgrade");
	talos_inputs(u, n, inputs, &text);
	if (journal_get(u->j, step, &je, &e) < 0)
		je.status = JOURNAL_NONE;
	if (talosops_version(&n->api, &u->d.once, cur, sizeof(cur), &e) == 0 && strcmp(cur, u->target) == 0) {
		/* done, or the node got there while we were away: check it is well */
		w.expect_down = false;
		if (je.status == JOURNAL_STARTED && strcmp(je.inputs, inputs) == 0)
			report_note(u->r, step,
				    "resuming: the upgrade of %s was started before and it runs %s",
				    n->mn->name, cur);
	} else if ((k = day2_check_stage(&u->d, n, u->r, step, stage, &e)) == -EBUSY &&
		   strcmp(stage, "upgrading") == 0 && je.status == JOURNAL_STARTED &&
		   strcmp(je.inputs, inputs) == 0) {
		/* ours, from the run that stopped: wait for it rather than refuse */
		report_note(u->r, step, "resuming: the upgrade of %s started before (run %d) still runs",
			    n->mn->name, je.runs);
	} else {
		/* a node whose sequence runs (another upgrade, a reset) acknowledges
		 * an Upgrade and ignores it: refuse instead, unless --force */
		if (k == -EBUSY && u->o->force)
			report_note(u->r, step,
				    "--force: %s; asking anyway (--force skips this check: Talos "
				    "acknowledges an upgrade while a sequence runs and ignores it)",
				    e.msg);
		else if (k < 0)
			goto fail;
		if (je.status == JOURNAL_STARTED && strcmp(je.inputs, inputs) == 0)
			report_note(u->r, step,
				    "resuming: the upgrade of %s was started before (run %d); asking again",
				    n->mn->name, je.runs);
		if (journal_begin(u->j, step, inputs, text.data, &e) < 0)
			goto fail;
		k = talosops_upgrade(&n->api, &u->d.once, u->image, u->o->stage, u->o->force, ack,
				     sizeof(ack), &e);
		if (k == -EBUSY) {
			char was[sizeof(e.msg)];

			snprintf(was, sizeof(was), "%s", e.msg);
			app_err_set(
			    &e, k,
			    "node %s is busy: an upgrade is in progress (Talos could not take etcd's "
			    "upgrade lock, which another upgrade's checks hold: %.400s); wait a minute "
			    "and re-run",
			    n->mn->name, was);
			goto fail;
		}
		if (k < 0) {
			app_err_prefix(&e, "%s refused the upgrade", n->mn->name);
			goto fail;
		}
		report_note(u->r, step, "%s: %s", n->mn->name, ack);
	}
	if (day2_wait_node(&u->d, n, &w, u->r, step, &e) < 0)
		goto fail;
	if (journal_done(u->j, step, inputs, u->target, &e) < 0)
		goto fail;
	report_step_end(u->r, step, REPORT_DONE, u->target);
	nu->talos = false;
	rc = 0;
	goto out;
fail:
	report_step_end(u->r, step, REPORT_FAILED, e.msg);
out:
	buf_free(&text);
	return rc;
}

/* How many report steps the Kubernetes part takes at most: pre-checks,
 * one per (component, node), the manifests; with --apply the pre-pull and
 * the same again. */
static int k8s_steps(const struct up *u, bool apply)
{
	int cp = 0, n;

	if (!u->k8s_target)
		return 0;
	for (size_t i = 0; i < u->d.n; i++)
		cp += u->d.v[i].mn->role == NODE_ROLE_CONTROLPLANE;
	n = 3 * cp + (u->d.m->talos.kube_proxy ? cp : 0) + (int)u->d.n + (cp ? 1 : 0);
	return 1 + n + (apply ? 1 + n : 0);
}

static int run(struct up *u)
{
	report_note(u->r, NULL, "journal: %s", journal_dir(u->j));
	/* Talos first (control planes, then workers), then Kubernetes as
	 * talosctl upgrade-k8s does it */
	for (size_t i = 0; i < u->d.n; i++) {
		struct node_up *nu = &u->nodes[i];

		if (!(nu->talos || nu->resume))
			continue;
		if (talos_node(u, &u->d.v[i], nu) < 0) {
			char msg[600];

			snprintf(msg, sizeof(msg),
				 "stopped at node %s; the nodes before it are done. Look at it (appliance "
				 "status), then re-run the same command: the journal in %s continues from "
				 "there",
				 u->d.v[i].mn->name, journal_dir(u->j));
			report_end(u->r, EXIT_FAIL, msg);
			return EXIT_FAIL;
		}
	}
	if (u->k8s) {
		char where[200], msg[700];

		if (k8s_up_run(u->k8s, where, sizeof(where)) < 0) {
			snprintf(
			    msg, sizeof(msg),
			    "stopped at %s; the steps before it are done. Look at it (appliance status, "
			    "kubectl -n kube-system get pods), then re-run the same command: the journal in "
			    "%s continues from there",
			    where, journal_dir(u->j));
			report_end(u->r, EXIT_FAIL, msg);
			return EXIT_FAIL;
		}
	}
	return EXIT_OK;
}

int cmd_upgrade(int argc, char **argv)
{
	struct up_opts o = { .wait_s = 900 };
	struct up u;
	struct app_err e = { 0 };
	char id[65];
	int rc;
	size_t todo = 0;

	memset(&u, 0, sizeof(u));
	u.o = &o;
	rc = day2_parse("upgrade", &o.d, argc, argv, usage, own_arg, &o);
	if (rc != 0) {
		day2_opts_free(&o.d);
		return rc < 0 ? EXIT_OK : rc;
	}
	if (!o.state_dir)
		o.state_dir = cmd_state_dir();
	/* the versions asked for win over the profile's, as --set would; a bad
	 * one is named by its option (the profile's message named "--set") */
	for (int k = 0; k < 2; k++) {
		const char *v = k ? o.kubernetes : o.talos;
		int x, y, z;

		if (v && day2_version_parse(v, &x, &y, &z) < 0) {
			rc = cmd_usage_error("upgrade", "%s '%s': expected a version such as %s",
					     k ? "--kubernetes" : "--talos", v, k ? "v1.33.3" : "v1.10.6");
			goto out;
		}
	}
	if (o.talos)
		o.sets[0] = xasprintf("talos.version=%s", o.talos);
	if (o.kubernetes)
		o.sets[1] = xasprintf("talos.kubernetesVersion=%s", o.kubernetes);
	for (int k = 0; k < 2; k++)
		if (o.sets[k]) {
			o.d.p.sets = xrealloc(o.d.p.sets, (size_t)(o.d.p.n_sets + 1) * sizeof(*o.d.p.sets));
			o.d.p.sets[o.d.p.n_sets++] = o.sets[k];
		}
	rc = day2_setup("upgrade", &o.d, false, &u.d);
	if (rc != 0)
		goto out;
	if (o.kubernetes && !o.kubeconfig) {
		rc = cmd_usage_error(
		    "upgrade", "--kubernetes needs --kubeconfig PATH: the upgrade waits for each static pod "
			       "and kubelet through the Kubernetes API, as talosctl upgrade-k8s does");
		goto out;
	}
	if (o.kubeconfig && kube_client_from_kubeconfig(o.kubeconfig, &u.kube, &e) < 0) {
		cmd_err(&e);
		rc = EXIT_USAGE;
		goto out;
	}
	u.target = u.d.m->talos.version;
	u.k8s_target = o.kubernetes ? u.d.m->talos.kubernetes_version : NULL;
	if (talos_schematic_id(u.d.m, id, &e) < 0) {
		cmd_err(&e);
		rc = EXIT_USAGE;
		goto out;
	}
	u.image = talos_asset_url(u.d.m, id, TALOS_ASSET_INSTALLER);
	u.nodes = xcalloc(u.d.n ? u.d.n : 1, sizeof(*u.nodes));
	{
		/* the journal: locked when applying, only read for the plan */
		char *jdir = xasprintf("%s/upgrade", o.state_dir);

		if (journal_open_as(jdir, o.apply, "upgrade", &u.j, &e) < 0) {
			free(jdir);
			cmd_err(&e);
			rc = EXIT_FAIL;
			goto out;
		}
		free(jdir);
	}
	{
		char etcd_err[1024] = "";
		int bad = plan(&u, etcd_err, sizeof(etcd_err));

		for (size_t i = 0; i < u.d.n; i++)
			todo += u.nodes[i].talos + u.nodes[i].resume;
		u.r = report_new(stdout, o.d.json ? REPORT_JSON : REPORT_TTY);
		report_set_inline_failures(u.r, true);
		report_begin(u.r, "upgrade", NULL, o.apply,
			     (int)(u.d.n + (o.apply && !bad ? todo : 0)) + k8s_steps(&u, o.apply && !bad));
		print_plan(&u);
		if (etcd_err[0])
			report_note(u.r, NULL, "%s", etcd_err);
		if (!bad && u.k8s_target) {
			struct k8s_up_ctx kc = { .d = &u.d,
						 .r = u.r,
						 .j = u.j,
						 .kube = &u.kube,
						 .talos = u.target,
						 .target = u.k8s_target,
						 .wait_s = o.wait_s,
						 .idx = &u.idx };
			size_t k8s_todo = 0;

			bad += k8s_up_plan(&kc, &u.k8s, &k8s_todo);
			todo += k8s_todo;
		}
		if (bad) {
			report_end(u.r, EXIT_FAIL, "refused: nothing was upgraded (see above)");
			rc = EXIT_FAIL;
			goto out;
		}
	}
	if (!todo) {
		report_end(u.r, EXIT_OK, "every node already runs the target versions");
		rc = EXIT_OK;
		goto out;
	}
	if (!o.apply) {
		report_end(u.r, EXIT_OK, "plan only: nothing was upgraded; re-run with --apply");
		rc = EXIT_OK;
		goto out;
	}
	day2_stop_on_signal();
	rc = run(&u);
	if (rc == EXIT_OK) {
		char msg[300];

		snprintf(msg, sizeof(msg), "upgraded: every node runs Talos %s%s%s%s", u.target,
			 u.k8s_target ? " and Kubernetes " : "", u.k8s_target ? u.k8s_target : "",
			 o.talos || o.kubernetes ? "; now put these versions in the profile (talos.version, "
						   "talos.kubernetesVersion) so it stays the site's truth"
						 : "");
		report_end(u.r, EXIT_OK, msg);
	}
out:
	k8s_up_free(u.k8s);
	for (size_t i = 0; u.nodes && i < u.d.n; i++)
		free(u.nodes[i].err);
	free(u.nodes);
	free(u.image);
	if (u.j)
		journal_close(u.j);
	report_free(u.r);
	kube_client_free(&u.kube);
	day2_free(&u.d);
	free(o.sets[0]);
	free(o.sets[1]);
	day2_opts_free(&o.d);
	return rc;
}
