/* pxe: the small pure pieces the tree and the payload server rest on: MAC
 * spelling (iPXE's ${mac:hexhyp}), the proxy-DHCP range, where payloads live
 * (beside the tree, never under it) and the payload server's listen address. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "pxe/pxe.h"
#include "pxe/pxe_payload.h"
#include "pxe/pxe_serve.h"

static void test_mac_hexhyp(void **state)
{
	static const char *const bad[] = { "",
					   "52:54:00:12:34",
					   "52:54:00:12:34:0g",
					   "52:54:00:12:34:011",
					   "52_54_00_12_34_01",
					   "../../etc/passwd",
					   "52:54:00:12:34:0" };
	char out[18];
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(pxe_mac_hexhyp("52:54:00:AB:cd:01", out, &e), 0);
	assert_string_equal(out, "52-54-00-ab-cd-01");
	assert_int_equal(pxe_mac_hexhyp("52-54-00-ab-cd-01", out, &e), 0);
	assert_string_equal(out, "52-54-00-ab-cd-01");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(pxe_mac_hexhyp(bad[i], out, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "expected six hex pairs"));
	}
	assert_int_equal(pxe_mac_hexhyp(NULL, out, NULL), -EINVAL);
}

static void test_proxy_range(void **state)
{
	struct app_err e = { 0 };
	char *r = NULL;

	(void)state;
	assert_int_equal(pxe_proxy_range("192.168.50.17/24", &r, &e), 0);
	assert_string_equal(r, "192.168.50.0,proxy,255.255.255.0");
	free(r);
	assert_int_equal(pxe_proxy_range("10.0.2.0/31", &r, &e), -EINVAL);
	assert_int_equal(pxe_proxy_range("10.0.2.0", &r, &e), -EINVAL);
}

static void test_payload_dir_beside_the_tree(void **state)
{
	char *d;

	(void)state;
	d = pxe_payload_dir("/srv/pxe");
	assert_string_equal(d, "/srv/pxe.payloads");
	free(d);
	d = pxe_payload_dir("/srv/pxe//");
	assert_string_equal(d, "/srv/pxe.payloads");
	free(d);
}

static void test_listen_address(void **state)
{
	static const char *const bad[] = { "nowhere", "127.0.0.1",    "127.0.0.1:",  "127.0.0.1:70000",
					   "::1:80",  "localhost:80", "127.0.0.1:8x" };
	struct app_err e = { 0 };
	int fd = -1, port = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(pxe_serve_listen(bad[i], &fd, &port, &e), -EINVAL);
		assert_non_null(strstr(e.msg, "expected IPv4ADDR:PORT"));
	}
	assert_int_equal(pxe_serve_listen("127.0.0.1:0", &fd, &port, &e), 0);
	assert_true(fd >= 0);
	assert_true(port > 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_hexhyp),
		cmocka_unit_test(test_proxy_range),
		cmocka_unit_test(test_payload_dir_beside_the_tree),
		cmocka_unit_test(test_listen_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
