/* day2/k8sup: the Kubernetes components of a machine config, the one-image
 * patches of `appliance upgrade --kubernetes` (talosctl upgrade-k8s's
 * patchNodeConfig: only that field changes), the target images, the bootstrap
 * manifests Talos renders, and what a minor upgrade removes (go-kubernetes
 * v0.2.23 upgrade/checks.go). End to end: tests/integration/day2_upgrade_k8s.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/util.h"
#include "day2/k8sup.h"

static const char cfg[] = "version: v1alpha1\n"
			  "machine:\n"
			  "  type: controlplane\n"
			  "  kubelet:\n"
			  "    image: ghcr.io/siderolabs/kubelet:v1.32.4-fat\n"
			  "    extraArgs:\n"
			  "      iptables-drop-bit: \"15\"\n"
			  "cluster:\n"
			  "  apiServer:\n"
			  "    image: \"mirror.local/kube-apiserver:v1.32.4\"\n"
			  "    extraArgs:\n"
			  "      feature-gates: SidecarContainers=true, AppArmor=false\n"
			  "      cloud-config: /x\n"
			  "  controllerManager:\n"
			  "    image: registry.k8s.io/kube-controller-manager:v1.32.4\n"
			  "  scheduler:\n"
			  "    image: registry.k8s.io/kube-scheduler:v1.32.4\n"
			  "  proxy:\n"
			  "    image: registry.k8s.io/kube-proxy:v1.32.4\n"
			  "  network:\n"
			  "    cni:\n"
			  "      name: none\n"
			  "  inlineManifests:\n"
			  "    - name: cilium-install\n"
			  "      contents: x\n"
			  "---\n"
			  "apiVersion: v1alpha1\n"
			  "kind: HostnameConfig\n"
			  "image: not-this\n";

static void test_facts(void **state)
{
	struct k8sup_facts f;
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(k8sup_facts(cfg, strlen(cfg), "t", &f, &e), 0);
	assert_string_equal(f.image[K8SUP_APISERVER], "mirror.local/kube-apiserver:v1.32.4");
	assert_string_equal(f.image[K8SUP_KUBELET], "ghcr.io/siderolabs/kubelet:v1.32.4-fat");
	assert_true(f.proxy_enabled);
	/* CNI none: no flannel; CoreDNS on; kube-proxy on; the inline manifest */
	assert_null(strstr(f.manifests, "05-flannel"));
	assert_non_null(
	    strstr(f.manifests, "11-core-dns, 11-core-dns-svc, 10-kube-proxy, inline cilium-install"));
	k8sup_facts_free(&f);
	assert_true(k8sup_facts("a: [", 4, "bad", &f, &e) < 0);
}

static void test_target(void **state)
{
	char *s;

	(void)state;
	s = k8sup_target_image(K8SUP_APISERVER, "mirror.local/kube-apiserver:v1.32.4", "v1.33.3");
	assert_string_equal(s, "mirror.local/kube-apiserver:v1.33.3");
	free(s);
	s = k8sup_target_image(K8SUP_KUBELET, "ghcr.io/siderolabs/kubelet:v1.32.4-fat", "1.33.3");
	assert_string_equal(s, "ghcr.io/siderolabs/kubelet:v1.33.3-fat");
	free(s);
	s = k8sup_target_image(K8SUP_SCHEDULER, "", "v1.33.3");
	assert_string_equal(s, "registry.k8s.io/kube-scheduler:v1.33.3");
	free(s);
	/* a registry's port is not a tag; a digest goes */
	s = k8sup_target_image(K8SUP_PROXY, "localhost:5000/kube-proxy", "v1.33.3");
	assert_string_equal(s, "localhost:5000/kube-proxy:v1.33.3");
	free(s);
	s = k8sup_target_image(K8SUP_PROXY, "localhost:5000/kube-proxy@sha256:abc", "v1.33.3");
	assert_string_equal(s, "localhost:5000/kube-proxy:v1.33.3");
	free(s);
}

static void test_patch(void **state)
{
	struct buf out = { 0 };
	struct app_err e = { 0 };
	const char *want_old = "    image: \"mirror.local/kube-apiserver:v1.32.4\"\n";
	const char *want_new = "    image: mirror.local/kube-apiserver:v1.33.3\n";
	char *expect;
	size_t at;

	(void)state;
	assert_int_equal(
	    k8sup_patch(cfg, strlen(cfg), K8SUP_APISERVER, "mirror.local/kube-apiserver:v1.33.3", &out, &e),
	    0);
	/* everything else byte for byte */
	at = (size_t)(strstr(cfg, want_old) - cfg);
	expect = xasprintf("%.*s%s%s", (int)at, cfg, want_new, cfg + at + strlen(want_old));
	assert_int_equal(out.len, strlen(expect));
	assert_memory_equal(out.data, expect, out.len);
	free(expect);
	buf_free(&out);
	/* the kubelet: the machine section, not the second document's image */
	assert_int_equal(k8sup_patch(cfg, strlen(cfg), K8SUP_KUBELET, "k:v1", &out, &e), 0);
	assert_non_null(strstr(out.data, "  kubelet:\n    image: k:v1\n    extraArgs"));
	assert_non_null(strstr(out.data, "image: not-this\n"));
	buf_free(&out);
	assert_int_equal(k8sup_patch("version: v1alpha1\n", 18, K8SUP_PROXY, "x:v1", &out, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "cluster.proxy.image"));
	buf_free(&out);
}

static void test_removed(void **state)
{
	const struct k8sup_removed *rm;
	struct buf found = { 0 };
	struct app_err e = { 0 };

	(void)state;
	assert_null(k8sup_removed_for("v1.33.2", "v1.33.3"));
	assert_null(k8sup_removed_for("v1.27.1", "v1.28.0")); /* Talos 1.10 runs 1.28 and newer */
	rm = k8sup_removed_for("v1.32.4", "v1.33.0");
	assert_non_null(rm);
	assert_string_equal(k8sup_removed_path(rm), "1.32->1.33");
	assert_null(k8sup_removed_apis(rm)[0]);
	/* AppArmor=false still names the gate (upstream compares names); the
	 * removed apiserver flag; no kubelet flag on this path */
	assert_int_equal(k8sup_removed_in_config(rm, cfg, strlen(cfg), "cp1", &found, &e), 2);
	assert_string_equal(found.data, "cp1 kube-apiserver feature gate AppArmor\n"
					"cp1 kube-apiserver flag --cloud-config\n");
	buf_free(&found);
	rm = k8sup_removed_for("1.30.2", "1.31.0");
	assert_int_equal(k8sup_removed_in_config(rm, cfg, strlen(cfg), "w1", &found, &e), 1);
	assert_string_equal(found.data, "w1 kubelet flag --iptables-drop-bit\n");
	buf_free(&found);
	rm = k8sup_removed_for("1.31.9", "1.32.0");
	assert_string_equal(k8sup_removed_apis(rm)[0],
			    "/apis/resource.k8s.io/v1alpha3/podschedulingcontexts");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_patch),
		cmocka_unit_test(test_removed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
