/* The syntax of single profile values: sizes, durations, names, addresses,
 * versions, cron schedules, URLs; and the typo suggestion for names. Pure
 * functions of a string: no tree, no diagnostics. */
#ifndef APPLIANCE_PROFILE_VALUE_H
#define APPLIANCE_PROFILE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "8Gi", "2Ti", "500GB", "1.5T", "4096": bytes. -EINVAL when malformed,
 * -ERANGE on overflow. The one size parser: use it, do not write another. */
int profile_parse_size(const char *s, uint64_t *ret);

/* Go duration ("30m", "1h30m", "10s", "500ms") in milliseconds. */
int profile_parse_duration(const char *s, long long *ms);

bool value_is_hostname(const char *s);
bool value_is_k8s_name(const char *s); /* lower-case DNS subdomain name */
/* A quantity as Kubernetes parses it (k8s.io/apimachinery pkg/api/resource,
 * quantity.go: [sign] number, then nothing, a binary suffix Ki..Ei, a decimal
 * suffix n u m k M G T P E, or an exponent e/E [sign] digits): 8G, 8Gi, 25m.
 * Not 8GB, 8gi or 8 G. */
bool value_is_k8s_quantity(const char *s);
bool value_is_ip(const char *s); /* IPv4 or IPv6 */
bool value_is_cidr(const char *s);
/* ADDR (an address, or address/prefix) lies inside CIDR. False when either
 * does not parse or the families differ. */
bool value_ip_in_cidr(const char *addr, const char *cidr);
/* The address parts of A and B (each an address or address/prefix) are the
 * same address. */
bool value_ip_same(const char *a, const char *b);
bool value_is_mac(const char *s); /* six hex pairs, ':' or '-' */
bool value_is_varname(const char *s);
bool value_is_secret_name(const char *s);
bool value_is_version(const char *s); /* v1.10 / v1.10.5 / 1.10.5-rc1 */

/* A cron schedule (5 fields or a macro): NULL when valid, else why not. */
const char *value_check_cron(const char *s);

/* A URL whose scheme is one of SCHEMES (NULL: http, https): NULL when valid,
 * value_bad_scheme when only the scheme is wrong (the caller lists the
 * schemes), else why not. */
extern const char value_bad_scheme[];
const char *value_check_url(const char *s, const char *const *schemes);

/* The candidate closest to WORD when close enough to be a typo, else NULL.
 * CANDS: N strings STRIDE bytes apart (a column of a table of structs). */
const char *value_closest(const char *word, const char *const *cands, size_t stride, size_t n);

#endif
