/* Unit tests: the profile loader (ytree, validators, binding, defaults,
 * overlays) and the model helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "profile/model.h"
#include "profile/profile.h"
#include "profile/secret.h"
#include "profile/value.h"
#include "base/util.h"
#include "base/ytree.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

static char *write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/test_profile.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char minimal[] = "apiVersion: appliance/v1\n"
			      "kind: Appliance\n"
			      "site:\n"
			      "  cluster: test\n"
			      "  location: lab\n"
			      "  domains: [example.org, example.net]\n"
			      "  secretVars:\n"
			      "    COMMON_S3_ACCESS_KEY: s3\n"
			      "    COMMON_S3_SECRET_KEY: s3\n"
			      "    MINIO_ACCESS_KEY: s3\n"
			      "    MINIO_SECRET_KEY: s3\n"
			      "nodes:\n"
			      "  - name: n1\n"
			      "    role: controlplane\n"
			      "    identity: {macs: [\"52:54:00:AB:CD:EF\"]}\n"
			      "    installDisk: {serial: \"S1\", size: \">= 100GB\"}\n"
			      "    cephDisks: [{transport: nvme, serial: \"C*\", match: all, wipe: true}]\n"
			      "talos:\n"
			      "  endpoint: https://k8s.lab.test:6443\n"
			      "nas:\n"
			      "  address: 127.0.0.1\n"
			      "  share: media\n"
			      "  photos: photos\n"
			      "  library: immich\n"
			      "  username: nasUser\n"
			      "  password: nasPass\n"
			      "gitops:\n"
			      "  url: https://git.lab.test/home-kubernetes.git\n"
			      "secrets:\n"
			      "  nasUser: env:TEST_NAS_USER\n"
			      "  nasPass: file:pass.txt\n"
			      "  s3: env:TEST_S3\n"
			      "apps:\n"
			      "  immich:\n"
			      "    database:\n"
			      "      primary:\n"
			      "        destinationPath: s3://test-backups/${LOCATION}/immich/\n"
			      "        endpoint: http://127.0.0.1:9000\n"
			      "platform:\n" /* a documentation range (RFC 5737), announced with l2 */
			      "  cilium:\n"
			      "    values: {l2announcements: {enabled: true}}\n"
			      "    loadBalancer: {cidr: 192.0.2.240/28, announce: l2}\n";

static struct model *load(const char *text, const char *const *sets, int n_sets, struct diags *d)
{
	char *path = write_tmp(text);
	struct profile_input in = { .profile = path, .sets = sets, .n_sets = n_sets };
	struct model *m = NULL;

	profile_load(&in, &m, d);
	unlink(path);
	free(path);
	return m;
}

static void test_sizes(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(profile_parse_size("8Gi", &v), 0);
	assert_true(v == 8ULL << 30);
	assert_int_equal(profile_parse_size("2Ti", &v), 0);
	assert_true(v == 2ULL << 40);
	assert_int_equal(profile_parse_size("500GB", &v), 0);
	assert_true(v == 500000000000ULL);
	assert_int_equal(profile_parse_size("1.5Gi", &v), 0);
	assert_true(v == 3ULL << 29);
	assert_int_equal(profile_parse_size("1000M", &v), 0);
	assert_true(v == 1000000000ULL);
	assert_int_equal(profile_parse_size("4096", &v), 0);
	assert_true(v == 4096);
	assert_int_equal(profile_parse_size("8Gb", &v), -EINVAL);
	assert_int_equal(profile_parse_size("-1Gi", &v), -EINVAL);
	assert_int_equal(profile_parse_size("", &v), -EINVAL);
	assert_int_equal(profile_parse_size("1.Gi", &v), -EINVAL);
	assert_int_equal(profile_parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(profile_parse_size("16Ei", &v), -ERANGE);
}

static void test_durations(void **state)
{
	long long ms;
	(void)state;
	assert_int_equal(profile_parse_duration("30m", &ms), 0);
	assert_true(ms == 1800000);
	assert_int_equal(profile_parse_duration("1h30m", &ms), 0);
	assert_true(ms == 5400000);
	assert_int_equal(profile_parse_duration("500ms", &ms), 0);
	assert_true(ms == 500);
	assert_int_equal(profile_parse_duration("0", &ms), 0);
	assert_true(ms == 0);
	assert_int_equal(profile_parse_duration("30", &ms), -EINVAL);
	assert_int_equal(profile_parse_duration("m", &ms), -EINVAL);
	assert_int_equal(profile_parse_duration("1x", &ms), -EINVAL);
}

static void test_ytree_positions_and_refusals(void **state)
{
	struct app_err e = { 0 };
	struct ytree *t = NULL;
	struct ynode *n;
	(void)state;

	assert_int_equal(ytree_parse("t.yaml", "a:\n  b: [x, 'y']\n", 16, &t, &e), 0);
	n = ytree_get(t->root, "a.b[1]");
	assert_non_null(n);
	assert_string_equal(n->value, "y");
	assert_false(n->plain);
	assert_int_equal(n->line, 2);
	assert_int_equal(n->col, 10);
	assert_null(ytree_get(t->root, "a.b[2]"));
	assert_null(ytree_get(t->root, "a.c"));
	ytree_free(t);

	assert_true(ytree_parse("t.yaml", "a: &x 1\nb: *x\n", 13, &t, &e) < 0);
	assert_string_equal(e.msg,
			    "t.yaml:2:4: YAML alias '*x' is not allowed in a profile; write the value out");
	assert_true(ytree_parse("t.yaml", "a: 1\na: 2\n", 10, &t, &e) < 0);
	assert_string_equal(e.msg, "t.yaml:2:1: duplicate key 'a'");
	assert_true(ytree_parse("t.yaml", "{[a]: 1}\n", 9, &t, &e) < 0);
	assert_string_equal(e.msg, "t.yaml:1:2: a mapping key must be a plain value");
}

static void test_ytree_merge_and_set(void **state)
{
	struct app_err e = { 0 };
	struct ytree *a = NULL, *b = NULL;
	(void)state;

	assert_int_equal(ytree_parse("a", "x: {y: 1, z: 2}\nl: [1, 2]\n", 26, &a, &e), 0);
	assert_int_equal(ytree_parse("b", "x: {z: 3, w: 4}\nl: [9]\n", 22, &b, &e), 0);
	ytree_merge(a, b);
	assert_string_equal(ytree_get(a->root, "x.y")->value, "1");
	assert_string_equal(ytree_get(a->root, "x.z")->value, "3");
	assert_string_equal(ytree_get(a->root, "x.w")->value, "4");
	assert_int_equal(ytree_get(a->root, "l")->n, 1); /* sequences replace */
	assert_string_equal(ytree_get(a->root, "x.z")->file, "b");

	assert_int_equal(ytree_set(a, "x.new.deep=hello", &e), 0);
	assert_string_equal(ytree_get(a->root, "x.new.deep")->value, "hello");
	assert_int_equal(ytree_set(a, "l[0]=7", &e), 0);
	assert_string_equal(ytree_get(a->root, "l[0]")->value, "7");
	assert_int_equal(ytree_set(a, "l=[a, b, c]", &e), 0);
	assert_int_equal(ytree_get(a->root, "l")->n, 3);
	assert_true(ytree_set(a, "l[9]=x", &e) < 0);
	assert_true(ytree_set(a, "=x", &e) < 0);
	assert_true(ytree_set(a, "novalue", &e) < 0);
	ytree_free(a);
}

static void test_load_binds_spec_defaults(void **state)
{
	struct diags d = { 0 };
	struct model *m = load(minimal, NULL, 0, &d);
	(void)state;

	diags_print(&d, stderr);
	assert_non_null(m);
	assert_int_equal(d.errors, 0);
	/* spec/immich-deployment.md values arrive through the defaults */
	assert_string_equal(m->apps.immich.chart.version, "0.9.0");
	assert_string_equal(m->apps.immich.chart.repository, "https://immich-app.github.io/immich-charts");
	assert_string_equal(m->apps.immich.image_tag, "v1.135.3");
	assert_string_equal(m->apps.immich.database.image,
			    "ghcr.io/tensorchord/cloudnative-vectorchord:15-0.3.0");
	assert_string_equal(m->apps.immich.database.size.text, "8Gi");
	assert_true(m->apps.immich.database.size.bytes == 8ULL << 30);
	assert_string_equal(m->apps.immich.database.storage_class, "ceph-block");
	assert_string_equal(m->apps.immich.database.backup_schedule, "0 0 23 * * *");
	assert_string_equal(m->apps.immich.database.primary.destination_path,
			    "s3://test-backups/${LOCATION}/immich/");
	assert_string_equal(m->apps.immich.database.primary.retention, "30d");
	assert_int_equal(m->apps.immich.database.extensions.n, 3);
	assert_int_equal(m->apps.immich.redis.replicas, 3);
	assert_string_equal(m->apps.immich.redis.memory_limit, "1500M");
	assert_string_equal(m->apps.immich.storage.file_mode, "0777");
	assert_true(m->apps.immich.storage.photos.read_only);
	assert_false(m->apps.immich.storage.library.read_only);
	assert_int_equal(m->apps.immich.route.port, 2283);
	/* optional components are off unless the profile turns them on (issue 20) */
	assert_null(m->apps.immich.pg_item.item);
	assert_false(m->platform.onepassword.enabled);
	assert_null(m->apps.immich.route.homer_annotation_prefix);
	assert_string_equal(m->site.timezone, "UTC");
	/* neutral names: nothing of the production site (issue 20 item 1) */
	assert_string_equal(m->apps.immich.storage.photos.name, "immich-photos");
	assert_string_equal(m->apps.immich.storage.library.name, "immich-library");
	assert_string_equal(m->apps.immich.storage.file, "volumes.yaml");
	assert_string_equal(m->platform.gateway_namespace, "gateway");
	assert_string_equal(m->platform.gateway_tailscale, "tailscale");
	assert_string_equal(m->gitops.repository, "flux-system");
	assert_int_equal(m->gitops.substitute_configmaps.n, 0);
	assert_int_equal(m->gitops.substitute_secrets.n, 0);
	assert_string_equal(m->talos.version, "v1.10.5");
	assert_int_equal(m->talos.schematic.extensions.n, 2); /* CPU microcode only */
	assert_string_equal(m->gitops.flux.install_manifest,
			    "https://github.com/fluxcd/flux2/releases/download/v2.6.4/install.yaml");
	/* derived values */
	assert_string_equal(model_var(m, "CLUSTER_NAME"), "test");
	assert_string_equal(model_var(m, "LOCATION"), "lab");
	assert_string_equal(m->apps.immich.database.server_name, "immich-postgres");
	assert_int_equal(m->apps.immich.route.hostnames.n, 2);
	assert_string_equal(m->apps.immich.route.hostnames.v[1], "immich.example.net");
	assert_int_equal(m->nas.timeout_ms, 10000);
	assert_true(m->nas.capacity.bytes == 2ULL << 40);
	/* nodes */
	assert_int_equal(m->n_nodes, 1);
	assert_int_equal(m->nodes[0].role, NODE_ROLE_CONTROLPLANE);
	assert_string_equal(m->nodes[0].hostname, "n1");
	assert_string_equal(m->nodes[0].identity.macs.v[0], "52:54:00:ab:cd:ef");
	assert_true(m->nodes[0].network.dhcp);
	assert_int_equal(m->nodes[0].install_disk.size_op, SIZE_OP_GE);
	assert_true(m->nodes[0].install_disk.size_bytes == 100000000000ULL);
	assert_int_equal(m->nodes[0].n_ceph_disks, 1);
	assert_string_equal(m->nodes[0].ceph_disks[0].match, "all");
	assert_true(m->nodes[0].ceph_disks[0].wipe);
	assert_ptr_equal(model_node_by_name(m, "n1"), &m->nodes[0]);
	assert_null(model_node_by_name(m, "n2"));
	model_free(m);
	diags_free(&d);
}

static void test_where_and_expand(void **state)
{
	struct diags d = { 0 };
	struct model *m = load(minimal, NULL, 0, &d);
	const char *w;
	char *s;
	(void)state;

	assert_non_null(m);
	w = model_where(m, "nodes[0].role");
	assert_non_null(w);
	assert_non_null(strstr(w, ":14:11"));
	assert_null(model_where(m, "apps.immich.imageTag")); /* a default */
	s = model_expand(m, "./clusters/${CLUSTER_NAME}/x/${UNKNOWN}/$${LOCATION}");
	assert_string_equal(s, "./clusters/test/x/${UNKNOWN}/${LOCATION}");
	free(s);
	model_free(m);
	diags_free(&d);
}

static void test_set_overrides_and_errors_sorted(void **state)
{
	const char *sets[] = { "nas.port=4450", "apps.immich.imageTag=v1.136.0", "nodes[0].role=worker" };
	struct diags d = { 0 };
	struct model *m = load(minimal, sets, 2, &d);
	(void)state;

	assert_non_null(m);
	assert_int_equal(m->nas.port, 4450);
	assert_string_equal(m->apps.immich.image_tag, "v1.136.0");
	model_free(m);
	diags_free(&d);

	m = load(minimal, sets, 3, &d);
	assert_null(m);
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.v[0].msg,
			    "no control-plane node; at least one node needs 'role: controlplane'");
	diags_free(&d);

	/* many problems: all reported, sorted by position */
	m = load("apiVersion: appliance/v2\nkind: Thing\nsite: {cluster: X}\n", NULL, 0, &d);
	assert_null(m);
	assert_true(d.errors >= 5);
	for (size_t i = 1; i < d.n; i++)
		assert_true(d.v[i - 1].line < d.v[i].line ||
			    (d.v[i - 1].line == d.v[i].line && d.v[i - 1].col <= d.v[i].col));
	diags_free(&d);
}

static void test_secrets(void **state)
{
	struct diags d = { 0 };
	struct model *m = load(minimal, NULL, 0, &d);
	struct app_err e = { 0 };
	struct secret s;
	FILE *f;
	(void)state;

	assert_non_null(m);
	setenv("TEST_NAS_USER", "immich\n", 1);
	assert_int_equal(secret_read(m, "nasUser", 1, &s, &e), 0);
	assert_string_equal(s.data, "immich");
	secret_free(&s);
	unsetenv("TEST_S3");
	assert_true(secret_read(m, "s3", 1, &s, &e) < 0);
	assert_string_equal(e.msg, "secret 's3': environment variable 'TEST_S3' is not set");
	assert_true(secret_read(m, "nope", 1, &s, &e) < 0);
	assert_string_equal(e.msg, "secret 'nope' is not defined under 'secrets:'");
	/* file: paths are relative to the profile's directory (/tmp here) */
	f = fopen("/tmp/pass.txt", "w");
	assert_non_null(f);
	fputs("s3cr3t\n", f);
	fclose(f);
	assert_int_equal(secret_read(m, "nasPass", 0, &s, &e), 0);
	assert_string_equal(s.data, "s3cr3t\n");
	secret_free(&s);
	unlink("/tmp/pass.txt");
	assert_true(secret_read(m, "nasPass", 1, &s, &e) < 0);
	assert_non_null(strstr(e.msg, "secret 'nasPass': cannot open '/tmp/pass.txt'"));
	model_free(m);
	diags_free(&d);
}

/* The secondary (MinIO) store is off by default: a site that does not turn it on
 * is not asked for its MINIO_* variables; one that does is. */
static void test_disabled_secondary_needs_no_vars(void **state)
{
	const char *on[] = { "apps.immich.database.secondary.enabled=true",
			     "apps.immich.database.secondary.destinationPath=s3://b/",
			     "apps.immich.database.secondary.endpoint=http://127.0.0.1:9000" };
	struct diags d = { 0 };
	char *text = xstrdup(minimal);
	char *cut = strstr(text, "    MINIO_ACCESS_KEY: s3\n");
	char *end = strstr(text, "nodes:\n");
	struct model *m;
	(void)state;

	assert_non_null(cut);
	memmove(cut, end, strlen(end) + 1);
	m = load(text, NULL, 0, &d);
	assert_non_null(m);
	assert_int_equal(d.errors, 0);
	model_free(m);
	diags_free(&d);

	m = load(text, on, 3, &d);
	assert_null(m);
	assert_int_equal(d.errors, 2);
	assert_string_equal(d.v[0].path, "apps.immich.database.secondary.accessKeyVar");
	assert_non_null(strstr(d.v[0].msg, "'MINIO_ACCESS_KEY' is not provided by site.secretVars"));
	diags_free(&d);
	free(text);
}

/* Where the backups go has no default: a profile without it is told at the top
 * of the file what to set, with an example; the secondary store asks for its
 * own once enabled; a profile without the app asks for nothing. */
static void test_backup_location_required(void **state)
{
	const char *secondary[] = { "apps.immich.database.secondary.enabled=true" };
	const char *off[] = { "apps.immich.enabled=false" };
	struct diags d = { 0 };
	/* minimal without its apps block (its platform block kept) */
	char *text = xasprintf("%.*s%s", (int)(strstr(minimal, "apps:\n") - minimal), minimal,
			       strstr(minimal, "platform:\n"));
	struct model *m;
	(void)state;

	m = load(text, NULL, 0, &d);
	assert_null(m);
	assert_int_equal(d.errors, 2);
	assert_string_equal(d.v[0].path, "apps.immich.database.primary.destinationPath");
	assert_int_equal(d.v[0].line, 1);
	assert_non_null(strstr(d.v[0].msg, "required: set it to the bucket and path of the "
					   "database backups, e.g. 's3://"));
	assert_string_equal(d.v[1].path, "apps.immich.database.primary.endpoint");
	assert_non_null(strstr(d.v[1].msg, "e.g. 'https://"));
	diags_free(&d);

	m = load(text, off, 1, &d);
	assert_non_null(m);
	assert_int_equal(d.errors, 0);
	model_free(m);
	diags_free(&d);
	free(text);

	/* the section is there without the key: reported in it, at its first key (endpoint,
	 * line 37 once destinationPath's line is gone), not at line 1 as if it were missing */
	{
		const char *dp = strstr(minimal, "        destinationPath:");
		text = xasprintf("%.*s%s", (int)(dp - minimal), minimal, strchr(dp, '\n') + 1);
	}
	m = load(text, NULL, 0, &d);
	assert_null(m);
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.v[0].path, "apps.immich.database.primary.destinationPath");
	assert_int_equal(d.v[0].line, 37);
	assert_int_equal(d.v[0].col, 9);
	diags_free(&d);
	free(text);

	m = load(minimal, secondary, 1, &d);
	assert_null(m);
	assert_int_equal(d.errors, 2);
	assert_string_equal(d.v[0].path, "apps.immich.database.secondary.destinationPath");
	assert_string_equal(d.v[1].path, "apps.immich.database.secondary.endpoint");
	diags_free(&d);
}

/* The LoadBalancer range is the site's: without one validate asks for it with
 * an example; talos.loadBalancerCIDR serves too; a range nothing announces is
 * warned about (unreachable from the LAN). */
static void test_lb_range_required(void **state)
{
	const char *old_key[] = { "talos.loadBalancerCIDR=192.0.2.240/28" };
	char *text = xasprintf("%.*s", (int)(strstr(minimal, "platform:\n") - minimal), minimal);
	struct diags d = { 0 };
	struct model *m;
	(void)state;

	m = load(text, NULL, 0, &d);
	assert_null(m);
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.v[0].path, "platform.cilium.loadBalancer.cidr");
	assert_int_equal(d.v[0].line, 1);
	assert_non_null(strstr(d.v[0].msg, "required: set it to a free range of your LAN, "
					   "e.g. 192.168.1.240/28, announced with l2"));
	diags_free(&d);

	m = load(text, old_key, 1, &d);
	assert_non_null(m);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 1);
	assert_string_equal(d.v[0].path, "talos.loadBalancerCIDR");
	assert_non_null(strstr(d.v[0].msg, "nothing announces the LoadBalancer range 192.0.2.240/28: "
					   "its addresses will be unreachable from the LAN"));
	model_free(m);
	diags_free(&d);

	m = load(minimal, NULL, 0, &d);
	assert_non_null(m);
	assert_int_equal(d.errors + d.warnings, 0);
	model_free(m);
	diags_free(&d);
	free(text);
}

/* "did you mean": a swapped pair of letters is one edit, like a missing one */
static void test_closest(void **state)
{
	static const char *const keys[] = { "address", "port", "share", "photos", "library" };
	const size_t n = sizeof(keys) / sizeof(keys[0]);

	assert_string_equal(value_closest("prot", keys, sizeof(keys[0]), n), "port");
	assert_string_equal(value_closest("libary", keys, sizeof(keys[0]), n), "library");
	assert_string_equal(value_closest("lirbary", keys, sizeof(keys[0]), n), "library");
	assert_string_equal(value_closest("Share", keys, sizeof(keys[0]), n), "share");
	assert_string_equal(value_closest("adress", keys, sizeof(keys[0]), n), "address");
	assert_null(value_closest("colour", keys, sizeof(keys[0]), n));
	assert_null(value_closest("tropx", keys, sizeof(keys[0]), n));
	(void)state;
}

static void test_defaults_are_valid_keys(void **state)
{
	/* the compiled-in defaults must only use keys the schema knows: a profile
	 * that only adds the required site keys loads without unknown-key errors */
	struct diags d = { 0 };
	struct model *m = load(minimal, NULL, 0, &d);
	(void)state;
	for (size_t i = 0; i < d.n; i++)
		assert_null(strstr(d.v[i].msg, "unknown key"));
	assert_non_null(strstr(profile_defaults_yaml(), "version: 0.9.0"));
	model_free(m);
	diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_ytree_positions_and_refusals),
		cmocka_unit_test(test_ytree_merge_and_set),
		cmocka_unit_test(test_load_binds_spec_defaults),
		cmocka_unit_test(test_where_and_expand),
		cmocka_unit_test(test_set_overrides_and_errors_sorted),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_disabled_secondary_needs_no_vars),
		cmocka_unit_test(test_backup_location_required),
		cmocka_unit_test(test_lb_range_required),
		cmocka_unit_test(test_defaults_are_valid_keys),
		cmocka_unit_test(test_closest),
	};
	return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
