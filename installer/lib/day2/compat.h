/* Which version moves Talos allows, as upstream encodes them
 * (siderolabs/talos pkg/machinery/compatibility: talos_version.go
 * UpgradeableFrom, kubernetes_version.go SupportedWith, and the per-release
 * talos1NN/talos1NN.go limits; checked at v1.10.5 and main for 1.12), so
 * `appliance upgrade` refuses before the node does. */
#ifndef APPLIANCE_DAY2_COMPAT_H
#define APPLIANCE_DAY2_COMPAT_H

struct app_err;

/* "v1.10.5" or "1.10.5" -> major, minor, patch; -1 when not a version. */
int day2_version_parse(const char *v, int *major, int *minor, int *patch);
/* <0, 0, >0 like strcmp; unparsable versions compare as 0.0.0. */
int day2_version_cmp(const char *a, const char *b);

/* May a node running Talos host be upgraded (or downgraded) to target?
 * 0, or -EPERM with upstream's words ("host version 1.7.4 is too old to
 * upgrade to Talos 1.10.5") plus the way around it. */
int day2_talos_upgradeable(const char *host, const char *target, struct app_err *e);

/* Does Talos talos support Kubernetes k8s? 0 or -EPERM ("version of
 * Kubernetes 1.34.0 is too new to be used with Talos 1.10.5"). */
int day2_kubernetes_supported(const char *k8s, const char *talos, struct app_err *e);

/* A Kubernetes upgrade moves at most one minor version at a time (the
 * Kubernetes version skew policy that talosctl upgrade-k8s enforces). */
int day2_kubernetes_path(const char *from, const char *to, struct app_err *e);

#endif
