/* base/util.c's byte formatters: fmt_bytes ("1.5 GiB", one decimal always) and
 * fmt_bytes_compact (no decimal for a whole number or from 100 up: the NAS's
 * capacities), one scaling loop for both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/util.h"

static const struct {
	uint64_t n;
	const char *plain, *compact;
} rows[] = {
	{ 0, "0 B", "0 B" },
	{ 1023, "1023 B", "1023 B" },
	{ 1024, "1.0 KiB", "1 KiB" },
	{ 1536, "1.5 KiB", "1.5 KiB" },
	{ 6746112, "6.4 MiB", "6.4 MiB" },
	{ 1ull << 30, "1.0 GiB", "1 GiB" },
	{ 2ull << 40, "2.0 TiB", "2 TiB" },
	{ 270553174016ull, "252.0 GiB", "252 GiB" },
	{ 123ull << 20 | 512ull << 10, "123.5 MiB", "124 MiB" },
	{ UINT64_MAX, "16.0 EiB", "16 EiB" },
};

static void test_plain(void **state)
{
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_string_equal(fmt_bytes(rows[i].n, out, sizeof(out)), rows[i].plain);
}

static void test_compact(void **state)
{
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_string_equal(fmt_bytes_compact(rows[i].n, out, sizeof(out)), rows[i].compact);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_compact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
