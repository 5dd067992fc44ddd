/* s3: ListObjectsV2 XML parsing (entities, paging, hostile input), error
 * bodies, timestamps, s3:// URLs, age formatting, and a closed port. Real
 * listings against s3rver are in tests/integration/rebuild.sh. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "net/s3.h"
#include "base/util.h"

static const char page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>keiretsu</Name><Prefix>demo/</Prefix><KeyCount>2</KeyCount>"
    "<IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken>"
    "<Contents><Key>demo/a&amp;b&#47;c&#x41;.info</Key><LastModified>2026-11-20T23:00:01.000Z</LastModified>"
    "<ETag>&quot;x&quot;</ETag><Size>123</Size><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>demo/&lt;odd&gt;</Key><LastModified>2026-11-21T00:00:00Z</LastModified><Size>0</Size>"
    "</Contents></ListBucketResult>";

static void test_parse_list(void **state)
{
	struct s3_objects o = { 0 };
	struct app_err e = { 0 };
	bool truncated;
	char *tok;

	(void)state;
	assert_int_equal(s3_parse_list(page1, sizeof(page1) - 1, &o, &truncated, &tok, &e), 0);
	assert_true(truncated);
	assert_string_equal(tok, "tok&1");
	assert_int_equal(o.n, 2);
	assert_string_equal(o.v[0].key, "demo/a&b/cA.info");
	assert_int_equal(o.v[0].size, 123);
	assert_int_equal(o.v[0].mtime, 1795215601);
	assert_string_equal(o.v[1].key, "demo/<odd>");
	assert_int_equal(o.v[1].mtime, 1795219200);
	free(tok);
	s3_objects_free(&o);
}

static void test_parse_list_empty_and_bad(void **state)
{
	static const char empty[] = "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
				    "</ListBucketResult>";
	static const char notlist[] = "<Error><Code>NoSuchBucket</Code></Error>";
	static const char nokey[] =
	    "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>";
	static const char unterminated[] = "<ListBucketResult><Contents><Key>abc</Ke";
	static const char trunc_notoken[] =
	    "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	struct s3_objects o = { 0 };
	struct app_err e = { 0 };
	bool truncated;
	char *tok;

	(void)state;
	assert_int_equal(s3_parse_list(empty, sizeof(empty) - 1, &o, &truncated, &tok, &e), 0);
	assert_int_equal(o.n, 0);
	assert_false(truncated);
	assert_null(tok);
	assert_int_equal(s3_parse_list(notlist, sizeof(notlist) - 1, &o, &truncated, &tok, &e), -EPROTO);
	assert_string_equal(e.msg, "reply is not a ListBucketResult");
	assert_int_equal(s3_parse_list(nokey, sizeof(nokey) - 1, &o, &truncated, &tok, &e), -EPROTO);
	assert_string_equal(e.msg, "a <Contents> entry has no <Key>");
	assert_int_equal(s3_parse_list(unterminated, sizeof(unterminated) - 1, &o, &truncated, &tok, &e), 0);
	assert_int_equal(o.n, 0);
	assert_int_equal(s3_parse_list(trunc_notoken, sizeof(trunc_notoken) - 1, &o, &truncated, &tok, &e),
			 -EPROTO);
	assert_string_equal(e.msg, "truncated listing without a NextContinuationToken");
	s3_objects_free(&o);
}

static void test_parse_error(void **state)
{
	static const char body[] = "<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code>"
				   "<Message>The AWS Access Key Id you provided does not exist in our "
				   "records.</Message></Error>";
	char code[32], msg[256];

	(void)state;
	s3_parse_error(body, sizeof(body) - 1, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "InvalidAccessKeyId");
	assert_string_equal(msg, "The AWS Access Key Id you provided does not exist in our records.");
	s3_parse_error("", 0, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "");
	s3_parse_error(NULL, 0, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(msg, "");
}

static void test_time(void **state)
{
	(void)state;
	assert_int_equal(s3_parse_time("1970-01-01T00:00:00.000Z"), 0);
	assert_int_equal(s3_parse_time("2026-11-20T23:00:01Z"), 1795215601);
	assert_int_equal(s3_parse_time("yesterday"), -1);
	assert_int_equal(s3_parse_time("2026-11-20T23:00:01+02:00"), -1);
	assert_int_equal(s3_parse_time(NULL), -1);
}

static void test_url_split(void **state)
{
	char *b, *p;
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(s3_url_split("s3://keiretsu/demo/immich/postgres/", &b, &p, &e), 0);
	assert_string_equal(b, "keiretsu");
	assert_string_equal(p, "demo/immich/postgres/");
	free(b);
	free(p);
	assert_int_equal(s3_url_split("s3://bucket/no-slash", &b, &p, &e), 0);
	assert_string_equal(p, "no-slash/");
	free(b);
	free(p);
	assert_int_equal(s3_url_split("s3://bucket", &b, &p, &e), 0);
	assert_string_equal(b, "bucket");
	assert_string_equal(p, "");
	free(b);
	free(p);
	assert_int_equal(s3_url_split("https://x/y", &b, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "'https://x/y' is not an s3://BUCKET/PREFIX URL");
	assert_int_equal(s3_url_split("s3:///x", &b, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "'s3:///x' names no bucket");
}

static void test_age(void **state)
{
	char out[32];

	(void)state;
	s3_format_age(42, out, sizeof(out));
	assert_string_equal(out, "42s");
	s3_format_age(3 * 3600 + 5 * 60, out, sizeof(out));
	assert_string_equal(out, "3h 5m");
	s3_format_age(2 * 86400 + 3600, out, sizeof(out));
	assert_string_equal(out, "2d 1h");
	s3_format_age(-5, out, sizeof(out));
	assert_string_equal(out, "0s");
}

static void test_barman_status(void **state)
{
	static const char done[] = "backup_label=None\r\nstatus=DONE \r\nsystemid=1\n";
	static const char failed[] = "status=FAILED\nerror=x";
	char st[16];

	(void)state;
	assert_int_equal(s3_barman_status(done, sizeof(done) - 1, st, sizeof(st)), 0);
	assert_string_equal(st, "DONE");
	assert_int_equal(s3_barman_status(failed, sizeof(failed) - 1, st, sizeof(st)), 0);
	assert_string_equal(st, "FAILED");
	assert_int_equal(s3_barman_status("xstatus=DONE\n", 13, st, sizeof(st)), -1);
	assert_string_equal(st, "");
	assert_int_equal(s3_barman_status("", 0, st, sizeof(st)), -1);
}

/* Hostile input: random mutations of a real page never crash the parser or
 * read out of bounds (the ASan build checks the latter). */
static void test_parse_list_random(void **state)
{
	unsigned int seed = 12345;
	char buf[sizeof(page1)];

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(page1);
		struct s3_objects o = { 0 };
		struct app_err e = { 0 };
		bool truncated;
		char *tok = NULL;
		char *copy;

		memcpy(buf, page1, sizeof(page1));
		for (int k = rand_r(&seed) % 8; k >= 0; k--)
			buf[(size_t)rand_r(&seed) % (sizeof(page1) - 1)] = "<>/&;#x0aZ"[rand_r(&seed) % 10];
		copy = xmalloc(len ? len : 1); /* exactly len bytes: no terminator to lean on */
		memcpy(copy, buf, len);
		if (s3_parse_list(copy, len, &o, &truncated, &tok, &e) == 0)
			for (size_t j = 0; j < o.n; j++)
				assert_non_null(o.v[j].key);
		free(tok);
		s3_objects_free(&o);
		free(copy);
	}
}

static void test_closed_port(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];
	struct s3_target t = { .endpoint = url, .bucket = "b", .access_key = "k", .secret_key = "s" };
	struct s3_objects o;
	struct app_err e = { 0 };

	(void)state;
	/* a port that was just free: nobody listens on it */
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(s3_list(&t, "p/", 0, &o, &e), -ECONNREFUSED);
	assert_non_null(strstr(e.msg, ": cannot reach the object store ("));
	assert_int_equal(strncmp(e.msg, url, strlen(url)), 0);
}

/* ---- the listing bounds, against tests/servers/s3_truncated.py -------------
 * (a stand-in whose every page says IsTruncated; the bucket name picks how) */

static pid_t stand_in;
static char stand_in_url[64];

static int stand_in_start(void **state)
{
	char dir[] = "/tmp/test_s3.XXXXXX", pf[64];
	FILE *f;
	int port = 0;

	(void)state;
	if (access("tests/servers/s3_truncated.py", R_OK) != 0 || !mkdtemp(dir))
		return 0; /* the tests below skip */
	snprintf(pf, sizeof(pf), "%s/port", dir);
	stand_in = fork();
	if (stand_in == 0) {
		execl("/usr/bin/python3", "python3", "tests/servers/s3_truncated.py", pf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !port; i++) {
		f = fopen(pf, "r");
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (!port)
			usleep(50000);
	}
	unlink(pf);
	rmdir(dir);
	if (port)
		snprintf(stand_in_url, sizeof(stand_in_url), "http://127.0.0.1:%d", port);
	return 0;
}

static int stand_in_stop(void **state)
{
	(void)state;
	if (stand_in > 0) {
		kill(stand_in, SIGTERM);
		waitpid(stand_in, NULL, 0);
	}
	return 0;
}

/* s3_list against bucket, expecting code and the message after "URL: listing s3://BUCKET/p/: " */
static void list_bounded(const char *bucket, struct s3_target t, size_t max_keys, int code, const char *msg)
{
	struct s3_objects o = { 0 };
	struct app_err e = { 0 };
	char want[512];

	if (!stand_in_url[0])
		skip();
	t.endpoint = stand_in_url;
	t.bucket = bucket;
	t.access_key = "k";
	t.secret_key = "s";
	assert_int_equal(s3_list(&t, "p/", max_keys, &o, &e), code);
	snprintf(want, sizeof(want), "%s: listing s3://%s/p/: %s", stand_in_url, bucket, msg);
	assert_string_equal(e.msg, want);
	assert_int_equal(o.n, 0); /* nothing half-listed is handed back */
	assert_null(o.v);
}

static void test_list_repeated_token(void **state)
{
	(void)state;
	list_bounded("repeat", (struct s3_target){ 0 }, 0, -ELOOP,
		     "the server handed out continuation token 'stuck-token' twice (pages 1 and 2); "
		     "refusing to go round in circles");
	list_bounded("cycle", (struct s3_target){ 0 }, 0, -ELOOP,
		     "the server handed out continuation token 'a' twice (pages 1 and 3); "
		     "refusing to go round in circles");
}

static void test_list_page_bound(void **state)
{
	(void)state;
	list_bounded("endless", (struct s3_target){ .max_pages = 40 }, 0, -E2BIG,
		     "still truncated after 40 pages; giving up");
}

static void test_list_byte_bound(void **state)
{
	(void)state;
	list_bounded("fat", (struct s3_target){ .max_bytes = 3u << 20 }, 0, -E2BIG,
		     "more than 3.0 MiB of listing; giving up");
}

static void test_list_key_bound(void **state)
{
	(void)state;
	list_bounded("many", (struct s3_target){ 0 }, 4500, -E2BIG, "more than 4500 objects");
}

static void test_list_deadline(void **state)
{
	(void)state;
	list_bounded("slow", (struct s3_target){ .list_deadline_ms = 1000 }, 0, -ETIMEDOUT,
		     "not finished after 1 s; giving up");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_list),    cmocka_unit_test(test_parse_list_empty_and_bad),
		cmocka_unit_test(test_parse_error),   cmocka_unit_test(test_time),
		cmocka_unit_test(test_url_split),     cmocka_unit_test(test_age),
		cmocka_unit_test(test_barman_status), cmocka_unit_test(test_parse_list_random),
		cmocka_unit_test(test_closed_port),
	};
	const struct CMUnitTest bounded[] = {
		cmocka_unit_test(test_list_repeated_token), cmocka_unit_test(test_list_page_bound),
		cmocka_unit_test(test_list_byte_bound),	    cmocka_unit_test(test_list_key_bound),
		cmocka_unit_test(test_list_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL) |
	       cmocka_run_group_tests(bounded, stand_in_start, stand_in_stop);
}
