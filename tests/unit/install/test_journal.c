/* install/journal.c: the journal is a hint. A garbage entry, an oversized one
 * and an unreadable one read as "not done" with the reason, never as an error,
 * and the next begin/done rewrites them; well-formed entries round-trip. */
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
#include "base/util.h"
#include "install/journal.h"

#include "testutil.h"

TEST_TMPDIR("test_journal")
static const char digest[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void put_entry(const char *step, const void *data, size_t len)
{
	char *p = xasprintf("%s/journal/%s", dir, step);

	assert_int_equal(write_file_atomic(p, data, len, 0600, NULL), 0);
	free(p);
}

/* the lock's refusal names the command that holds it (apply, upgrade), not
 * always "install" */
static void test_lock_holder(void **state)
{
	struct journal *j, *j2 = NULL;
	struct app_err e = { 0 };
	char want[256];

	(void)state;
	assert_int_equal(journal_open_as(dir, true, "upgrade", &j, NULL), 0);
	assert_int_equal(journal_open_as(dir, true, "apply", &j2, &e), -EBUSY);
	snprintf(want, sizeof(want), "state directory '%s' is in use by another upgrade (pid %ld)", dir,
		 (long)getpid());
	assert_string_equal(e.msg, want);
	journal_close(j);
	/* closed: the holder's name is gone, a lock held by someone silent reads as who */
	assert_int_equal(journal_open_as(dir, true, "apply", &j2, &e), 0);
	journal_close(j2);
}

static void test_round_trip(void **state)
{
	struct journal *j;
	struct journal_entry en;

	(void)state;
	assert_int_equal(journal_open(dir, true, &j, NULL), 0);
	assert_int_equal(journal_begin(j, "ok-step", digest, "a=1\n", NULL), 0);
	assert_int_equal(journal_done(j, "ok-step", digest, "wrote it", NULL), 0);
	assert_int_equal(journal_get(j, "ok-step", &en, NULL), 0);
	assert_int_equal(en.status, JOURNAL_DONE);
	assert_string_equal(en.inputs, digest);
	assert_string_equal(en.result, "wrote it");
	assert_int_equal(en.runs, 1);
	assert_string_equal(en.problem, "");
	journal_close(j);
}

/* step's entry holds data: it reads as not done, with problem containing want,
 * and a begin + done afterwards makes it a good entry again */
static void hint(const char *step, const void *data, size_t len, const char *want)
{
	struct journal *j;
	struct journal_entry en;
	struct app_err e = { 0 };

	put_entry(step, data, len);
	assert_int_equal(journal_open(dir, true, &j, NULL), 0);
	assert_int_equal(journal_get(j, step, &en, &e), 0);
	assert_int_equal(en.status, JOURNAL_NONE);
	if (!strstr(en.problem, want))
		fail_msg("problem '%s' lacks '%s'", en.problem, want);
	assert_int_equal(journal_begin(j, step, digest, "a=1\n", &e), 0);
	assert_int_equal(journal_done(j, step, digest, "again", &e), 0);
	assert_int_equal(journal_get(j, step, &en, &e), 0);
	assert_int_equal(en.status, JOURNAL_DONE);
	assert_string_equal(en.problem, "");
	journal_close(j);
}

static void test_oversized(void **state)
{
	size_t n = JOURNAL_ENTRY_MAX + 1;
	char *big = xmalloc(n), *want;

	(void)state;
	memset(big, 'x', n);
	memcpy(big, "status=done\nresult=", 19);
	want = xasprintf("'%s/journal/big' is larger than %u bytes", dir, JOURNAL_ENTRY_MAX);
	hint("big", big, n, want);
	free(want);
	free(big);
}

static void test_garbage(void **state)
{
	static const unsigned char junk[] = { 0x7f, 'E', 'L', 'F', 0, 1, 2, '\n', 0xff, '=', '\n' };
	char *want = xasprintf("'%s/journal/junk' is not a journal entry: it holds a NUL byte", dir);

	(void)state;
	hint("junk", junk, sizeof(junk), want);
	free(want);
	hint("nostatus", "inputs=abc\n", 11, "is not a journal entry: inputs is not a sha256");
	hint("badstatus", "status=finished\n", 16, "is not a journal entry: unknown status 'finished'");
	hint("noline", "hello\n", 6, "is not a journal entry: line 'hello' is not KEY=VALUE");
	hint("empty", "", 0, "is not a journal entry: it has no status line");
}

static void test_unreadable(void **state)
{
	char *p = xasprintf("%s/journal/dir-step", dir);
	struct journal *j;
	struct journal_entry en;

	(void)state;
	/* a directory where the entry belongs: refused before any read */
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(journal_open(dir, true, &j, NULL), 0);
	assert_int_equal(journal_get(j, "dir-step", &en, NULL), 0);
	assert_int_equal(en.status, JOURNAL_NONE);
	assert_non_null(strstr(en.problem, "is a directory, not a regular file"));
	journal_close(j);
	rmdir(p);
	free(p);
}

/* a FIFO where the entry (or its .inputs) belongs: reported and not done at once, where an
 * open(2) without O_NONBLOCK waited for a writer forever (issue 17, item 6) */
static void test_fifo(void **state)
{
	char *p = xasprintf("%s/journal/fifo-step", dir), *pi = xasprintf("%s.inputs", p);
	char *want = xasprintf("'%s' is a FIFO, not a regular file", p);
	struct journal *j;
	struct journal_entry en;
	struct buf b = { 0 };
	struct app_err e = { 0 };

	(void)state;
	alarm(20); /* the old code blocked here: die (and fail) instead of hanging the suite */
	assert_int_equal(journal_open(dir, true, &j, NULL), 0);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(mkfifo(pi, 0600), 0);
	assert_int_equal(journal_get(j, "fifo-step", &en, NULL), 0);
	assert_int_equal(en.status, JOURNAL_NONE);
	if (!strstr(en.problem, want))
		fail_msg("problem '%s' lacks '%s'", en.problem, want);
	assert_int_equal(journal_inputs(j, "fifo-step", &b, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "is a FIFO, not a regular file"));
	buf_free(&b);
	journal_close(j);
	unlink(p);
	unlink(pi);
	alarm(0);
	free(want);
	free(pi);
	free(p);
}

static void test_parse(void **state)
{
	struct journal_entry en;
	char text[200];

	(void)state;
	snprintf(text, sizeof(text), "step=s\nstatus=started\ninputs=%s\nruns=3\n", digest);
	assert_int_equal(journal_parse(text, strlen(text), &en), 0);
	assert_int_equal(en.status, JOURNAL_STARTED);
	assert_int_equal(en.runs, 3);
	assert_int_equal(journal_parse("status=done", 11, &en), 0);
	assert_int_equal(journal_parse("status=done\0x", 13, &en), -EBADMSG);
	assert_int_equal(en.status, JOURNAL_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_lock_holder),
		cmocka_unit_test(test_oversized),  cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_unreadable), cmocka_unit_test(test_parse),
		cmocka_unit_test(test_fifo),
	};

	return cmocka_run_group_tests(tests, test_tmpdir_setup, test_tmpdir_teardown);
}
