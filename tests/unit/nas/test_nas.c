/* nas: URL building, byte formatting, statvfs arithmetic, JSON output, and
 * nas_check's early rows against local sockets on 127.0.0.1 (a closed port,
 * a listener that never answers). The full checks against a real smbd are in
 * tests/integration/nas.sh. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "profile/model.h"
#include "nas/nas.h"
#include "base/util.h"

/* libsmbclient keeps a few process-lifetime talloc allocations */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libtalloc.so\nleak:libsmbclient.so\nleak:libsamba\n";
}

static struct kv test_secrets[] = {
	{ "nas-username", "env:TEST_NAS_USER" },
	{ "nas-password", "env:TEST_NAS_PASS" },
};

static void fill_model(struct model *m, int port)
{
	memset(m, 0, sizeof(*m));
	m->secrets.v = test_secrets;
	m->secrets.n = 2;
	m->nas.address = "127.0.0.1";
	m->nas.port = port;
	m->nas.share = "k8s";
	m->nas.photos = "pics";
	m->nas.library = "immich";
	m->nas.username_secret = "nas-username";
	m->nas.password_secret = "nas-password";
	m->nas.min_protocol = "SMB3";
	m->nas.timeout_ms = 300;
	m->nas.retries = 0;
}

/* A TCP socket bound to 127.0.0.1:0; listening when listen_it. */
static int local_socket(bool listen_it, int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listen_it)
		assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static const struct nas_result *row(const struct nas_results *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].id, id) == 0)
			return &r->v[i];
	fail_msg("no row '%s'", id);
	return NULL;
}

static void test_url(void **state)
{
	char *u;

	(void)state;
	u = nas_url("127.0.0.1", 4450, "k8s", "pics");
	assert_string_equal(u, "smb://127.0.0.1:4450/k8s/pics");
	free(u);
	u = nas_url("nas.local", 445, "k8s", NULL);
	assert_string_equal(u, "smb://nas.local:445/k8s");
	free(u);
	u = nas_url("127.0.0.1", 445, "my share", "/a b/c%d/");
	assert_string_equal(u, "smb://127.0.0.1:445/my%20share/a%20b/c%25d");
	free(u);
	u = nas_url("::1", 4450, "k8s", "x");
	assert_string_equal(u, "smb://[::1]:4450/k8s/x");
	free(u);
	u = nas_url("127.0.0.1", 0, "k8s", "");
	assert_string_equal(u, "smb://127.0.0.1/k8s");
	free(u);
}

static void test_statvfs_bytes(void **state)
{
	(void)state;
	/* libsmbclient: f_bsize = bytes per sector, f_frsize = sectors per unit */
	assert_int_equal(nas_statvfs_bytes(512, 2, 100), 102400);
	assert_int_equal(nas_statvfs_bytes(4096, 0, 10), 40960);
	assert_true(nas_statvfs_bytes(4096, 8, UINT64_MAX / 2) == UINT64_MAX);
	assert_int_equal(nas_statvfs_bytes(512, 8, 0), 0);
}

static void test_immich_folders(void **state)
{
	static const char *const want[] = { "library",	     "upload",	"thumbs",
					    "encoded-video", "profile", "backups" };
	size_t n = 0;

	(void)state;
	while (nas_immich_folders[n])
		n++;
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(nas_immich_folders[i], want[i]);
}

static void test_unconfigured(void **state)
{
	struct model m;
	struct nas_results r = { 0 };
	struct nas_plan p = { 0 };
	struct app_err e = { 0 };
	struct buf b = { 0 };

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(nas_check(&m, NULL, &r, &e), -EIO);
	assert_false(r.pass);
	assert_int_equal(r.n, 11);
	assert_string_equal(row(&r, "tcp")->detail,
			    "no NAS configured (nas.address and nas.share are required)");
	assert_int_equal(row(&r, "capacity")->status, NAS_SKIP);
	assert_string_equal(row(&r, "capacity")->detail, "skipped: tcp failed");
	assert_string_equal(e.msg,
			    "nas check failed: no NAS configured (nas.address and nas.share are required)");
	nas_results_json(&m, &r, &b);
	assert_non_null(strstr(b.data, "\"pass\":false"));
	assert_non_null(strstr(
	    b.data, "{\"id\":\"tcp\",\"title\":\"server answers on its SMB port\",\"status\":\"fail\","));
	assert_non_null(strstr(b.data, "\"hint\":null}"));
	buf_free(&b);
	nas_results_free(&r);

	assert_int_equal(nas_prepare(&m, NULL, false, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "no NAS configured (nas.address, nas.share and nas.library are required)");
	nas_plan_free(&p);
}

static void test_refused(void **state)
{
	struct model m;
	struct nas_results r = { 0 };
	struct app_err e = { 0 };
	char want[128];
	int port, fd = local_socket(false, &port); /* bound, not listening: refused */

	(void)state;
	fill_model(&m, port);
	assert_int_equal(nas_check(&m, NULL, &r, &e), -EIO);
	snprintf(want, sizeof(want), "cannot connect to 127.0.0.1:%d: connection refused (1 attempt)", port);
	assert_string_equal(row(&r, "tcp")->detail, want);
	assert_int_equal(row(&r, "tcp")->status, NAS_FAIL);
	assert_int_equal(row(&r, "protocol")->status, NAS_SKIP);
	nas_results_free(&r);

	/* retries from the options override the model */
	struct nas_opts o = NAS_OPTS_INIT;
	o.retries = 1;
	assert_int_equal(nas_check(&m, &o, &r, &e), -EIO);
	snprintf(want, sizeof(want), "cannot connect to 127.0.0.1:%d: connection refused (2 attempts)", port);
	assert_string_equal(row(&r, "tcp")->detail, want);
	nas_results_free(&r);
	close(fd);
}

static void test_missing_secret(void **state)
{
	struct model m;
	struct nas_results r = { 0 };
	struct app_err e = { 0 };
	int port, fd = local_socket(true, &port);

	(void)state;
	unsetenv("TEST_NAS_USER");
	unsetenv("TEST_NAS_PASS");
	fill_model(&m, port);
	assert_int_equal(nas_check(&m, NULL, &r, &e), -EIO);
	assert_int_equal(row(&r, "tcp")->status, NAS_OK);
	assert_int_equal(row(&r, "protocol")->status, NAS_SKIP);
	assert_int_equal(row(&r, "credentials")->status, NAS_FAIL);
	assert_string_equal(row(&r, "credentials")->detail,
			    "secret 'nas-username': environment variable 'TEST_NAS_USER' is not set");
	assert_string_equal(row(&r, "share")->detail, "skipped: credentials failed");
	nas_results_free(&r);
	close(fd);
}

/* Accepts TCP (the kernel's backlog does) and never says anything. */
static void test_silent_server(void **state)
{
	struct model m;
	struct nas_results r = { 0 };
	struct app_err e = { 0 };
	char want[160];
	int port, fd = local_socket(true, &port);

	(void)state;
	setenv("TEST_NAS_USER", "u", 1);
	setenv("TEST_NAS_PASS", "p", 1);
	fill_model(&m, port);
	assert_int_equal(nas_check(&m, NULL, &r, &e), -EIO);
	assert_int_equal(row(&r, "tcp")->status, NAS_OK);
	snprintf(want, sizeof(want), "smb://127.0.0.1:%d/k8s: no SMB answer within 300 ms (1 attempt)", port);
	assert_string_equal(row(&r, "protocol")->detail, want);
	assert_string_equal(row(&r, "credentials")->detail, "skipped: protocol failed");
	nas_results_free(&r);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_statvfs_bytes),
		cmocka_unit_test(test_immich_folders),
		cmocka_unit_test(test_unconfigured),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_missing_secret),
		cmocka_unit_test(test_silent_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
