/* The bootstrap manifests Talos renders on a control plane, synced into the
 * cluster the way talosctl upgrade-k8s ends (siderolabs/talos v1.10.5
 * pkg/cluster/kubernetes/talos_managed.go getManifests/syncManifests, then
 * siderolabs/go-kubernetes v0.2.23 kubernetes/manifests get.go, sync.go,
 * rollout.go):
 *   - the objects: every item of every Manifests.kubernetes.talos.dev resource
 *     of namespace "controlplane", resources in id order, items in order;
 *   - each object: GET it; 404 -> create (POST); else PUT it with the current
 *     resourceVersion and dryRun=All and compare the answer with the current
 *     object, minus what Kubernetes sets (uid, resourceVersion, generation,
 *     creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds,
 *     managedFields, finalizers, selfLink, ownerReferences, annotations with
 *     "kubernetes.io/", a ServiceAccount's secrets); changed -> PUT. Not
 *     server-side apply: no field manager, no force, no pruning. A dry run
 *     stops after the comparison;
 *   - then the rollout of the Deployments, then of the DaemonSets, among the
 *     objects it changed.
 * Library code: fills struct app_err, prints nothing. */
#ifndef APPLIANCE_DAY2_K8SMAN_H
#define APPLIANCE_DAY2_K8SMAN_H

#include <stdbool.h>
#include <stddef.h>

struct app_err;
struct buf;
struct ytree;
struct ynode;

enum k8sman_rollout { K8SMAN_NONE = 0, K8SMAN_DEPLOYMENT, K8SMAN_DAEMONSET };

struct k8sman_obj {
	struct ynode *node; /* in its resource's tree */
	char *path;	    /* manifestPath: "apps/v1.DaemonSet/kube-system/kube-proxy" */
	char *url;	    /* "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy" */
	char *coll;	    /* its collection, for a create */
	enum k8sman_rollout rollout;
};

struct k8sman {
	struct ytree **trees;
	size_t n_trees;
	struct k8sman_obj *v;
	size_t n;
};

/* Add the items of one Manifest resource (its spec as YAML: a list of
 * objects). -EINVAL naming the resource and item for an object without
 * apiVersion/kind/metadata.name or of a kind this does not know. */
int k8sman_add(struct k8sman *m, const char *id, const char *yaml, size_t len, struct app_err *e);
void k8sman_free(struct k8sman *m);

/* The object as JSON, metadata.resourceVersion set to rv when rv. */
void k8sman_json(const struct k8sman_obj *o, const char *rv, struct buf *out);

/* Compare the object the API server has (current) with what it would have
 * after the update (the dry-run answer), ignoring what Kubernetes sets.
 * Appends "FIELD: OLD -> NEW" lines (at most a few) to out; returns how many
 * fields differ, or a negative errno. */
int k8sman_diff(const char *current, size_t c_len, const char *dry, size_t d_len, struct buf *out,
		struct app_err *e);
/* metadata.resourceVersion of a JSON object; caller frees; NULL when none. */
char *k8sman_resource_version(const char *json, size_t len);

/* Has this Deployment / DaemonSet (its GET answer) rolled out, as rollout.go
 * judges it? 1 yes, 0 not yet (why says which count is short), <0 error. */
int k8sman_rolled_out(enum k8sman_rollout kind, const char *json, size_t len, char *why, size_t n,
		      struct app_err *e);

#endif
