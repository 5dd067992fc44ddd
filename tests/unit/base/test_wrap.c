/* base/wrap.c: text for people. Digests show as a short prefix (only whole
 * hex runs of 40+ digits), details wrap at spaces under a hanging indent with
 * the text's own column spacing kept, and a command wraps before its options
 * with " \" so it pastes as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/wrap.h"

#define SHA "45f1370d28fdd21609ba1d8656be1806af39cbe65b71b84dd8121290a299075e"

static char *capture(void (*fn)(FILE *, const char *, const char *, int), const char *prefix,
		     const char *text, int hang)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	assert_non_null(f);
	fn(f, prefix, text, hang);
	fclose(f);
	return out;
}

static void test_short_hex(void **state)
{
	char *s;

	(void)state;
	s = wrap_short_hex("image " SHA " on /dev/sda, cache/" SHA "-v1.10.5.raw");
	assert_string_equal(s, "image 45f1370d28fd... on /dev/sda, cache/45f1370d28fd...-v1.10.5.raw");
	free(s);
	/* short runs and runs inside a longer word stay */
	s = wrap_short_hex("serial 0123456789abcdef, key x" SHA);
	assert_string_equal(s, "serial 0123456789abcdef, key x" SHA);
	free(s);
}

static void test_wrap_print(void **state)
{
	char *s;
	int longest = 0, len = 0;

	(void)state;
	unsetenv("COLUMNS");
	s = capture(wrap_print, "      ok        ",
		    "photos folder is readable (never written): smb://127.0.0.1:1445/k8s/pics: listed 2 "
		    "entries, read 64 bytes of 'IMG_0000.jpg'",
		    16);
	assert_string_equal(s,
			    "      ok        photos folder is readable (never written):\n"
			    "                smb://127.0.0.1:1445/k8s/pics: listed 2 entries, read 64 bytes\n"
			    "                of 'IMG_0000.jpg'\n");
	for (const char *p = s; *p; p++, len++)
		if (*p == '\n') {
			longest = len > longest ? len : longest;
			len = -1;
		}
	assert_true(longest < WRAP_WIDTH);
	free(s);
	/* aligned columns keep their spacing; a short line is unchanged */
	s = capture(wrap_print, "      ", "identify          node 'demo-1'", 24);
	assert_string_equal(s, "      identify          node 'demo-1'\n");
	free(s);
	/* a terminal's width when COLUMNS says it */
	setenv("COLUMNS", "200", 1);
	s = capture(wrap_print, "  ",
		    "a long detail that would wrap at eighty columns but fits in two hundred columns", 4);
	assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
	free(s);
	unsetenv("COLUMNS");
}

static void test_wrap_command(void **state)
{
	char *s;

	(void)state;
	unsetenv("COLUMNS");
	s = capture(wrap_command, "",
		    "  appliance install demo.yaml --site local.yaml --node demo-1 --hw-root machine "
		    "--state-dir state --set talos.image.pins=pins.yaml --apply",
		    6);
	assert_string_equal(s,
			    "  appliance install demo.yaml --site local.yaml --node demo-1 \\\n"
			    "      --hw-root machine --state-dir state --set talos.image.pins=pins.yaml \\\n"
			    "      --apply\n");
	free(s);
	/* a value that is one long word is never cut */
	s = capture(wrap_command, "", "appliance x --set talos.caFingerprint=" SHA, 4);
	assert_string_equal(s, "appliance x \\\n    --set talos.caFingerprint=" SHA "\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_hex),
		cmocka_unit_test(test_wrap_print),
		cmocka_unit_test(test_wrap_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
