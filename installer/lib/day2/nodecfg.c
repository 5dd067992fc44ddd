/* Machine config facts and the identity guard. See nodecfg.h. */
#include "day2/nodecfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/err.h"
#include "base/util.h"
#include "base/ytree.h"

/* The v1alpha1 document: the first of the stream (talos_config.c writes it
 * first; Talos keeps it first in /system/state/config.yaml). */
size_t nodecfg_first_doc(const char *cfg, size_t len, const char **start)
{
	const char *p = cfg, *end = cfg + len;

	if (len >= 4 && memcmp(p, "---\n", 4) == 0)
		p += 4;
	for (const char *q = p; q < end; q++)
		if ((q == p || q[-1] == '\n') && end - q >= 3 && memcmp(q, "---", 3) == 0 &&
		    (end - q == 3 || q[3] == '\n' || q[3] == '\r')) {
			end = q;
			break;
		}
	*start = p;
	return (size_t)(end - p);
}

int nodecfg_parse_first(const char *cfg, size_t len, const char *name, struct ytree **ret, struct app_err *e)
{
	const char *p;
	size_t n = nodecfg_first_doc(cfg, len, &p);

	return ytree_parse(name, p, n, ret, e);
}

/* A document that is only a null scalar ("", ~, null): Talos skips it. */
static bool null_scalar(const yaml_event_t *ev)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(v, nulls[i]) == 0)
			return true;
	return false;
}

int nodecfg_check(const char *cfg, size_t len, const char *name, struct app_err *e)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t items = 0; /* complete keys and values of the document's mapping so far */
	int depth = 0, r = 0;
	bool done = false, key_machine = false, machine = false;

	if (len == 0)
		return app_err_set(e, -EINVAL, "machine config '%s' is empty", name);
	if (memchr(cfg, '\0', len))
		return app_err_set(e, -EINVAL, "machine config '%s' contains NUL bytes: not a YAML text",
				   name);
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)cfg, len);
	while (r == 0 && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = ytree_syntax_error(&p, name, e);
			break;
		}
		bool node = ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT ||
			    ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT;
		if (node && depth == 0 && ev.type != YAML_MAPPING_START_EVENT &&
		    !(ev.type == YAML_SCALAR_EVENT && null_scalar(&ev)))
			r = app_err_set(e, -EINVAL,
					"%s:%zu:%zu: a document of a machine config is %s, not a mapping",
					name, ev.start_mark.line + 1, ev.start_mark.column + 1,
					ev.type == YAML_SEQUENCE_START_EVENT ? "a list" : "a single value");
		if (r == 0 && node && depth == 1 && items % 2 == 1 && key_machine) {
			if (ev.type == YAML_MAPPING_START_EVENT)
				machine = true;
			else
				r = app_err_set(e, -EINVAL, "%s:%zu:%zu: 'machine' is not a mapping", name,
						ev.start_mark.line + 1, ev.start_mark.column + 1);
			key_machine = false;
		}
		if (ev.type == YAML_SCALAR_EVENT && depth == 1 && items % 2 == 0)
			key_machine = strcmp((const char *)ev.data.scalar.value, "machine") == 0;
		if ((ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT) && depth == 1)
			items++;
		if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
			depth++;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			if (--depth == 1)
				items++;
			else if (depth == 0)
				items = 0;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	ytree_parser_delete(&p);
	if (r == 0 && !machine)
		r = app_err_set(e, -EINVAL,
				"machine config '%s' has no v1alpha1 document with a 'machine:' mapping: "
				"not a Talos machine config of a node",
				name);
	return r;
}

static const char *sv(struct ynode *root, const char *path)
{
	struct ynode *n = ytree_get(root, path);

	return n && n->type == YN_SCALAR ? n->value : NULL;
}

int nodecfg_facts(const char *config, size_t len, const char *name, struct nodecfg_facts *ret,
		  struct app_err *e)
{
	struct ytree *t = NULL;
	const char *img, *colon, *slash;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = nodecfg_parse_first(config, len, name, &t, e);
	if (r < 0)
		return r;
	ret->type = xstrdup(sv(t->root, "machine.type") ? sv(t->root, "machine.type") : "");
	img = sv(t->root, "machine.install.image");
	ret->install_image = xstrdup(img ? img : "");
	ret->kubelet_image =
	    xstrdup(sv(t->root, "machine.kubelet.image") ? sv(t->root, "machine.kubelet.image") : "");
	/* <registry>/<path>/<schematic 64 hex>:<version> (talos_assets.c) */
	colon = img ? strrchr(img, ':') : NULL;
	slash = img ? strrchr(img, '/') : NULL;
	if (colon && slash && slash < colon && colon - slash - 1 == 64 &&
	    strspn(slash + 1, "0123456789abcdef") == 64)
		ret->schematic = xstrndup(slash + 1, 64);
	else
		ret->schematic = xstrdup("");
	ret->talos_version = xstrdup(colon && slash && slash < colon ? colon + 1 : "");
	ytree_free(t);
	return 0;
}

void nodecfg_facts_free(struct nodecfg_facts *f)
{
	if (!f)
		return;
	free(f->type);
	free(f->install_image);
	free(f->schematic);
	free(f->talos_version);
	free(f->kubelet_image);
	memset(f, 0, sizeof(*f));
}

/* The identity of a cluster, one row each. show: the value is public
 * (names, URLs) and may be printed; certificates print as a digest; keys
 * and secrets never. */
enum show { SHOW_VALUE, SHOW_DIGEST, SHOW_NOTHING };
static const struct ident {
	const char *path, *what;
	enum show show;
} idents[] = {
	{ "machine.ca.crt", "the Talos API (OS) CA", SHOW_DIGEST },
	{ "cluster.ca.crt", "the Kubernetes CA", SHOW_DIGEST },
	{ "cluster.aggregatorCA.crt", "the aggregator CA", SHOW_DIGEST },
	{ "cluster.etcd.ca.crt", "the etcd CA", SHOW_DIGEST },
	{ "cluster.id", "the cluster id", SHOW_NOTHING },
	{ "cluster.secret", "the cluster secret (discovery)", SHOW_NOTHING },
	{ "cluster.serviceAccount.key", "the service account key", SHOW_NOTHING },
	{ "machine.token", "the machine join token", SHOW_NOTHING },
	{ "cluster.clusterName", "the cluster name", SHOW_VALUE },
	{ "cluster.controlPlane.endpoint", "the control plane endpoint", SHOW_VALUE },
};

int nodecfg_identity_diff(const char *old_cfg, size_t old_len, const char *new_cfg, size_t new_len,
			  struct buf *why, struct app_err *e)
{
	struct ytree *a = NULL, *b = NULL;
	int r, n = 0;

	r = nodecfg_parse_first(old_cfg, old_len, "running config", &a, e);
	if (r == 0)
		r = nodecfg_parse_first(new_cfg, new_len, "rendered config", &b, e);
	for (size_t i = 0; r == 0 && i < sizeof(idents) / sizeof(idents[0]); i++) {
		const struct ident *id = &idents[i];
		const char *x = sv(a->root, id->path), *y = sv(b->root, id->path);
		char dx[65], dy[65];

		/* a value only one side has comes with a change of role (a control
		 * plane carries keys a worker does not): not an identity change */
		if (!x || !y || strcmp(x, y) == 0)
			continue;
		n++;
		switch (id->show) {
		case SHOW_VALUE:
			buf_printf(why, "%s (%s): '%s' -> '%s'\n", id->path, id->what, x ? x : "",
				   y ? y : "");
			break;
		case SHOW_DIGEST:
			sha256_hex(x ? x : "", x ? strlen(x) : 0, dx);
			sha256_hex(y ? y : "", y ? strlen(y) : 0, dy);
			buf_printf(why, "%s (%s): sha256 %.12s -> %.12s\n", id->path, id->what, dx, dy);
			break;
		case SHOW_NOTHING:
			buf_printf(why, "%s (%s): changes (value not shown)\n", id->path, id->what);
			break;
		}
	}
	ytree_free(a);
	ytree_free(b);
	return r < 0 ? r : n;
}

static bool secret_key(const char *k, size_t n)
{
	static const char *const words[] = { "key",	 "token", "secret",	"password", "credential",
					     "identity", "asc",	  "passphrase", "private" };
	char low[128];

	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)k[i]);
	low[n] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]))
			return true;
	return false;
}

static bool b64c(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '/' || c == '=';
}

#define REDACT_B64_RUN 40

/* Encoded random bytes mix upper case, lower case and digits; hex digests
 * (schematic ids) and paths do not, and stay readable. */
static bool random_looking(const char *p, size_t n)
{
	bool up = false, low = false, dig = false;

	for (size_t i = 0; i < n; i++) {
		up |= isupper((unsigned char)p[i]) != 0;
		low |= islower((unsigned char)p[i]) != 0;
		dig |= isdigit((unsigned char)p[i]) != 0;
	}
	return up && low && dig;
}

static void redact_line(const char *l, size_t n, struct buf *out)
{
	size_t i = 0, ks, ke;

	/* "<indent>[- ]key: value" with a secret-sounding key */
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i + 1 < n && l[i] == '-' && l[i + 1] == ' ')
		i += 2;
	ks = i;
	while (i < n && (isalnum((unsigned char)l[i]) || l[i] == '_' || l[i] == '-' || l[i] == '.'))
		i++;
	ke = i;
	if (ke > ks && i + 1 < n && l[i] == ':' && l[i + 1] == ' ' && secret_key(l + ks, ke - ks)) {
		size_t v = i + 2;

		while (v < n && l[v] == ' ')
			v++;
		if (v < n && l[v] != '|' && l[v] != '>') {
			buf_append(out, l, v);
			buf_puts(out, "<redacted>");
			return;
		}
	}
	/* long base64 runs anywhere */
	for (i = 0; i < n;) {
		size_t j = i;

		while (j < n && b64c(l[j]))
			j++;
		if (j - i >= REDACT_B64_RUN && random_looking(l + i, j - i)) {
			buf_puts(out, "<redacted>");
		} else {
			buf_append(out, l + i, j - i);
		}
		if (j < n)
			buf_append(out, l + j, 1);
		i = j + 1;
	}
}

void nodecfg_redact_diff(const char *diff, struct buf *out)
{
	/* the last removed line: where its redacted text starts in out, its
	 * length, and its original text */
	size_t minus_at = 0, minus_len = 0, minus_n = 0;
	const char *minus = NULL;

	for (const char *p = diff; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *prev = minus;

		minus = NULL;
		if ((n >= 3 &&
		     (strncmp(p, "---", 3) == 0 || strncmp(p, "+++", 3) == 0 || strncmp(p, "@@", 2) == 0)) ||
		    n == 0) {
			buf_append(out, p, n);
		} else if (*p == ' ' || *p == '+' || *p == '-') {
			size_t at;

			buf_append(out, p, 1);
			at = out->len;
			redact_line(p + 1, n - 1, out);
			if (*p == '-') {
				minus = p;
				minus_n = n;
				minus_at = at;
				minus_len = out->len - at;
			} else if (*p == '+' && prev && out->len - at == minus_len &&
				   memcmp(out->data + at, out->data + minus_at, minus_len) == 0 &&
				   (minus_n != n || memcmp(prev + 1, p + 1, n - 1) != 0)) {
				/* "-k: <redacted>" then "+k: <redacted>" reads as no
				 * change: say that the hidden value changed */
				buf_puts(out, " (changed)");
			}
		} else {
			redact_line(p, n, out);
		}
		buf_puts(out, "\n");
		p = nl ? nl + 1 : p + n;
	}
	if (!out->data)
		buf_puts(out, "");
}
