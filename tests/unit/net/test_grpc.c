/* grpc + talosapi without a network: message framing, grpc-message decoding,
 * hand-encoded protobuf (BootstrapRequest, common.Data, reply metadata), the
 * kubeconfig .tar.gz, and talosconfig parsing. Calls against a real gRPC
 * server with mutual TLS are in tests/integration/bootstrap.sh. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <netinet/in.h>
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
#include "net/grpc.h"
#include "net/talosapi.h"
#include "base/util.h"

struct collected {
	int n;
	struct buf all;
	int fail_at; /* abort on this message (1-based); 0 never */
};

static int collect(const void *msg, size_t len, void *ud, struct app_err *e)
{
	struct collected *c = ud;

	c->n++;
	if (c->fail_at && c->n == c->fail_at)
		return app_err_set(e, -EBADMSG, "stop at %d", c->n);
	buf_append(&c->all, msg, len);
	buf_append(&c->all, "|", 1);
	return 0;
}

static void test_deframe(void **state)
{
	/* two messages ("ab", "") and the first 3 bytes of a third */
	static const unsigned char data[] = { 0, 0, 0, 0, 2, 'a', 'b', 0, 0, 0, 0, 0, 0, 0, 0 };
	struct collected c = { 0 };
	struct app_err e = { 0 };
	size_t used = 99;

	(void)state;
	assert_int_equal(grpc_deframe(data, sizeof(data), 0, collect, &c, &used, &e), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(used, 12);
	assert_string_equal(c.all.data, "ab||");
	buf_free(&c.all);

	/* nothing complete yet */
	memset(&c, 0, sizeof(c));
	assert_int_equal(grpc_deframe(data, 4, 0, collect, &c, &used, &e), 0);
	assert_int_equal(used, 0);
	assert_int_equal(c.n, 0);
}

static void test_deframe_errors(void **state)
{
	static const unsigned char compressed[] = { 1, 0, 0, 0, 1, 'x' };
	static const unsigned char big[] = { 0, 0, 0, 1, 0 }; /* 256 bytes */
	static const unsigned char two[] = { 0, 0, 0, 0, 1, 'x', 0, 0, 0, 0, 1, 'y' };
	struct collected c = { .fail_at = 2 };
	struct app_err e = { 0 };
	size_t used;

	(void)state;
	assert_int_equal(grpc_deframe(compressed, sizeof(compressed), 0, NULL, NULL, &used, &e), -EPROTO);
	assert_string_equal(e.msg, "compressed message (flag 1) although none was offered");
	assert_int_equal(grpc_deframe(big, sizeof(big), 100, NULL, NULL, &used, &e), -EMSGSIZE);
	assert_string_equal(e.msg, "message of 256 bytes is larger than the limit of 100");
	assert_int_equal(grpc_deframe(two, sizeof(two), 0, collect, &c, &used, &e), -EBADMSG);
	assert_int_equal(used, 6);
	assert_string_equal(e.msg, "stop at 2");
	buf_free(&c.all);
}

static void test_percent_decode(void **state)
{
	char out[64];

	(void)state;
	grpc_percent_decode("etcd%20data%3A%20not%20empty", 28, out, sizeof(out));
	assert_string_equal(out, "etcd data: not empty");
	grpc_percent_decode("100%", 4, out, sizeof(out)); /* stray % kept */
	assert_string_equal(out, "100%");
	grpc_percent_decode("%zz%4", 5, out, sizeof(out));
	assert_string_equal(out, "%zz%4");
	grpc_percent_decode("abcdef", 6, out, 4); /* truncated, terminated */
	assert_string_equal(out, "abc");
}

static void test_code_names(void **state)
{
	(void)state;
	assert_string_equal(grpc_code_name(GRPC_ALREADY_EXISTS), "ALREADY_EXISTS");
	assert_string_equal(grpc_code_name(GRPC_FAILED_PRECONDITION), "FAILED_PRECONDITION");
	assert_string_equal(grpc_code_name(GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(grpc_code_name(99), "UNKNOWN");
	assert_string_equal(grpc_code_name(-1), "UNKNOWN");
}

static void test_bootstrap_request(void **state)
{
	struct buf b = { 0 };

	(void)state;
	talosapi_encode_bootstrap_request(false, false, &b);
	assert_int_equal(b.len, 0); /* proto3 defaults are not written */
	buf_free(&b);
	talosapi_encode_bootstrap_request(true, true, &b);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "\x08\x01\x10\x01", 4);
	buf_free(&b);
}

/* storage.proto BlockDeviceWipeRequest { repeated BlockDeviceWipeDescriptor
 * devices = 1 } with { device = 1; method = 2; skip_volume_check = 3;
 * drop_partition = 4 } */
static void test_wipe_request(void **state)
{
	struct talosapi_wipe scrub = { "sda5", TALOSAPI_WIPE_ZEROES, true, true };
	struct talosapi_wipe fast = { "sda5", TALOSAPI_WIPE_FAST, false, false };
	struct talosapi_wipe devpath = { "/dev/sda5", TALOSAPI_WIPE_ZEROES, true, true };
	struct buf b = { 0 };

	(void)state;
	talosapi_encode_wipe_request(&scrub, &b);
	assert_int_equal(b.len, 14);
	assert_memory_equal(b.data, "\x0a\x0c\x0a\x04sda5\x10\x01\x18\x01\x20\x01", 14);
	buf_free(&b);
	talosapi_encode_wipe_request(&fast, &b);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "\x0a\x06\x0a\x04sda5", 8);
	buf_free(&b);
	/* Talos takes the kernel name: a /dev/ path is sent without the prefix */
	talosapi_encode_wipe_request(&devpath, &b);
	assert_int_equal(b.len, 14);
	assert_memory_equal(b.data, "\x0a\x0c\x0a\x04sda5\x10\x01\x18\x01\x20\x01", 14);
	buf_free(&b);
}

static void test_decode_data(void **state)
{
	/* Data { metadata { hostname "cp1" } bytes "hello" } */
	static const char ok[] = "\x0a\x05\x0a\x03"
				 "cp1"
				 "\x12\x05"
				 "hello";
	/* Data { metadata { hostname "cp1" error "boom" } } */
	static const char err[] = "\x0a\x0b\x0a\x03"
				  "cp1"
				  "\x12\x04"
				  "boom";
	/* Data { metadata { status { code 5 message "gone" } } } */
	static const char st[] = "\x0a\x0a\x1a\x08\x08\x05\x12\x04"
				 "gone";
	static const char trunc[] = "\x12\x09"
				    "hel";
	struct buf out = { 0 };
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(talosapi_decode_data(ok, sizeof(ok) - 1, &out, &e), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "hello", 5);
	assert_int_equal(talosapi_decode_data(err, sizeof(err) - 1, &out, &e), -EREMOTEIO);
	assert_string_equal(e.msg, "node cp1 reported: boom");
	assert_int_equal(talosapi_decode_data(st, sizeof(st) - 1, &out, &e), -EREMOTEIO);
	assert_string_equal(e.msg, "node reported NOT_FOUND: gone");
	assert_int_equal(talosapi_decode_data(trunc, sizeof(trunc) - 1, &out, &e), -EPROTO);
	assert_string_equal(e.msg, "malformed common.Data message (5 bytes)");
	buf_free(&out);
}

static void make_tgz(struct buf *out, const char *name, const char *body)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ent = archive_entry_new();
	size_t used = 0;

	out->data = xmalloc(65536);
	out->cap = 65536;
	archive_write_add_filter_gzip(a);
	archive_write_set_format_pax_restricted(a);
	archive_write_open_memory(a, out->data, out->cap, &used);
	archive_entry_set_pathname(ent, name);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0600);
	archive_entry_set_size(ent, (la_int64_t)strlen(body));
	archive_write_header(a, ent);
	archive_write_data(a, body, strlen(body));
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(ent);
	out->len = used;
}

static void test_untar(void **state)
{
	struct buf tgz = { 0 }, out = { 0 };
	struct app_err e = { 0 };

	(void)state;
	make_tgz(&tgz, "kubeconfig", "apiVersion: v1\nkind: Config\n");
	assert_int_equal(talosapi_untar_single(tgz.data, tgz.len, "kubeconfig", 1 << 20, &out, &e), 0);
	assert_string_equal(out.data, "apiVersion: v1\nkind: Config\n");
	buf_free(&out);
	assert_int_equal(talosapi_untar_single(tgz.data, tgz.len, "other", 1 << 20, &out, &e), -ENOENT);
	assert_string_equal(e.msg, "the archive holds no file 'other'");
	assert_int_equal(talosapi_untar_single(tgz.data, tgz.len, "kubeconfig", 10, &out, &e), -EMSGSIZE);
	assert_string_equal(e.msg, "archive member 'kubeconfig' is 28 bytes (limit 10)");
	buf_free(&out);
	assert_int_equal(talosapi_untar_single("garbage!", 8, "kubeconfig", 10, &out, &e), -EINVAL);
	buf_free(&tgz);
	buf_free(&out);
}

static void test_talosconfig(void **state)
{
	/* base64 of "-----BEGIN CERTIFICATE-----\nX\n" etc. */
	static const char good[] = "context: site\n"
				   "contexts:\n"
				   "  site:\n"
				   "    endpoints: [127.0.0.1]\n"
				   "    ca: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClgK\n"
				   "    crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClkK\n"
				   "    key: "
				   "LS0tLS1CRUdJTiBFRDI1NTE5IFBSSVZBVEUgS0VZLS0tLS0KWgotLS0tLUVORCBFRDI1NTE5I"
				   "FBSSVZBVEUgS0VZLS0tLS0K\n";
	static const char nokey[] = "context: a\ncontexts:\n  a:\n    ca: eA==\n    crt: eA==\n";
	static const char notpem[] =
	    "context: a\ncontexts:\n  a:\n    ca: eA==\n    crt: eA==\n    key: eA==\n";
	struct talos_creds c;
	struct app_err e = { 0 };

	(void)state;
	assert_int_equal(talos_creds_parse_talosconfig(good, sizeof(good) - 1, "tc", NULL, &c, &e), 0);
	assert_string_equal(c.ca, "-----BEGIN CERTIFICATE-----\nX\n");
	assert_string_equal(c.crt, "-----BEGIN CERTIFICATE-----\nY\n");
	/* Talos' Ed25519 label becomes the PKCS#8 one OpenSSL reads */
	assert_string_equal(c.key, "-----BEGIN PRIVATE KEY-----\nZ\n-----END PRIVATE KEY-----\n");
	assert_int_equal(c.key_len, strlen(c.key));
	talos_creds_free(&c);

	assert_int_equal(talos_creds_parse_talosconfig(good, sizeof(good) - 1, "tc", "other", &c, &e),
			 -EINVAL);
	assert_string_equal(e.msg, "tc: context 'other' is not under 'contexts'");
	assert_int_equal(talos_creds_parse_talosconfig(nokey, sizeof(nokey) - 1, "tc", NULL, &c, &e),
			 -EINVAL);
	assert_string_equal(e.msg, "tc: contexts.a.key is missing");
	assert_int_equal(talos_creds_parse_talosconfig(notpem, sizeof(notpem) - 1, "tc", NULL, &c, &e),
			 -EINVAL);
	assert_string_equal(e.msg, "tc: contexts.a.ca is not base64-encoded PEM");
	assert_int_equal(talos_creds_parse_talosconfig("a: [", 4, "tc", NULL, &c, &e), -EINVAL);
	assert_int_equal(talos_creds_parse_talosconfig("a: 1\n", 5, "tc", NULL, &c, &e), -EINVAL);
	assert_string_equal(e.msg, "tc: no 'context' set and none given: not a talosconfig");
}

static void test_parse_endpoint(void **state)
{
	static const struct {
		const char *in, *host;
		int port, rc;
	} rows[] = {
		{ "10.0.0.5", "10.0.0.5", 50000, 0 },
		{ "10.0.0.5:50001", "10.0.0.5", 50001, 0 },
		{ "cp1.local", "cp1.local", 50000, 0 },
		{ "[fd00::5]:4", "fd00::5", 4, 0 },
		{ "[fd00::5]", "fd00::5", 50000, 0 },
		{ "fd00::5", "fd00::5", 50000, 0 },
		{ "h:0", NULL, 0, -1 },
		{ "h:70000", NULL, 0, -1 },
		{ "h:x", NULL, 0, -1 },
		{ "[fd00::5", NULL, 0, -1 },
		{ "", NULL, 0, -1 },
		{ "[::1]x", NULL, 0, -1 },
		{ ":50000", NULL, 0, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *h = NULL;
		int port = 0, rc = talosapi_parse_endpoint(rows[i].in, &h, &port);

		assert_int_equal(rc, rows[i].rc);
		if (rc == 0) {
			assert_string_equal(h, rows[i].host);
			assert_int_equal(port, rows[i].port);
			free(h);
		}
	}
}

/* Random bytes never crash the protobuf and framing decoders (ASan build). */
static void test_decoders_random(void **state)
{
	unsigned int seed = 4242;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		size_t len = (size_t)rand_r(&seed) % 64;
		unsigned char *b = xmalloc(len ? len : 1);
		struct buf out = { 0 };
		struct app_err e = { 0 };
		size_t used;

		for (size_t k = 0; k < len; k++)
			b[k] = (unsigned char)(rand_r(&seed) % 4 == 0 ? 0x0a + rand_r(&seed) % 3
								      : rand_r(&seed));
		talosapi_decode_data(b, len, &out, &e);
		grpc_deframe(b, len, 16, NULL, NULL, &used, &e);
		assert_true(used <= len);
		buf_free(&out);
		free(b);
	}
}

static void test_call_closed_port(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct grpc_target t = { .host = "127.0.0.1" };
	struct grpc_status st;
	enum grpc_fail fail;
	struct app_err e = { 0 };
	char want[96];

	(void)state;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	t.port = ntohs(sa.sin_port);
	assert_int_equal(grpc_call(&t, "/x.Y/Z", "", 0, NULL, NULL, &st, &fail, &e), -ECONNREFUSED);
	assert_int_equal(fail, GRPC_FAIL_CONNECT);
	assert_int_equal(st.code, -1);
	snprintf(want, sizeof(want), "127.0.0.1:%d/x.Y/Z: cannot connect (", t.port);
	assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deframe),		  cmocka_unit_test(test_deframe_errors),
		cmocka_unit_test(test_percent_decode),	  cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_bootstrap_request), cmocka_unit_test(test_wipe_request),
		cmocka_unit_test(test_decode_data),	  cmocka_unit_test(test_untar),
		cmocka_unit_test(test_talosconfig),	  cmocka_unit_test(test_call_closed_port),
		cmocka_unit_test(test_decoders_random),	  cmocka_unit_test(test_parse_endpoint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
