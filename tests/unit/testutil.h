/* Helpers shared by the unit tests; header-only, since each test is a
 * program of its own. */
#ifndef APPLIANCE_TESTUTIL_H
#define APPLIANCE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"

/* Teardown: remove the test's temporary directory and everything below it.
 * A failure is reported on stderr, not fatal. Returns 0 (a cmocka group
 * teardown result). */
static inline int test_rm_tree(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	return 0;
}

/* A test program's temporary folder: TEST_TMPDIR("test_x") declares
 * `static char dir[]` ("/tmp/test_x.XXXXXX") and the cmocka group fixtures
 * test_tmpdir_setup (makes the folder) and test_tmpdir_teardown (removes it
 * and everything below it). */
#define TEST_TMPDIR(name)                                    \
	static char dir[] = "/tmp/" name ".XXXXXX";          \
	static inline int test_tmpdir_setup(void **state)    \
	{                                                    \
		(void)state;                                 \
		return mkdtemp(dir) ? 0 : -1;                \
	}                                                    \
	static inline int test_tmpdir_teardown(void **state) \
	{                                                    \
		(void)state;                                 \
		return test_rm_tree(dir);                    \
	}

#endif
