/* wipe: the regions planned for disks of several sizes (Rook offsets that
 * exist, GPT areas, discard vs zeroing with a backup), then plan -> apply ->
 * verify clean -> restore on image files (hole punching, parallel workers). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "disk/hw.h"
#include "base/util.h"
#include "disk/wipe.h"

#define MiB (1024ULL * 1024)
#define GiB (1024 * MiB)

static const struct wipe_region *find(const struct wipe_target *t, const char *type)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].type, type) == 0)
			return &t->v[i];
	return NULL;
}

static void free_target(struct wipe_target *t)
{
	struct wipe_plan p = { .v = t, .n = 1 };
	struct wipe_target *copy = xmalloc(sizeof(*copy));

	*copy = *t;
	p.v = copy;
	wipe_plan_free(&p);
}

static void test_plan_regions(void **state)
{
	struct hw_sig sig = { .type = "ceph_bluestore", .offset = 0, .length = 22 };
	struct hw_disk big = {
		.path = "/dev/big", .size = 11 * GiB, .lsec = 512, .discard = true, .sigs = &sig, .n_sigs = 1
	};
	struct hw_disk small = { .path = "/dev/small", .size = 50 * MiB, .lsec = 4096 };
	struct wipe_target t;
	const struct wipe_region *g;

	(void)state;
	wipe_plan_disk(&big, false, &t);
	assert_int_equal(t.v[0].kind, WIPE_SIGNATURE);
	assert_string_equal(t.v[0].type, "ceph_bluestore");
	assert_int_equal(t.v[0].length, 22);
	g = find(&t, "gpt-backup");
	assert_non_null(g);
	assert_int_equal(g->offset, 11 * GiB - 512 - 16384);
	assert_int_equal(g->length, 512 + 16384);
	assert_non_null(find(&t, "rook-0"));
	assert_non_null(find(&t, "rook-1G"));
	g = find(&t, "rook-10G");
	assert_non_null(g);
	assert_int_equal(g->offset, 10 * GiB);
	assert_int_equal(g->length, 200 * 1024);
	assert_null(find(&t, "rook-100G"));
	assert_int_equal(t.v[t.n - 1].kind, WIPE_DISCARD);
	assert_int_equal(t.v[t.n - 1].length, 11 * GiB);
	assert_null(find(&t, "zero-start"));
	free_target(&t);

	/* with a backup: no discard, the edges are zeroed (and saved) instead */
	wipe_plan_disk(&big, true, &t);
	assert_null(find(&t, "discard"));
	g = find(&t, "zero-end");
	assert_non_null(g);
	assert_int_equal(g->offset, 11 * GiB - 100 * MiB);
	assert_int_equal(g->length, 100 * MiB);
	free_target(&t);

	/* 4K sectors, smaller than 100 MiB, no discard: clipped */
	wipe_plan_disk(&small, false, &t);
	g = find(&t, "gpt-primary");
	assert_int_equal(g->offset, 4096);
	assert_int_equal(g->length, 4096 + 16384);
	g = find(&t, "zero-start");
	assert_int_equal(g->length, 50 * MiB);
	assert_null(find(&t, "zero-end"));
	assert_null(find(&t, "rook-1G"));
	free_target(&t);
	assert_string_equal(wipe_kind_name(WIPE_ROOK), "rook-zap");
}

static char root[64];

static char *make_disk(const char *name, uint64_t size, uint32_t seed)
{
	char *p = xasprintf("%s/%s", root, name);
	static const char label[] = "bluestore block device\n";
	unsigned char junk[4096];
	int fd = open(p, O_CREAT | O_TRUNC | O_RDWR, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(seed * 31 + i * 7);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 8192), (ssize_t)sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), (off_t)(size - 200 * 1024)), (ssize_t)sizeof(junk));
	assert_int_equal(pwrite(fd, junk, sizeof(junk), (off_t)(size / 2)), (ssize_t)sizeof(junk));
	assert_int_equal(pwrite(fd, label, sizeof(label) - 1, 0), (ssize_t)sizeof(label) - 1);
	close(fd);
	return p;
}

static void sha_file(const char *p, char out[65])
{
	struct buf b = { 0 };
	struct app_err e = { 0 };

	assert_int_equal(read_file(p, 1 << 30, &b, &e), 0);
	sha256_hex(b.data, b.len, out);
	buf_free(&b);
}

static void test_apply_backup_restore_files(void **state)
{
	const char *files[3];
	char *paths[3], before[3][65], after[3][65];
	struct hw_opts o = { 0 };
	struct hw_inventory inv = { 0 };
	struct wipe_plan plan = { 0 };
	struct wipe_result res = { 0 };
	struct app_err e = { 0 };
	char *sys, *bk;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_wipe.XXXXXX");
	assert_non_null(mkdtemp(root));
	sys = xasprintf("%s/sys/block", root);
	assert_int_equal(mkdir_p(sys, 0755, &e), 0);
	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "d%d.img", i);
		paths[i] = make_disk(name, (uint64_t)(i + 1) * 40 * MiB, (uint32_t)i);
		files[i] = paths[i];
		sha_file(paths[i], before[i]);
	}
	o.root = root;
	o.files = files;
	o.n_files = 3;
	assert_int_equal(hw_inventory(&o, &inv, &e), 0);
	assert_int_equal(inv.n, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(inv.v[i].sigs[0].type, "ceph_bluestore");

	/* no model: the policy checks what applies to image files */
	plan.v = xcalloc(3, sizeof(*plan.v));
	plan.n = 3;
	plan.inv = &inv;
	plan.root = xstrdup(root);
	for (int i = 0; i < 3; i++)
		wipe_plan_disk(&inv.v[i], true, &plan.v[i]);
	bk = xasprintf("%s/backup", root);
	assert_int_equal(wipe_apply(&plan, bk, &res, &e), 0);
	assert_int_equal(res.n, 3);
	for (int i = 0; i < 3; i++) {
		char tmp[65];

		assert_int_equal(res.v[i].rc, 0);
		assert_false(res.v[i].discarded);
		sha_file(paths[i], tmp);
		assert_string_not_equal(tmp, before[i]);
	}
	wipe_result_free(&res);

	/* a second apply into the same backup directory is refused before anything happens */
	assert_int_equal(wipe_apply(&plan, bk, &res, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "already holds a backup; choose an empty one"));
	wipe_result_free(&res);

	assert_int_equal(wipe_restore(bk, root, NULL, &res, &e), 0);
	assert_int_equal(res.n, 3);
	for (int i = 0; i < 3; i++) {
		sha_file(paths[i], after[i]);
		assert_string_equal(after[i], before[i]);
	}
	wipe_result_free(&res);
	wipe_plan_free(&plan);

	/* discard (hole punching) path without a backup */
	plan.v = xcalloc(1, sizeof(*plan.v));
	plan.n = 1;
	plan.inv = &inv;
	wipe_plan_disk(&inv.v[0], false, &plan.v[0]);
	assert_int_equal(wipe_apply(&plan, NULL, &res, &e), 0);
	assert_true(res.v[0].discarded);
	wipe_result_free(&res);
	wipe_plan_free(&plan);
	hw_inventory_free(&inv);

	{
		char *cmd = xasprintf("rm -rf '%s'", root);

		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	for (int i = 0; i < 3; i++)
		free(paths[i]);
	free(sys);
	free(bk);
}

/* an index with its integrity line (what wipe_apply writes) */
static void put_index(const char *p, const char *body)
{
	char sha[65];
	char *text;

	sha256_hex(body, strlen(body), sha);
	text = xasprintf("%ssha256 %s\n", body, sha);
	assert_int_equal(write_file_atomic(p, text, strlen(text), 0600, NULL), 0);
	free(text);
}

static void test_restore_bad_index(void **state)
{
	struct wipe_result res = { 0 };
	struct app_err e = { 0 };
	char dir[] = "/tmp/test_wipe_idx.XXXXXX";
	char *p, *want;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(wipe_restore(dir, NULL, NULL, &res, &e), -ENOENT);
	wipe_result_free(&res);
	p = xasprintf("%s/index", dir);
	/* no integrity line (a version 1 index, or anything else) */
	assert_int_equal(write_file_atomic(p, "appliance-wipe-backup 1\ndisk 10 a /dev/x\n", 42, 0600, &e),
			 0);
	assert_int_equal(wipe_restore(dir, NULL, NULL, &res, &e), -EBADMSG);
	want = xasprintf(
	    "backup index '%s' has no integrity line ('sha256 HEX' at its end); refusing to restore "
	    "from it",
	    p);
	assert_string_equal(e.msg, want);
	free(want);
	wipe_result_free(&res);
	/* an edited index: the recorded sha256 no longer matches */
	put_index(p, "appliance-wipe-backup 2\ndisk 10 a /dev/x\nid serial=A\n");
	{
		struct buf b = { 0 };

		assert_int_equal(read_file(p, 4096, &b, NULL), 0);
		b.data[strlen("appliance-wipe-backup 2\ndisk 10 a /dev/x\nid serial=")] = 'B';
		assert_int_equal(write_file_atomic(p, b.data, b.len, 0600, NULL), 0);
		buf_free(&b);
	}
	assert_int_equal(wipe_restore(dir, NULL, NULL, &res, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "fails its integrity check (sha256 "));
	assert_non_null(strstr(e.msg, "it was damaged or edited; refusing to restore from it"));
	wipe_result_free(&res);
	put_index(p, "something else\n");
	assert_int_equal(wipe_restore(dir, NULL, NULL, &res, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "/index:1: expected 'appliance-wipe-backup 2'"));
	wipe_result_free(&res);
	put_index(p, "appliance-wipe-backup 2\ndisk 10 ../x /dev/x\n");
	assert_int_equal(wipe_restore(dir, NULL, NULL, &res, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "/index:2: backup file '../x' must be a plain name"));
	wipe_result_free(&res);
	unlink(p);
	rmdir(dir);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_regions),
		cmocka_unit_test(test_apply_backup_restore_files),
		cmocka_unit_test(test_restore_bad_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
