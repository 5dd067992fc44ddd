/* render: bootstrap manifests, determinism, recovery, --only app, and the
 * consistency rules that no profile can break (names that come from one
 * profile key on both ends), by tampering with a built tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yaml.h>

#include "base/err.h"
#include "profile/model.h"
#include "profile/profile.h"
#include "render/render.h"
#include "base/util.h"

static struct model *load(const char *path, const char *const *sets, int n_sets)
{
	struct profile_input in = { .profile = path, .sets = sets, .n_sets = n_sets };
	struct diags d = { 0 };
	struct model *m = NULL;
	int r = profile_load(&in, &m, &d);

	if (r < 0)
		diags_print(&d, stderr);
	diags_free(&d);
	assert_int_equal(r, 0);
	return m;
}

static const struct render_file *find_file(const struct render_tree *t, const char *suffix)
{
	size_t n = strlen(suffix);

	for (size_t i = 0; i < t->n_files; i++) {
		size_t l = strlen(t->files[i].path);
		if (l >= n && strcmp(t->files[i].path + l - n, suffix) == 0)
			return &t->files[i];
	}
	fail_msg("no rendered file ending in %s", suffix);
	return NULL;
}

static struct render_obj *find_obj(struct render_tree *t, const char *kind, const char *name)
{
	for (size_t i = 0; i < t->n_objs; i++)
		if (strcmp(t->objs[i].kind, kind) == 0 && strcmp(t->objs[i].name, name) == 0)
			return &t->objs[i];
	fail_msg("no %s %s", kind, name);
	return NULL;
}

/* Count documents and collect "kind" values of a YAML stream with libyaml. */
static size_t count_docs(const char *text)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t n = 0;
	bool done = false;

	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	while (!done) {
		assert_true(yaml_parser_parse(&p, &ev));
		n += ev.type == YAML_DOCUMENT_START_EVENT;
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return n;
}

static void test_bootstrap_manifests(void **state)
{
	struct model *m = load("profiles/immich.yaml", NULL, 0);
	struct buf b = { 0 };
	struct app_err e = { 0 };

	buf_puts(&b, "# talos adds secrets before\nkind: Secret");
	assert_int_equal(render_bootstrap_manifests(m, &b, &e), 0);
	assert_non_null(strstr(b.data, "kind: Secret\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n"
				       "  name: flux-system\n  labels:\n"
				       "    kustomize.toolkit.fluxcd.io/prune: disabled\n---\n"));
	assert_non_null(strstr(b.data, "kind: GitRepository\nmetadata:\n  name: home-kubernetes\n"
				       "  namespace: flux-system\n"));
	/* the root Kustomization: concrete path, substitution from settings and secrets */
	assert_non_null(strstr(b.data, "  path: ./clusters/talos-robbinsdale\n"));
	/* what the site may add is optional and first; ours are required and last (later wins) */
	assert_non_null(strstr(b.data,
			       "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n"
			       "      name: common-settings\n      optional: true\n"
			       "    - kind: Secret\n      name: common-secrets\n      optional: true\n"
			       "    - kind: ConfigMap\n      name: cluster-settings\n"
			       "    - kind: Secret\n      name: cluster-secrets\n"));
	assert_non_null(strstr(b.data, "  retryInterval: 1m\n  timeout: 5m\n"));
	assert_non_null(strstr(b.data, "kind: ConfigMap\nmetadata:\n  name: cluster-settings\n"
				       "  namespace: flux-system\ndata:\n"));
	assert_non_null(strstr(b.data, "  CLUSTER_NAME: talos-robbinsdale\n"));
	assert_null(strstr(b.data, "HelmRelease"));
	/* the caller's document + 4 */
	assert_int_equal(count_docs(b.data), 5);
	buf_free(&b);

	/* alone: no leading separator, and the same bytes every time */
	{
		struct buf x = { 0 }, y = { 0 };
		assert_int_equal(render_bootstrap_manifests(m, &x, &e), 0);
		assert_int_equal(render_bootstrap_manifests(m, &y, &e), 0);
		assert_string_equal(x.data, y.data);
		assert_true(strncmp(x.data, "apiVersion: v1\nkind: Namespace\n", 31) == 0);
		assert_int_equal(count_docs(x.data), 4);
		buf_free(&x);
		buf_free(&y);
	}
	model_free(m);
}

static void test_deterministic(void **state)
{
	struct model *m1 = load("profiles/immich.yaml", NULL, 0), *m2 = load("profiles/immich.yaml", NULL, 0);
	struct render_tree a, b;
	struct app_err e = { 0 };
	struct render_opts o = { 0 };

	assert_int_equal(render_tree(m1, &o, &a, &e), 0);
	assert_int_equal(render_tree(m2, &o, &b, &e), 0);
	assert_int_equal(a.n_files, b.n_files);
	assert_true(a.n_files > 40);
	for (size_t i = 0; i < a.n_files; i++) {
		assert_string_equal(a.files[i].path, b.files[i].path);
		assert_int_equal(a.files[i].len, b.files[i].len);
		assert_memory_equal(a.files[i].text, b.files[i].text, a.files[i].len);
		assert_true(strncmp(a.files[i].text, RENDER_MARKER "\n", strlen(RENDER_MARKER) + 1) == 0);
	}
	/* emitting the same tree again gives the same bytes */
	{
		char *first = xstrdup(a.files[0].text);
		assert_int_equal(render_tree_emit(&a, &e), 0);
		assert_string_equal(first, a.files[0].text);
		free(first);
	}
	render_tree_free(&a);
	render_tree_free(&b);
	model_free(m1);
	model_free(m2);
}

/* cluster-secrets: one key per site.secretVars entry, values read from the
 * profile's secrets; a missing one names the variable and the secret, never a value. */
static void test_bootstrap_secrets(void **state)
{
	struct model *m = load("profiles/immich.yaml", NULL, 0);
	struct buf b = { 0 };
	struct app_err e = { 0 };

	setenv("COMMON_S3_ACCESS_KEY", "ak-test", 1);
	setenv("COMMON_S3_SECRET_KEY", "sk-test", 1);
	setenv("MINIO_ACCESS_KEY", "mak-test", 1);
	setenv("MINIO_SECRET_KEY", "msk-test", 1);
	buf_puts(&b, "kind: Secret");
	assert_int_equal(render_bootstrap_secrets(m, &b, &e), 0);
	assert_string_equal(b.data, "kind: Secret\n---\napiVersion: v1\nkind: Secret\nmetadata:\n"
				    "  name: cluster-secrets\n  namespace: flux-system\ntype: Opaque\n"
				    "stringData:\n  COMMON_S3_ACCESS_KEY: ak-test\n"
				    "  COMMON_S3_SECRET_KEY: sk-test\n  MINIO_ACCESS_KEY: mak-test\n"
				    "  MINIO_SECRET_KEY: msk-test\n");
	buf_free(&b);
	unsetenv("MINIO_SECRET_KEY");
	assert_true(render_bootstrap_secrets(m, &b, &e) < 0);
	assert_non_null(strstr(e.msg, "site.secretVars.MINIO_SECRET_KEY"));
	assert_null(strstr(e.msg, "test"));
	buf_free(&b);
	unsetenv("COMMON_S3_ACCESS_KEY");
	unsetenv("COMMON_S3_SECRET_KEY");
	unsetenv("MINIO_ACCESS_KEY");
	model_free(m);
}

static void test_only_app(void **state)
{
	struct model *m = load("profiles/immich.yaml", NULL, 0);
	struct render_tree t;
	struct app_err e = { 0 };
	struct render_opts o = { .only_app = true };

	assert_int_equal(render_tree(m, &o, &t, &e), 0);
	/* the app's files, s3-backup-minio.yaml included (production's secondary store) */
	assert_int_equal(t.n_files, 12);
	for (size_t i = 0; i < t.n_files; i++)
		assert_true(strncmp(t.files[i].path, "clusters/talos-robbinsdale/apps/immich/", 39) == 0);
	render_tree_free(&t);
	model_free(m);
}

static void test_recovery(void **state)
{
	struct model *m = load("profiles/immich.yaml", NULL, 0);
	struct render_tree t;
	struct app_err e = { 0 };
	struct render_opts o = { .recovery = true, .server_name = "immich-postgres-2026" };
	const struct render_file *pg;

	assert_int_equal(render_tree(m, &o, &t, &e), 0);
	/* Helm's wait is releaseTimeout (helm-controller's own default is 5m);
	 * the Kustomization keeps production's deployed 5m */
	assert_non_null(strstr(find_file(&t, "/apps/immich/app/helmrelease.yaml")->text,
			       "      interval: 30m\n  timeout: 15m\n  install:\n"));
	assert_non_null(
	    strstr(find_file(&t, "/apps/immich/ks.yaml")->text, "  retryInterval: 1m\n  timeout: 5m\n"));
	pg = find_file(&t, "/apps/immich/app/pg.yaml");
	assert_null(strstr(pg->text, "initdb"));
	assert_non_null(strstr(
	    pg->text, "  bootstrap:\n    recovery:\n      source: origin\n"
		      "      database: immich\n      owner: immich\n      secret:\n"
		      "        name: immich-postgres-user\n"
		      "  externalClusters:\n  - name: origin\n    plugin:\n"
		      "      name: barman-cloud.cloudnative-pg.io\n      parameters:\n"
		      "        barmanObjectName: immich-s3\n        serverName: immich-postgresql-ceph\n"));
	/* the restore Cluster exists only when restoring */
	assert_non_null(find_file(&t, "/apps/immich/app/pg-restore.yaml"));
	assert_non_null(
	    strstr(pg->text, "    isWALArchiver: true\n    parameters:\n"
			     "      barmanObjectName: immich-s3\n      serverName: immich-postgres-2026\n"));
	render_tree_free(&t);

	/* default new serverName */
	o.server_name = NULL;
	assert_int_equal(render_tree(m, &o, &t, &e), 0);
	pg = find_file(&t, "/apps/immich/app/pg.yaml");
	assert_non_null(strstr(pg->text, "      serverName: immich-postgresql-ceph-recovery\n"));
	render_tree_free(&t);

	/* never archive into the archive we recover from */
	o.server_name = "immich-postgresql-ceph";
	assert_int_equal(render_tree(m, &o, &t, &e), -EINVAL);
	assert_string_equal(e.msg,
			    "recovery would write new backups under serverName 'immich-postgresql-ceph', "
			    "the archive it recovers from; pick another server name");
	render_tree_free(&t);
	model_free(m);
}

/* Rename one object after building; the check must name both ends. */
struct tamper {
	const char *kind, *name, *new_name;
	const char *msg; /* first problem */
	size_t n_problems;
};

static const struct tamper tampers[] = {
	/* claims and their volumes */
	{ "PersistentVolumeClaim", "immich-unas", "x",
	  "HelmRelease immich/immich (clusters/talos-robbinsdale/apps/immich/app/helmrelease.yaml) refers to "
	  "PersistentVolumeClaim 'immich/immich-unas' (set by apps.immich.storage.library.name), but no such "
	  "object is rendered",
	  2 },
	{ "PersistentVolume", "immich-unas-pics", "x",
	  "PersistentVolumeClaim immich/immich-unas-pics "
	  "(clusters/talos-robbinsdale/apps/immich/app/unas.yaml) "
	  "refers to PersistentVolume 'immich-unas-pics' (set by apps.immich.storage.photos.name), but no "
	  "such "
	  "object is rendered",
	  1 },
	/* the backup's cluster (and the HelmRelease's database) */
	{ "Cluster", "immich-postgres", "x",
	  "HelmRelease immich/immich (clusters/talos-robbinsdale/apps/immich/app/helmrelease.yaml) refers to "
	  "Cluster 'immich/immich-postgres' (set by apps.immich.database.cluster), but no such object is "
	  "rendered",
	  2 },
	/* the object store of WAL archiving and of recovery */
	{ "ObjectStore", "immich-s3", "x",
	  "Cluster immich/immich-postgres (clusters/talos-robbinsdale/apps/immich/app/pg.yaml) refers to "
	  "ObjectStore 'immich/immich-s3' (set by apps.immich.database.primary.name), but no such object is "
	  "rendered",
	  1 },
	/* the object store's credentials */
	{ "Secret", "immich-s3-secret", "x",
	  "ObjectStore immich/immich-s3 (clusters/talos-robbinsdale/apps/immich/app/s3-backup.yaml) refers "
	  "to "
	  "Secret 'immich/immich-s3-secret' (set by apps.immich.database.primary.secret), but no such object "
	  "is "
	  "rendered",
	  1 },
	/* the HelmRepository */
	{ "HelmRepository", "immich", "x",
	  "HelmRelease immich/immich (clusters/talos-robbinsdale/apps/immich/app/helmrelease.yaml) refers to "
	  "HelmRepository 'flux-system/immich' (set by apps.immich.chart.name), but no such object is "
	  "rendered",
	  1 },
	/* the Dragonfly the HelmRelease connects to */
	{ "Dragonfly", "dragonfly-immich", "x",
	  "HelmRelease immich/immich (clusters/talos-robbinsdale/apps/immich/app/helmrelease.yaml) refers to "
	  "Dragonfly 'immich/dragonfly-immich' (set by apps.immich.redis.name), but no such object is "
	  "rendered",
	  1 },
	/* the GitRepository of every Flux Kustomization */
	{ "GitRepository", "home-kubernetes", "x",
	  "Kustomization flux-system/cluster (clusters/talos-robbinsdale/flux/cluster.yaml) refers to "
	  "GitRepository 'flux-system/home-kubernetes' (set by gitops.repository), but no such object is "
	  "rendered",
	  18 },
	/* every namespace used is created by the tree */
	{ "Namespace", "immich", "x",
	  "HelmRelease immich/immich (clusters/talos-robbinsdale/apps/immich/app/helmrelease.yaml) refers to "
	  "Namespace 'immich' (set by namespace), but no such object is rendered",
	  13 },
	/* no two objects share kind+namespace+name */
	{ "OnePasswordItem", "immich-dragonfly-secret", "immich-postgres-user",
	  "OnePasswordItem immich/immich-postgres-user is defined twice: in "
	  "clusters/talos-robbinsdale/apps/immich/app/secret.yaml and in "
	  "clusters/talos-robbinsdale/apps/immich/app/secret.yaml",
	  3 },
};

static void test_consistency_tampered(void **state)
{
	struct model *m = load("profiles/immich.yaml", NULL, 0);

	for (size_t i = 0; i < sizeof(tampers) / sizeof(tampers[0]); i++) {
		const struct tamper *x = &tampers[i];
		struct render_tree t;
		struct app_err e = { 0 };
		struct render_opts o = { 0 };
		struct render_obj *obj;

		assert_int_equal(render_tree_build(m, &o, &t, &e), 0);
		assert_int_equal(render_tree_check(&t, &e), 0);
		obj = find_obj(&t, x->kind, x->name);
		free(obj->name);
		obj->name = xstrdup(x->new_name);
		assert_int_equal(render_tree_check(&t, &e), -EINVAL);
		if (strcmp(t.problems[0], x->msg) != 0 || t.n_problems != x->n_problems) {
			for (size_t j = 0; j < t.n_problems; j++)
				fprintf(stderr, "  problem: %s\n", t.problems[j]);
			fail_msg("%s %s: got %zu problems, first [%s]", x->kind, x->name, t.n_problems,
				 t.problems[0]);
		}
		render_tree_free(&t);
	}
	model_free(m);
}

static void test_undefined_flux_var(void **state)
{
	struct model *m = load("profiles/immich.yaml", NULL, 0);
	struct render_tree t;
	struct app_err e = { 0 };
	struct render_file *f;

	assert_int_equal(render_tree(m, NULL, &t, &e), 0);
	assert_int_equal(render_tree_check_vars(m, &t, &e), 0);
	f = (struct render_file *)find_file(&t, "/apps/immich/app/s3-backup.yaml");
	free(f->text);
	f->text = xstrdup("a: ${LOCATION}\nb: $${NOT_A_VAR}\nc: ${NOPE}\n");
	assert_int_equal(render_tree_check_vars(m, &t, &e), -EINVAL);
	assert_int_equal(t.n_problems, 1);
	assert_string_equal(
	    e.msg, "clusters/talos-robbinsdale/apps/immich/app/s3-backup.yaml uses ${NOPE}, which no "
		   "substitution source that will exist defines: set site.vars.NOPE (or "
		   "site.secretVars.NOPE); Flux would substitute an empty string");
	render_tree_free(&t);
	model_free(m);
}

static void test_compare_and_write(void **state)
{
	struct model *m = load("profiles/demo.yaml", NULL, 0);
	struct render_tree t;
	struct app_err e = { 0 };
	struct render_opts o = { .only_app = true };
	char dir[] = "/tmp/test_render.XXXXXX";
	enum render_state *st;
	char *p;
	size_t i_pg = 0;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(render_tree(m, &o, &t, &e), 0);
	st = xcalloc(t.n_files, sizeof(*st));
	assert_int_equal(render_compare(&t, dir, st, &e), 0);
	for (size_t i = 0; i < t.n_files; i++)
		assert_int_equal(st[i], RENDER_NEW);
	assert_int_equal(render_write(&t, dir, st, &e), 0);
	assert_int_equal(render_compare(&t, dir, st, &e), 0);
	for (size_t i = 0; i < t.n_files; i++) {
		assert_int_equal(st[i], RENDER_SAME);
		if (strstr(t.files[i].path, "/app/pg.yaml"))
			i_pg = i;
	}
	/* an edited generated file is CHANGED; one without the marker is FOREIGN */
	p = xasprintf("%s/%s", dir, t.files[i_pg].path);
	assert_int_equal(
	    write_file_atomic(p, RENDER_MARKER "\nedited\n", strlen(RENDER_MARKER) + 8, 0644, &e), 0);
	assert_int_equal(render_compare(&t, dir, st, &e), 0);
	assert_int_equal(st[i_pg], RENDER_CHANGED);
	assert_int_equal(write_file_atomic(p, "mine\n", 5, 0644, &e), 0);
	assert_int_equal(render_compare(&t, dir, st, &e), 0);
	assert_int_equal(st[i_pg], RENDER_FOREIGN);
	assert_string_equal(render_state_name(st[i_pg]), "foreign");
	assert_int_equal(render_write(&t, dir, st, &e), -EEXIST);
	{
		char *want =
		    xasprintf("'%s/%s' exists and was not generated by appliance render (no marker line); "
			      "refusing to overwrite it",
			      dir, t.files[i_pg].path);
		assert_string_equal(e.msg, want);
		free(want);
	}
	{
		struct buf b = { 0 };
		assert_int_equal(read_file(p, 1 << 20, &b, &e), 0);
		assert_string_equal(b.data, "mine\n");
		buf_free(&b);
	}
	free(p);
	p = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
	free(p);
	free(st);
	render_tree_free(&t);
	model_free(m);
}

static void test_bad_gitops_path(void **state)
{
	static const struct {
		const char *set, *msg;
	} rows[] = {
		{ "gitops.path=/abs", "gitops.path '/abs' must be relative to the repository" },
		{ "gitops.path=./a/../../b", "gitops.path './a/../../b' expands to 'a/../../b': expected a "
					     "directory inside the repository" },
		{ "gitops.path=./",
		  "gitops.path './' expands to '': expected a directory inside the repository" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *sets[] = { rows[i].set };
		struct model *m = load("profiles/demo.yaml", sets, 1);
		struct render_tree t;
		struct app_err e = { 0 };
		struct buf b = { 0 };

		assert_int_equal(render_tree(m, NULL, &t, &e), -EINVAL);
		assert_string_equal(e.msg, rows[i].msg);
		render_tree_free(&t);
		assert_int_equal(render_bootstrap_manifests(m, &b, &e), -EINVAL);
		assert_string_equal(e.msg, rows[i].msg);
		buf_free(&b);
		model_free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bootstrap_manifests),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_bootstrap_secrets),
		cmocka_unit_test(test_only_app),
		cmocka_unit_test(test_recovery),
		cmocka_unit_test(test_consistency_tampered),
		cmocka_unit_test(test_compare_and_write),
		cmocka_unit_test(test_undefined_flux_var),
		cmocka_unit_test(test_bad_gitops_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
