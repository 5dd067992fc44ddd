/* day2/: the Talos and Kubernetes version rules (values from siderolabs/talos
 * pkg/machinery/compatibility), machine config facts, the cluster-identity
 * guard and the redaction of config diffs; and the Kubernetes list reader of
 * net/kubeapi. The commands run end to end in tests/integration/day2_*.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/util.h"
#include "day2/compat.h"
#include "day2/k8sman.h"
#include "day2/machstat.h"
#include "day2/nodecfg.h"
#include "net/kubeapi.h"
#include "net/talosops.h"

static void test_talos_skew(void **state)
{
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(day2_talos_upgradeable("v1.10.5", "v1.10.6", &e), 0);
	assert_int_equal(day2_talos_upgradeable("v1.8.3", "v1.10.5", &e), 0);
	assert_int_equal(day2_talos_upgradeable("v1.9.6", "v1.11.2", &e), 0);
	assert_int_equal(day2_talos_upgradeable("v1.7.6", "v1.10.5", &e), -EPERM);
	assert_non_null(strstr(e.msg, "host version 1.7.6 is too old to upgrade to Talos 1.10.5"));
	/* 1.9 also needs 1.8.0: the next step from 1.7.6 is 1.8.x, not 1.9.x */
	assert_non_null(strstr(e.msg, "upgrade to the newest 1.8.x first"));
	assert_int_equal(day2_talos_upgradeable("v1.6.7", "v1.10.5", &e), -EPERM);
	assert_non_null(strstr(e.msg, "upgrade to the newest 1.7.x first"));
	assert_int_equal(day2_talos_upgradeable("v1.12.0", "v1.10.5", &e), -EPERM);
	assert_non_null(strstr(e.msg, "host version 1.12.0 is too new to downgrade to Talos 1.10.5"));
	assert_int_equal(day2_talos_upgradeable("v1.11.0", "v1.10.5", &e), 0);
	assert_int_equal(day2_talos_upgradeable("v1.10.5", "v1.99.0", &e), -EPERM);
	assert_non_null(strstr(e.msg, "upgrades to version v1.99.0 are not supported"));
	assert_int_equal(day2_talos_upgradeable("v1.10.5", "latest", &e), -EINVAL);
}

static void test_kubernetes(void **state)
{
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(day2_kubernetes_supported("v1.33.2", "v1.10.5", &e), 0);
	assert_int_equal(day2_kubernetes_supported("v1.28.0", "v1.10.5", &e), 0);
	assert_int_equal(day2_kubernetes_supported("v1.34.0", "v1.10.5", &e), -EPERM);
	assert_non_null(
	    strstr(e.msg, "version of Kubernetes 1.34.0 is too new to be used with Talos 1.10.5"));
	assert_int_equal(day2_kubernetes_supported("v1.27.9", "v1.10.5", &e), -EPERM);
	assert_non_null(strstr(e.msg, "too old"));
	assert_int_equal(day2_kubernetes_path("v1.32.4", "v1.33.2", &e), 0);
	assert_int_equal(day2_kubernetes_path("v1.33.2", "v1.33.3", &e), 0);
	assert_int_equal(day2_kubernetes_path("v1.31.4", "v1.33.2", &e), -EPERM);
	assert_non_null(strstr(e.msg, "one minor version at a time (upgrade to 1.32.x first)"));
	assert_int_equal(day2_kubernetes_path("v1.33.2", "v1.32.0", &e), -EPERM);
	assert_non_null(strstr(e.msg, "never moves back to an older minor version (stay on 1.33.x)"));
	assert_null(strstr(e.msg, "upgrade to"));
	assert_true(day2_version_cmp("v1.10.10", "v1.10.9") > 0);
}

static const char cfg_a[] = "version: v1alpha1\n"
			    "machine:\n"
			    "  type: controlplane\n"
			    "  token: abcdef.0123456789abcdef\n"
			    "  ca:\n"
			    "    crt: Q0EtQQ==\n"
			    "  install:\n"
			    "    image: factory.talos.dev/installer/"
			    "1cfc03ed7c08520a76a26afa295ce4c2633f4c099c73edfb184cc90d51b6ee69:v1.10.5\n"
			    "cluster:\n"
			    "  id: id-one\n"
			    "  secret: s-one\n"
			    "  clusterName: demo\n"
			    "  controlPlane:\n"
			    "    endpoint: https://k8s.demo.test:6443\n"
			    "---\n"
			    "apiVersion: v1alpha1\n"
			    "kind: HostnameConfig\n";

static void test_facts(void **state)
{
	struct nodecfg_facts f;
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(nodecfg_facts(cfg_a, strlen(cfg_a), "a", &f, &e), 0);
	assert_string_equal(f.type, "controlplane");
	assert_string_equal(f.schematic, "1cfc03ed7c08520a76a26afa295ce4c2633f4c099c73edfb184cc90d51b6ee69");
	assert_string_equal(f.talos_version, "v1.10.5");
	nodecfg_facts_free(&f);
	assert_int_equal(nodecfg_facts("a: [", 4, "bad", &f, &e) < 0, 1);
}

/* what install --config and talos config-volume --config accept (Talos' decoder:
 * siderolabs/talos pkg/machinery/config/configloader/internal/decoder/decoder.go) */
static void test_check(void **state)
{
	static const struct {
		const char *cfg, *msg; /* msg: NULL = accepted */
	} cases[] = {
		{ "", "machine config 'c' is empty" },
		{ "machine: {type: [worker\n", "c:2:1: YAML syntax error: " },
		{ "- machine\n", "c:1:1: a document of a machine config is a list, not a mapping" },
		{ "hunter2\n", "c:1:1: a document of a machine config is a single value, not a mapping" },
		{ "version: v1alpha1\nmachine: hunter2\n", "c:2:10: 'machine' is not a mapping" },
		{ "site: {name: x}\nnodes: []\n",
		  "machine config 'c' has no v1alpha1 document with a 'machine:'" },
		{ "apiVersion: v1alpha1\nkind: HostnameConfig\n",
		  "machine config 'c' has no v1alpha1 document" },
		{ "---\n~\n---\nversion: v1alpha1\nmachine: {type: worker}\ncluster: {}\n", NULL },
		{ "apiVersion: v1alpha1\nkind: HostnameConfig\n---\nmachine:\n  type: worker\n", NULL },
	};
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(nodecfg_check(cfg_a, strlen(cfg_a), "c", &e), 0);
	assert_int_equal(nodecfg_check("a\0b", 3, "c", &e), -EINVAL);
	assert_non_null(strstr(e.msg, "contains NUL bytes"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = nodecfg_check(cases[i].cfg, strlen(cases[i].cfg), "c", &e);
		if (!cases[i].msg && r != 0)
			fail_msg("case %zu refused: %s", i, e.msg);
		if (cases[i].msg && (r != -EINVAL || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) != 0))
			fail_msg("case %zu: %d '%s', wanted '%s'", i, r, e.msg, cases[i].msg);
		if (r < 0 && strstr(e.msg, "hunter2"))
			fail_msg("case %zu echoes a value: %s", i, e.msg);
	}
}

static void test_identity(void **state)
{
	struct buf why = { 0 }, b = { 0 };
	struct app_err e = { 0 };
	char *p;

	(void)state;
	assert_int_equal(nodecfg_identity_diff(cfg_a, strlen(cfg_a), cfg_a, strlen(cfg_a), &why, &e), 0);
	buf_puts(&b, cfg_a);
	p = strstr(b.data, "k8s.demo.test");
	memcpy(p, "k8s.evil.test", 13);
	p = strstr(b.data, "s-one");
	memcpy(p, "s-two", 5);
	assert_int_equal(nodecfg_identity_diff(cfg_a, strlen(cfg_a), b.data, b.len, &why, &e), 2);
	assert_non_null(strstr(why.data, "cluster.controlPlane.endpoint (the control plane endpoint): "
					 "'https://k8s.demo.test:6443' -> 'https://k8s.evil.test:6443'"));
	assert_non_null(
	    strstr(why.data, "cluster.secret (the cluster secret (discovery)): changes (value not shown)"));
	assert_null(strstr(why.data, "s-two"));
	buf_free(&why);
	buf_free(&b);
}

static void test_redact(void **state)
{
	static const char diff[] =
	    "--- a\n+++ b\n@@ -1,4 +1,4 @@\n"
	    "   token: abcdef.0123456789abcdef\n"
	    "-    key: LS0tLS1CRUdJTiBFRDI1NTE5IFBSSVZBVEUgS0VZLS0tLS0K\n"
	    "+    key: TUM0Q0FRQXdCUVlESzJWd0JDSUVJRkFLRUtFWUZBS0VLRVlGQUtF\n"
	    "     crt: TUM0Q0FRQXdCUVlESzJWd0JDSUVJRkFLRUtFWUZBS0VLRVlGQUtF\n"
	    "           password: hunter2\n"
	    "-    image: factory.talos.dev/installer/"
	    "1cfc03ed7c08520a76a26afa295ce4c2633f4c099c73edfb184cc90d51b6ee69:v1.10.5\n";
	struct buf out = { 0 };

	(void)state;
	nodecfg_redact_diff(diff, &out);
	assert_null(strstr(out.data, "0123456789abcdef"));
	assert_null(strstr(out.data, "LS0tLS1"));
	assert_null(strstr(out.data, "TUM0Q0"));
	assert_null(strstr(out.data, "hunter2"));
	assert_non_null(strstr(out.data, "   token: <redacted>\n"));
	assert_non_null(strstr(out.data, "     crt: <redacted>\n"));
	assert_non_null(
	    strstr(out.data, "1cfc03ed7c08520a76a26afa295ce4c2633f4c099c73edfb184cc90d51b6ee69:v1.10.5"));
	assert_non_null(strstr(out.data, "--- a\n+++ b\n@@ -1,4 +1,4 @@\n"));
	/* a changed secret does not read as an unchanged line */
	assert_non_null(strstr(out.data, "-    key: <redacted>\n+    key: <redacted> (changed)\n"));
	buf_free(&out);
	nodecfg_redact_diff("-  password: aaa\n+  password: aaa\n-  a: 1\n+  a: 2\n", &out);
	assert_non_null(strstr(out.data, "+  password: <redacted>\n"));
	assert_null(strstr(out.data, "(changed)"));
	buf_free(&out);
}

/* services judged as Talos v1.10.5 judges readiness (machine_status.go) */
static void judge(const struct talosops_service *v, size_t n, bool cp, size_t problems, size_t unknown,
		  const char *text)
{
	struct talosops_services s = { (struct talosops_service *)v, n };
	struct talosops_verdict vd;
	struct buf out = { 0 };

	talosops_services_judge(&s, cp, &vd, &out);
	assert_int_equal(vd.problems, problems);
	assert_int_equal(vd.unknown, unknown);
	assert_string_equal(out.data, text);
	buf_free(&out);
}

static void test_services(void **state)
{
	static const struct talosops_service worker[] = {
		{ "apid", "Running", false, true, "" },
		{ "dashboard", "Running", true, false, "Unknown" },
		{ "kubelet", "Running", false, true, "" },
		{ "machined", "Running", false, true, "" },
	};
	static const struct talosops_service bad[] = {
		{ "apid", "Running", false, true, "" },
		{ "dashboard", "Failed", false, false, "exit 1" }, /* not required: fine */
		{ "etcd", "Waiting", true, false, "Unknown" },	   /* required on a control plane */
		{ "kubelet", "Running", false, false, "connection refused" }, /* failing check */
		{ "machined", "Running", false, true, "" },
		{ "udevd", "Running", true, false, "Unknown" }, /* before its first check */
	};

	(void)state;
	judge(worker, 4, false, 0, 1, "");
	/* the same services on a control plane lack etcd and trustd */
	judge(worker, 4, true, 2, 1, "etcd (not listed), trustd (not listed)");
	judge(bad, 6, false, 1, 1, "kubelet (Running: connection refused)");
	judge(bad, 6, true, 3, 1,
	      "kubelet (Running: connection refused), etcd (Waiting), trustd (not listed)");
}

static void test_kube_lists(void **state)
{
	static const char json[] =
	    "{\"kind\":\"KustomizationList\",\"items\":[{\"metadata\":{\"namespace\":\"flux-system\","
	    "\"name\":"
	    "\"immich\"},\"status\":{\"conditions\":[{\"type\":\"Reconciling\",\"status\":\"True\"},{"
	    "\"type\":"
	    "\"Ready\",\"status\":\"False\",\"reason\":\"HealthCheckFailed\",\"message\":\"timeout: "
	    "[a]\\nnext\"}]}},{\"metadata\":{\"name\":\"n1\",\"annotations\":{\"extensions.talos.dev/"
	    "schematic\":\"abc123\"}}}]}";
	struct kube_objects o;
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(kube_parse_ready(json, strlen(json), "t", &o, &e), 0);
	assert_int_equal(o.n, 2);
	assert_string_equal(o.v[0].namespace, "flux-system");
	assert_int_equal(o.v[0].ready, KUBE_READY_FALSE);
	assert_string_equal(o.v[0].reason, "HealthCheckFailed");
	assert_string_equal(o.v[0].message, "timeout: [a]\nnext");
	assert_int_equal(o.v[1].ready, KUBE_READY_UNKNOWN);
	assert_string_equal(o.v[1].namespace, "");
	assert_string_equal(o.v[0].schematic, "");
	assert_string_equal(o.v[1].schematic, "abc123");
	kube_objects_free(&o);
	assert_int_equal(kube_parse_ready("{\"kind\":\"Status\"}", 17, "t", &o, &e), -EPROTO);
}

/* the bootstrap manifests sync: paths as sync.go manifestPath, URLs as the
 * RESTMapper resolves them, the comparison ignoring what Kubernetes sets */
static void test_manifests(void **state)
{
	static const char spec[] = "- apiVersion: apps/v1\n  kind: DaemonSet\n"
				   "  metadata: {name: kube-proxy, namespace: kube-system}\n"
				   "  spec: {replicas: 2, x: \"2\", on: true}\n"
				   "- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRoleBinding\n"
				   "  metadata: {name: crb}\n";
	struct k8sman m = { 0 };
	struct app_err e = { 0 };
	struct buf b = { 0 };
	char why[200];

	(void)state;
	assert_int_equal(k8sman_add(&m, "10-kube-proxy", spec, strlen(spec), &e), 0);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.v[0].path, "apps/v1.DaemonSet/kube-system/kube-proxy");
	assert_string_equal(m.v[0].url, "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy");
	assert_int_equal(m.v[0].rollout, K8SMAN_DAEMONSET);
	assert_string_equal(m.v[1].path, "rbac.authorization.k8s.io/v1.ClusterRoleBinding/crb");
	assert_string_equal(m.v[1].coll, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings");
	k8sman_json(&m.v[0], "42", &b);
	assert_string_equal(b.data,
			    "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":"
			    "\"kube-proxy\",\"namespace\":\"kube-system\",\"resourceVersion\":\"42\"},"
			    "\"spec\":{\"replicas\":2,\"x\":\"2\",\"on\":true}}");
	k8sman_free(&m);
	assert_int_equal(k8sman_add(&m, "x", "- {apiVersion: v1, kind: Pod, metadata: {name: p}}", 50, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "kind 'Pod' of 'p'"));
	k8sman_free(&m);

	b.len = 0;
	{
		const char *cur =
		    "{\"kind\":\"DaemonSet\",\"metadata\":{\"uid\":\"1\",\"resourceVersion\":\"1\","
		    "\"annotations\":{\"a.kubernetes.io/x\":\"1\"}},\"spec\":{\"i\":\"a\"}}";
		const char *dry =
		    "{\"kind\":\"DaemonSet\",\"metadata\":{\"uid\":\"1\",\"resourceVersion\":\"2\"},"
		    "\"spec\":{\"i\":\"a\"}}";
		const char *s1 = "{\"kind\":\"Secret\",\"data\":{\"t\":\"old\"}}";
		const char *s2 = "{\"kind\":\"Secret\",\"data\":{\"t\":\"new\"}}";
		const char *ds = "{\"metadata\":{\"name\":\"p\",\"generation\":2},\"status\":{"
				 "\"observedGeneration\":2,\"desiredNumberScheduled\":3,"
				 "\"updatedNumberScheduled\":1,\"currentNumberScheduled\":3}}";
		const char *dep =
		    "{\"metadata\":{\"name\":\"d\",\"generation\":1},\"status\":{"
		    "\"observedGeneration\":1,\"replicas\":2,\"readyReplicas\":2,\"updatedReplicas\":2}}";

		assert_int_equal(k8sman_diff(cur, strlen(cur), dry, strlen(dry), &b, &e), 0);
		assert_int_equal(k8sman_diff(s1, strlen(s1), s2, strlen(s2), &b, &e), 1);
		assert_string_equal(b.data, "data.t: (changed)\n");
		assert_int_equal(k8sman_rolled_out(K8SMAN_DAEMONSET, ds, strlen(ds), why, sizeof(why), &e),
				 0);
		assert_string_equal(why, "daemonset p: 1 of 3 pods up-to-date");
		assert_int_equal(k8sman_rolled_out(K8SMAN_DEPLOYMENT, dep, strlen(dep), why, sizeof(why), &e),
				 1);
	}
	buf_free(&b);
}

/* The stages a day-2 change waits out (siderolabs/talos v1.10.5 machinestage.go words). */
static void test_machstat(void **state)
{
	(void)state;
	for (const char *const *s = (const char *const[]){ "installing", "rebooting", "shutting down",
							   "resetting", "upgrading", NULL };
	     *s; s++)
		assert_true(machstat_busy(*s));
	for (const char *const *s =
		 (const char *const[]){ "running", "booting", "maintenance", "unknown", "", NULL };
	     *s; s++)
		assert_false(machstat_busy(*s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_talos_skew), cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_facts),	   cmocka_unit_test(test_check),
		cmocka_unit_test(test_identity),   cmocka_unit_test(test_redact),
		cmocka_unit_test(test_kube_lists), cmocka_unit_test(test_services),
		cmocka_unit_test(test_manifests),  cmocka_unit_test(test_machstat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
