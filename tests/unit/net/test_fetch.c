/* fetch.c against a tiny HTTP/1.0 server thread on 127.0.0.1 that can drop the
 * first connection mid-body and can ignore Range: resume into DEST.part, clean
 * restart, stream resume without duplicate bytes, retry counting, non-transient
 * HTTP errors, and a refused connection. Each failure row asserts its message. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "net/fetch.h"
#include "base/util.h"

#include "testutil.h"

#define BODY (300 * 1000)

static unsigned char body[BODY];
TEST_TMPDIR("test_fetch")

struct server {
	int fd, port;
	bool honour_range;
	int drop_first; /* connections to cut mid-body */
	int status;	/* 0: 200/206, else this status with no body */
	bool no_length; /* no Content-Length: the body ends when the connection does */
	bool stall;	/* after half the body, hold the connection until the client leaves */
	int conns;
	pthread_t th;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	for (;;) {
		char req[2048], hdr[256];
		unsigned long long from = 0;
		size_t len, n = 0;
		const char *r;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		s->conns++;
		ssize_t got = recv(c, req, sizeof(req) - 1, 0);
		req[got > 0 ? got : 0] = '\0';
		r = strstr(req, "Range: bytes=");
		if (r && s->honour_range)
			from = strtoull(r + 13, NULL, 10);
		if (s->status) {
			len = (size_t)snprintf(hdr, sizeof(hdr),
					       "HTTP/1.0 %d Nope\r\nContent-Length: 0\r\n\r\n", s->status);
			send(c, hdr, len, MSG_NOSIGNAL);
			close(c);
			continue;
		}
		if (from)
			len = (size_t)snprintf(
			    hdr, sizeof(hdr),
			    "HTTP/1.0 206 Partial\r\nContent-Length: %llu\r\nContent-Range: bytes "
			    "%llu-%d/%d\r\n\r\n",
			    BODY - from, from, BODY - 1, BODY);
		else if (s->no_length)
			len = (size_t)snprintf(hdr, sizeof(hdr), "HTTP/1.0 200 OK\r\n\r\n");
		else
			len = (size_t)snprintf(hdr, sizeof(hdr),
					       "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
		send(c, hdr, len, MSG_NOSIGNAL);
		n = BODY - from;
		if (s->drop_first > 0) {
			s->drop_first--;
			n /= 2;
		}
		if (s->stall) {
			send(c, body + from, n / 2, MSG_NOSIGNAL);
			while (recv(c, req, sizeof(req), 0) > 0)
				; /* until the client gives up */
			close(c);
			continue;
		}
		send(c, body + from, n, MSG_NOSIGNAL);
		shutdown(c, SHUT_RDWR);
		close(c);
	}
}

static void server_start(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	getsockname(s->fd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->th, NULL);
}

static int retries_seen;
static uint64_t last_resume;
static void on_retry(void *ctx, int attempt, uint64_t at, const char *why)
{
	(void)ctx, (void)why;
	retries_seen = attempt;
	last_resume = at;
}

static void check_file(const char *p)
{
	struct buf b = { 0 };
	assert_int_equal(read_file(p, 1u << 20, &b, NULL), 0);
	assert_int_equal(b.len, BODY);
	assert_memory_equal(b.data, body, BODY);
	buf_free(&b);
}

static void test_resume_part_file(void **state)
{
	struct server s = { .honour_range = true };
	char *url, *dest = xasprintf("%s/a.bin", dir), *part = xasprintf("%s/a.bin.part", dir);
	struct fetch_opts o = { .backoff_ms = 1 };
	(void)state;

	server_start(&s);
	url = xasprintf("http://127.0.0.1:%d/a.bin", s.port);
	o.url = url;
	assert_int_equal(write_file_atomic(part, body, 1000, 0644, NULL), 0);
	assert_int_equal(fetch_file(&o, dest, NULL), 0);
	check_file(dest);
	assert_int_equal(access(part, F_OK), -1);
	server_stop(&s);
	free(url);
	free(dest);
	free(part);
}

static void test_drop_then_resume(void **state)
{
	struct server s = { .honour_range = true, .drop_first = 1 };
	char *url, *dest = xasprintf("%s/b.bin", dir);
	struct fetch_opts o = { .backoff_ms = 1, .on_retry = on_retry };
	(void)state;

	server_start(&s);
	url = xasprintf("http://127.0.0.1:%d/b.bin", s.port);
	o.url = url;
	retries_seen = 0;
	assert_int_equal(fetch_file(&o, dest, NULL), 0);
	check_file(dest);
	assert_int_equal(retries_seen, 1);
	assert_true(last_resume > 0 && last_resume < BODY);
	server_stop(&s);
	free(url);
	free(dest);
}

static void test_range_ignored_restarts(void **state)
{
	struct server s = { .honour_range = false };
	char *url, *dest = xasprintf("%s/c.bin", dir), *part = xasprintf("%s/c.bin.part", dir);
	struct fetch_opts o = { .backoff_ms = 1 };
	(void)state;

	server_start(&s);
	url = xasprintf("http://127.0.0.1:%d/c.bin", s.port);
	o.url = url;
	assert_int_equal(write_file_atomic(part, "stale bytes", 11, 0644, NULL), 0);
	assert_int_equal(fetch_file(&o, dest, NULL), 0);
	check_file(dest); /* no stale prefix */
	server_stop(&s);
	free(url);
	free(dest);
	free(part);
}

struct sink {
	struct buf b;
};
static int sink_fn(void *ctx, const void *d, size_t n)
{
	buf_append(&((struct sink *)ctx)->b, d, n);
	return 0;
}

static void test_stream_drop_range_ignored(void **state)
{
	struct server s = { .honour_range = false, .drop_first = 1 };
	struct sink k = { 0 };
	char *url;
	struct fetch_opts o = { .backoff_ms = 1 };
	(void)state;

	server_start(&s);
	url = xasprintf("http://127.0.0.1:%d/d.bin", s.port);
	o.url = url;
	assert_int_equal(fetch_stream(&o, sink_fn, &k, NULL), 0);
	assert_int_equal(k.b.len, BODY); /* each byte once */
	assert_memory_equal(k.b.data, body, BODY);
	buf_free(&k.b);
	server_stop(&s);
	free(url);
}

static void test_http_errors(void **state)
{
	struct server s = { .status = 404 };
	struct sink k = { 0 };
	struct app_err e = { 0 };
	char *url, want[256];
	struct fetch_opts o = { .backoff_ms = 1, .retries = 2 };
	(void)state;

	server_start(&s);
	url = xasprintf("http://127.0.0.1:%d/e.bin", s.port);
	o.url = url;
	assert_int_equal(fetch_stream(&o, sink_fn, &k, &e), -EIO);
	snprintf(want, sizeof(want), "download of '%s' failed: HTTP 404", url);
	assert_string_equal(e.msg, want);
	assert_int_equal(s.conns, 1); /* not retried */

	s.status = 503; /* transient: retried, then given up */
	s.conns = 0;
	assert_int_equal(fetch_stream(&o, sink_fn, &k, &e), -EIO);
	snprintf(want, sizeof(want), "download of '%s' failed: HTTP 503 (after retries)", url);
	assert_string_equal(e.msg, want);
	assert_int_equal(s.conns, 3);
	buf_free(&k.b);
	server_stop(&s);
	free(url);
}

static void test_refused(void **state)
{
	struct server s = { 0 };
	struct sink k = { 0 };
	struct app_err e = { 0 };
	char *url, want[256];
	struct fetch_opts o = { .retries = -1 };
	(void)state;

	server_start(&s);
	server_stop(&s); /* a port nobody listens on now */
	url = xasprintf("http://127.0.0.1:%d/f.bin", s.port);
	o.url = url;
	assert_int_equal(fetch_stream(&o, sink_fn, &k, &e), -EIO);
	snprintf(want, sizeof(want),
		 "download of '%s' failed after 1 attempt: Failed to connect to 127.0.0.1 port %d", url,
		 s.port);
	assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);
	free(url);
}

/* A body past max_bytes: announced (Content-Length) or only sent (no length):
 * refused with its message, and neither DEST nor DEST.part is left. */
static void test_size_ceiling(void **state)
{
	char *dest = xasprintf("%s/big.bin", dir), *part = xasprintf("%s/big.bin.part", dir);
	char want[512];
	(void)state;

	for (int announced = 1; announced >= 0; announced--) {
		struct server s = { .honour_range = true, .no_length = !announced };
		struct fetch_opts o = { .backoff_ms = 1, .max_bytes = 100 * 1024 };
		struct app_err e = { 0 };
		char *url;

		server_start(&s);
		url = xasprintf("http://127.0.0.1:%d/big.bin", s.port);
		o.url = url;
		assert_int_equal(fetch_file(&o, dest, &e), -EFBIG);
		snprintf(want, sizeof(want),
			 "download of '%s' is larger than 100.0 KiB; refusing the rest; removed '%s'", url,
			 part);
		assert_string_equal(e.msg, want);
		assert_int_equal(access(part, F_OK), -1);
		assert_int_equal(access(dest, F_OK), -1);
		server_stop(&s);
		free(url);
	}
	free(dest);
	free(part);
}

/* A server that stops sending: the whole transfer ends at the deadline (not
 * only the low-speed timeout), and the partial file stays for a resume. */
static void test_deadline(void **state)
{
	struct server s = { .honour_range = true, .stall = true };
	char *dest = xasprintf("%s/slow.bin", dir), *part = xasprintf("%s/slow.bin.part", dir), *url, *want;
	struct fetch_opts o = { .backoff_ms = 1, .deadline_s = 1 };
	struct app_err e = { 0 };
	(void)state;

	server_start(&s);
	url = xasprintf("http://127.0.0.1:%d/slow.bin", s.port);
	o.url = url;
	assert_int_equal(fetch_file(&o, dest, &e), -ETIMEDOUT);
	want = xasprintf("download of '%s' did not finish within 1 s (", url);
	assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);
	assert_int_equal(access(part, F_OK), 0);
	assert_int_equal(access(dest, F_OK), -1);
	server_stop(&s);
	free(want);
	free(url);
	free(dest);
	free(part);
}

static void test_is_url(void **state)
{
	(void)state;
	assert_true(fetch_is_url("http://x/y"));
	assert_true(fetch_is_url("https://x/y"));
	assert_false(fetch_is_url("/tmp/http://x"));
	assert_false(fetch_is_url("ftp://x"));
	assert_false(fetch_is_url(NULL));
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < BODY; i++)
		body[i] = (unsigned char)(i * 31 + (i >> 8));
	return test_tmpdir_setup(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_part_file),
		cmocka_unit_test(test_drop_then_resume),
		cmocka_unit_test(test_range_ignored_restarts),
		cmocka_unit_test(test_stream_drop_range_ignored),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_is_url),
		cmocka_unit_test(test_size_ceiling),
		cmocka_unit_test(test_deadline),
	};
	return cmocka_run_group_tests(tests, setup, test_tmpdir_teardown);
}
