/* appliance upgrade --kubernetes, step by step as talosctl upgrade-k8s.
 * See upgrade_k8s.h. What upstream does and what this follows
 * (siderolabs/talos v1.10.5, 55fc6233):
 *   talos_managed.go Upgrade: path check ("unsupported upgrade path"), the
 *     removed-items checks (go-kubernetes v0.2.23 upgrade/checks.go; here from
 *     the configs' extraArgs, not the static pods' commands), prePullImages (ImagePull of the three
 *     static pod images into NS_CRI on every control plane, the kubelet image
 *     into NS_SYSTEM on every node; UNIMPLEMENTED is skipped), then
 *     upgradeStaticPod per component across the control planes, kube-proxy,
 *     kubelet, manifests sync.
 *   patch.go patchNodeConfig: the node's running config with one field
 *     changed, ApplyConfiguration NO_REBOOT.
 *   talos_managed.go checkPodStatus: the static pod on that node (label
 *     k8s-app=<component>, kube-system) is on the new config and Ready,
 *     bounded (5 min upstream); matched here by spec.nodeName and image.
 *   kubelet.go upgradeKubeletOnNode: kubelet healthy again, then the Node
 *     reports status.nodeInfo.kubeletVersion == the new version and Ready
 *     (3 min upstream); "node version mismatch: got .., expected ..".
 *   staticPodImage / upgradeKubeletPatcher: a config already on the image is
 *     not patched again (errUpdateSkipped), but still waited for.
 *   getManifests / syncManifests: the bootstrap manifests of the first
 *     control plane (COSI State/List) synced as go-kubernetes manifests/
 *     sync.go and rollout.go do (see day2/k8sman.h), one journal step. */
#include "upgrade_k8s.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "day2.h"
#include "day2/compat.h"
#include "day2/k8sup.h"
#include "install/journal.h"
#include "install/report.h"
#include "net/kubeapi.h"
#include "net/talosops.h"
#include "profile/model.h"

#define POLL_MS 250

struct k8s_step {
	enum k8sup_comp comp;
	size_t node;   /* index into d->v */
	char *from;    /* the image its running config has */
	char *to;      /* the image it gets */
	bool done;     /* journaled done with these inputs */
	bool in_place; /* the config already has it: only wait */
	char step[160];
};

struct k8s_up {
	struct k8s_up_ctx c;
	struct k8s_step *v;
	size_t n;
	char *manifests; /* of the first control plane */
	const char *manifests_node;
	size_t manifests_idx;
};

static void inputs_of(const struct k8s_up *u, const struct k8s_step *s, char inputs[65], struct buf *text)
{
	buf_printf(text, "node=%s\ncomponent=%s\nimage=%s\n", u->c.d->v[s->node].mn->name,
		   k8sup_component(s->comp)->name, s->to);
	sha256_hex(text->data, text->len, inputs);
}

static bool journaled_done(const struct k8s_up *u, const struct k8s_step *s)
{
	struct journal_entry je;
	struct buf text = { 0 };
	char inputs[65];
	bool done;

	inputs_of(u, s, inputs, &text);
	buf_free(&text);
	done = u->c.j && journal_get(u->c.j, s->step, &je, NULL) == 0 && je.status == JOURNAL_DONE &&
	       strcmp(je.inputs, inputs) == 0;
	return done;
}

/* The config the node runs (patch.go reads MachineConfig config.ActiveID, not
 * the persisted file). A persisted config that is not the active one (a staged
 * apply waiting for a reboot, or a try on trial) is refused: the no-reboot
 * apply of the patched active config would persist it over the staged one
 * (talosctl upgrade-k8s drops a staged config that way, silently). */
static int read_config(const struct k8s_up *u, const struct day2_node *n, struct buf *cfg, struct app_err *e)
{
	bool differs;

	if (talosops_machine_config(&n->api, &u->c.d->once, cfg, &differs, e) < 0)
		return app_err_prefix(e, "reading the running config of %s", n->mn->name);
	if (differs)
		return app_err_set(
		    e, -EBUSY,
		    "%s runs a config other than the one it keeps for its next boot (an apply "
		    "with --mode staged waiting for a reboot, or --mode try on trial): patching "
		    "the running config would replace the kept one. Reboot it or apply the "
		    "profile first (appliance apply), then re-run",
		    n->mn->name);
	return 0;
}

static void cfg_free(struct buf *cfg)
{
	if (cfg->data)
		secure_free(cfg->data, cfg->cap);
	memset(cfg, 0, sizeof(*cfg));
}

/* The running config of node with only step's image changed, and Talos'
 * answer to it (dry run or not). 1 when the config already has the image
 * (nothing sent), 0 sent, <0 refused. */
static int patch_apply(const struct k8s_up *u, const struct k8s_step *s, bool dry,
		       struct talosops_applied *res, struct app_err *e)
{
	const struct day2_node *n = &u->c.d->v[s->node];
	struct buf cfg = { 0 }, patched = { 0 };
	struct k8sup_facts f = { 0 };
	int r = read_config(u, n, &cfg, e);

	if (r == 0)
		r = k8sup_facts(cfg.data, cfg.len, TALOSOPS_CONFIG_PATH, &f, e);
	if (r == 0 && strcmp(f.image[s->comp], s->to) == 0)
		r = 1;
	else if (r == 0)
		r = k8sup_patch(cfg.data, cfg.len, s->comp, s->to, &patched, e);
	if (r == 0 && talosops_apply(&n->api, &u->c.d->once, patched.data, patched.len,
				     TALOSOPS_MODE_NO_REBOOT, dry, res, e) < 0)
		r = app_err_prefix(e, "%s refused the %s image %s", n->mn->name,
				   k8sup_component(s->comp)->name, s->to);
	k8sup_facts_free(&f);
	cfg_free(&cfg);
	cfg_free(&patched);
	return r;
}

static void add_step(struct k8s_up *u, enum k8sup_comp c, size_t node, const char *from)
{
	struct k8s_step *s;

	u->v = xrealloc(u->v, (u->n + 1) * sizeof(*u->v));
	s = &u->v[u->n++];
	memset(s, 0, sizeof(*s));
	s->comp = c;
	s->node = node;
	s->from = xstrdup(from);
	s->to = k8sup_target_image(c, from, u->c.target);
	snprintf(s->step, sizeof(s->step), "%s/%s", k8sup_component(c)->name, u->c.d->v[node].mn->name);
}

/* go-kubernetes upgrade/checks.go Run: what the path removes and the nodes
 * still use (feature gates, flags, admission plugins in the configs'
 * extraArgs; objects of removed API resources). How many found. */
static int removed_items(struct k8s_up *u, const char *from, const char *step, struct buf *why)
{
	const struct k8sup_removed *rm = k8sup_removed_for(from, u->c.target);
	const char *const *apis;
	struct buf found = { 0 };
	struct app_err e = { 0 };
	int n = 0;

	if (!rm) {
		report_note(u->c.r, step, "removed flags, feature gates and APIs: none on this path");
		return 0;
	}
	for (size_t i = 0; i < u->c.d->n; i++) {
		const struct day2_node *dn = &u->c.d->v[i];
		struct buf cfg = { 0 };
		int r = read_config(u, dn, &cfg, &e);

		if (r == 0)
			r = k8sup_removed_in_config(rm, cfg.data, cfg.len, dn->mn->name, &found, &e);
		cfg_free(&cfg);
		if (r < 0) {
			buf_printf(why, "%s", e.msg);
			buf_free(&found);
			return 1;
		}
		n += r;
	}
	for (apis = k8sup_removed_apis(rm); *apis; apis++) {
		struct kube_objects o = { 0 };
		int r = kube_list_ready(u->c.kube, *apis, &o, &e);

		if (r == 0 && o.n)
			n++, buf_printf(&found, "removed resource %s: %zu objects\n", *apis, o.n);
		kube_objects_free(&o);
		if (r < 0 && r != -ENOENT) {
			buf_printf(why, "checking for removed API resources: %s", e.msg);
			buf_free(&found);
			return 1;
		}
	}
	for (const char *p = found.data; p && *p;) {
		const char *nl = strchr(p, '\n');

		report_note(u->c.r, step, "removed in %s and still used: %.*s", k8sup_removed_path(rm),
			    (int)(nl ? nl - p : (long)strlen(p)), p);
		p = nl ? nl + 1 : p + strlen(p);
	}
	if (n)
		buf_printf(
		    why,
		    "%d flags, feature gates, admission plugins or API objects that Kubernetes %s removes "
		    "are still in use (listed above); take them out of the profile and apply it first",
		    n, k8sup_removed_path(rm));
	else
		report_note(u->c.r, step, "removed flags, feature gates and APIs of %s: none in use",
			    k8sup_removed_path(rm));
	buf_free(&found);
	return n ? 1 : 0;
}

/* Pre-checks: every node's running config, the Kubernetes API and its
 * Nodes, the version path from the lowest version any component runs. */
static int prechecks(struct k8s_up *u, struct k8sup_facts *facts, struct buf *why)
{
	const struct day2 *d = u->c.d;
	const char *step = "kubernetes/pre-checks";
	struct kube_objects nodes = { 0 };
	struct app_err e = { 0 };
	const char *lowest = NULL;
	int bad = 0;

	report_step_begin(u->c.r, ++*u->c.idx, step, "upgrade-k8s pre-checks");
	for (size_t i = 0; i < d->n; i++) {
		const struct day2_node *n = &d->v[i];
		struct buf cfg = { 0 };

		e.msg[0] = '\0';
		if (read_config(u, n, &cfg, &e) < 0 ||
		    k8sup_facts(cfg.data, cfg.len, TALOSOPS_CONFIG_PATH, &facts[i], &e) < 0) {
			buf_printf(why, "%s%s", why->len ? "; " : "", e.msg);
			bad++;
		}
		cfg_free(&cfg);
		for (int c = 0; c < K8SUP_N; c++) {
			const char *t = k8sup_image_tag(facts[i].image[c] ? facts[i].image[c] : "");

			if (*t && (!lowest || day2_version_cmp(t, lowest) < 0))
				lowest = t;
		}
	}
	if (!bad && !lowest) {
		buf_printf(
		    why, "cannot tell which Kubernetes the nodes run (no component image in their configs)");
		bad++;
	}
	if (!bad) {
		report_note(u->c.r, step, "lowest Kubernetes version the nodes' configs run: %s", lowest);
		if (day2_kubernetes_path(lowest, u->c.target, &e) < 0 ||
		    day2_kubernetes_supported(u->c.target, u->c.talos, &e) < 0) {
			buf_printf(why, "%s", e.msg);
			bad++;
		}
	}
	if (!bad && kube_list_ready(u->c.kube, "/api/v1/nodes", &nodes, &e) < 0) {
		buf_printf(why, "the Kubernetes API: %s", e.msg);
		bad++;
	}
	for (size_t i = 0; !bad && i < d->n; i++) {
		bool found = false;

		for (size_t k = 0; k < nodes.n; k++)
			if (strcmp(nodes.v[k].name, d->v[i].hostname) == 0) {
				found = true;
				report_note(u->c.r, step, "Kubernetes node %s: kubelet %s, %s",
					    nodes.v[k].name,
					    nodes.v[k].kubelet_version[0] ? nodes.v[k].kubelet_version : "?",
					    nodes.v[k].ready == KUBE_READY_TRUE ? "Ready" : "not Ready");
			}
		if (!found) {
			buf_printf(why, "%sno Kubernetes node %s (node %s of the profile)",
				   why->len ? "; " : "", d->v[i].hostname, d->v[i].mn->name);
			bad++;
		}
	}
	kube_objects_free(&nodes);
	if (!bad)
		bad += removed_items(u, lowest, step, why);
	report_step_end(u->c.r, step, bad ? REPORT_FAILED : REPORT_DONE, bad ? why->data : "passed");
	return bad;
}

int k8s_up_plan(const struct k8s_up_ctx *c, struct k8s_up **ret, size_t *todo)
{
	struct k8s_up *u = xcalloc(1, sizeof(*u));
	const struct day2 *d = c->d;
	struct k8sup_facts *facts = xcalloc(d->n ? d->n : 1, sizeof(*facts));
	struct buf why = { 0 };
	int bad;

	u->c = *c;
	*ret = u;
	*todo = 0;
	bad = prechecks(u, facts, &why);
	buf_free(&why);
	if (bad)
		goto out;
	/* upgrade-k8s's order: each static pod across the control planes, then
	 * kube-proxy (control planes, when enabled), then every kubelet */
	for (int comp = 0; comp < K8SUP_N; comp++)
		for (size_t i = 0; i < d->n; i++) {
			bool cp = d->v[i].mn->role == NODE_ROLE_CONTROLPLANE;

			if (k8sup_component(comp)->control_plane_only && !cp)
				continue;
			if (comp == K8SUP_PROXY && !facts[i].proxy_enabled)
				continue;
			if (!facts[i].image[comp][0]) {
				/* Talos would add the field; a config without it is not one
				 * appliance rendered */
				report_note(c->r, NULL, "%s: its config sets no %s image; skipped",
					    d->v[i].mn->name, k8sup_component(comp)->name);
				continue;
			}
			add_step(u, comp, i, facts[i].image[comp]);
		}
	for (size_t i = 0; i < d->n && !u->manifests; i++)
		if (d->v[i].mn->role == NODE_ROLE_CONTROLPLANE) {
			u->manifests = xstrdup(facts[i].manifests);
			u->manifests_node = d->v[i].mn->name;
			u->manifests_idx = i;
		}
	for (size_t k = 0; k < u->n; k++) {
		struct k8s_step *s = &u->v[k];
		struct talosops_applied res = { 0 };
		struct app_err e = { 0 };
		int r;

		report_step_begin(c->r, ++*c->idx, s->step, "plan");
		s->done = journaled_done(u, s);
		if (s->done) {
			report_step_end(c->r, s->step, REPORT_SKIP, s->to);
			continue;
		}
		(*todo)++;
		r = patch_apply(u, s, true, &res, &e);
		if (r < 0) {
			day2_fail_talos(c->r, s->step, e.msg);
			bad++;
			continue;
		}
		if (r == 1) {
			s->in_place = true;
			report_action(c->r, s->step, "keep",
				      "%s already in the config of %s; wait for it to run it", s->to,
				      d->v[s->node].mn->name);
		} else {
			report_action(c->r, s->step, "write", "%s -> %s (machine config, no reboot)",
				      k8sup_image_tag(s->from), k8sup_image_tag(s->to));
			day2_print_talos(c->r, s->step, res.details);
		}
		talosops_applied_free(&res);
		report_step_end(c->r, s->step, REPORT_TODO, NULL);
	}
	if (!bad && u->manifests)
		bad += k8s_man_plan(c, u->manifests_idx, todo);
out:
	for (size_t i = 0; i < d->n; i++)
		k8sup_facts_free(&facts[i]);
	free(facts);
	return bad;
}

/* Image pre-pull on every node that will run each image. 0 or -1 (e set). */
static int prepull(struct k8s_up *u, struct app_err *e)
{
	const char *step = "kubernetes/pre-pull";
	int rc = 0;

	report_step_begin(u->c.r, ++*u->c.idx, step, "image pre-pull");
	for (size_t k = 0; k < u->n && rc == 0; k++) {
		const struct k8s_step *s = &u->v[k];
		const struct k8sup_component *co = k8sup_component(s->comp);
		const struct day2_node *n = &u->c.d->v[s->node];
		int r;

		if (s->done || !co->ns)
			continue;
		r = talosops_image_pull(&n->api, &u->c.d->once, co->ns, s->to, e);
		if (r == -ENOSYS)
			report_note(u->c.r, step, "%s: ImagePull not implemented, skipping", n->mn->name);
		else if (r < 0)
			rc = app_err_prefix(e, "error pre-pulling %s on %s", s->to, n->mn->name);
		else
			report_note(u->c.r, step, "%s: pulled %s", n->mn->name, s->to);
	}
	if (rc < 0)
		report_step_end(u->c.r, step, REPORT_FAILED, e->msg);
	else
		report_step_end(u->c.r, step, REPORT_DONE, "images on their nodes");
	return rc < 0 ? -1 : 0;
}

/* The static pod of s on its node runs s->to and is Ready. */
static int pod_ready(const struct k8s_up *u, const struct k8s_step *s, char *last, size_t n_last)
{
	const char *name = k8sup_component(s->comp)->name, *host = u->c.d->v[s->node].hostname;
	struct kube_objects o = { 0 };
	struct app_err e = { 0 };
	char *path = xasprintf("/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%%3D%s", name);
	int r = -1;

	if (kube_list_ready(u->c.kube, path, &o, &e) < 0)
		snprintf(last, n_last, "%.500s", e.msg);
	else
		snprintf(last, n_last, "no %s pod on %s", name, host);
	for (size_t i = 0; i < o.n; i++) {
		if (strcmp(o.v[i].node_name, host) != 0)
			continue;
		if (strcmp(o.v[i].image, s->to) != 0)
			snprintf(last, n_last, "pod %s runs %s", o.v[i].name, o.v[i].image);
		else if (o.v[i].ready != KUBE_READY_TRUE)
			snprintf(last, n_last, "pod %s runs %s but is not Ready", o.v[i].name, o.v[i].image);
		else
			r = 0;
	}
	kube_objects_free(&o);
	free(path);
	return r;
}

/* The Node of s reports the new kubelet version and is Ready
 * (kubelet.go checkNodeKubeletVersion). */
static int node_updated(const struct k8s_up *u, const struct k8s_step *s, char *last, size_t n_last)
{
	const char *host = u->c.d->v[s->node].hostname;
	struct kube_objects o = { 0 };
	struct app_err e = { 0 };
	char want[80];
	int r = -1;

	snprintf(want, sizeof(want), "v%s", u->c.target[0] == 'v' ? u->c.target + 1 : u->c.target);
	if (kube_list_ready(u->c.kube, "/api/v1/nodes", &o, &e) < 0)
		snprintf(last, n_last, "%.500s", e.msg);
	else
		snprintf(last, n_last, "node %s not found", host);
	for (size_t i = 0; i < o.n; i++) {
		if (strcmp(o.v[i].name, host) != 0)
			continue;
		if (strcmp(o.v[i].kubelet_version, want) != 0)
			snprintf(last, n_last, "node version mismatch: got \"%s\", expected \"%s\"",
				 o.v[i].kubelet_version, want);
		else if (o.v[i].ready != KUBE_READY_TRUE)
			snprintf(last, n_last, "node is not ready");
		else
			r = 0;
	}
	kube_objects_free(&o);
	return r;
}

static int wait_step(struct k8s_up *u, const struct k8s_step *s, struct app_err *e)
{
	const struct day2_node *n = &u->c.d->v[s->node];
	const char *name = k8sup_component(s->comp)->name;
	long start = util_mono_ms();
	char last[700] = "";

	if (s->comp == K8SUP_PROXY) {
		/* a DaemonSet: the config change re-renders its manifest; the
		 * manifests sync rolls it out (talos_managed.go upgradeKubeProxy
		 * only patches) */
		report_note(u->c.r, s->step, "kube-proxy is a DaemonSet: it moves with the manifests sync");
		return 0;
	}
	if (s->comp == K8SUP_KUBELET) {
		struct day2_wait w = { .timeout_s = u->c.wait_s, .want_version = u->c.talos };

		/* the kubelet service restarts with the new image: healthy again */
		if (day2_wait_node(u->c.d, n, &w, NULL, s->step, e) < 0)
			return -1;
	}
	for (;;) {
		int r = s->comp == K8SUP_KUBELET ? node_updated(u, s, last, sizeof(last))
						 : pod_ready(u, s, last, sizeof(last));

		if (r == 0)
			break;
		if (util_mono_ms() - start >= u->c.wait_s * 1000) {
			if (s->comp == K8SUP_KUBELET)
				return app_err_set(e, -ETIMEDOUT,
						   "node %s did not report kubelet %s within %lds (last: %s)",
						   n->mn->name, k8sup_image_tag(s->to), u->c.wait_s, last);
			return app_err_set(e, -ETIMEDOUT,
					   "%s on %s did not run %s and become Ready within %lds (last: %s)",
					   name, n->mn->name, k8sup_image_tag(s->to), u->c.wait_s, last);
		}
		util_sleep_ms(POLL_MS);
	}
	if (s->comp == K8SUP_KUBELET)
		report_note(u->c.r, s->step, "Kubernetes node %s: kubelet %s, Ready", n->hostname,
			    k8sup_image_tag(s->to));
	else
		report_note(u->c.r, s->step, "%s pod on %s runs %s, Ready", name, n->hostname,
			    k8sup_image_tag(s->to));
	return 0;
}

static int run_step(struct k8s_up *u, struct k8s_step *s)
{
	struct journal_entry je;
	struct talosops_applied res = { 0 };
	struct buf text = { 0 };
	struct app_err e = { 0 };
	char inputs[65];
	int r, rc = -1;

	report_step_begin(u->c.r, ++*u->c.idx, s->step, "Kubernetes component");
	inputs_of(u, s, inputs, &text);
	if (journal_get(u->c.j, s->step, &je, NULL) == 0 && je.status == JOURNAL_STARTED &&
	    strcmp(je.inputs, inputs) == 0)
		report_note(u->c.r, s->step, "resuming: %s was started before (run %d)", s->step, je.runs);
	if (journal_begin(u->c.j, s->step, inputs, text.data, &e) < 0)
		goto fail;
	r = patch_apply(u, s, false, &res, &e);
	if (r < 0)
		goto fail;
	if (r == 1)
		report_note(u->c.r, s->step, "%s already in the config of %s", s->to,
			    u->c.d->v[s->node].mn->name);
	else
		report_note(u->c.r, s->step, "%s: machine configuration patched (%s -> %s, no reboot)",
			    u->c.d->v[s->node].mn->name, k8sup_image_tag(s->from), k8sup_image_tag(s->to));
	if (wait_step(u, s, &e) < 0 || journal_done(u->c.j, s->step, inputs, s->to, &e) < 0)
		goto fail;
	report_step_end(u->c.r, s->step, REPORT_DONE, k8sup_image_tag(s->to));
	s->done = true;
	rc = 0;
	goto out;
fail:
	day2_fail_talos(u->c.r, s->step, e.msg);
out:
	talosops_applied_free(&res);
	buf_free(&text);
	return rc;
}

int k8s_up_run(struct k8s_up *u, char *stopped_at, size_t n)
{
	struct app_err e = { 0 };

	if (prepull(u, &e) < 0) {
		snprintf(stopped_at, n, "the image pre-pull");
		return -1;
	}
	for (size_t k = 0; k < u->n; k++) {
		struct k8s_step *s = &u->v[k];

		if (s->done)
			continue;
		if (run_step(u, s) < 0) {
			snprintf(stopped_at, n, "%s on %s", k8sup_component(s->comp)->name,
				 u->c.d->v[s->node].mn->name);
			return -1;
		}
	}
	if (u->manifests && k8s_man_run(&u->c, u->manifests_idx) < 0) {
		snprintf(stopped_at, n, "the bootstrap manifests sync");
		return -1;
	}
	return 0;
}

void k8s_up_free(struct k8s_up *u)
{
	if (!u)
		return;
	for (size_t k = 0; k < u->n; k++) {
		free(u->v[k].from);
		free(u->v[k].to);
	}
	free(u->v);
	free(u->manifests);
	free(u);
}
