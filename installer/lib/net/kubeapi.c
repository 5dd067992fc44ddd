/* Kubernetes API client. See kubeapi.h. */
#include "net/kubeapi.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/ytree.h"
#include "talos/talos_pki.h"

#define KUBECONFIG_MAX (1u << 20)
#define KUBE_REPLY_MAX (8u << 20)

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca);
	free(c->crt);
	if (c->key)
		secure_free(c->key, c->key_len + 1);
	memset(c, 0, sizeof(*c));
}

static const char *sval(const struct ynode *n)
{
	return n && n->type == YN_SCALAR ? n->value : NULL;
}

/* The entry of a named list (clusters:, users:, contexts:) called name. */
static const struct ynode *named(const struct ynode *root, const char *list, const char *name)
{
	const struct ynode *l = ynode_map_get(root, list);

	if (!l || l->type != YN_SEQ)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		const char *nm = sval(ynode_map_get(l->items[i], "name"));

		if (nm && strcmp(nm, name) == 0)
			return l->items[i];
	}
	return NULL;
}

static int b64_field(const struct ynode *map, const char *key, const char *name, char **ret, size_t *ret_len,
		     struct app_err *e)
{
	const char *v = sval(ynode_map_get(map, key));
	struct buf b = { 0 };

	if (!v || !*v)
		return app_err_set(
		    e, -EINVAL, "%s: '%s' is missing (only inline *-data kubeconfigs are read)", name, key);
	if (talos_b64_decode(v, &b) < 0 || !b.data || !strstr(b.data, "-----BEGIN ")) {
		if (b.data)
			secure_free(b.data, b.cap);
		return app_err_set(e, -EINVAL, "%s: '%s' is not base64-encoded PEM", name, key);
	}
	*ret = b.data;
	*ret_len = b.len;
	return 0;
}

int kube_client_parse(const char *text, size_t len, const char *name, struct kube_client *ret,
		      struct app_err *e)
{
	struct ytree *t = NULL;
	const struct ynode *ctx, *cl, *us;
	const char *cur, *cn, *un, *server;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = ytree_parse(name, text, len, &t, e);
	if (r < 0)
		return r;
	cur = sval(ynode_map_get(t->root, "current-context"));
	ctx = cur ? named(t->root, "contexts", cur) : NULL;
	if (!ctx) {
		r = app_err_set(e, -EINVAL, "%s: current-context '%s' is not under 'contexts'", name,
				cur ? cur : "");
		goto out;
	}
	cn = sval(ytree_get((struct ynode *)ctx, "context.cluster"));
	un = sval(ytree_get((struct ynode *)ctx, "context.user"));
	cl = cn ? named(t->root, "clusters", cn) : NULL;
	us = un ? named(t->root, "users", un) : NULL;
	if (!cl || !us) {
		r = app_err_set(e, -EINVAL, "%s: context '%s' names %s '%s', which is not in the file", name,
				cur, !cl ? "cluster" : "user", !cl ? (cn ? cn : "") : (un ? un : ""));
		goto out;
	}
	cl = ynode_map_get(cl, "cluster");
	us = ynode_map_get(us, "user");
	server = sval(ynode_map_get(cl, "server"));
	if (!server || strncmp(server, "https://", 8) != 0) {
		r = app_err_set(e, -EINVAL, "%s: cluster '%s' has no https:// server", name, cn);
		goto out;
	}
	if ((r = b64_field(cl, "certificate-authority-data", name, &ret->ca, &ret->ca_len, e)) < 0 ||
	    (r = b64_field(us, "client-certificate-data", name, &ret->crt, &ret->crt_len, e)) < 0 ||
	    (r = b64_field(us, "client-key-data", name, &ret->key, &ret->key_len, e)) < 0)
		goto out;
	ret->server = xstrdup(server);
out:
	if (r < 0)
		kube_client_free(ret);
	ytree_free(t);
	return r;
}

int kube_client_from_kubeconfig(const char *path, struct kube_client *ret, struct app_err *e)
{
	struct buf b = { 0 };
	int r = read_file(path, KUBECONFIG_MAX, &b, e);

	if (r < 0)
		return app_err_prefix(e, "kubeconfig");
	r = kube_client_parse(b.data, b.len, path, ret, e);
	secure_free(b.data, b.cap);
	return r;
}

struct sink {
	struct buf *out;
	bool too_big;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (s->out->len + n > KUBE_REPLY_MAX) {
		s->too_big = true;
		return 0;
	}
	buf_append(s->out, p, n);
	return n;
}

/* A Kubernetes Status object's "message", for error replies. */
static void status_message(const struct buf *b, char *out, size_t n)
{
	struct ytree *t = NULL;
	const char *m;

	out[0] = '\0';
	if (!b->data || ytree_parse("reply", b->data, b->len, &t, NULL) < 0)
		return;
	m = sval(ynode_map_get(t->root, "message"));
	if (m)
		snprintf(out, n, ": %s", m);
	ytree_free(t);
}

int kube_get(const struct kube_client *c, const char *path, struct buf *out, struct app_err *e)
{
	return kube_request(c, "GET", path, NULL, 0, out, e);
}

int kube_request(const struct kube_client *c, const char *method, const char *path, const char *body,
		 size_t body_len, struct buf *out, struct app_err *e)
{
	CURL *curl = curl_easy_init();
	struct curl_blob ca = { c->ca, c->ca_len, CURL_BLOB_COPY };
	struct curl_blob crt = { c->crt, c->crt_len, CURL_BLOB_COPY };
	struct curl_blob key = { c->key, c->key_len, CURL_BLOB_COPY };
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	char errbuf[CURL_ERROR_SIZE] = "", msg[400];
	struct sink s = { out, false };
	char *url = xasprintf("%s%s", c->server, path);
	long code = 0;
	CURLcode cc;
	int r = 0;

	if (!curl) {
		free(url);
		curl_slist_free_all(h);
		return app_err_set(e, -ENOMEM, "cannot initialise libcurl");
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "appliance-status/1");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : 10000L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
	curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &crt);
	curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
	curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (s.too_big)
		r = app_err_set(e, -EMSGSIZE, "%s: reply is larger than %u bytes", url, KUBE_REPLY_MAX);
	else if (cc != CURLE_OK)
		r = app_err_set(e, cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED, "%s: %s", url,
				errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (code < 200 || code > 299) {
		status_message(out, msg, sizeof(msg));
		r = app_err_set(e,
				code == 401 || code == 403 ? -EACCES
				: code == 404		   ? -ENOENT
				: code == 409		   ? -EAGAIN
				: code == 422		   ? -EINVAL
							   : -EREMOTEIO,
				"%s%s%s: HTTP %ld%s", strcmp(method, "GET") ? method : "",
				strcmp(method, "GET") ? " " : "", url, code, msg);
	} else if (!out->data)
		buf_append(out, "", 0);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	free(url);
	return r;
}

void kube_objects_free(struct kube_objects *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].namespace);
		free(o->v[i].name);
		free(o->v[i].reason);
		free(o->v[i].message);
		free(o->v[i].schematic);
		free(o->v[i].node_name);
		free(o->v[i].image);
		free(o->v[i].kubelet_version);
	}
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

static const struct ynode *ready_condition(const struct ynode *item)
{
	const struct ynode *conds = ytree_get((struct ynode *)item, "status.conditions");

	if (!conds || conds->type != YN_SEQ)
		return NULL;
	for (size_t i = 0; i < conds->n; i++) {
		const char *type = sval(ynode_map_get(conds->items[i], "type"));

		if (type && strcmp(type, "Ready") == 0)
			return conds->items[i];
	}
	return NULL;
}

int kube_parse_ready(const char *json, size_t len, const char *name, struct kube_objects *ret,
		     struct app_err *e)
{
	struct ytree *t = NULL;
	const struct ynode *items;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = ytree_parse(name, json, len, &t, e);
	if (r < 0)
		return r;
	items = ynode_map_get(t->root, "items");
	if (!items || (items->type != YN_SEQ && !ynode_is_null(items))) {
		ytree_free(t);
		return app_err_set(e, -EPROTO, "%s: not a list (no 'items')", name);
	}
	for (size_t i = 0; items->type == YN_SEQ && i < items->n; i++) {
		const struct ynode *it = items->items[i], *cond = ready_condition(it);
		const char *ns = sval(ytree_get((struct ynode *)it, "metadata.namespace"));
		const char *nm = sval(ytree_get((struct ynode *)it, "metadata.name"));
		const char *st = cond ? sval(ynode_map_get(cond, "status")) : NULL;
		const char *reason = cond ? sval(ynode_map_get(cond, "reason")) : NULL;
		const char *msg = cond ? sval(ynode_map_get(cond, "message")) : NULL;
		const char *sch = sval(ynode_map_get(ytree_get((struct ynode *)it, "metadata.annotations"),
						     "extensions.talos.dev/schematic"));
		const char *node = sval(ytree_get((struct ynode *)it, "spec.nodeName"));
		const struct ynode *ctrs = ytree_get((struct ynode *)it, "spec.containers");
		const char *img = ctrs && ctrs->type == YN_SEQ && ctrs->n
				      ? sval(ynode_map_get(ctrs->items[0], "image"))
				      : NULL;
		const char *kv = sval(ytree_get((struct ynode *)it, "status.nodeInfo.kubeletVersion"));
		struct kube_object *o;

		ret->v = xrealloc(ret->v, (ret->n + 1) * sizeof(*ret->v));
		o = &ret->v[ret->n++];
		o->namespace = xstrdup(ns ? ns : "");
		o->name = xstrdup(nm ? nm : "");
		o->ready = !st			      ? KUBE_READY_UNKNOWN
			   : strcmp(st, "True") == 0  ? KUBE_READY_TRUE
			   : strcmp(st, "False") == 0 ? KUBE_READY_FALSE
						      : KUBE_READY_UNKNOWN;
		o->reason = xstrdup(reason ? reason : "");
		o->message = xstrdup(msg ? msg : "");
		o->schematic = xstrdup(sch ? sch : "");
		o->node_name = xstrdup(node ? node : "");
		o->image = xstrdup(img ? img : "");
		o->kubelet_version = xstrdup(kv ? kv : "");
	}
	ytree_free(t);
	return 0;
}

int kube_list_ready(const struct kube_client *c, const char *path, struct kube_objects *ret,
		    struct app_err *e)
{
	struct buf b = { 0 };
	int r = kube_get(c, path, &b, e);

	memset(ret, 0, sizeof(*ret));
	if (r == 0)
		r = kube_parse_ready(b.data, b.len, path, ret, e);
	buf_free(&b);
	return r;
}
