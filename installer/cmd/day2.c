/* Shared options and node list of apply, upgrade and status. See day2.h. */
#include "day2.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "day2/machstat.h"
#include "day2/nodecfg.h"
#include "install/report.h"
#include "net/kubeapi.h"
#include "net/talosops.h"
#include "profile/model.h"
#include "talos/talos_config.h"
#include "talos/talos_secrets.h"

const char day2_options_help[] =
    "  --secrets FILE        the site's Talos secrets bundle (a client certificate\n"
    "                        is made from its OS CA in memory)\n"
    "  --talosconfig FILE    use this talosconfig's CA and client certificate instead\n"
    "  --context NAME        talosconfig context (default: its current one)\n"
    "  --node NAME           only this node (repeatable; default: every node of\n"
    "                        the profile)\n"
    "  --endpoint NODE=HOST[:PORT]  where NODE's Talos API answers (repeatable;\n"
    "                        default: the node's static address, port 50000)\n"
    "  --timeout DURATION    per Talos API call, e.g. 30s (default 10s)\n"
    "  --json                one JSON object per line instead of text\n"
    "  --site FILE, --set KEY=VALUE  profile overlays\n";

static void push(const char ***v, int *n, const char *s)
{
	*v = xrealloc(*v, (size_t)(*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

int day2_arg(const char *cmd, struct day2_opts *o, int argc, char **argv, int *i)
{
	static const struct cmd_value_opt vals[] = {
		{ "--secrets", offsetof(struct day2_opts, secrets) },
		{ "--talosconfig", offsetof(struct day2_opts, talosconfig) },
		{ "--context", offsetof(struct day2_opts, context) },
		{ "--endpoint", CMD_OPT_OWN },
		{ "--node", CMD_OPT_OWN },
		{ "--timeout", CMD_OPT_OWN },
	};
	const struct cmd_value_opt *hit;
	const char *v;
	int r = profile_opts_arg(&o->p, argc, argv, i);

	if (r < 0)
		return -cmd_usage_error(cmd, "bad option");
	if (r > 0)
		return 1;
	if (strcmp(argv[*i], "--json") == 0) {
		o->json = true;
		return 1;
	}
	r = cmd_value_opts(cmd, argc, argv, i, vals, sizeof(vals) / sizeof(vals[0]), o, &hit, &v);
	if (r < 0)
		return -EXIT_USAGE;
	if (r == 0 || hit->off != CMD_OPT_OWN)
		return r;
	if (strcmp(hit->name, "--endpoint") == 0) {
		if (!strchr(v, '=') || v[0] == '=')
			return -cmd_usage_error(cmd, "--endpoint '%s': expected NODE=HOST[:PORT]", v);
		push(&o->endpoints, &o->n_endpoints, v);
	} else if (strcmp(hit->name, "--node") == 0) {
		push(&o->nodes, &o->n_nodes, v);
	} else if (cmd_parse_duration(cmd, "--timeout", v, 1, 3600000, &o->timeout_ms)) {
		return -EXIT_USAGE;
	}
	return 1;
}

int day2_parse(const char *cmd, struct day2_opts *o, int argc, char **argv, void (*usage)(FILE *f),
	       int (*own)(void *ud, int argc, char **argv, int *i), void *ud)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = day2_arg(cmd, o, argc, argv, &i);

		if (r < 0)
			return -r;
		if (r > 0)
			continue;
		if (cmd_is_help(a)) {
			usage(stdout);
			return -1;
		}
		r = own(ud, argc, argv, &i);
		if (r < 0)
			return -r;
		if (r > 0)
			continue;
		r = cmd_profile_arg(cmd, &o->p, a);
		if (r)
			return r;
	}
	return 0;
}

void day2_opts_free(struct day2_opts *o)
{
	free(o->endpoints);
	free(o->nodes);
	profile_opts_free(&o->p);
}

static bool selected(const struct day2_opts *o, const char *name)
{
	if (!o->n_nodes)
		return true;
	for (int i = 0; i < o->n_nodes; i++)
		if (strcmp(o->nodes[i], name) == 0)
			return true;
	return false;
}

static int add_node(const char *cmd, const struct day2_opts *o, struct day2 *d, const struct model_node *mn)
{
	struct day2_node *n;
	const char *ep = NULL;
	size_t len = strlen(mn->name);

	for (int i = 0; i < o->n_endpoints; i++)
		if (strncmp(o->endpoints[i], mn->name, len) == 0 && o->endpoints[i][len] == '=')
			ep = o->endpoints[i] + len + 1;
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	n = &d->v[d->n];
	memset(n, 0, sizeof(*n));
	n->mn = mn;
	n->hostname = mn->hostname && *mn->hostname ? mn->hostname : mn->name;
	n->port = TALOSAPI_PORT;
	if (ep) {
		if (talosapi_parse_endpoint(ep, &n->host, &n->port) < 0)
			return cmd_usage_error(cmd, "--endpoint %s=%s: expected HOST[:PORT]", mn->name, ep);
	} else if (!(n->host = cmd_node_host(mn))) {
		return cmd_usage_error(cmd,
				       "node '%s' has no static address or hostname; give --endpoint %s=HOST",
				       mn->name, mn->name);
	}
	d->n++;
	return 0;
}

int day2_setup(const char *cmd, struct day2_opts *o, bool need_bundle, struct day2 *d)
{
	struct app_err e = { 0 };
	int r;

	memset(d, 0, sizeof(*d));
	cmd_default_profile(&o->p);
	if (!o->p.profile)
		return cmd_usage_error(cmd, "no PROFILE given");
	if (!o->secrets && !o->talosconfig)
		return cmd_usage_error(cmd, "give --secrets FILE or --talosconfig FILE");
	if (o->secrets && o->talosconfig)
		return cmd_usage_error(cmd, "give only one of --secrets and --talosconfig");
	if (need_bundle && !o->secrets)
		return cmd_usage_error(
		    cmd, "rendering machine configs needs the secrets bundle: give --secrets FILE");
	d->m = cmd_load_model(&o->p, false);
	if (!d->m)
		return EXIT_USAGE;
	for (int i = 0; i < o->n_nodes; i++)
		if (!model_node_by_name(d->m, o->nodes[i]))
			return cmd_usage_error(cmd, "--node '%s': the profile has no such node", o->nodes[i]);
	for (int i = 0; i < o->n_endpoints; i++) {
		char *name =
		    xstrndup(o->endpoints[i], (size_t)(strchr(o->endpoints[i], '=') - o->endpoints[i]));
		bool ok = model_node_by_name(d->m, name) != NULL;

		free(name);
		if (!ok)
			return cmd_usage_error(cmd, "--endpoint '%s': the profile has no such node",
					       o->endpoints[i]);
	}
	/* control planes first, then workers, each in profile order */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < d->m->n_nodes; i++) {
			const struct model_node *mn = &d->m->nodes[i];

			if ((pass == 0) != (mn->role == NODE_ROLE_CONTROLPLANE) || !selected(o, mn->name))
				continue;
			if ((r = add_node(cmd, o, d, mn)) != 0)
				return r;
		}
	if (o->secrets) {
		d->bundle = xcalloc(1, sizeof(*d->bundle));
		r = talos_secrets_load(o->secrets, d->bundle, &e);
		if (r == 0)
			r = talos_creds_from_bundle(d->bundle, time(NULL), &d->creds, &e);
	} else {
		r = talos_creds_from_talosconfig(o->talosconfig, o->context, &d->creds, &e);
	}
	if (r < 0) {
		cmd_err(&e);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < d->n; i++)
		d->v[i].api =
		    (struct talosapi_node){ .host = d->v[i].host, .port = d->v[i].port, .creds = &d->creds };
	d->once.attempts = 1;
	d->once.call_timeout_ms = (long)(o->timeout_ms > 0 ? o->timeout_ms : 10000);
	return 0;
}

void day2_free(struct day2 *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].host);
	free(d->v);
	talos_creds_free(&d->creds);
	if (d->bundle) {
		talos_secrets_free(d->bundle);
		free(d->bundle);
	}
	if (d->m)
		model_free(d->m);
	memset(d, 0, sizeof(*d));
}

int day2_render_config(const struct day2 *d, const struct day2_node *n, struct buf *out, struct app_err *e)
{
	if (!d->bundle)
		return app_err_set(e, -EINVAL, "no secrets bundle to render node '%s' from", n->mn->name);
	return talos_config_render(d->m, n->mn, d->bundle, NULL, out, e);
}

int day2_etcd_full(const struct day2 *d, const struct day2_node *ask, struct app_err *e)
{
	struct talosops_members mem = { 0 };
	struct buf why = { 0 };
	int r = talosops_etcd_members(&ask->api, &d->once, &mem, e);

	if (r < 0)
		return app_err_prefix(e, "etcd member list from %s", ask->mn->name);
	for (size_t i = 0; i < d->m->n_nodes; i++) {
		const struct model_node *mn = &d->m->nodes[i];
		const char *h = mn->hostname && *mn->hostname ? mn->hostname : mn->name;
		const char *state = "missing";

		if (mn->role != NODE_ROLE_CONTROLPLANE)
			continue;
		for (size_t k = 0; k < mem.n; k++)
			if (strcmp(mem.v[k].hostname, h) == 0)
				state = mem.v[k].learner ? "only a learner" : NULL;
		if (state)
			buf_printf(&why, "%s%s (%s)", why.len ? ", " : "", h, state);
	}
	for (size_t k = 0; k < mem.n; k++)
		if (!mem.v[k].hostname[0])
			buf_printf(&why, "%smember %016llx (not started)", why.len ? ", " : "",
				   (unsigned long long)mem.v[k].id);
	if (why.len)
		r = app_err_set(e, -EREMOTEIO, "etcd (asked %s) lacks %s", ask->mn->name, why.data);
	buf_free(&why);
	talosops_members_free(&mem);
	return r;
}

#define WAIT_POLL_MS 250

/* n itself is a started, voting member of etcd (as n reports it). */
static int etcd_member(const struct day2 *d, const struct day2_node *n, struct app_err *e)
{
	struct talosops_members mem = { 0 };
	const char *state = "missing";
	int r = talosops_etcd_members(&n->api, &d->once, &mem, e);

	if (r < 0)
		return app_err_prefix(e, "etcd member list from %s", n->mn->name);
	for (size_t k = 0; k < mem.n; k++)
		if (strcmp(mem.v[k].hostname, n->hostname) == 0)
			state = mem.v[k].learner ? "only a learner" : NULL;
	talosops_members_free(&mem);
	if (state)
		return app_err_set(e, -EREMOTEIO, "etcd (asked %s) lacks %s (%s)", n->mn->name, n->hostname,
				   state);
	return 0;
}

/* 0 when the Kubernetes Node called name is Ready; else -1 with what was
 * seen in last. */
static int kube_node_ready(const struct kube_client *kc, const char *name, char *last, size_t n_last)
{
	struct kube_objects o = { 0 };
	struct app_err e = { 0 };
	int r = -1;

	if (kube_list_ready(kc, "/api/v1/nodes", &o, &e) < 0) {
		snprintf(last, n_last, "%.500s", e.msg);
		return -1;
	}
	snprintf(last, n_last, "no Kubernetes node %s", name);
	for (size_t i = 0; i < o.n; i++) {
		if (strcmp(o.v[i].name, name) != 0)
			continue;
		if (o.v[i].ready == KUBE_READY_TRUE)
			r = 0;
		else
			snprintf(last, n_last, "Kubernetes node %s not Ready: %.200s%s%.300s", name,
				 o.v[i].reason[0] ? o.v[i].reason : "no Ready condition",
				 o.v[i].message[0] ? ": " : "", o.v[i].message);
	}
	kube_objects_free(&o);
	return r;
}

/* "cp1: 11 services running: 10 healthy, 1 health unknown" */
static void day2_note_services(struct report *r, const char *step, const char *name,
			       const struct talosops_verdict *vd)
{
	if (vd->unknown)
		report_note(r, step, "%s: %zu services running: %zu healthy, %zu health unknown", name,
			    vd->healthy + vd->unknown, vd->healthy, vd->unknown);
	else
		report_note(r, step, "%s: %zu services healthy", name, vd->healthy);
}

/* The phases of a wait, in order; each names what did not come on timeout. */
enum phase { PH_DOWN, PH_UP, PH_VERSION, PH_SERVICES, PH_READY, PH_ETCD, PH_KUBE, PH_DONE };

int day2_wait_node(const struct day2 *d, const struct day2_node *n, const struct day2_wait *w,
		   struct report *r, const char *step, struct app_err *e)
{
	long start = util_mono_ms(), limit = w->timeout_s * 1000;
	enum phase ph = w->expect_down ? PH_DOWN : PH_UP;
	char last[600] = "", version[64] = "";
	bool seen_down = false;

	while (ph != PH_DONE) {
		struct app_err ce = { 0 };
		struct talosops_services svc = { 0 };
		struct talosops_verdict vd;
		struct buf bad = { 0 };
		int rc = talosops_version(&n->api, &d->once, version, sizeof(version), &ce);

		if (rc < 0) {
			snprintf(last, sizeof(last), "%.500s", ce.msg);
			if (!seen_down && r)
				report_note(r, step, "%s is down (rebooting)", n->mn->name);
			seen_down = true;
			if (ph == PH_DOWN)
				ph = PH_UP;
		} else if (ph == PH_DOWN && !(w->want_version && strcmp(version, w->want_version) == 0)) {
			/* still answering before its reboot */
			snprintf(last, sizeof(last), "still answering on %s, not rebooted yet", version);
		} else {
			/* (a node already on the new version rebooted between two polls) */
			if (ph == PH_DOWN)
				ph = PH_UP;
			if (ph == PH_UP) {
				if (r)
					report_note(r, step, "%s answers: Talos %s", n->mn->name, version);
				ph = PH_VERSION;
			}
			if (ph == PH_VERSION) {
				if (!w->want_version || strcmp(version, w->want_version) == 0)
					ph = PH_SERVICES;
				else if (seen_down && w->from_version &&
					 strcmp(version, w->from_version) != 0)
					/* machined acknowledges an Upgrade while its own upgrade
					 * sequence runs and never runs ours (the sequence lock) */
					return app_err_set(e, -EREMOTEIO,
							   "node %s came back on Talos %s, neither %s "
							   "(before) nor %s: another "
							   "upgrade of it (talosctl, another appliance run) "
							   "was in progress, and "
							   "Talos acknowledged ours without running it; "
							   "re-run to upgrade it to %s",
							   n->mn->name, version, w->from_version,
							   w->want_version, w->want_version);
				else
					snprintf(last, sizeof(last), "it answers with Talos %s", version);
			}
			if (ph == PH_SERVICES) {
				if (talosops_services(&n->api, &d->once, &svc, &ce) < 0)
					snprintf(last, sizeof(last), "ServiceList: %.500s", ce.msg);
				else if (talosops_services_judge(&svc, n->mn->role == NODE_ROLE_CONTROLPLANE,
								 &vd, &bad),
					 vd.problems > 0)
					snprintf(last, sizeof(last), "services not healthy: %.500s",
						 bad.data);
				else {
					if (r)
						day2_note_services(r, step, n->mn->name, &vd);
					ph = PH_READY;
				}
			}
			if (ph == PH_READY) {
				/* what talosctl upgrade waits for (MachineReadyEventFn): Talos'
				 * own readiness, which also needs time sync, the network, the
				 * static pods and the Kubernetes Node */
				char stage[32];
				bool ready;
				int ms = talosops_machine_status(&n->api, &d->once, stage, sizeof(stage),
								 &ready, &bad, &ce);

				/* an apid without the resource API (UNIMPLEMENTED): the
				 * healthy services are all there is to go by */
				if (ms == -ENOSYS) {
					if (r)
						report_note(r, step,
							    "%s: no resource API, Talos' readiness not "
							    "checked (its services are healthy)",
							    n->mn->name);
					ph = n->mn->role == NODE_ROLE_CONTROLPLANE ? PH_ETCD : PH_KUBE;
				} else if (ms < 0)
					snprintf(last, sizeof(last), "MachineStatus: %.500s", ce.msg);
				else if (strcmp(stage, "running") != 0 || !ready)
					snprintf(last, sizeof(last), "Talos reports stage %s, %s%s%.500s",
						 stage, ready ? "ready" : "not ready", bad.len ? ": " : "",
						 bad.data);
				else {
					if (r)
						report_note(r, step, "%s: Talos reports it running and ready",
							    n->mn->name);
					ph = n->mn->role == NODE_ROLE_CONTROLPLANE ? PH_ETCD : PH_KUBE;
				}
			}
			if (ph == PH_ETCD) {
				if ((w->etcd_self_only ? etcd_member(d, n, &ce) : day2_etcd_full(d, n, &ce)) <
				    0)
					snprintf(last, sizeof(last), "%.500s", ce.msg);
				else {
					if (r)
						report_note(r, step,
							    w->etcd_self_only
								? "%s: back in etcd"
								: "%s: etcd has every control plane",
							    n->mn->name);
					ph = PH_KUBE;
				}
			}
			if (ph == PH_KUBE) {
				if (!w->kube)
					ph = PH_DONE;
				else if (kube_node_ready(w->kube, n->hostname, last, sizeof(last)) == 0) {
					if (r)
						report_note(r, step, "%s: Kubernetes node %s Ready",
							    n->mn->name, n->hostname);
					ph = PH_DONE;
				}
			}
		}
		talosops_services_free(&svc);
		buf_free(&bad);
		if (ph == PH_DONE)
			break;
		if (util_mono_ms() - start >= limit) {
			static const char *const what[] = {
				[PH_DOWN] = "go down for its reboot",
				[PH_UP] = "come back (its Talos API does not answer)",
				[PH_VERSION] = "answer with the new version",
				[PH_SERVICES] = "report healthy services",
				[PH_READY] = "become ready (Talos' machine status)",
				[PH_ETCD] = "get every control plane back into etcd",
				[PH_KUBE] = "become Ready in Kubernetes",
			};

			if (ph == PH_VERSION && seen_down)
				return app_err_set(
				    e, -EREMOTEIO,
				    "node %s came back on Talos %s, not %s: the new version did not "
				    "boot and Talos went back to the previous one; look at its console "
				    "or talosctl -n %s dmesg",
				    n->mn->name, version, w->want_version, n->host);
			return app_err_set(e, -ETIMEDOUT, "node %s did not %s within %lds (last: %s)",
					   n->mn->name, what[ph], w->timeout_s, last);
		}
		util_sleep_ms(WAIT_POLL_MS);
	}
	return 0;
}

/* Text from Talos, one note per line, secrets redacted: besides the dry
 * run's diff, an AUTO apply that reboots answers "...with a reboot: this
 * config change can't be applied in immediate mode\ndiff:\n<diff>" and a
 * NO_REBOOT refusal carries the same diff, whose context holds
 * machine.token (siderolabs/talos v1.10.5 v1alpha1_server.go
 * ApplyConfiguration modeErr, v1alpha1_runtime.go CanApplyImmediate). */
void day2_print_talos(struct report *r, const char *step, const char *details)
{
	struct buf red = { 0 };

	nodecfg_redact_diff(details, &red);
	for (const char *p = red.data; p && *p;) {
		const char *nl = strchr(p, '\n');
		int n = (int)(nl ? nl - p : (long)strlen(p));

		/* Talos' "Config diff:\n\n": an empty line would print as the
		 * note's indentation alone */
		if (n > 0)
			report_note(r, step, "%.*s", n, p);
		p = nl ? nl + 1 : p + n;
	}
	buf_free(&red);
}

/* A failure whose message may carry Talos' diff: the lines after the first
 * as redacted notes, then the first line as the failure. */
void day2_fail_talos(struct report *r, const char *step, const char *msg)
{
	struct buf red = { 0 };
	const char *nl;

	nodecfg_redact_diff(msg, &red);
	nl = strchr(red.data, '\n');
	if (nl && nl[1])
		day2_print_talos(r, step, nl + 1);
	if (nl)
		red.data[nl - red.data] = '\0';
	report_step_end(r, step, REPORT_FAILED, red.data);
	buf_free(&red);
}

int day2_check_stage(const struct day2 *d, const struct day2_node *n, struct report *r, const char *step,
		     char *stage, struct app_err *e)
{
	struct buf unmet = { 0 };
	char st[32];
	bool ready;
	int k = talosops_machine_status(&n->api, &d->once, st, sizeof(st), &ready, &unmet, e);

	buf_free(&unmet);
	if (stage)
		snprintf(stage, sizeof(st), "%s", k == 0 ? st : "");
	if (k == -ENOSYS) {
		report_note(r, step, "%s does not report its stage (no resource API: %s); not checked",
			    n->mn->name, e->msg);
		return 0;
	}
	if (k < 0)
		return app_err_prefix(e, "reading the stage of %s", n->mn->name);
	if (!machstat_busy(st))
		return 0;
	return app_err_set(e, -EBUSY,
			   "node %s is %s (Talos reports stage '%s'); wait until it is running and re-run",
			   n->mn->name, st, st);
}

static void on_stop(int sig)
{
	static const char msg[] =
	    "\nappliance: stopped; re-run the same command to continue: the journal resumes\n"
	    "the step it was on (a node that was rebooting: wait until it answers)\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	_exit(EXIT_FAIL);
}

void day2_stop_on_signal(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
