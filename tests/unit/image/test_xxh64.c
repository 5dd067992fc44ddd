/* image/xxh64.c, the zstd frame checksum the writer computes off the decoder's
 * thread: the published empty-input value, and for lengths around every branch
 * (under a stripe, whole stripes, 8- and 4-byte tails) and a 1 MB buffer, the
 * low 32 bits equal the checksum libzstd writes at the end of a frame; any split
 * of the updates gives the one-shot digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "image/xxh64.h"

static unsigned char *random_bytes(size_t n)
{
	unsigned char *p = malloc(n);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (unsigned char)x;
	}
	return p;
}

static uint64_t one_shot(const void *p, size_t n)
{
	struct xxh64 h;

	xxh64_init(&h, 0);
	xxh64_update(&h, p, n);
	return xxh64_digest(&h);
}

/* the checksum field libzstd writes for p[0..n) */
static uint32_t zstd_sum(const void *p, size_t n)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(n), len;
	unsigned char *out = malloc(cap);
	uint32_t v;

	assert_non_null(cc);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
	len = ZSTD_compress2(cc, out, cap, p, n);
	assert_false(ZSTD_isError(len));
	v = (uint32_t)out[len - 4] | (uint32_t)out[len - 3] << 8 | (uint32_t)out[len - 2] << 16 |
	    (uint32_t)out[len - 1] << 24;
	free(out);
	ZSTD_freeCCtx(cc);
	return v;
}

static void test_empty(void **state)
{
	(void)state;
	assert_int_equal(one_shot("", 0), 0xef46db3751d8e999ull);
}

static void test_matches_zstd(void **state)
{
	size_t n = 1000003;
	unsigned char *p = random_bytes(n);

	(void)state;
	for (size_t len = 0; len <= 100; len++)
		assert_int_equal((uint32_t)one_shot(p, len), zstd_sum(p, len));
	assert_int_equal((uint32_t)one_shot(p, n), zstd_sum(p, n));
	memset(p, 0, n); /* a long run of zeros, as image tails are */
	assert_int_equal((uint32_t)one_shot(p, n), zstd_sum(p, n));
	free(p);
}

static void test_split(void **state)
{
	size_t n = 100000;
	unsigned char *p = random_bytes(n);
	uint64_t want = one_shot(p, n);
	static const size_t steps[] = { 1, 3, 7, 8, 31, 32, 33, 64, 4095, 4096 };

	(void)state;
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct xxh64 h;
		xxh64_init(&h, 0);
		for (size_t o = 0; o < n;) {
			size_t k = steps[(s + o) % (sizeof(steps) / sizeof(steps[0]))];
			if (k > n - o)
				k = n - o;
			xxh64_update(&h, p + o, k);
			o += k;
		}
		assert_int_equal(xxh64_digest(&h), want);
	}
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_matches_zstd),
		cmocka_unit_test(test_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
