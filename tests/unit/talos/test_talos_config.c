/* talos_config and talos_talosconfig on hand-built models. One bundle (an
 * RSA-4096 key) is generated in the group setup and shared. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "profile/model.h"
#include "talos/talos_config.h"
#include "talos/talos_check.h"
#include "talos/talos_secrets.h"
#include "talos/talos_talosconfig.h"
#include "base/util.h"

static struct talos_bundle bundle, other;

static int group_setup(void **state)
{
	struct app_err e = { 0 };

	if (talos_secrets_generate(&bundle, time(NULL), &e) < 0 ||
	    talos_secrets_generate(&other, time(NULL), &e) < 0) {
		fprintf(stderr, "generate: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	talos_secrets_free(&bundle);
	talos_secrets_free(&other);
	return 0;
}

static char *ns[] = { "192.168.50.1", "1.1.1.1" };
static char *macs[] = { "52:54:00:aa:bb:cc" };

static void fill(struct model *m, struct model_node *n, const char *version)
{
	memset(m, 0, sizeof(*m));
	memset(n, 0, sizeof(*n));
	m->talos.version = (char *)version;
	m->talos.endpoint = "https://192.168.50.25:6443";
	m->talos.pod_cidr = "10.1.0.0/16";
	m->talos.service_cidr = "10.0.0.0/16";
	m->talos.cni = "none";
	m->talos.image.installer = "factory.talos.dev/metal-installer";
	m->site.cluster = "talos-test";
	m->site.gateway = "192.168.50.1";
	m->nodes = n;
	m->n_nodes = 1;
	n->name = "w1";
	n->role_text = "worker";
	n->role = NODE_ROLE_WORKER;
	n->hostname = "w1.local";
	n->network.dhcp = true;
	n->install_disk.path = "/dev/nvme0n1";
}

static int render(struct model *m, struct model_node *n, struct buf *out, struct app_err *e)
{
	return talos_config_render(m, n, &bundle, "abc123", out, e);
}

static void test_versions(void **state)
{
	static const struct {
		const char *v;
		int r;
		const char *msg;
	} rows[] = {
		{ "v1.10.5", 10, NULL },
		{ "v1.11.0", 11, NULL },
		{ "v1.12.3", 12, NULL },
		{ "v1.12.0-beta.1", 12, NULL },
		{ "v1.9.6", -ENOTSUP,
		  "talos.version 'v1.9.6' is not supported: machine configs are generated and schema-checked "
		  "for "
		  "v1.10.x, v1.11.x and v1.12.x" },
		{ "v1.13.0", -ENOTSUP,
		  "talos.version 'v1.13.0' is not supported: machine configs are generated and "
		  "schema-checked for "
		  "v1.10.x, v1.11.x and v1.12.x" },
		{ "1.10.5", -EINVAL, "talos.version '1.10.5': expected vMAJOR.MINOR.PATCH (e.g. v1.10.5)" },
		{ "v1.10", -EINVAL, "talos.version 'v1.10': expected vMAJOR.MINOR.PATCH (e.g. v1.10.5)" },
		{ "v1.10.5x", -EINVAL,
		  "talos.version 'v1.10.5x': expected vMAJOR.MINOR.PATCH (e.g. v1.10.5)" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct app_err e = { 0 };
		assert_int_equal(talos_config_minor(rows[i].v, &e), rows[i].r);
		if (rows[i].msg)
			assert_string_equal(e.msg, rows[i].msg);
	}
}

static void test_worker_legacy_static(void **state)
{
	struct app_err e = { 0 };
	struct buf out = { 0 };
	struct model_node n;
	struct model m;

	fill(&m, &n, "v1.11.2");
	n.network.dhcp = false;
	n.network.interface = "enp1s0";
	n.network.address = "192.168.50.21/24";
	n.network.nameservers.v = ns;
	n.network.nameservers.n = 2;
	assert_int_equal(render(&m, &n, &out, &e), 0);
	assert_non_null(strstr(out.data, "  network:\n"
					 "    hostname: w1.local\n"
					 "    interfaces:\n"
					 "    - interface: enp1s0\n"
					 "      addresses:\n"
					 "      - 192.168.50.21/24\n"
					 "      routes:\n"
					 "      - network: 0.0.0.0/0\n"
					 "        gateway: \"192.168.50.1\"\n"
					 "    nameservers:\n"));
	assert_non_null(strstr(out.data, "  install:\n    disk: /dev/nvme0n1\n"
					 "    image: factory.talos.dev/metal-installer/abc123:v1.11.2\n"
					 "    wipe: false\n"));
	/* workers: CA certificates only, no keys, no Flux, no secretbox secret */
	assert_non_null(strstr(out.data, "    key: \"\"\n"));
	assert_null(strstr(out.data, "aggregatorCA"));
	assert_null(strstr(out.data, "serviceAccount"));
	assert_null(strstr(out.data, "etcd"));
	assert_null(strstr(out.data, "inlineManifests"));
	assert_null(strstr(out.data, bundle.secretbox_secret));
	assert_null(strstr(out.data, "\n---"));
	buf_free(&out);
}

static void test_worker_112_documents(void **state)
{
	struct app_err e = { 0 };
	struct buf out = { 0 };
	struct model_node n;
	struct model m;

	fill(&m, &n, "v1.12.1");
	n.network.dhcp = false;
	n.network.address = "192.168.50.22/24";
	n.identity.macs.v = macs;
	n.identity.macs.n = 1;
	n.network.nameservers.v = ns;
	n.network.nameservers.n = 1;
	assert_int_equal(render(&m, &n, &out, &e), 0);
	assert_null(strstr(out.data, "  network:\n    hostname"));
	assert_null(strstr(out.data, "rbac"));
	assert_non_null(
	    strstr(out.data, "---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: w1.local\n"
			     "---\napiVersion: v1alpha1\nkind: LinkAliasConfig\nname: net0\nselector:\n"
			     "  match: mac(link.permanent_addr) == \"52:54:00:aa:bb:cc\"\n"
			     "---\napiVersion: v1alpha1\nkind: LinkConfig\nname: net0\nup: true\naddresses:\n"
			     "- address: 192.168.50.22/24\nroutes:\n- destination: 0.0.0.0/0\n"
			     "  gateway: \"192.168.50.1\"\n"
			     "---\napiVersion: v1alpha1\nkind: ResolverConfig\nnameservers:\n"
			     "- address: \"192.168.50.1\"\n"));
	buf_free(&out);

	/* static addressing with nothing to name the link */
	n.identity.macs.n = 0;
	assert_int_equal(render(&m, &n, &out, &e), -EINVAL);
	assert_string_equal(e.msg, "node 'w1': a static network.address needs the node's LAN interface: "
				   "set network.hardwareAddr (its MAC), network.busPath or "
				   "network.interface (refusing to put it on every physical NIC)");
	buf_free(&out);
}

static void test_install_disk(void **state)
{
	static const struct {
		const char *path, *serial, *transport, *size;
		const char *want; /* substring, or NULL for the error */
	} rows[] = {
		{ "/dev/sda", NULL, NULL, NULL, "  install:\n    disk: /dev/sda\n" },
		{ NULL, "S1*", "nvme", NULL,
		  "  install:\n    diskSelector:\n      serial: S1*\n      type: nvme\n" },
		{ "/dev/nvme[0-1]n1", NULL, NULL, ">= 1TB", "    diskSelector:\n      size: \">= 1TB\"\n" },
		{ "/dev/disk/by-path/pci-0000:01:00.0-nvme-1", NULL, "mmc", NULL,
		  "    diskSelector:\n      type: sd\n" },
		{ "/dev/sd*", NULL, "sata", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct app_err e = { 0 };
		struct buf out = { 0 };
		struct model_node n;
		struct model m;

		fill(&m, &n, "v1.10.5");
		n.install_disk.path = (char *)rows[i].path;
		n.install_disk.serial = (char *)rows[i].serial;
		n.install_disk.transport = (char *)rows[i].transport;
		n.install_disk.size = (char *)rows[i].size;
		if (rows[i].want) {
			assert_int_equal(render(&m, &n, &out, &e), 0);
			assert_non_null(strstr(out.data, rows[i].want));
		} else {
			assert_int_equal(render(&m, &n, &out, &e), -EINVAL);
			assert_string_equal(
			    e.msg, "node 'w1': installDisk cannot be expressed as a Talos "
				   "install disk (expected an exact /dev path, or size, model, serial, "
				   "wwid or transport nvme/mmc)");
		}
		buf_free(&out);
	}
}

static void test_cluster_errors(void **state)
{
	struct app_err e = { 0 };
	struct buf out = { 0 };
	struct model_node n;
	struct model m;

	fill(&m, &n, "v1.10.5");
	m.talos.cni = "custom";
	assert_int_equal(render(&m, &n, &out, &e), -EINVAL);
	assert_string_equal(
	    e.msg, "node 'w1': talos.cni 'custom': only 'none' (the GitOps repository installs the "
		   "CNI) and 'flannel' can be generated; 'custom' needs CNI manifest URLs the profile "
		   "cannot name yet");
	buf_free(&out);
	fill(&m, &n, "v1.10.5");
	m.talos.endpoint = "k8s.site.test:6443";
	assert_int_equal(render(&m, &n, &out, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "node 'w1': talos.endpoint 'k8s.site.test:6443': expected https://HOST:PORT");
	buf_free(&out);
	/* a name with nothing to map it to: the nodes could not resolve it */
	fill(&m, &n, "v1.10.5");
	m.talos.endpoint = "https://k8s.site.test:6443";
	assert_int_equal(render(&m, &n, &out, &e), -EINVAL);
	assert_string_equal(e.msg, "node 'w1': talos.endpoint 'https://k8s.site.test:6443' names host "
				   "'k8s.site.test', which the nodes cannot resolve without the LAN's "
				   "DNS; set talos.vip (or a control plane's static network.address)");
	buf_free(&out);
	fill(&m, &n, "v1.9.0");
	assert_int_equal(render(&m, &n, &out, &e), -ENOTSUP);
	buf_free(&out);
}

static void test_deterministic(void **state)
{
	struct app_err e = { 0 };
	struct buf a = { 0 }, b = { 0 };
	struct model_node n;
	struct model m;

	fill(&m, &n, "v1.12.0");
	n.network.interface = "eth0";
	assert_int_equal(render(&m, &n, &a, &e), 0);
	assert_int_equal(render(&m, &n, &b, &e), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_non_null(strstr(a.data, "---\napiVersion: v1alpha1\nkind: DHCPv4Config\nname: eth0\n"));
	buf_free(&a);
	buf_free(&b);
	/* no id given: the profile's own (here the empty schematic) */
	assert_int_equal(talos_config_render(&m, &n, &bundle, NULL, &a, &e), 0);
	assert_non_null(strstr(a.data,
			       "image: factory.talos.dev/metal-installer/"
			       "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.12.0\n"));
	buf_free(&a);
}

static void cp_fill(struct model *m, struct model_node *n, const char *version)
{
	fill(m, n, version);
	n->role = NODE_ROLE_CONTROLPLANE;
	m->gitops.flux.install_manifest = "https://example.test/install.yaml";
	m->gitops.flux.namespace = "flux-system";
	m->gitops.path = "./clusters/talos-test";
	m->gitops.url = "ssh://git@example.test/site.git";
	m->gitops.repository = "site";
	m->gitops.branch = "main";
	m->gitops.interval = "30m";
	m->gitops.root_kustomization = "cluster";
	m->gitops.settings_configmap = "cluster-settings";
}

/* Flux refuses an SSH deploy key without known_hosts (fluxcd/pkg git/options.go
 * AuthOptions.Validate): an SSH gitops.url with credentials needs gitops.knownHosts. */
static void test_git_ssh_known_hosts(void **state)
{
	struct app_err e = { 0 };
	struct buf out = { 0 };
	struct model_node n;
	struct model m;

	cp_fill(&m, &n, "v1.10.5");
	m.gitops.credentials_secret = "gitKey";
	assert_int_equal(render(&m, &n, &out, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "'ssh://git@example.test/site.git' is an SSH URL: Flux refuses an SSH "
				      "deploy key without the server's host key; set gitops.knownHosts to "
				      "what 'ssh-keyscan HOST' prints for the git server"));
	buf_free(&out);
	assert_int_equal(talos_check_git_ssh(&m, &e), -EINVAL);
	m.gitops.url = "git@example.test:site.git";
	assert_int_equal(talos_check_git_ssh(&m, &e), -EINVAL);
	m.gitops.known_hosts = "";
	assert_int_equal(talos_check_git_ssh(&m, &e), -EINVAL);
	m.gitops.known_hosts = "example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample";
	assert_int_equal(talos_check_git_ssh(&m, &e), 0);
	m.gitops.known_hosts = NULL;
	m.gitops.url = "https://example.test/site.git"; /* HTTPS: username/password */
	assert_int_equal(talos_check_git_ssh(&m, &e), 0);
	m.gitops.url = "ssh://git@example.test/site.git";
	m.gitops.credentials_secret = NULL; /* no secretRef rendered: nothing to check */
	assert_int_equal(talos_check_git_ssh(&m, &e), 0);
}

/* What talosctl gen config v1.10 writes (pkg/machinery/config/generate/init.go
 * and testdata/stability/v1.10/base-controlplane.yaml), on a control plane. */
static void test_gen_config_parity(void **state)
{
	struct app_err e = { 0 };
	struct buf out = { 0 };
	struct model_node n;
	struct model m;

	cp_fill(&m, &n, "v1.10.5");
	m.talos.kubernetes_version = "v1.33.2";
	m.platform.rook.enabled = true;
	m.platform.rook.namespace = "rook-ceph";
	m.platform.smb_csi.enabled = true;
	m.platform.smb_csi.namespace = "kube-system";
	assert_int_equal(render(&m, &n, &out, &e), 0);
	assert_non_null(strstr(out.data, "  kubelet:\n    image: ghcr.io/siderolabs/kubelet:v1.33.2\n"
					 "    defaultRuntimeSeccompProfileEnabled: true\n"
					 "    disableManifestsDirectory: true\n"));
	assert_non_null(strstr(out.data, "    image: registry.k8s.io/kube-apiserver:v1.33.2\n"));
	assert_non_null(strstr(out.data, "  controllerManager:\n"
					 "    image: registry.k8s.io/kube-controller-manager:v1.33.2\n"));
	assert_non_null(strstr(out.data, "  proxy:\n    image: registry.k8s.io/kube-proxy:v1.33.2\n"));
	assert_non_null(
	    strstr(out.data, "  scheduler:\n    image: registry.k8s.io/kube-scheduler:v1.33.2\n"));
	assert_non_null(strstr(out.data, "  discovery:\n    enabled: true\n    registries:\n"
					 "      kubernetes:\n        disabled: true\n"));
	assert_non_null(strstr(out.data, "    disablePodSecurityPolicy: true\n    admissionControl:\n"
					 "    - name: PodSecurity\n      configuration:\n"
					 "        apiVersion: pod-security.admission.config.k8s.io/v1alpha1\n"
					 "        kind: PodSecurityConfiguration\n        defaults:\n"
					 "          enforce: baseline\n"));
	assert_non_null(strstr(out.data, "        exemptions:\n          namespaces:\n"
					 "          - kube-system\n          - rook-ceph\n"
					 "          runtimeClasses: []\n          usernames: []\n"));
	buf_free(&out);
	/* 1.12 dropped disablePodSecurityPolicy from the schema */
	cp_fill(&m, &n, "v1.12.0");
	assert_int_equal(render(&m, &n, &out, &e), 0);
	assert_null(strstr(out.data, "disablePodSecurityPolicy"));
	assert_non_null(strstr(out.data, "    - name: PodSecurity\n"));
	buf_free(&out);
}

/* The VIP goes on the link the profile names, never on every physical NIC;
 * an endpoint name resolves on every node through a host entry. */
static void test_vip_link(void **state)
{
	struct app_err e = { 0 };
	struct buf out = { 0 };
	struct model_node n;
	struct model m;

	cp_fill(&m, &n, "v1.10.5");
	m.talos.vip = "192.168.50.25";
	m.talos.endpoint = "https://k8s.site.local:6443";
	assert_int_equal(render(&m, &n, &out, &e), -EINVAL);
	assert_string_equal(e.msg, "node 'w1': the VIP (talos.vip) needs the node's LAN interface: "
				   "set network.hardwareAddr (its MAC), network.busPath or "
				   "network.interface (refusing to put it on every physical NIC)");
	buf_free(&out);

	n.network.hardware_addr = "00:00:5e:00:53:01";
	n.network.bus_path = "0000:01:00.0";
	assert_int_equal(render(&m, &n, &out, &e), 0);
	assert_null(strstr(out.data, "physical"));
	assert_non_null(strstr(out.data, "    interfaces:\n    - deviceSelector:\n"
					 "        hardwareAddr: 00:00:5e:00:53:01\n"
					 "        busPath: \"0000:01:00.0\"\n      dhcp: true\n"
					 "      vip:\n        ip: \"192.168.50.25\"\n"
					 "    extraHostEntries:\n    - ip: \"192.168.50.25\"\n"
					 "      aliases:\n      - k8s.site.local\n"));
	assert_non_null(strstr(out.data, "  certSANs:\n  - k8s.site.local\n  - \"192.168.50.25\"\n"));
	buf_free(&out);

	cp_fill(&m, &n, "v1.12.0");
	m.talos.vip = "192.168.50.25";
	m.talos.endpoint = "https://k8s.site.local:6443";
	n.network.bus_path = "0000:01:*";
	assert_int_equal(render(&m, &n, &out, &e), 0);
	assert_non_null(strstr(out.data, "kind: LinkAliasConfig\nname: net0\nselector:\n"
					 "  match: glob(\"0000:01:*\", link.bus_path)\n"));
	assert_non_null(strstr(out.data, "kind: Layer2VIPConfig\nname: \"192.168.50.25\"\nlink: net0\n"));
	assert_non_null(strstr(out.data, "kind: StaticHostConfig\nname: \"192.168.50.25\"\nhostnames:\n"
					 "- k8s.site.local\n"));
	buf_free(&out);
}

static void test_talosconfig(void **state)
{
	struct app_err e = { 0 };
	struct buf tc = { 0 };
	struct model_node n;
	struct model m;
	time_t now = time(NULL);

	fill(&m, &n, "v1.10.5");
	n.role = NODE_ROLE_CONTROLPLANE;
	n.network.dhcp = false;
	n.network.address = "192.168.50.11/24";
	assert_int_equal(talos_talosconfig_render(&m, &bundle, now, &tc, &e), 0);
	assert_non_null(strstr(tc.data, "context: talos-test\ncontexts:\n  talos-test:\n    endpoints:\n"
					"    - \"192.168.50.11\"\n    ca: "));
	assert_int_equal(talos_talosconfig_check(tc.data, tc.len, &bundle, now, 30L * 86400, &e), 0);
	/* DHCP control planes: the VIP, never a .local name */
	{
		struct buf t2 = { 0 };

		n.network.dhcp = true;
		m.talos.vip = "192.168.50.25";
		m.talos.endpoint = "https://k8s.site.local:6443";
		assert_int_equal(talos_talosconfig_render(&m, &bundle, now, &t2, &e), 0);
		assert_non_null(strstr(t2.data, "    endpoints:\n    - \"192.168.50.25\"\n    ca: "));
		assert_null(strstr(t2.data, ".local"));
		buf_free(&t2);
	}
	/* not valid for another 400 days */
	assert_int_equal(talos_talosconfig_check(tc.data, tc.len, &bundle, now, 400L * 86400, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "talosconfig client certificate: certificate does not verify against its CA: "
			    "certificate has expired");
	assert_int_equal(talos_talosconfig_check(tc.data, tc.len, &other, now, 0, &e), -EINVAL);
	assert_string_equal(e.msg, "talosconfig: its ca is not the OS CA of the secrets bundle");
	assert_int_equal(talos_talosconfig_check("context: x\n", 11, &bundle, now, 0, &e), -EINVAL);
	assert_string_equal(e.msg, "talosconfig: expected a context with ca, crt and key (base64)");
	buf_free(&tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_worker_legacy_static),
		cmocka_unit_test(test_worker_112_documents),
		cmocka_unit_test(test_install_disk),
		cmocka_unit_test(test_cluster_errors),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_gen_config_parity),
		cmocka_unit_test(test_git_ssh_known_hosts),
		cmocka_unit_test(test_vip_link),
		cmocka_unit_test(test_talosconfig),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
