/* Talos and Kubernetes version rules. See compat.h. */
#include "day2/compat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* One row per target Talos minor: the oldest host it upgrades from, the
 * newest host (exclusive) it may downgrade from, and the Kubernetes range it
 * runs. From siderolabs/talos pkg/machinery/compatibility/talos1NN/talos1NN.go. */
static const struct talos_rule {
	int minor;
	const char *min_host, *max_host_excl, *k8s_min, *k8s_max;
} rules[] = {
	{ 8, "1.5.0", "1.10.0", "1.26.0", "1.31.99" },	 { 9, "1.8.0", "1.11.0", "1.27.0", "1.32.99" },
	{ 10, "1.8.0", "1.12.0", "1.28.0", "1.33.99" },	 { 11, "1.9.0", "1.13.0", "1.29.0", "1.34.99" },
	{ 12, "1.10.0", "1.14.0", "1.30.0", "1.35.99" },
};

int day2_version_parse(const char *v, int *major, int *minor, int *patch)
{
	int n = 0;

	if (!v)
		return -1;
	if (*v == 'v')
		v++;
	if (sscanf(v, "%d.%d.%d%n", major, minor, patch, &n) != 3 || n == 0)
		return -1;
	/* a pre-release or build suffix is allowed ("1.10.0-beta.1") */
	if (v[n] != '\0' && v[n] != '-' && v[n] != '+')
		return -1;
	return 0;
}

int day2_version_cmp(const char *a, const char *b)
{
	int x[3] = { 0, 0, 0 }, y[3] = { 0, 0, 0 };

	day2_version_parse(a, &x[0], &x[1], &x[2]);
	day2_version_parse(b, &y[0], &y[1], &y[2]);
	for (int i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

static const struct talos_rule *rule_for(const char *target, struct app_err *e)
{
	int ma, mi, pa;

	if (day2_version_parse(target, &ma, &mi, &pa) < 0) {
		app_err_set(e, -EINVAL, "'%s' is not a Talos version (expected vMAJOR.MINOR.PATCH)", target);
		return NULL;
	}
	for (size_t i = 0; ma == 1 && i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].minor == mi)
			return &rules[i];
	app_err_set(e, -EPERM, "upgrades to version %s are not supported (known: 1.%d to 1.%d)", target,
		    rules[0].minor, rules[sizeof(rules) / sizeof(rules[0]) - 1].minor);
	return NULL;
}

static const char *bare(const char *v)
{
	return v && *v == 'v' ? v + 1 : v;
}

int day2_talos_upgradeable(const char *host, const char *target, struct app_err *e)
{
	const struct talos_rule *r = rule_for(target, e);
	int ma, mi, pa;

	if (!r)
		return e ? e->code : -EINVAL;
	if (day2_version_parse(host, &ma, &mi, &pa) < 0)
		return app_err_set(e, -EINVAL, "the node reports '%s', which is not a Talos version", host);
	/* the next step is the host's next minor (each minor takes the one
	 * before it: 1.7.4 -> 1.10 goes through 1.8.x, as 1.9 also needs 1.8.0) */
	if (day2_version_cmp(host, r->min_host) < 0)
		return app_err_set(
		    e, -EPERM,
		    "host version %s is too old to upgrade to Talos %s (Talos %d.%d upgrades from "
		    "%s or newer); upgrade to the newest %d.%d.x first",
		    bare(host), bare(target), 1, r->minor, r->min_host, ma, mi + 1);
	if (day2_version_cmp(host, r->max_host_excl) >= 0)
		return app_err_set(
		    e, -EPERM, "host version %s is too new to downgrade to Talos %s (only from before %s)",
		    bare(host), bare(target), r->max_host_excl);
	return 0;
}

int day2_kubernetes_supported(const char *k8s, const char *talos, struct app_err *e)
{
	const struct talos_rule *r = rule_for(talos, e);
	int ma, mi, pa;

	if (!r)
		return e ? e->code : -EINVAL;
	if (day2_version_parse(k8s, &ma, &mi, &pa) < 0)
		return app_err_set(e, -EINVAL,
				   "'%s' is not a Kubernetes version (expected vMAJOR.MINOR.PATCH)", k8s);
	if (day2_version_cmp(k8s, r->k8s_min) < 0)
		return app_err_set(
		    e, -EPERM,
		    "version of Kubernetes %s is too old to be used with Talos %s (supported: %s "
		    "to %.4s.x)",
		    bare(k8s), bare(talos), r->k8s_min, r->k8s_max);
	if (day2_version_cmp(k8s, r->k8s_max) > 0)
		return app_err_set(
		    e, -EPERM,
		    "version of Kubernetes %s is too new to be used with Talos %s (supported: %s "
		    "to %.4s.x)",
		    bare(k8s), bare(talos), r->k8s_min, r->k8s_max);
	return 0;
}

int day2_kubernetes_path(const char *from, const char *to, struct app_err *e)
{
	int a[3], b[3];

	if (day2_version_parse(from, &a[0], &a[1], &a[2]) < 0 ||
	    day2_version_parse(to, &b[0], &b[1], &b[2]) < 0)
		return app_err_set(e, -EINVAL, "cannot compare Kubernetes versions '%s' and '%s'", from, to);
	if (b[0] < a[0] || (b[0] == a[0] && b[1] < a[1]))
		return app_err_set(e, -EPERM,
				   "unsupported Kubernetes upgrade path %s -> %s: Kubernetes never moves "
				   "back to an older minor version (stay on %d.%d.x)",
				   bare(from), bare(to), a[0], a[1]);
	if (a[0] != b[0] || b[1] > a[1] + 1)
		return app_err_set(e, -EPERM,
				   "unsupported Kubernetes upgrade path %s -> %s: Kubernetes moves one minor "
				   "version at a time (upgrade to %d.%d.x first)",
				   bare(from), bare(to), a[0], a[1] + 1);
	return 0;
}
