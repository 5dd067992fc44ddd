/* The syntax of single profile values (see value.h). */
#include "profile/value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Edit distance with adjacent transpositions (optimal string alignment), case
 * folded: 'prot' is one edit from 'port', as 'libary' is from 'library'. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), rows[3][64];
	size_t *pprev = rows[0], *prev = rows[1], *cur = rows[2], *t;

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		int ca = tolower((unsigned char)a[i - 1]);
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int cb = tolower((unsigned char)b[j - 1]);
			size_t sub = prev[j - 1] + (ca != cb);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && pprev[j - 2] + 1 < cur[j])
				cur[j] = pprev[j - 2] + 1;
		}
		t = pprev;
		pprev = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

bool value_is_k8s_quantity(const char *s)
{
	static const char *const suffixes[] = { "",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n",
						"u", "m",  "k",	 "M",  "G",  "T",  "P",	 "E" };
	size_t digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	for (; isdigit((unsigned char)*s); s++)
		digits++;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			digits++;
	if (!digits)
		return false;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (strcmp(s, suffixes[i]) == 0)
			return true;
	if (*s != 'e' && *s != 'E')
		return false;
	s++;
	if (*s == '+' || *s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

const char *value_closest(const char *word, const char *const *cands, size_t stride, size_t n)
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

bool value_is_hostname(const char *s)
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

bool value_is_k8s_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
			return false;
	return true;
}

bool value_is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* The address part of S (up to '/') into buf; AF_INET, AF_INET6 or -1.
 * *prefix gets the prefix length (the full length when none is given). */
static int ip_parse(const char *s, unsigned char buf[16], long *prefix)
{
	const char *slash = strchr(s, '/');
	char *addr = xstrndup(s, slash ? (size_t)(slash - s) : strlen(s));
	int fam = -1;

	if (inet_pton(AF_INET, addr, buf) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		fam = AF_INET6;
	free(addr);
	*prefix = fam == AF_INET ? 32 : 128;
	if (fam > 0 && slash)
		*prefix = strtol(slash + 1, NULL, 10);
	return fam;
}

bool value_ip_in_cidr(const char *addr, const char *cidr)
{
	unsigned char a[16], n[16];
	long pa, pn;
	int fa = ip_parse(addr, a, &pa), fn = ip_parse(cidr, n, &pn);

	if (fa < 0 || fa != fn || pn < 0 || pn > (fn == AF_INET ? 32 : 128))
		return false;
	for (long bit = 0; bit < pn; bit++)
		if (((a[bit / 8] ^ n[bit / 8]) >> (7 - bit % 8)) & 1)
			return false;
	return true;
}

bool value_ip_same(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	long px, py;
	int fx = ip_parse(a, x, &px), fy = ip_parse(b, y, &py);

	return fx > 0 && fx == fy && memcmp(x, y, fx == AF_INET ? 4 : 16) == 0;
}

bool value_is_cidr(const char *s)
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

bool value_is_mac(const char *s)
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

bool value_is_varname(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

bool value_is_secret_name(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

bool value_is_version(const char *s)
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

const char *value_check_cron(const char *s)
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

const char value_bad_scheme[] = "unsupported scheme";

const char *value_check_url(const char *s, const char *const *schemes)
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
		return value_bad_scheme; /* the caller lists the schemes */
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
