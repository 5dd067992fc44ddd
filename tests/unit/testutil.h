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

#endif
