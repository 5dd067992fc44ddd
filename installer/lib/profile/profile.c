/* Profile loading: parse each layer, merge, then walk the schema tables
 * (profile_schema.c) over the merged tree to validate and bind into the model
 * in one pass, collecting every problem. Semantic checks that span fields
 * (duplicates, control planes, ${VAR}, disk selectors) run after binding. */
#include "profile/profile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/json.h"
#include "profile/profile_schema.h"
#include "base/util.h"
#include "base/ytree.h"

#define DEFAULTS_NAME "<built-in defaults>"

extern const char appliance_defaults_yaml[];

const char *profile_defaults_yaml(void)
{
	return appliance_defaults_yaml;
}

/* ---- diagnostics -------------------------------------------------------- */

struct ctx {
	struct diags *d;
	const struct ynode *secrets; /* the merged `secrets:` map, for T_SECRET */
	const char *profile;
};

static void diag_at(struct diags *d, const char *file, int line, int col, const char *path,
		    enum diag_severity sev, const char *fmt, va_list ap)
{
	struct diag *g;

	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	g = &d->v[d->n++];
	g->file = xstrdup(file ? file : "");
	g->line = line;
	g->col = col;
	g->path = xstrdup(path ? path : "");
	g->severity = sev;
	if (vasprintf(&g->msg, fmt, ap) < 0)
		g->msg = xstrdup("(out of memory)");
	if (sev == DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
}

/* A diagnostic that has no tree node (the file did not parse). */
static void diag_raw(struct diags *d, const char *file, int line, int col, char *msg)
{
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = (struct diag){ .file = xstrdup(file),
				      .line = line,
				      .col = col,
				      .path = xstrdup(""),
				      .severity = DIAG_ERROR,
				      .msg = msg };
	d->errors++;
}

static void diag(struct ctx *c, const struct ynode *n, const char *path, enum diag_severity sev,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void diag(struct ctx *c, const struct ynode *n, const char *path, enum diag_severity sev,
		 const char *fmt, ...)
{
	va_list ap;

	/* a value that came from the built-in defaults is reported at the top of
	 * the user's profile: that is where the fix goes */
	va_start(ap, fmt);
	if (n && strcmp(n->file, DEFAULTS_NAME) != 0)
		diag_at(c->d, n->file, n->line, n->col, path, sev, fmt, ap);
	else
		diag_at(c->d, c->profile, 1, 1, path, sev, fmt, ap);
	va_end(ap);
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int r = strcmp(x->file, y->file);

	if (r)
		return r;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	r = strcmp(x->path, y->path);
	return r ? r : strcmp(x->msg, y->msg);
}

void diags_print(const struct diags *d, FILE *f)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		fprintf(f, "%s:%d:%d: %s: ", g->file, g->line, g->col,
			g->severity == DIAG_ERROR ? "error" : "warning");
		if (g->path[0])
			fprintf(f, "%s: ", g->path);
		fprintf(f, "%s\n", g->msg);
	}
}

void diags_print_json(const struct diags *d, FILE *f)
{
	fputc('[', f);
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		fprintf(f, "%s{\"file\":", i ? "," : "");
		json_str(f, g->file);
		fprintf(f, ",\"line\":%d,\"column\":%d,\"path\":", g->line, g->col);
		json_str(f, g->path);
		fprintf(f,
			",\"severity\":\"%s\",\"message\":", g->severity == DIAG_ERROR ? "error" : "warning");
		json_str(f, g->msg);
		fputc('}', f);
	}
	fputc(']', f);
}

void diags_free(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].path);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* ---- scalar checks ------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] +
				     (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

/* The closest candidate, when close enough to be a typo. */
static const char *closest(const char *word, const char *const *cands, size_t stride, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, len = strlen(word);
	size_t limit = len <= 4 ? 1 : (len <= 8 ? 2 : 3);

	for (size_t i = 0; i < n; i++) {
		const char *cand = *(const char *const *)((const char *)cands + i * stride);
		size_t dist = edit_distance(word, cand);
		if (dist < best_d) {
			best_d = dist;
			best = cand;
		}
	}
	return best_d <= limit ? best : NULL;
}

int profile_parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "Ki", 1ULL << 10 },
		{ "Mi", 1ULL << 20 },
		{ "Gi", 1ULL << 30 },
		{ "Ti", 1ULL << 40 },
		{ "Pi", 1ULL << 50 },
		{ "Ei", 1ULL << 60 },
		{ "KB", 1000ULL },
		{ "MB", 1000000ULL },
		{ "GB", 1000000000ULL },
		{ "TB", 1000000000000ULL },
		{ "PB", 1000000000000000ULL },
		{ "k", 1000ULL },
		{ "K", 1000ULL },
		{ "M", 1000000ULL },
		{ "G", 1000000000ULL },
		{ "T", 1000000000000ULL },
		{ "P", 1000000000000000ULL },
		{ "E", 1000000000000000000ULL },
		{ "B", 1 },
		{ "", 1 },
	};
	const char *p = s;
	uint64_t whole = 0, frac = 0, frac_div = 1;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (frac_div < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_div *= 10;
			}
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) != 0)
			continue;
		if (whole && units[i].mult > UINT64_MAX / whole)
			return -ERANGE;
		*ret = whole * units[i].mult + (uint64_t)((long double)frac / frac_div * units[i].mult);
		return 0;
	}
	return -EINVAL;
}

static bool is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
		if (label == 0 && *p == '-')
			return false;
		label++;
	}
}

static bool is_k8s_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
			return false;
	return true;
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool is_cidr(const char *s)
{
	const char *slash = strchr(s, '/');
	unsigned char buf[16];
	char *addr, *end;
	long prefix;
	int max;

	if (!slash || !slash[1])
		return false;
	addr = xstrndup(s, (size_t)(slash - s));
	if (inet_pton(AF_INET, addr, buf) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		max = 128;
	else
		max = -1;
	free(addr);
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	return max > 0 && !*end && !errno && isdigit((unsigned char)slash[1]) && prefix >= 0 && prefix <= max;
}

static bool is_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':' && s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static bool is_varname(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static bool is_secret_name(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static bool is_version(const char *s)
{
	int dots = 0;

	if (*s == 'v')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; *s && *s != '-' && *s != '+'; s++) {
		if (*s == '.') {
			if (!isdigit((unsigned char)s[1]))
				return false;
			dots++;
		} else if (!isdigit((unsigned char)*s)) {
			return false;
		}
	}
	return dots >= 1 && dots <= 2;
}

/* Go duration ("30m", "1h30m", "10s", "500ms"); milliseconds in *ms. */
int profile_parse_duration(const char *s, long long *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
		{ "ns", 1e-6 }, { "us", 1e-3 }, { "ms", 1 }, { "s", 1e3 }, { "m", 6e4 }, { "h", 3.6e6 }
	};
	double total = 0;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		double v;
		size_t best = 0, bi = 0;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = strtod(s, &end);
		s = end;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t ul = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, ul) == 0 && ul > best) {
				best = ul;
				bi = i;
			}
		}
		if (!best)
			return -EINVAL;
		total += v * units[bi].ms;
		s += best;
	}
	if (total > 1e15)
		return -ERANGE;
	*ms = (long long)total;
	return 0;
}

static bool cron_field_ok(const char *f, int lo, int hi, const char *const *names)
{
	char *copy = xstrdup(f), *save = NULL;
	bool ok = true;

	for (char *item = strtok_r(copy, ",", &save); item && ok; item = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(item, '/');
		long a = lo, b = hi;

		if (slash) {
			char *end;
			long step = strtol(slash + 1, &end, 10);
			*slash = '\0';
			if (!slash[1] || *end || step < 1 || step > hi)
				ok = false;
		}
		if (strcmp(item, "*") == 0 || strcmp(item, "?") == 0)
			continue;
		char *dash = strchr(item, '-');
		if (dash)
			*dash = '\0';
		for (int part = 0; part < (dash ? 2 : 1) && ok; part++) {
			const char *tok = part ? dash + 1 : item;
			char *end;
			long v = strtol(tok, &end, 10);
			if (!*tok || *end) {
				v = -1;
				for (int i = 0; names && names[i]; i++)
					if (strcasecmp(tok, names[i]) == 0)
						v = lo + i;
				if (v < 0)
					ok = false;
			}
			if (v < lo || v > hi)
				ok = false;
			if (part)
				b = v;
			else
				a = b = v;
		}
		if (dash && a > b)
			ok = false;
	}
	free(copy);
	return ok;
}

static const char *check_cron(const char *s)
{
	static const char *const months[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
					      "AUG", "SEP", "OCT", "NOV", "DEC", NULL };
	static const char *const days[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };
	static const char *const macros[] = { "@yearly", "@annually", "@monthly", "@weekly",
					      "@daily",	 "@midnight", "@hourly",  NULL };
	struct {
		int lo, hi;
		const char *const *names;
	} spec[6] = { { 0, 59, NULL }, { 0, 59, NULL },	  { 0, 23, NULL },
		      { 1, 31, NULL }, { 1, 12, months }, { 0, 7, days } };
	char *copy, *save = NULL, *fields[7];
	int n = 0;

	for (int i = 0; macros[i]; i++)
		if (strcmp(s, macros[i]) == 0)
			return NULL;
	copy = xstrdup(s);
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		if (n < 7)
			fields[n++] = t;
		else
			n++;
	if (n != 5 && n != 6) {
		free(copy);
		return "expected a cron schedule of 5 fields (minute hour day month weekday) or 6 (with "
		       "seconds first)";
	}
	for (int i = 0; i < n; i++) {
		int k = n == 6 ? i : i + 1;
		if (!cron_field_ok(fields[i], spec[k].lo, spec[k].hi, spec[k].names)) {
			free(copy);
			static const char *const what[] = {
				"second field must be 0-59",
				"minute field must be 0-59",
				"hour field must be 0-23",
				"day-of-month field must be 1-31",
				"month field must be 1-12 or JAN-DEC",
				"day-of-week field must be 0-7 or SUN-SAT",
			};
			return what[k];
		}
	}
	free(copy);
	return NULL;
}

static const char bad_scheme[] = "unsupported scheme";

static const char *check_url(const char *s, const char *const *schemes)
{
	static const char *const web[] = { "http", "https", NULL };
	const char *sep = strstr(s, "://"), *host, *end;
	bool scheme_ok = false;

	if (!schemes)
		schemes = web;
	if (!sep || sep == s)
		return "expected a URL (scheme://host/path)";
	for (int i = 0; schemes[i]; i++)
		if ((size_t)(sep - s) == strlen(schemes[i]) &&
		    strncmp(s, schemes[i], strlen(schemes[i])) == 0)
			scheme_ok = true;
	if (!scheme_ok)
		return bad_scheme; /* the caller lists the schemes */
	for (const char *p = s; *p; p++)
		if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
			return "a URL cannot contain spaces or control characters";
	host = sep + 3;
	end = host + strcspn(host, "/?#");
	if (end == host && strncmp(s, "file", 4) != 0)
		return "the URL has no host";
	/* host[:port] with a numeric port, unless it is a ${VAR} */
	if (*host != '[') {
		const char *colon = memchr(host, ':', (size_t)(end - host));
		const char *at = memchr(host, '@', (size_t)(end - host));
		if (at)
			colon = memchr(at, ':', (size_t)(end - at));
		if (colon && !memchr(host, '$', (size_t)(end - host))) {
			long port = 0;
			const char *p = colon + 1;
			if (p == end)
				return "the URL's port is empty";
			for (; p < end; p++) {
				if (!isdigit((unsigned char)*p))
					return "the URL's port is not a number";
				port = port * 10 + (*p - '0');
				if (port > 65535)
					return "the URL's port is out of range (1-65535)";
			}
			if (port < 1)
				return "the URL's port is out of range (1-65535)";
		}
	}
	return NULL;
}

static const char *type_name(enum ftype t)
{
	switch (t) {
	case T_SIZE:
		return "a size such as 8Gi or 2Ti";
	case T_INT:
		return "an integer";
	case T_BOOL:
		return "true or false";
	case T_LIST_STR:
	case T_LIST:
		return "a list";
	case T_KV:
	case T_STRUCT:
		return "a mapping";
	default:
		return "a single value";
	}
}

static const char *node_kind(const struct ynode *n)
{
	return n->type == YN_MAP ? "a mapping" : n->type == YN_SEQ ? "a list" : "a single value";
}

static bool secret_defined(const struct ctx *c, const char *name)
{
	return c->secrets && ynode_map_get(c->secrets, name) != NULL;
}

/* Check one scalar value against a type. Adds a diagnostic and returns false
 * when it does not fit. */
static bool check_scalar(struct ctx *c, const struct field *f, enum ftype t, const struct ynode *n,
			 const char *path)
{
	const char *s = n->value, *why = NULL;

	if (n->type != YN_SCALAR) {
		diag(c, n, path, DIAG_ERROR, "expected %s, found %s", type_name(t), node_kind(n));
		return false;
	}
	switch (t) {
	case T_STR:
		return true;
	case T_NAME:
		if (!is_k8s_name(s))
			why = "expected a lower-case name (letters, digits, '-', '.'; starting and ending "
			      "with a letter or digit)";
		break;
	case T_HOST:
		if (!is_hostname(s))
			why = "not a valid hostname (labels of letters, digits and '-', at most 63 "
			      "characters each)";
		break;
	case T_ADDR:
		if (!is_ip(s) && !is_hostname(s))
			why = "expected a hostname or an IP address";
		break;
	case T_IP:
		if (!is_ip(s))
			why = "not a valid IP address";
		break;
	case T_CIDR:
		if (!is_cidr(s))
			why = "not a valid CIDR (address/prefix, e.g. 10.1.0.0/16)";
		break;
	case T_MAC:
		if (!is_mac(s))
			why = "not a valid MAC address (six hex pairs, e.g. 52:54:00:12:34:56)";
		break;
	case T_URL: {
		const char *r = check_url(s, f->url_schemes);
		if (r == bad_scheme) {
			struct buf b = { 0 };
			const char *const *sc = f->url_schemes;
			static const char *const web[] = { "http", "https", NULL };
			for (int i = 0; (sc ? sc : web)[i]; i++)
				buf_printf(&b, "%s%s://", i ? ", " : "", (sc ? sc : web)[i]);
			diag(c, n, path, DIAG_ERROR, "unsupported URL scheme in '%s'; expected %s", s,
			     b.data);
			buf_free(&b);
			return false;
		}
		why = r;
		break;
	}
	case T_CRON:
		why = check_cron(s);
		break;
	case T_DURATION: {
		long long ms;
		if (profile_parse_duration(s, &ms) < 0)
			why = "expected a duration such as 30s, 5m or 1h30m";
		break;
	}
	case T_RETENTION: {
		size_t len = strlen(s);
		bool ok = len >= 2 && strchr("dwm", s[len - 1]) && s[0] != '0';
		for (size_t i = 0; ok && i + 1 < len; i++)
			ok = isdigit((unsigned char)s[i]);
		if (!ok)
			why = "expected a retention such as 30d, 4w or 3m";
		break;
	}
	case T_VERSION:
		if (!is_version(s))
			why = "expected a version such as v1.10.5";
		break;
	case T_SECRET:
		if (!secret_defined(c, s)) {
			diag(c, n, path, DIAG_ERROR, "secret '%s' is not defined under 'secrets:'", s);
			return false;
		}
		break;
	case T_SECREF:
		if (strncmp(s, "env:", 4) == 0) {
			if (!is_varname(s + 4))
				why = "'env:' must be followed by an environment variable name";
		} else if (strncmp(s, "file:", 5) == 0) {
			if (!s[5])
				why = "'file:' must be followed by a path";
		} else {
			why = "a secret must be a reference 'env:NAME' or 'file:PATH', never a literal value";
		}
		break;
	case T_ENUM: {
		bool ok = false;
		for (int i = 0; f->choices[i]; i++)
			ok |= strcmp(s, f->choices[i]) == 0;
		if (!ok) {
			struct buf b = { 0 };
			size_t nc = 0;
			for (; f->choices[nc]; nc++)
				buf_printf(&b, "%s'%s'", nc ? ", " : "", f->choices[nc]);
			const char *near = closest(s, (const char *const *)f->choices, sizeof(char *), nc);
			if (near)
				diag(c, n, path, DIAG_ERROR, "'%s' is not one of %s; did you mean '%s'?", s,
				     b.data, near);
			else
				diag(c, n, path, DIAG_ERROR, "'%s' is not one of %s", s, b.data);
			buf_free(&b);
			return false;
		}
		break;
	}
	case T_MODE:
		if (strlen(s) != 4 || s[0] != '0' || !strchr("01234567", s[1]) || !strchr("01234567", s[2]) ||
		    !strchr("01234567", s[3]) || !s[1] || !s[2] || !s[3])
			why = "expected an octal file mode such as \"0777\" (quote it)";
		break;
	case T_QTY: {
		uint64_t v;
		size_t len = strlen(s);
		bool milli = len > 1 && s[len - 1] == 'm';
		char *num = xstrndup(s, milli ? len - 1 : len);
		if (profile_parse_size(num, &v) < 0)
			why = "expected a quantity such as 25m, 1000M or 1Gi";
		free(num);
		break;
	}
	case T_VARNAME:
		if (!is_varname(s))
			why = "expected a variable name (letters, digits and '_')";
		break;
	case T_PATHSEG:
		if (!*s || strchr(s, '/') || strchr(s, '\\') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
			why = "expected one folder name (no '/')";
		break;
	case T_HEX64: {
		bool ok = strlen(s) == 64;
		for (int i = 0; ok && i < 64; i++)
			ok = isxdigit((unsigned char)s[i]);
		if (!ok)
			why = "expected 64 hexadecimal digits (a SHA-256)";
		break;
	}
	case T_SIZE: {
		uint64_t v;
		int r = profile_parse_size(s, &v);
		if (r == -ERANGE)
			why = "size is too large";
		else if (r < 0)
			why =
			    "malformed size; expected a number with an optional unit such as 8Gi, 2Ti, 500GB";
		break;
	}
	case T_INT: {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (!*s || *end || errno) {
			why = "expected an integer";
		} else if (f->min < f->max && (v < f->min || v > f->max)) {
			diag(c, n, path, DIAG_ERROR, "%lld is out of range (%lld to %lld)", v, f->min,
			     f->max);
			return false;
		}
		break;
	}
	case T_BOOL:
		if (strcmp(s, "true") && strcmp(s, "false") && strcmp(s, "True") && strcmp(s, "False") &&
		    strcmp(s, "TRUE") && strcmp(s, "FALSE"))
			why = "expected true or false";
		break;
	default:
		why = "internal: not a scalar type";
	}
	if (why) {
		diag(c, n, path, DIAG_ERROR, "%s (found '%s')", why, s);
		return false;
	}
	return true;
}

/* ---- binding ------------------------------------------------------------ */

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

static void bind_scalar(enum ftype t, const char *s, void *dst)
{
	switch (t) {
	case T_SIZE: {
		struct model_size *z = dst;
		z->text = xstrdup(s);
		profile_parse_size(s, &z->bytes);
		break;
	}
	case T_INT:
		*(long long *)dst = strtoll(s, NULL, 10);
		break;
	case T_BOOL:
		*(bool *)dst = s[0] == 't' || s[0] == 'T';
		break;
	case T_MAC: {
		char *v = xstrdup(s);
		for (char *p = v; *p; p++)
			*p = *p == '-' ? ':' : (char)tolower((unsigned char)*p);
		*(char **)dst = v;
		break;
	}
	default:
		*(char **)dst = xstrdup(s);
	}
}

static void strlist_push(struct strlist *l, char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = s;
}

static void bind_table(struct ctx *c, const struct ynode *map, const struct table *t, void *base,
		       const char *path);

static void bind_default(const struct field *f, void *base)
{
	void *dst = AT(base, f->off, void);

	if (!f->def)
		return;
	if (f->type == T_LIST_STR) {
		char *copy = xstrdup(f->def), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			strlist_push(dst, xstrdup(tok));
		free(copy);
	} else {
		bind_scalar(f->type, f->def, dst);
	}
}

/* The value must be a mapping or a list: report and return false otherwise. */
static bool expect_kind(struct ctx *c, const struct ynode *n, const char *path, enum ynode_type want)
{
	if (n->type == want)
		return true;
	diag(c, n, path, DIAG_ERROR, "expected %s, found %s", want == YN_MAP ? "a mapping" : "a list",
	     node_kind(n));
	return false;
}

static void bind_field(struct ctx *c, const struct field *f, const struct ynode *n, void *base,
		       const char *path)
{
	void *dst = AT(base, f->off, void);

	switch (f->type) {
	case T_STRUCT:
		if (!expect_kind(c, n, path, YN_MAP))
			return;
		bind_table(c, n, f->sub, dst, path);
		return;
	case T_LIST: {
		void **arr = dst;
		size_t *count = (size_t *)((char *)dst + sizeof(void *));
		if (!expect_kind(c, n, path, YN_SEQ))
			return;
		*arr = xcalloc(n->n ? n->n : 1, f->sub->size);
		*count = n->n;
		for (size_t i = 0; i < n->n; i++) {
			char *ip = xasprintf("%s[%zu]", path, i);
			if (expect_kind(c, n->items[i], ip, YN_MAP))
				bind_table(c, n->items[i], f->sub, (char *)*arr + i * f->sub->size, ip);
			free(ip);
		}
		return;
	}
	case T_LIST_STR: {
		struct strlist *l = dst;
		if (!expect_kind(c, n, path, YN_SEQ))
			return;
		for (size_t i = 0; i < n->n; i++) {
			char *ip = xasprintf("%s[%zu]", path, i);
			char *v = NULL;
			if (check_scalar(c, f, f->elem, n->items[i], ip)) {
				bind_scalar(f->elem, n->items[i]->value, &v);
				strlist_push(l, v);
			}
			free(ip);
		}
		return;
	}
	case T_KV: {
		struct kvlist *l = dst;
		if (!expect_kind(c, n, path, YN_MAP))
			return;
		for (size_t i = 0; i < n->n; i++) {
			const char *k = n->keys[i]->value;
			char *ip = xasprintf("%s.%s", path, k);
			bool key_ok = f->elem == T_SECREF ? is_secret_name(k) : is_varname(k);
			if (!key_ok) {
				diag(c, n->keys[i], ip, DIAG_ERROR, "'%s' is not a valid %s name", k,
				     f->elem == T_SECREF ? "secret" : "variable");
			} else if (!ynode_is_null(n->items[i]) &&
				   check_scalar(c, f, f->elem, n->items[i], ip)) {
				l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
				l->v[l->n].key = xstrdup(k);
				l->v[l->n].value = xstrdup(n->items[i]->value);
				l->n++;
			} else if (ynode_is_null(n->items[i])) {
				diag(c, n->items[i], ip, DIAG_ERROR, "has no value");
			}
			free(ip);
		}
		return;
	}
	default:
		if (check_scalar(c, f, f->type, n, path))
			bind_scalar(f->type, n->value, dst);
	}
}

static void bind_table(struct ctx *c, const struct ynode *map, const struct table *t, void *base,
		       const char *path)
{
	size_t nf = 0;

	while (t->fields[nf].key)
		nf++;
	/* unknown keys first, with a suggestion when one is close */
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->value;
		bool known = false;
		for (size_t j = 0; j < nf && !known; j++)
			known = strcmp(t->fields[j].key, k) == 0;
		if (!known) {
			char *kp = path[0] ? xasprintf("%s.%s", path, k) : xstrdup(k);
			const char *near = closest(k, &t->fields[0].key, sizeof(struct field), nf);
			if (near)
				diag(c, map->keys[i], kp, DIAG_ERROR, "unknown key '%s'; did you mean '%s'?",
				     k, near);
			else
				diag(c, map->keys[i], kp, DIAG_ERROR, "unknown key '%s' in %s", k, t->name);
			free(kp);
		}
	}
	for (size_t j = 0; j < nf; j++) {
		const struct field *f = &t->fields[j];
		const struct ynode *v = ynode_map_get(map, f->key);
		char *kp = path[0] ? xasprintf("%s.%s", path, f->key) : xstrdup(f->key);

		if (v && ynode_is_null(v) && f->type != T_STRUCT)
			v = NULL;
		if (!v) {
			if (f->type == T_STRUCT) {
				/* an absent section still gets its own defaults and required checks */
				static const struct ynode empty = { .type = YN_MAP, .file = DEFAULTS_NAME };
				bind_table(c, &empty, f->sub, AT(base, f->off, void), kp);
				if (f->flags & F_REQUIRED)
					diag(c, map, kp, DIAG_ERROR, "required section is missing");
			} else if (f->flags & F_REQUIRED) {
				diag(c, map, kp, DIAG_ERROR, "required key is missing");
			} else {
				bind_default(f, base);
			}
		} else if (f->type == T_STRUCT && ynode_is_null(v)) {
			static const struct ynode empty = { .type = YN_MAP, .file = DEFAULTS_NAME };
			bind_table(c, &empty, f->sub, AT(base, f->off, void), kp);
		} else {
			bind_field(c, f, v, base, kp);
		}
		free(kp);
	}
}

/* ---- freeing (the same tables) ------------------------------------------ */

static void free_table(const struct table *t, void *base)
{
	for (const struct field *f = t->fields; f->key; f++) {
		void *p = AT(base, f->off, void);
		switch (f->type) {
		case T_STRUCT:
			free_table(f->sub, p);
			break;
		case T_LIST: {
			void *arr = *(void **)p;
			size_t n = *(size_t *)((char *)p + sizeof(void *));
			for (size_t i = 0; arr && i < n; i++)
				free_table(f->sub, (char *)arr + i * f->sub->size);
			free(arr);
			break;
		}
		case T_LIST_STR: {
			struct strlist *l = p;
			for (size_t i = 0; i < l->n; i++)
				free(l->v[i]);
			free(l->v);
			l->v = NULL;
			l->n = 0;
			break;
		}
		case T_KV: {
			struct kvlist *l = p;
			for (size_t i = 0; i < l->n; i++) {
				free(l->v[i].key);
				free(l->v[i].value);
			}
			free(l->v);
			l->v = NULL;
			l->n = 0;
			break;
		}
		case T_SIZE:
			free(((struct model_size *)p)->text);
			((struct model_size *)p)->text = NULL;
			break;
		case T_INT:
		case T_BOOL:
			break;
		default:
			free(*(char **)p);
			*(char **)p = NULL;
		}
	}
}

/* ---- semantic checks ---------------------------------------------------- */

static const struct ynode *node_at(const struct ytree *t, const char *path)
{
	return ytree_get(t->root, path);
}

static void kv_add(struct kvlist *l, const char *k, const char *v)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].key = xstrdup(k);
	l->v[l->n].value = xstrdup(v);
	l->n++;
}

static const char *kv_get(const struct kvlist *l, const char *k)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0)
			return l->v[i].value;
	return NULL;
}

static void derive_var(struct ctx *c, struct model *m, const struct ytree *t, const char *var,
		       const char *value, const char *from)
{
	const struct ynode *raw = node_at(t, from);
	const char *have;

	/* an invalid value is reported where it stands; still define the variable
	 * so that every ${VAR} using it is not reported a second time */
	if (!value && raw && raw->type == YN_SCALAR)
		value = raw->value;
	if (!value)
		return;
	have = kv_get(&m->site.vars, var);
	if (!have) {
		kv_add(&m->site.vars, var, value);
	} else if (strcmp(have, value) != 0) {
		char *p = xasprintf("site.vars.%s", var);
		diag(c, node_at(t, p), p, DIAG_ERROR,
		     "'%s' disagrees with %s '%s'; remove it (it is derived)", have, from, value);
		free(p);
	}
}

static void check_selector(struct ctx *c, const struct ytree *t, struct disk_selector *s, const char *path,
			   const char *role)
{
	char *p;

	if (!s->path && !s->model && !s->serial && !s->wwid && !s->transport && !s->size) {
		p = xasprintf("%s", path);
		diag(c, node_at(t, p), p, DIAG_ERROR,
		     "%s selector matches every disk; give at least one of path, model, serial, wwid, "
		     "transport, size",
		     role);
		free(p);
	}
	if (s->size) {
		const char *q = s->size;
		static const struct {
			const char *op;
			enum size_op v;
		} ops[] = { { ">=", SIZE_OP_GE }, { "<=", SIZE_OP_LE }, { "==", SIZE_OP_EQ },
			    { ">", SIZE_OP_GT },  { "<", SIZE_OP_LT },	{ "=", SIZE_OP_EQ } };
		s->size_op = SIZE_OP_EQ;
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			if (strncmp(q, ops[i].op, strlen(ops[i].op)) == 0) {
				s->size_op = ops[i].v;
				q += strlen(ops[i].op);
				break;
			}
		}
		while (*q == ' ')
			q++;
		if (profile_parse_size(q, &s->size_bytes) < 0) {
			p = xasprintf("%s.size", path);
			diag(c, node_at(t, p), p, DIAG_ERROR,
			     "malformed size condition '%s'; expected e.g. '>= 1TB', '< 2Ti' or '500GB'",
			     s->size);
			free(p);
		}
	}
}

struct seen {
	const char *value;
	size_t node;
};

static void check_duplicate(struct ctx *c, const struct ytree *t, struct seen *seen, size_t *n,
			    const char *value, size_t node, const char *path, const char *what)
{
	if (!value)
		return;
	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp(seen[i].value, value) == 0) {
			diag(c, node_at(t, path), path, DIAG_ERROR,
			     "duplicate %s '%s' (also used by nodes[%zu])", what, value, seen[i].node);
			return;
		}
	}
	seen[*n].value = value;
	seen[*n].node = node;
	(*n)++;
}

static void check_nodes(struct ctx *c, struct model *m, const struct ytree *t)
{
	size_t cps = 0, total_macs = 0;
	bool roles_ok = true;

	for (size_t i = 0; i < m->n_nodes; i++)
		total_macs += m->nodes[i].identity.macs.n;
	struct seen *names = xcalloc(m->n_nodes + 1, sizeof(*names));
	struct seen *hosts = xcalloc(m->n_nodes + 1, sizeof(*hosts));
	struct seen *macs = xcalloc(total_macs + 1, sizeof(*macs));
	struct seen *serials = xcalloc(m->n_nodes + 1, sizeof(*serials));
	size_t nn = 0, nh = 0, nm = 0, ns = 0;

	if (m->n_nodes == 0 && node_at(t, "nodes") && node_at(t, "nodes")->type == YN_SEQ)
		diag(c, node_at(t, "nodes"), "nodes", DIAG_ERROR, "at least one node is required");
	for (size_t i = 0; i < m->n_nodes; i++) {
		struct model_node *n = &m->nodes[i];
		char *p;

		n->role = n->role_text && strcmp(n->role_text, "worker") == 0 ? NODE_ROLE_WORKER
									      : NODE_ROLE_CONTROLPLANE;
		if (n->role_text && n->role == NODE_ROLE_CONTROLPLANE)
			cps++;
		roles_ok &= n->role_text != NULL;
		p = xasprintf("nodes[%zu].name", i);
		check_duplicate(c, t, names, &nn, n->name, i, p, "node name");
		free(p);
		/* a hostname derived from the name is checked with the name */
		p = xasprintf("nodes[%zu].hostname", i);
		if (n->hostname)
			check_duplicate(c, t, hosts, &nh, n->hostname, i, p, "hostname");
		else if (n->name)
			n->hostname = xstrdup(n->name);
		free(p);
		for (size_t j = 0; j < n->identity.macs.n; j++) {
			p = xasprintf("nodes[%zu].identity.macs[%zu]", i, j);
			check_duplicate(c, t, macs, &nm, n->identity.macs.v[j], i, p, "MAC address");
			free(p);
		}
		p = xasprintf("nodes[%zu].identity.serial", i);
		check_duplicate(c, t, serials, &ns, n->identity.serial, i, p, "DMI serial");
		free(p);

		p = xasprintf("nodes[%zu].installDisk", i);
		if (node_at(t, p))
			check_selector(c, t, &n->install_disk, p, "the install disk");
		free(p);
		for (size_t j = 0; j < n->n_ceph_disks; j++) {
			p = xasprintf("nodes[%zu].cephDisks[%zu]", i, j);
			check_selector(c, t, &n->ceph_disks[j].selector, p, "a Ceph disk");
			free(p);
		}
		if (!n->network.dhcp && !n->network.address) {
			p = xasprintf("nodes[%zu].network", i);
			diag(c, node_at(t, p), p, DIAG_ERROR, "dhcp is false but no static address is given");
			free(p);
		} else if (n->network.dhcp && n->network.address) {
			p = xasprintf("nodes[%zu].network.address", i);
			diag(c, node_at(t, p), p, DIAG_ERROR,
			     "a static address is given but dhcp is true; set 'dhcp: false' for static "
			     "addressing");
			free(p);
		}
	}
	if (m->n_nodes > 0 && cps == 0 && roles_ok)
		diag(c, node_at(t, "nodes"), "nodes", DIAG_ERROR,
		     "no control-plane node; at least one node needs 'role: controlplane'");
	else if (cps > 0 && cps % 2 == 0)
		diag(c, node_at(t, "nodes"), "nodes", DIAG_WARNING,
		     "%zu control-plane nodes: an even number gives etcd no extra fault tolerance; use an "
		     "odd number",
		     cps);
	free(names);
	free(hosts);
	free(macs);
	free(serials);
}

/* Variables always derived from required keys: when the key is missing that
 * is the error reported, not every ${VAR} that uses it. */
static bool is_derived_var(const char *name)
{
	return strcmp(name, "CLUSTER_NAME") == 0 || strcmp(name, "LOCATION") == 0 ||
	       strcmp(name, "TIMEZONE") == 0;
}

/* Every ${VAR} in every value must be a site var or a secret var. */
static void check_vars_in(struct ctx *c, const struct model *m, const struct ynode *n, const char *path)
{
	if (n->type == YN_SCALAR) {
		for (const char *p = n->value; (p = strstr(p, "${")) != NULL;) {
			if (p > n->value && p[-1] == '$') {
				p += 2;
				continue;
			}
			const char *end = strchr(p, '}');
			if (!end) {
				diag(c, n, path, DIAG_ERROR, "unterminated '${' in '%s'", n->value);
				return;
			}
			char *name = xstrndup(p + 2, (size_t)(end - p - 2));
			if (!is_varname(name))
				diag(c, n, path, DIAG_ERROR, "'${%s}' is not a valid variable reference",
				     name);
			else if (!kv_get(&m->site.vars, name) && !kv_get(&m->site.secret_vars, name) &&
				 !is_derived_var(name)) {
				struct buf b = { 0 };
				for (size_t i = 0; i < m->site.vars.n; i++)
					buf_printf(&b, "%s%s", b.len ? ", " : "", m->site.vars.v[i].key);
				for (size_t i = 0; i < m->site.secret_vars.n; i++)
					buf_printf(&b, "%s%s", b.len ? ", " : "",
						   m->site.secret_vars.v[i].key);
				diag(c, n, path, DIAG_ERROR,
				     "undefined variable ${%s}; define it under site.vars or site.secretVars "
				     "(defined: %s)",
				     name, b.len ? b.data : "none");
				buf_free(&b);
			}
			free(name);
			p = end + 1;
		}
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		char *p = n->type == YN_MAP ? (path[0] ? xasprintf("%s.%s", path, n->keys[i]->value)
						       : xstrdup(n->keys[i]->value))
					    : xasprintf("%s[%zu]", path, i);
		check_vars_in(c, m, n->items[i], p);
		free(p);
	}
}

static void check_store_vars(struct ctx *c, const struct model *m, const struct ytree *t,
			     const struct immich_object_store *s, const char *path)
{
	const char *vars[2] = { s->access_key_var, s->secret_key_var };
	const char *keys[2] = { "accessKeyVar", "secretKeyVar" };

	for (int i = 0; i < 2; i++) {
		if (!vars[i] || kv_get(&m->site.secret_vars, vars[i]) || kv_get(&m->site.vars, vars[i]))
			continue;
		char *p = xasprintf("%s.%s", path, keys[i]);
		diag(c, node_at(t, p), p, DIAG_ERROR,
		     "variable '%s' is not provided by site.secretVars; add '%s: <secret name>' there",
		     vars[i], vars[i]);
		free(p);
	}
}

static void semantic_checks(struct ctx *c, struct model *m, const struct ytree *t)
{
	static const char *const supported[] = { "v1.10.", "v1.11.", "v1.12.", NULL };

	check_nodes(c, m, t);
	derive_var(c, m, t, "CLUSTER_NAME", m->site.cluster, "site.cluster");
	derive_var(c, m, t, "LOCATION", m->site.location, "site.location");
	derive_var(c, m, t, "TIMEZONE", m->site.timezone, "site.timezone");
	if (t->root)
		check_vars_in(c, m, t->root, "");
	check_store_vars(c, m, t, &m->apps.immich.database.primary, "apps.immich.database.primary");
	if (m->apps.immich.database.secondary.name)
		check_store_vars(c, m, t, &m->apps.immich.database.secondary,
				 "apps.immich.database.secondary");
	if (m->talos.version) {
		bool ok = false;
		const char *v = m->talos.version;
		char *vv = v[0] == 'v' ? xstrdup(v) : xasprintf("v%s", v);
		char *dotted = xasprintf("%s.", vv);
		for (int i = 0; supported[i]; i++)
			ok |= strncmp(dotted, supported[i], strlen(supported[i])) == 0;
		if (!ok)
			diag(c, node_at(t, "talos.version"), "talos.version", DIAG_ERROR,
			     "Talos %s is not supported; supported: v1.10.x, v1.11.x, v1.12.x", v);
		free(vv);
		free(dotted);
	}
	if (m->nas.timeout)
		profile_parse_duration(m->nas.timeout, &m->nas.timeout_ms);
	if (!m->gitops.flux.install_manifest && m->gitops.flux.version)
		m->gitops.flux.install_manifest =
		    xasprintf("https://github.com/fluxcd/flux2/releases/download/%s/install.yaml",
			      m->gitops.flux.version);
	struct immich_database *db = &m->apps.immich.database;
	if (!db->server_name && db->cluster)
		db->server_name = xstrdup(db->cluster);
	if (!db->restore_source_server && db->server_name)
		db->restore_source_server = xstrdup(db->server_name);
	/* Immich's hostnames default to immich.<domain> for each site domain */
	struct immich_route *r = &m->apps.immich.route;
	if (r->hostnames.n == 0)
		for (size_t i = 0; i < m->site.domains.n; i++)
			strlist_push(&r->hostnames, xasprintf("immich.%s", m->site.domains.v[i]));
}

/* ---- loading ------------------------------------------------------------ */

static int load_layer(struct ytree *base, const char *path, struct diags *d)
{
	struct app_err e = { 0 };
	struct ytree *t = NULL;
	int r = ytree_parse_file(path, &t, &e);

	if (r < 0) {
		/* ytree's messages start with "PATH:LINE:COL: " when they have a position */
		size_t plen = strlen(path);
		int line = 1, col = 1, used = 0;
		const char *msg = e.msg;

		if (strncmp(e.msg, path, plen) == 0 &&
		    sscanf(e.msg + plen, ":%d:%d: %n", &line, &col, &used) == 2 && used > 0)
			msg = e.msg + plen + used;
		diag_raw(d, path, line, col, xstrdup(msg));
		return r;
	}
	if (!t->root || ynode_is_null(t->root)) {
		diag_raw(d, path, 1, 1, xstrdup("the file is empty; expected an appliance profile"));
		ytree_free(t);
		return -EINVAL;
	}
	if (t->root->type != YN_MAP) {
		diag_raw(d, path, t->root->line, t->root->col,
			 xasprintf("expected a mapping at the top, found %s", node_kind(t->root)));
		ytree_free(t);
		return -EINVAL;
	}
	ytree_merge(base, t);
	return 0;
}

int profile_load(const struct profile_input *in, struct model **ret, struct diags *d)
{
	struct app_err e = { 0 };
	struct ytree *t = NULL;
	struct model *m;
	struct ctx c = { .d = d, .profile = in->profile };
	int r;

	*ret = NULL;
	r = ytree_parse(DEFAULTS_NAME, appliance_defaults_yaml, strlen(appliance_defaults_yaml), &t, &e);
	if (r < 0) { /* a build problem, not the user's */
		diag_raw(d, DEFAULTS_NAME, 1, 1, xstrdup(e.msg));
		return r;
	}
	r = load_layer(t, in->profile, d);
	for (int i = 0; r == 0 && i < in->n_sites; i++)
		r = load_layer(t, in->sites[i], d);
	for (int i = 0; r == 0 && i < in->n_sets; i++) {
		r = ytree_set(t, in->sets[i], &e);
		if (r < 0)
			diag_raw(d, "--set", 1, 1, xstrdup(e.msg));
	}
	if (r < 0) {
		ytree_free(t);
		if (d->n)
			qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
		return r;
	}

	m = xcalloc(1, sizeof(*m));
	c.secrets = ynode_map_get(t->root, "secrets");
	bind_table(&c, t->root, &profile_root_table, m, "");
	semantic_checks(&c, m, t);
	m->tree = t;
	m->path = xstrdup(in->profile);
	{
		char *slash = strrchr(m->path, '/');
		m->dir = slash ? xstrndup(m->path, (size_t)(slash - m->path)) : xstrdup(".");
	}
	if (d->n)
		qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
	if (d->errors) {
		model_free(m);
		return -EINVAL;
	}
	*ret = m;
	return 0;
}

/* ---- key reference ------------------------------------------------------ */

static const char *const type_names[] = {
	[T_STR] = "string",
	[T_NAME] = "name",
	[T_HOST] = "hostname",
	[T_ADDR] = "host-or-ip",
	[T_IP] = "ip",
	[T_CIDR] = "cidr",
	[T_MAC] = "mac",
	[T_URL] = "url",
	[T_CRON] = "cron",
	[T_DURATION] = "duration",
	[T_RETENTION] = "retention",
	[T_VERSION] = "version",
	[T_SECRET] = "secret-name",
	[T_SECREF] = "secret-ref",
	[T_ENUM] = "enum",
	[T_MODE] = "octal-mode",
	[T_QTY] = "quantity",
	[T_VARNAME] = "variable",
	[T_PATHSEG] = "folder",
	[T_HEX64] = "sha256",
	[T_SIZE] = "size",
	[T_INT] = "int",
	[T_BOOL] = "bool",
	[T_LIST_STR] = "list",
	[T_KV] = "map",
	[T_STRUCT] = "section",
	[T_LIST] = "list-of-sections",
};

static void print_keys(FILE *f, const struct table *t, const char *path)
{
	for (const struct field *fl = t->fields; fl->key; fl++) {
		char *p = path[0] ? xasprintf("%s.%s", path, fl->key) : xstrdup(fl->key);
		fprintf(f, "%s\t%s", p, type_names[fl->type]);
		if (fl->type == T_LIST_STR || fl->type == T_KV)
			fprintf(f, " of %s", type_names[fl->elem]);
		if (fl->type == T_ENUM) {
			fputs(" (", f);
			for (int i = 0; fl->choices[i]; i++)
				fprintf(f, "%s%s", i ? "|" : "", fl->choices[i]);
			fputs(")", f);
		}
		if (fl->flags & F_REQUIRED)
			fputs("\trequired", f);
		if (fl->def)
			fprintf(f, "\tdefault %s", fl->def);
		fputc('\n', f);
		if (fl->type == T_STRUCT) {
			print_keys(f, fl->sub, p);
		} else if (fl->type == T_LIST) {
			char *ip = xasprintf("%s[]", p);
			print_keys(f, fl->sub, ip);
			free(ip);
		}
		free(p);
	}
}

void profile_print_keys(FILE *f)
{
	print_keys(f, &profile_root_table, "");
}

/* ---- model helpers ------------------------------------------------------ */

void model_free(struct model *m)
{
	if (!m)
		return;
	free_table(&profile_root_table, m);
	free(m->path);
	free(m->dir);
	ytree_free(m->tree);
	free(m);
}

const char *model_where(const struct model *m, const char *key_path)
{
	struct ynode *n = m->tree ? ytree_get(m->tree->root, key_path) : NULL;
	char *s;

	if (!n || strcmp(n->file, DEFAULTS_NAME) == 0)
		return NULL;
	s = xasprintf("%s:%d:%d", n->file, n->line, n->col);
	/* keep it with the tree's file names so it lives until model_free() */
	m->tree->files = xrealloc(m->tree->files, (m->tree->n_files + 1) * sizeof(char *));
	m->tree->files[m->tree->n_files++] = s;
	return s;
}

const char *model_var(const struct model *m, const char *name)
{
	return kv_get(&m->site.vars, name);
}

char *model_expand(const struct model *m, const char *text)
{
	struct buf b = { 0 };
	const char *p = text;

	if (!text)
		return NULL;
	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			buf_puts(&b, "${");
			p += 3;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p, '}');
			if (end) {
				char *name = xstrndup(p + 2, (size_t)(end - p - 2));
				const char *v = model_var(m, name);
				free(name);
				if (v) {
					buf_puts(&b, v);
					p = end + 1;
					continue;
				}
			}
		}
		buf_append(&b, p, 1);
		p++;
	}
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

const struct model_node *model_node_by_name(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		if (m->nodes[i].name && strcmp(m->nodes[i].name, name) == 0)
			return &m->nodes[i];
	return NULL;
}

char *model_path(const struct model *m, const char *rel)
{
	if (!rel)
		return NULL;
	if (rel[0] == '/' || !m->dir)
		return xstrdup(rel);
	return xasprintf("%s/%s", m->dir, rel);
}
