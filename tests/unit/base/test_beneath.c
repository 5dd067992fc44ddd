/* base/beneath.c: writes and removals stay beneath the root. A symbolic link
 * anywhere below the root (a directory on the way, the file itself) is
 * refused and nothing outside is touched; "..", "." and absolute paths are
 * refused; missing directories are created; removal prunes emptied folders. */
#include <errno.h>
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

#include "base/beneath.h"
#include "base/err.h"
#include "base/util.h"

#include "testutil.h"

static char dir[] = "/tmp/test_beneath.XXXXXX";
static char *root, *outside;

static void test_write_creates_dirs(void **state)
{
	struct buf b = { 0 };
	char *p = xasprintf("%s/a/b/c.yaml", root);

	(void)state;
	assert_int_equal(write_file_beneath(root, "a/b/c.yaml", "x: 1\n", 5, 0644, NULL), 0);
	assert_int_equal(read_file(p, 100, &b, NULL), 0);
	assert_string_equal(b.data, "x: 1\n");
	buf_free(&b);
	free(p);
}

static void test_symlinked_dir_refused(void **state)
{
	struct app_err e = { 0 };
	char *link = xasprintf("%s/evil", root), *want, *victim = xasprintf("%s/c.yaml", outside);

	(void)state;
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(write_file_beneath(root, "evil/c.yaml", "x", 1, 0644, &e), -ELOOP);
	want =
	    xasprintf("'evil' below '%s' is a symbolic link; refusing to follow it out of '%s'", root, root);
	assert_string_equal(e.msg, want);
	assert_int_equal(access(victim, F_OK), -1);
	/* removal through it is refused too */
	assert_int_equal(write_file_atomic(victim, "keep", 4, 0644, NULL), 0);
	assert_int_equal(unlink_beneath(root, "evil/c.yaml", &e), -ELOOP);
	assert_int_equal(access(victim, F_OK), 0);
	unlink(victim);
	unlink(link);
	free(want);
	free(link);
	free(victim);
}

static void test_symlinked_file_refused(void **state)
{
	struct app_err e = { 0 };
	char *link = xasprintf("%s/a/f.yaml", root), *victim = xasprintf("%s/f.yaml", outside);
	char *a = xasprintf("%s/a", root);
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(write_file_atomic(victim, "theirs", 6, 0644, NULL), 0);
	assert_int_equal(mkdir_p(a, 0755, NULL), 0);
	free(a);
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(write_file_beneath(root, "a/f.yaml", "ours", 4, 0644, &e), -ELOOP);
	assert_int_equal(read_file(victim, 100, &b, NULL), 0);
	assert_string_equal(b.data, "theirs");
	buf_free(&b);
	unlink(link);
	unlink(victim);
	free(link);
	free(victim);
}

static void test_bad_paths(void **state)
{
	static const char *const bad[] = { "../x", "a/../../x", "/etc/x", "./x", "", "a//" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct app_err e = { 0 };

		assert_int_equal(write_file_beneath(root, bad[i], "x", 1, 0644, &e), -EINVAL);
	}
}

static void test_unlink_prunes(void **state)
{
	char *d = xasprintf("%s/p/q", root), *top = xasprintf("%s/p", root);

	(void)state;
	assert_int_equal(write_file_beneath(root, "p/q/r.yaml", "x", 1, 0644, NULL), 0);
	assert_int_equal(unlink_beneath(root, "p/q/r.yaml", NULL), 0);
	assert_int_equal(access(d, F_OK), -1);
	assert_int_equal(access(top, F_OK), -1);
	assert_int_equal(access(root, F_OK), 0);
	assert_int_equal(unlink_beneath(root, "p/q/r.yaml", NULL), 0); /* already gone: fine */
	free(d);
	free(top);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	root = xasprintf("%s/root", dir);
	outside = xasprintf("%s/outside", dir);
	return mkdir(root, 0755) || mkdir(outside, 0755);
}

static int teardown(void **state)
{
	(void)state;
	free(root);
	free(outside);
	return test_rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_creates_dirs),     cmocka_unit_test(test_symlinked_dir_refused),
		cmocka_unit_test(test_symlinked_file_refused), cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_unlink_prunes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
