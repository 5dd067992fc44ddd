/* install/efiboot.c on a plain directory in efivarfs's file format: a power
 * cut while a variable is written never leaves half a variable (the write is
 * all-or-nothing, like SetVariable), and an empty file (efivarfs's view of a
 * variable created but never written) reads as absent, not as an error. */
#include <dirent.h>
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
#include "base/util.h"
#include "install/efiboot.h"

#include "testutil.h"

#define GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"

TEST_TMPDIR("test_efiboot")

static const struct efiboot_target target = {
	.disk = "disk.img",
	.partno = 1,
	.start = 2048,
	.size = 204800,
	.part_uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
};

static void put_var(const char *name, const void *data, size_t len)
{
	char *p = xasprintf("%s/%s-" GUID, dir, name);

	assert_int_equal(write_file_atomic(p, data, len, 0644, NULL), 0);
	free(p);
}

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_empty_boot_order_is_unset(void **state)
{
	struct app_err e = { 0 };
	char order[64], result[256];
	const uint8_t boot0000[] = { 7, 0, 0, 0, 1, 0 };

	(void)state;
	put_var("Boot0000", boot0000, sizeof(boot0000));
	put_var("BootOrder", "", 0);
	assert_int_equal(efiboot_order(dir, order, sizeof(order), &e), 0);
	assert_string_equal(order, "");
	assert_int_equal(efiboot_apply(dir, &target, NULL, result, sizeof(result), &e), 0);
	assert_non_null(strstr(result, "Boot0001 first (previous order unset)"));
	assert_int_equal(efiboot_order(dir, order, sizeof(order), &e), 0);
	assert_string_equal(order, "0001");
	assert_int_equal(efiboot_check(dir, &target, &e), 0);
}

static void test_write_leaves_no_temporary(void **state)
{
	struct app_err e = { 0 };
	char result[256];

	(void)state;
	/* the previous test left Boot0000, Boot0001, BootOrder */
	assert_int_equal(entries(), 3);
	assert_int_equal(efiboot_apply(dir, &target, NULL, result, sizeof(result), &e), 0);
	assert_non_null(strstr(result, "Boot0001 first (previous order 0001)"));
	assert_int_equal(entries(), 3);
}

static void test_short_variable_is_an_error(void **state)
{
	struct app_err e = { 0 };
	char order[64];

	(void)state;
	put_var("BootOrder", "\x07", 1);
	assert_int_equal(efiboot_order(dir, order, sizeof(order), &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too short for its attributes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_boot_order_is_unset),
		cmocka_unit_test(test_write_leaves_no_temporary),
		cmocka_unit_test(test_short_variable_is_an_error),
	};
	return cmocka_run_group_tests(tests, test_tmpdir_setup, test_tmpdir_teardown);
}
