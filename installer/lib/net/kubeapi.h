/* A small Kubernetes API client for `appliance status`: the admin kubeconfig
 * that `appliance bootstrap` wrote (server, cluster CA, client certificate
 * and key, all inline as *-data), HTTPS GET with libcurl (mutual TLS, PEM
 * blobs in memory), JSON read with libyaml through ytree (JSON is YAML flow).
 *
 * What it reads: the list endpoints of Nodes (/api/v1/nodes), Flux
 * Kustomizations (/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations) and
 * HelmReleases (/apis/helm.toolkit.fluxcd.io/v2/helmreleases), and from each
 * item metadata.namespace/name and the status.conditions entry of type Ready
 * (status "True"/"False"/"Unknown", reason, message). */
#ifndef APPLIANCE_KUBEAPI_H
#define APPLIANCE_KUBEAPI_H

#include <stdbool.h>
#include <stddef.h>

struct app_err;
struct buf;

struct kube_client {
	char *server; /* https://host:port */
	char *ca, *crt, *key;
	size_t ca_len, crt_len, key_len; /* key: secret, wiped on free */
	long timeout_ms;		 /* per request; 0: 10000 */
};

/* Parse a kubeconfig (its current-context; clusters/users by name) with
 * certificate-authority-data, client-certificate-data, client-key-data. */
int kube_client_from_kubeconfig(const char *path, struct kube_client *ret, struct app_err *e);
int kube_client_parse(const char *text, size_t len, const char *name, struct kube_client *ret,
		      struct app_err *e);
void kube_client_free(struct kube_client *c);

/* GET server+path into out (at most 8 MiB); non-2xx fails naming the status
 * and the API's Status message (-ENOENT for 404: no such resource type,
 * -EACCES for 401/403). */
int kube_get(const struct kube_client *c, const char *path, struct buf *out, struct app_err *e);
/* METHOD ("GET", "PUT", "POST") server+path, body (JSON, may be NULL) into
 * out; as kube_get, and 409 Conflict / AlreadyExists -> -EAGAIN, 422
 * Invalid -> -EINVAL. */
int kube_request(const struct kube_client *c, const char *method, const char *path, const char *body,
		 size_t body_len, struct buf *out, struct app_err *e);

enum kube_ready { KUBE_READY_UNKNOWN = 0, KUBE_READY_TRUE, KUBE_READY_FALSE };

struct kube_object {
	char *namespace; /* "" for cluster-scoped */
	char *name;
	enum kube_ready ready;
	char *reason;  /* "" when none */
	char *message; /* "" when none */
	/* a Node's annotation extensions.talos.dev/schematic: the Image Factory
	 * schematic the node booted (Talos' NodeAnnotationSpecController from
	 * its ExtensionStatus "schematic"); "" when absent */
	char *schematic;
	/* for `appliance upgrade --kubernetes` (talos_managed.go checkPodStatus,
	 * kubelet.go checkNodeKubeletVersion): a Pod's spec.nodeName and its first
	 * container's image; a Node's status.nodeInfo.kubeletVersion; "" when absent */
	char *node_name;
	char *image;
	char *kubelet_version;
};

struct kube_objects {
	struct kube_object *v;
	size_t n;
};

/* GET a list endpoint and read each item's Ready condition. */
int kube_list_ready(const struct kube_client *c, const char *path, struct kube_objects *ret,
		    struct app_err *e);
/* The same from a list document already in memory. */
int kube_parse_ready(const char *json, size_t len, const char *name, struct kube_objects *ret,
		     struct app_err *e);
void kube_objects_free(struct kube_objects *o);

#endif
