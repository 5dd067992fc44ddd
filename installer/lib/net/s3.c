/* S3 ListObjectsV2 with libcurl's SigV4, and the Barman layout scan. */
#include "net/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/util.h"

#define S3_PAGE_MAX (8u << 20) /* one ListObjectsV2 page */
#define S3_DEFAULT_MAX_KEYS 1000000
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- minimal XML ------------------------------------------------------------ */

/* Find <tag>VALUE</tag> in [p, end): the value span and the position after
 * the closing tag. Elements here carry no attributes and do not nest in
 * themselves. */
static bool xml_find(const char *p, const char *end, const char *tag, const char **val, size_t *vlen,
		     const char **after)
{
	size_t tl = strlen(tag);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *close;

		if (!lt || (size_t)(end - lt) < tl + 2)
			return false;
		if (strncmp(lt + 1, tag, tl) == 0 && lt[tl + 1] == '>') {
			const char *v = lt + tl + 2;

			for (close = v; close < end; close++) {
				close = memchr(close, '<', (size_t)(end - close));
				if (!close)
					return false;
				if ((size_t)(end - close) >= tl + 3 && close[1] == '/' &&
				    strncmp(close + 2, tag, tl) == 0 && close[tl + 2] == '>') {
					*val = v;
					*vlen = (size_t)(close - v);
					if (after)
						*after = close + tl + 3;
					return true;
				}
			}
			return false;
		}
		if ((size_t)(end - lt) >= tl + 3 && strncmp(lt + 1, tag, tl) == 0 && lt[tl + 1] == '/' &&
		    lt[tl + 2] == '>') {
			*val = lt;
			*vlen = 0;
			if (after)
				*after = lt + tl + 3;
			return true;
		}
		p = lt + 1;
	}
	return false;
}

/* Decode the five XML entities and numeric references into a new string. */
static char *xml_text(const char *s, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' }
	};
	struct buf b = { 0 };

	for (size_t i = 0; i < n;) {
		bool done = false;

		if (s[i] == '&') {
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]) && !done; k++) {
				size_t el = strlen(ents[k].ent);

				if (n - i >= el && strncmp(s + i, ents[k].ent, el) == 0) {
					buf_append(&b, &ents[k].c, 1);
					i += el;
					done = true;
				}
			}
			if (!done && n - i >= 4 && s[i + 1] == '#') {
				const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
				char num[12];
				unsigned long cp;
				char *ep;

				if (semi && (size_t)(semi - s - i - 2) < sizeof(num)) {
					size_t nl = (size_t)(semi - (s + i + 2));

					memcpy(num, s + i + 2, nl);
					num[nl] = '\0';
					cp =
					    num[0] == 'x' ? strtoul(num + 1, &ep, 16) : strtoul(num, &ep, 10);
					if (*ep == '\0' && cp > 0 && cp < 0x110000) {
						unsigned char u[4];
						size_t ul;

						if (cp < 0x80) {
							u[0] = (unsigned char)cp;
							ul = 1;
						} else if (cp < 0x800) {
							u[0] = (unsigned char)(0xc0 | cp >> 6);
							u[1] = (unsigned char)(0x80 | (cp & 0x3f));
							ul = 2;
						} else if (cp < 0x10000) {
							u[0] = (unsigned char)(0xe0 | cp >> 12);
							u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
							u[2] = (unsigned char)(0x80 | (cp & 0x3f));
							ul = 3;
						} else {
							u[0] = (unsigned char)(0xf0 | cp >> 18);
							u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
							u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
							u[3] = (unsigned char)(0x80 | (cp & 0x3f));
							ul = 4;
						}
						buf_append(&b, u, ul);
						i = (size_t)(semi - s) + 1;
						done = true;
					}
				}
			}
		}
		if (!done)
			buf_append(&b, s + i++, 1);
	}
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

time_t s3_parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *rest;

	if (!s)
		return -1;
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	if (*rest == '.') {
		rest++;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (*rest != 'Z' && *rest != '\0')
		return -1;
	return timegm(&tm);
}

int s3_parse_list(const char *xml, size_t len, struct s3_objects *objs, bool *truncated, char **next_token,
		  struct app_err *e)
{
	const char *end = xml + len, *p, *v;
	size_t vl;

	*truncated = false;
	*next_token = NULL;
	p = memmem(xml, len, "<ListBucketResult", 17);
	if (!p)
		return app_err_set(e, -EPROTO, "reply is not a ListBucketResult");
	while (xml_find(p, end, "Contents", &v, &vl, &p)) {
		const char *cend = v + vl, *f;
		size_t fl;
		struct s3_object o = { 0 };

		if (!xml_find(v, cend, "Key", &f, &fl, NULL))
			return app_err_set(e, -EPROTO, "a <Contents> entry has no <Key>");
		o.key = xml_text(f, fl);
		if (xml_find(v, cend, "LastModified", &f, &fl, NULL)) {
			char *t = xml_text(f, fl);

			o.mtime = s3_parse_time(t);
			free(t);
		} else {
			o.mtime = -1;
		}
		if (xml_find(v, cend, "Size", &f, &fl, NULL)) {
			char *t = xml_text(f, fl);

			o.size = strtoull(t, NULL, 10);
			free(t);
		}
		objs->v = xrealloc(objs->v, sizeof(*objs->v) * (objs->n + 1));
		objs->v[objs->n++] = o;
	}
	if (xml_find(xml, end, "IsTruncated", &v, &vl, NULL))
		*truncated = vl == 4 && strncmp(v, "true", 4) == 0;
	if (xml_find(xml, end, "NextContinuationToken", &v, &vl, NULL) && vl)
		*next_token = xml_text(v, vl);
	if (*truncated && !*next_token)
		return app_err_set(e, -EPROTO, "truncated listing without a NextContinuationToken");
	return 0;
}

void s3_parse_error(const char *xml, size_t len, char *code, size_t code_n, char *msg, size_t msg_n)
{
	const char *end = xml + len, *v;
	size_t vl;

	code[0] = msg[0] = '\0';
	if (!xml)
		return;
	if (xml_find(xml, end, "Code", &v, &vl, NULL)) {
		char *t = xml_text(v, vl);

		snprintf(code, code_n, "%s", t);
		free(t);
	}
	if (xml_find(xml, end, "Message", &v, &vl, NULL)) {
		char *t = xml_text(v, vl);

		snprintf(msg, msg_n, "%s", t);
		free(t);
	}
}

void s3_objects_free(struct s3_objects *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].key);
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

int s3_url_split(const char *url, char **ret_bucket, char **ret_prefix, struct app_err *e)
{
	const char *b, *slash;
	char *prefix;
	size_t pl;

	if (!url || strncmp(url, "s3://", 5) != 0)
		return app_err_set(e, -EINVAL, "'%s' is not an s3://BUCKET/PREFIX URL", url ? url : "");
	b = url + 5;
	slash = strchr(b, '/');
	if (slash == b || !*b)
		return app_err_set(e, -EINVAL, "'%s' names no bucket", url);
	*ret_bucket = slash ? xstrndup(b, (size_t)(slash - b)) : xstrdup(b);
	prefix = xstrdup(slash ? slash + 1 : "");
	pl = strlen(prefix);
	if (pl && prefix[pl - 1] != '/') {
		char *p2 = xasprintf("%s/", prefix);

		free(prefix);
		prefix = p2;
	}
	*ret_prefix = prefix;
	return 0;
}

/* ---- requests ----------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n;

	if (b->len + len > S3_PAGE_MAX)
		return 0;
	buf_append(b, p, len);
	return len;
}

static int http_error(const struct s3_target *t, const char *what, long http, const struct buf *body,
		      struct app_err *e)
{
	char code[128], msg[256];

	s3_parse_error(body->data, body->len, code, sizeof(code), msg, sizeof(msg));
	if (strcmp(code, "InvalidAccessKeyId") == 0)
		return app_err_set(
		    e, -EACCES,
		    "%s: the access key is not known to the server (HTTP %ld InvalidAccessKeyId): "
		    "check the credentials' secret",
		    t->endpoint, http);
	if (strcmp(code, "SignatureDoesNotMatch") == 0)
		return app_err_set(e, -EACCES,
				   "%s: the secret key does not belong to the access key (HTTP %ld "
				   "SignatureDoesNotMatch)",
				   t->endpoint, http);
	if (strcmp(code, "NoSuchBucket") == 0 || (http == 404 && !code[0]))
		return app_err_set(e, -ENOENT, "%s: bucket '%s' does not exist (HTTP %ld%s%s)", t->endpoint,
				   t->bucket, http, code[0] ? " " : "", code);
	if (strcmp(code, "AccessDenied") == 0 || http == 403)
		return app_err_set(e, -EACCES, "%s: access to %s denied (HTTP %ld %s%s%s)", t->endpoint, what,
				   http, code[0] ? code : "", msg[0] ? ": " : "", msg);
	if (strcmp(code, "NoSuchKey") == 0)
		return app_err_set(e, -ENOENT, "%s: %s does not exist (HTTP %ld NoSuchKey)", t->endpoint,
				   what, http);
	return app_err_set(e, -EIO, "%s: %s: HTTP %ld%s%s%s%s", t->endpoint, what, http, code[0] ? " " : "",
			   code, msg[0] ? ": " : "", msg);
}

/* Percent-encode a key for the URL path: everything but RFC 3986 unreserved
 * characters and '/' (SigV4 signs the path as sent). */
static char *encode_key(const char *key)
{
	struct buf b = { 0 };

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p))
			buf_append(&b, p, 1);
		else
			buf_printf(&b, "%%%02X", *p);
	}
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

/* GET endpoint/bucket/PATH_QUERY into body; HTTP errors become messages
 * about `what` (an s3:// location). */
static int s3_do(CURL *curl, const struct s3_target *t, const char *path_query, const char *what,
		 struct buf *body, struct app_err *e)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *base = t->endpoint;
	size_t bl = strlen(base);
	char *url;
	long http = 0;
	CURLcode rc;

	while (bl && base[bl - 1] == '/')
		bl--;
	url = xasprintf("%.*s/%s/%s", (int)bl, base, t->bucket, path_query);
	body->len = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	free(url);
	if (rc != CURLE_OK) {
		const char *d = errbuf[0] ? errbuf : curl_easy_strerror(rc);

		if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		    rc == CURLE_OPERATION_TIMEDOUT)
			return app_err_set(e, -ECONNREFUSED, "%s: cannot reach the object store (%s)",
					   t->endpoint, d);
		return app_err_set(e, -EIO, "%s: request for %s failed (%s)", t->endpoint, what, d);
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
	if (http != 200)
		return http_error(t, what, http, body, e);
	return 0;
}

static int list_page(CURL *curl, const struct s3_target *t, const char *prefix, const char *token,
		     struct buf *body, struct app_err *e)
{
	char *ep = curl_easy_escape(curl, prefix, 0), *et = token ? curl_easy_escape(curl, token, 0) : NULL;
	char *pq, *what = xasprintf("s3://%s/%s", t->bucket, prefix);
	int r;

	/* the query in canonical (sorted, encoded) order: SigV4 signs it as sent */
	pq = xasprintf("?%s%s%slist-type=2&prefix=%s", et ? "continuation-token=" : "", et ? et : "",
		       et ? "&" : "", ep);
	curl_free(ep);
	curl_free(et);
	r = s3_do(curl, t, pq, what, body, e);
	free(pq);
	free(what);
	return r;
}

static CURL *s3_handle(const struct s3_target *t, struct buf *body, struct curl_slist **h, char **sigv4,
		       char **userpwd)
{
	CURL *curl = curl_easy_init();

	if (!curl)
		return NULL;
	*sigv4 = xasprintf("aws:amz:%s:s3", t->region && *t->region ? t->region : "us-east-1");
	*userpwd = xasprintf("%s:%s", t->access_key ? t->access_key : "", t->secret_key ? t->secret_key : "");
	/* S3 wants the payload hash; a GET has an empty one */
	*h = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_SHA256);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *h);
	curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, *sigv4);
	curl_easy_setopt(curl, CURLOPT_USERPWD, *userpwd);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, t->timeout_ms > 0 ? t->timeout_ms : 30000L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "appliance-s3/1");
	return curl;
}

static void s3_handle_free(CURL *curl, struct curl_slist *h, char *sigv4, char *userpwd)
{
	if (userpwd)
		secure_free(userpwd, strlen(userpwd));
	free(sigv4);
	curl_slist_free_all(h);
	if (curl)
		curl_easy_cleanup(curl);
}

int s3_get(const struct s3_target *t, const char *key, size_t max, struct buf *out, struct app_err *e)
{
	struct curl_slist *h = NULL;
	char *sigv4 = NULL, *userpwd = NULL, *path, *what;
	CURL *curl = s3_handle(t, out, &h, &sigv4, &userpwd);
	int r;

	if (!curl)
		return app_err_set(e, -ENOMEM, "cannot create a curl handle");
	path = encode_key(key);
	what = xasprintf("s3://%s/%s", t->bucket, key);
	r = s3_do(curl, t, path, what, out, e);
	if (r == 0 && out->len > max)
		r = app_err_set(e, -EMSGSIZE, "%s is larger than %zu bytes", what, max);
	if (r == 0 && !out->data)
		buf_append(out, "", 0);
	free(path);
	free(what);
	s3_handle_free(curl, h, sigv4, userpwd);
	return r;
}

/* The listing's bounds: pages, bytes, keys, time, and tokens seen (a token
 * handed out twice means the server is going round in circles). */
struct list_bounds {
	size_t pages, max_pages, max_keys;
	uint64_t bytes, max_bytes;
	long deadline_ms;
	long start; /* util_mono_ms() */
	char **tokens;
	size_t n_tokens;
};

static int list_late(const struct list_bounds *b, const char *where, struct app_err *e)
{
	return app_err_set(e, -ETIMEDOUT, "%s: not finished after %ld s; giving up", where,
			   b->deadline_ms / 1000);
}

/* Before the next page: 0, or the bound that stops the listing. */
static int list_check(struct list_bounds *b, const struct s3_objects *objs, const char *token,
		      const char *where, struct app_err *e)
{
	char have[32];

	if (objs->n > b->max_keys)
		return app_err_set(e, -E2BIG, "%s: more than %zu objects", where, b->max_keys);
	if (b->bytes > b->max_bytes)
		return app_err_set(e, -E2BIG, "%s: more than %s of listing; giving up", where,
				   fmt_bytes(b->max_bytes, have, sizeof(have)));
	if (!token)
		return 0;
	for (size_t i = 0; i < b->n_tokens; i++)
		if (strcmp(b->tokens[i], token) == 0)
			return app_err_set(e, -ELOOP,
					   "%s: the server handed out continuation token '%.64s' twice "
					   "(pages %zu and %zu); refusing to go round in circles",
					   where, token, i + 1, b->pages);
	if (b->pages >= b->max_pages)
		return app_err_set(e, -E2BIG, "%s: still truncated after %zu pages; giving up", where,
				   b->pages);
	if ((util_mono_ms() - b->start) >= b->deadline_ms)
		return list_late(b, where, e);
	b->tokens = xrealloc(b->tokens, sizeof(*b->tokens) * (b->n_tokens + 1));
	b->tokens[b->n_tokens++] = xstrdup(token);
	return 0;
}

int s3_list(const struct s3_target *t, const char *prefix, size_t max_keys, struct s3_objects *ret,
	    struct app_err *e)
{
	struct curl_slist *h = NULL;
	struct buf body = { 0 };
	char *token = NULL, *sigv4 = NULL, *userpwd = NULL, *where;
	CURL *curl = s3_handle(t, &body, &h, &sigv4, &userpwd);
	long per_request = t->timeout_ms > 0 ? t->timeout_ms : 30000L;
	struct list_bounds b = {
		.max_pages = t->max_pages ? t->max_pages : S3_LIST_PAGES,
		.max_bytes = t->max_bytes ? t->max_bytes : S3_LIST_BYTES,
		.max_keys = max_keys ? max_keys : S3_DEFAULT_MAX_KEYS,
		.deadline_ms = t->list_deadline_ms > 0 ? t->list_deadline_ms : S3_LIST_DEADLINE_MS,
	};
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!curl)
		return app_err_set(e, -ENOMEM, "cannot create a curl handle");
	b.start = util_mono_ms();
	where = xasprintf("%s: listing s3://%s/%s", t->endpoint, t->bucket, prefix);
	do {
		bool truncated = false;
		char *next = NULL;
		long left = b.deadline_ms - (util_mono_ms() - b.start);

		/* no single page may outlast the listing's deadline */
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
				 left < per_request ? (left > 1 ? left : 1) : per_request);
		r = list_page(curl, t, prefix, token, &body, e);
		if (r < 0 && (util_mono_ms() - b.start) >= b.deadline_ms)
			r = list_late(&b, where, e); /* the page was cut short by the listing's deadline */
		if (r < 0)
			break;
		b.pages++;
		b.bytes += body.len;
		r = s3_parse_list(body.data ? body.data : "", body.len, ret, &truncated, &next, e);
		if (r < 0) {
			app_err_prefix(e, "%s", where);
			break;
		}
		free(token);
		token = truncated ? next : NULL;
		if (!truncated)
			free(next);
		r = list_check(&b, ret, token, where, e);
	} while (r == 0 && token);
	free(token);
	free(where);
	for (size_t i = 0; i < b.n_tokens; i++)
		free(b.tokens[i]);
	free(b.tokens);
	s3_handle_free(curl, h, sigv4, userpwd);
	buf_free(&body);
	if (r < 0)
		s3_objects_free(ret);
	return r;
}

/* ---- Barman ------------------------------------------------------------------- */

void s3_barman_free(struct s3_barman *b)
{
	if (!b)
		return;
	free(b->newest_base);
	free(b->newest_wal);
	free(b->newest_not_done);
	b->newest_base = b->newest_wal = b->newest_not_done = NULL;
}

int s3_barman_status(const char *info, size_t len, char *out, size_t n)
{
	const char *p = info, *end = info + len;

	out[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le - p >= 7 && strncmp(p, "status=", 7) == 0) {
			size_t vl = (size_t)(le - p - 7);

			while (vl && (p[7 + vl - 1] == '\r' || p[7 + vl - 1] == ' '))
				vl--;
			snprintf(out, n, "%.*s", (int)vl, p + 7);
			return 0;
		}
		p = le + 1;
	}
	return -1;
}

struct info_obj {
	const char *id; /* into the listing's key */
	size_t id_len;
	const char *key;
	time_t mtime;
};

static int info_newest_first(const void *a, const void *b)
{
	const struct info_obj *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? 1 : -1;
	return -strcmp(x->key, y->key);
}

#define BARMAN_INFO_MAX (1u << 20)
#define BARMAN_INFO_TRIES 10

int s3_barman_scan(const struct s3_target *t, const char *prefix, const char *server, struct s3_barman *ret,
		   struct app_err *e)
{
	struct s3_objects objs;
	struct info_obj *infos = NULL;
	size_t n_infos = 0;
	char *root = xasprintf("%s%s/", prefix ? prefix : "", server);
	char *base = xasprintf("%sbase/", root), *wals = xasprintf("%swals/", root);
	size_t bl = strlen(base), wl = strlen(wals);
	int r;

	memset(ret, 0, sizeof(*ret));
	r = s3_list(t, root, 0, &objs, e);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < objs.n; i++) {
		const struct s3_object *o = &objs.v[i];

		if (strncmp(o->key, base, bl) == 0) {
			/* base/<id>/backup.info */
			const char *id = o->key + bl, *sl = strchr(id, '/');

			if (!sl || sl == id || strcmp(sl, "/backup.info") != 0)
				continue;
			infos = xrealloc(infos, sizeof(*infos) * (n_infos + 1));
			infos[n_infos++] = (struct info_obj){ id, (size_t)(sl - id), o->key, o->mtime };
		} else if (strncmp(o->key, wals, wl) == 0) {
			const char *name = strrchr(o->key, '/') + 1;

			if (!*name)
				continue;
			ret->wals++;
			if (!ret->newest_wal || o->mtime > ret->newest_wal_time) {
				free(ret->newest_wal);
				ret->newest_wal = xstrdup(name);
				ret->newest_wal_time = o->mtime;
			}
		}
	}
	ret->base_backups = n_infos;
	if (!n_infos) {
		r = app_err_set(e, -ENOENT, "no base backup under s3://%s/%s (no <id>/backup.info)",
				t->bucket, base);
		goto out_objs;
	}
	/* the newest base backup that Barman finished (status=DONE) */
	qsort(infos, n_infos, sizeof(*infos), info_newest_first);
	for (size_t i = 0; i < n_infos && i < BARMAN_INFO_TRIES && !ret->newest_base; i++) {
		struct buf info = { 0 };
		char status[32];

		r = s3_get(t, infos[i].key, BARMAN_INFO_MAX, &info, e);
		if (r < 0) {
			buf_free(&info);
			goto out_objs;
		}
		if (s3_barman_status(info.data, info.len, status, sizeof(status)) < 0)
			snprintf(status, sizeof(status), "(none)");
		if (strcmp(status, "DONE") == 0) {
			ret->newest_base = xstrndup(infos[i].id, infos[i].id_len);
			ret->newest_base_time = infos[i].mtime;
		} else {
			ret->not_done++;
			if (!ret->newest_not_done) {
				ret->newest_not_done = xstrndup(infos[i].id, infos[i].id_len);
				snprintf(ret->newest_not_done_status, sizeof(ret->newest_not_done_status),
					 "%s", status);
			}
		}
		buf_free(&info);
	}
	if (!ret->newest_base)
		r = app_err_set(
		    e, -ENOENT,
		    "no completed base backup under s3://%s/%s: the newest, %s, has status %s (want DONE)",
		    t->bucket, base, ret->newest_not_done, ret->newest_not_done_status);
	else if (!ret->wals)
		r = app_err_set(e, -ENOENT, "base backups but no WAL files under s3://%s/%s: cannot recover",
				t->bucket, wals);
out_objs:
	s3_objects_free(&objs);
out:
	free(infos);
	if (r < 0)
		s3_barman_free(ret);
	free(root);
	free(base);
	free(wals);
	return r;
}

void s3_format_age(long long s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, n, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, n, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, n, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(out, n, "%llds", s);
}
