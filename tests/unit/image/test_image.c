/* image.c through its public API on regular files: raw round trip onto a
 * garbage-filled target (odd size, zero runs), journal re-run, growable target,
 * too small, wrong hash, empty source, inspect; pins file lookup/record rows;
 * Image Factory naming. Each failure row asserts its exact message. */
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
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "image/image.h"
#include "profile/model.h"
#include "base/util.h"

#include "testutil.h"

TEST_TMPDIR("test_image")

static char *path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* Deterministic bytes: runs of data and zeros, size not a multiple of 512. */
static size_t make_image(const char *p, size_t size)
{
	unsigned char *b = xcalloc(1, size);
	uint32_t x = 12345;
	for (size_t i = 0; i < size; i++) {
		size_t mb = i >> 20;
		if (mb % 3 == 1)
			continue; /* every third MiB stays zero */
		if ((i & 8191) < 512 && (i >> 13) % 5 == 0)
			continue; /* short zero runs inside data */
		x = x * 1103515245u + 12345u;
		b[i] = (unsigned char)(x >> 16);
	}
	assert_int_equal(write_file_atomic(p, b, size, 0644, NULL), 0);
	free(b);
	return size;
}

static void fill_garbage(const char *p, size_t size)
{
	unsigned char *b = xmalloc(size);
	for (size_t i = 0; i < size; i++)
		b[i] = (unsigned char)(i * 7 + 3) | 1;
	assert_int_equal(write_file_atomic(p, b, size, 0644, NULL), 0);
	free(b);
}

static bool same_prefix(const char *a, const char *b, size_t n)
{
	struct buf x = { 0 }, y = { 0 };
	bool r;
	assert_int_equal(read_file(a, 64u << 20, &x, NULL), 0);
	assert_int_equal(read_file(b, 64u << 20, &y, NULL), 0);
	r = x.len >= n && y.len >= n && memcmp(x.data, y.data, n) == 0;
	buf_free(&x);
	buf_free(&y);
	return r;
}

static void test_roundtrip_and_rerun(void **state)
{
	char *img = path("a.raw"), *tgt = path("a.tgt"), *jr = path("a.journal");
	size_t n = make_image(img, (9u << 20) + 1000);
	struct image_write_opts o = {
		.source = img,
		.target = { .path = tgt, .role = DISK_ROLE_ANY },
		.journal = jr,
		.keep_backup_gpt = true,
	};
	struct image_result res;
	struct app_err e = { 0 };
	(void)state;

	fill_garbage(tgt, 12u << 20);
	assert_int_equal(image_write(&o, NULL, NULL, &res, &e), 0);
	assert_true(same_prefix(img, tgt, n));
	assert_int_equal(res.image_size, n);
	assert_string_equal(res.format, "none");
	assert_int_equal(res.written + res.zeroed, n);
	assert_true(res.zeroed >= (3u << 20)); /* the zero MiBs were not written as data */
	assert_int_equal(res.verified, n);
	assert_int_equal(res.skipped, 0);

	/* again: everything is on the disk already */
	assert_int_equal(image_write(&o, NULL, NULL, &res, &e), 0);
	assert_int_equal(res.written, 0);
	assert_int_equal(res.skipped, n);
	assert_true(same_prefix(img, tgt, n));
	free(img);
	free(tgt);
	free(jr);
}

static void test_grow_empty_file(void **state)
{
	char *img = path("b.raw"), *tgt = path("b.tgt");
	size_t n = make_image(img, (5u << 20) + 3);
	struct image_write_opts o = { .source = img,
				      .target = { .path = tgt, .role = DISK_ROLE_ANY },
				      .no_journal = true };
	struct image_result res;
	struct stat st;
	(void)state;

	assert_int_equal(write_file_atomic(tgt, "", 0, 0644, NULL), 0);
	assert_int_equal(image_write(&o, NULL, NULL, &res, NULL), 0);
	assert_int_equal(stat(tgt, &st), 0);
	assert_int_equal((size_t)st.st_size, n);
	assert_true(same_prefix(img, tgt, n));
	free(img);
	free(tgt);
}

static void test_too_small(void **state)
{
	char *img = path("c.raw"), *tgt = path("c.tgt");
	struct image_write_opts o = { .source = img,
				      .target = { .path = tgt, .role = DISK_ROLE_ANY },
				      .no_journal = true };
	struct app_err e = { 0 };
	char want[512];
	(void)state;

	make_image(img, 6u << 20);
	fill_garbage(tgt, 3u << 20);
	assert_int_equal(image_write(&o, NULL, NULL, NULL, &e), -ENOSPC);
	snprintf(want, sizeof(want), "disk '%s' is too small: image '%s' is larger than its %u bytes", tgt,
		 img, 3u << 20);
	assert_string_equal(e.msg, want);
	free(img);
	free(tgt);
}

/* A local source with a wrong pin is refused before the first byte is written:
 * the target's bytes are exactly what they were. */
static void test_wrong_sha(void **state)
{
	char *img = path("d.raw"), *tgt = path("d.tgt");
	char zero[65], have[65], before[65], after[65], want[600];
	struct image_write_opts o = { .source = img,
				      .target = { .path = tgt, .role = DISK_ROLE_ANY },
				      .no_journal = true,
				      .sha256 = zero };
	struct app_err e = { 0 };
	(void)state;

	memset(zero, '0', 64);
	zero[64] = '\0';
	make_image(img, 3u << 20);
	fill_garbage(tgt, 4u << 20);
	assert_int_equal(image_file_sha256(img, have, NULL), 0);
	assert_int_equal(image_file_sha256(tgt, before, NULL), 0);
	assert_int_equal(image_write(&o, NULL, NULL, NULL, &e), -EBADMSG);
	snprintf(want, sizeof(want), "sha256 of '%s' is %s, expected %s; nothing was written to '%s'", img,
		 have, zero, tgt);
	assert_string_equal(e.msg, want);
	assert_int_equal(image_file_sha256(tgt, after, NULL), 0);
	assert_string_equal(after, before);

	o.sha256 = have; /* the right one */
	assert_int_equal(image_write(&o, NULL, NULL, NULL, &e), 0);
	assert_true(same_prefix(img, tgt, 3u << 20));
	free(img);
	free(tgt);
}

static void test_empty_and_missing_source(void **state)
{
	char *img = path("e.raw"), *tgt = path("e.tgt"), *none = path("none.raw");
	struct image_write_opts o = { .source = img,
				      .target = { .path = tgt, .role = DISK_ROLE_ANY },
				      .no_journal = true };
	struct app_err e = { 0 };
	char want[512];
	(void)state;

	assert_int_equal(write_file_atomic(img, "", 0, 0644, NULL), 0);
	fill_garbage(tgt, 1u << 20);
	assert_true(image_write(&o, NULL, NULL, NULL, &e) < 0);
	assert_non_null(strstr(e.msg, img));

	o.source = none;
	assert_int_equal(image_write(&o, NULL, NULL, NULL, &e), -ENOENT);
	snprintf(want, sizeof(want), "cannot open image '%s': No such file or directory", none);
	assert_string_equal(e.msg, want);
	free(img);
	free(tgt);
	free(none);
}

static void test_inspect_raw(void **state)
{
	char *img = path("f.raw");
	struct image_info ii;
	(void)state;

	make_image(img, 2u << 20);
	assert_int_equal(image_inspect(img, NULL, &ii, NULL), 0);
	assert_string_equal(ii.format, "none");
	assert_false(ii.gpt);
	assert_int_equal(ii.source_size, 2u << 20);
	free(img);
}

static void test_pins(void **state)
{
	char *pins = path("pins.yaml"), *bad = path("bad.yaml");
	const char *k = "abc/v1.10.5/metal-amd64.raw.zst";
	char h1[65], h2[65], got[65], want[512];
	struct app_err e = { 0 };
	(void)state;

	memset(h1, 'a', 64);
	h1[64] = '\0';
	memset(h2, 'b', 64);
	h2[64] = '\0';
	assert_int_equal(image_pin_lookup(pins, k, got, &e), 0); /* no file: nothing pinned */
	assert_int_equal(image_pin_record(pins, k, h1, &e), 0);
	assert_int_equal(image_pin_lookup(pins, k, got, &e), 1);
	assert_string_equal(got, h1);
	assert_int_equal(image_pin_lookup(pins, "other/v1/x", got, &e), 0);
	assert_int_equal(image_pin_record(pins, k, h1, &e), 0); /* same again: fine */
	assert_int_equal(image_pin_record(pins, k, h2, &e), -EEXIST);
	snprintf(want, sizeof(want), "%s: '%s' is already pinned to %s; refusing to record %s", pins, k, h1,
		 h2);
	assert_string_equal(e.msg, want);

	assert_int_equal(write_file_atomic(bad, "pins:\n  \"x\": 1234\n", 18, 0644, NULL), 0);
	assert_int_equal(image_pin_lookup(bad, "x", got, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s: pin 'x' is not a lower-case sha256 hex digest", bad);
	assert_string_equal(e.msg, want);
	assert_int_equal(write_file_atomic(bad, "images:\n", 8, 0644, NULL), 0);
	assert_int_equal(image_pin_lookup(bad, "x", got, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s: unexpected line (expected 'pins:' then '  \"KEY\": SHA256')", bad);
	assert_string_equal(e.msg, want);
	free(pins);
	free(bad);
}

static void test_naming(void **state)
{
	struct model m = { 0 };
	char *s;
	(void)state;

	m.talos.version = "v1.10.5";
	m.talos.image.factory = "https://factory.talos.dev";
	m.talos.image.platform = "metal";
	m.talos.image.arch = "amd64";
	m.talos.image.format = "raw.zst";
	s = image_pin_key(&m, "abcd");
	assert_string_equal(s, "abcd/v1.10.5/metal-amd64.raw.zst");
	free(s);
	s = image_url(&m, "abcd");
	assert_string_equal(s, "https://factory.talos.dev/image/abcd/v1.10.5/metal-amd64.raw.zst");
	free(s);
	m.talos.image.mirror = "http://127.0.0.1:8080//";
	s = image_url(&m, "abcd");
	assert_string_equal(s, "http://127.0.0.1:8080/image/abcd/v1.10.5/metal-amd64.raw.zst");
	free(s);
	s = image_cache_name(&m, "abcd");
	assert_string_equal(s, "abcd-v1.10.5-metal-amd64.raw.zst");
	free(s);
	s = image_default_journal("/srv/state", "/tmp/x.img");
	assert_string_equal(s, "/tmp/x.img.image-journal");
	free(s);
	/* a block device's journal goes to the state folder (a node made here,
	 * never opened: stat only) */
	{
		char *blk = xasprintf("%s/blk0", dir);
		assert_int_equal(mknod(blk, S_IFBLK | 0600, makedev(7, 0)), 0);
		s = image_default_journal("/srv/state", blk);
		assert_string_equal(s, "/srv/state/image-blk0.journal");
		free(s);
		s = image_default_journal(NULL, blk);
		assert_string_equal(s, "/var/lib/appliance/image-blk0.journal");
		free(s);
		unlink(blk);
		free(blk);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_rerun),
		cmocka_unit_test(test_grow_empty_file),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_wrong_sha),
		cmocka_unit_test(test_empty_and_missing_source),
		cmocka_unit_test(test_inspect_raw),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_naming),
	};
	return cmocka_run_group_tests(tests, test_tmpdir_setup, test_tmpdir_teardown);
}
