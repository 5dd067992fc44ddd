/* `appliance upgrade --kubernetes`: the procedure of talosctl upgrade-k8s
 * for Talos-managed control planes (siderolabs/talos v1.10.5
 * pkg/cluster/kubernetes/talos_managed.go Upgrade): pre-checks, image
 * pre-pull, then one component at a time across the control planes
 * (kube-apiserver, kube-controller-manager, kube-scheduler; each node in
 * turn: its running config with only that image changed, applied without a
 * reboot, then the static pod seen on the new image and Ready), kube-proxy,
 * the kubelet of every node (its Node reporting the new version), and the
 * bootstrap manifests. Each (component, node) is journaled. */
#ifndef APPLIANCE_CMD_UPGRADE_K8S_H
#define APPLIANCE_CMD_UPGRADE_K8S_H

#include <stddef.h>

struct day2;
struct report;
struct journal;
struct kube_client;
struct k8s_up;

struct k8s_up_ctx {
	const struct day2 *d;
	struct report *r;
	struct journal *j;
	const struct kube_client *kube;
	const char *talos;  /* the Talos version the nodes run when the steps run */
	const char *target; /* the Kubernetes version */
	long wait_s;	    /* per step */
	int *idx;	    /* report step counter */
};

/* Read each node's running config, check what upgrade-k8s checks, list the
 * steps and show Talos' dry-run diff of each patch. Prints its steps;
 * returns how many things refuse (0: go), with the steps in *ret and how
 * many are left to do in *todo. */
int k8s_up_plan(const struct k8s_up_ctx *c, struct k8s_up **ret, size_t *todo);
/* Carry the steps out; 0, or -1 after reporting the failure, with where it
 * stopped ("kube-scheduler on cp2") in stopped_at. */
int k8s_up_run(struct k8s_up *u, char *stopped_at, size_t n);
void k8s_up_free(struct k8s_up *u);

/* The bootstrap manifests sync (upgrade_k8sman.c), from control plane node
 * (index into c->d->v): the plan step (returns how many things refuse,
 * counts a sync to do in *todo) and the run step (0, or -1 reported). */
int k8s_man_plan(const struct k8s_up_ctx *c, size_t node, size_t *todo);
int k8s_man_run(const struct k8s_up_ctx *c, size_t node);

#endif
