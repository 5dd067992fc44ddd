/* yemit: quoting that survives YAML 1.1 and 1.2 readers, block layout, stable
 * order, byte-identical re-emit after a parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yaml.h>

#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "base/yemit.h"
#include "base/ytree.h"

static char *emit1(struct yval *doc)
{
	struct buf b = { 0 };
	struct app_err e = { 0 };

	assert_int_equal(y_emit(&doc, 1, &b, &e), 0);
	y_free(doc);
	return b.data;
}

/* ---- parse back with libyaml into a yval tree (for re-emit) -------------- */

struct scalar_seen {
	char *value;
	yaml_scalar_style_t style;
};

static struct yval *parse_node(yaml_parser_t *p, yaml_event_t *ev, struct scalar_seen *last);

/* A plain scalar this test reads as a number or bool (re-emitted with y_plain). */
static bool plain_is_typed(const char *s)
{
	char *end;

	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
		return true;
	if (!*s)
		return false;
	strtod(s, &end);
	return *end == '\0';
}

static struct yval *parse_next(yaml_parser_t *p, struct scalar_seen *last)
{
	yaml_event_t ev;
	struct yval *v;

	assert_true(yaml_parser_parse(p, &ev));
	v = parse_node(p, &ev, last);
	yaml_event_delete(&ev);
	return v;
}

static struct yval *parse_node(yaml_parser_t *p, yaml_event_t *ev, struct scalar_seen *last)
{
	struct yval *v;
	yaml_event_t k;

	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *s = (const char *)ev->data.scalar.value;
		if (last) {
			free(last->value);
			last->value = xstrdup(s);
			last->style = ev->data.scalar.style;
		}
		if (ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE)
			return y_block(s);
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && plain_is_typed(s))
			return y_plain(s);
		return y_str(s);
	}
	case YAML_MAPPING_START_EVENT:
		v = y_map();
		for (;;) {
			assert_true(yaml_parser_parse(p, &k));
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				return v;
			}
			assert_int_equal(k.type, YAML_SCALAR_EVENT);
			y_set(v, (const char *)k.data.scalar.value, parse_next(p, last));
			yaml_event_delete(&k);
		}
	case YAML_SEQUENCE_START_EVENT:
		v = y_seq();
		for (;;) {
			assert_true(yaml_parser_parse(p, &k));
			if (k.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&k);
				return v;
			}
			y_push(v, parse_node(p, &k, last));
			yaml_event_delete(&k);
		}
	default:
		fail_msg("unexpected event %d", ev->type);
	}
	return NULL;
}

/* All documents of a stream. */
static size_t parse_stream(const char *text, struct yval **docs, size_t max, struct scalar_seen *last)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t n = 0;

	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	for (;;) {
		assert_true(yaml_parser_parse(&p, &ev));
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			assert_true(n < max);
			docs[n++] = parse_next(&p, last);
			assert_true(yaml_parser_parse(&p, &ev));
			assert_int_equal(ev.type, YAML_DOCUMENT_END_EVENT);
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return n;
}

static void assert_reemit_identical(const char *text)
{
	struct yval *docs[16];
	size_t n = parse_stream(text, docs, 16, NULL);
	struct buf b = { 0 };
	struct app_err e = { 0 };

	assert_int_equal(y_emit(docs, n, &b, &e), 0);
	assert_string_equal(b.data, text);
	for (size_t i = 0; i < n; i++)
		y_free(docs[i]);
	buf_free(&b);
}

/* ---- quoting -------------------------------------------------------------- */

struct qcase {
	const char *in;
	const char *out; /* the emitted value after "k: " */
};

static const struct qcase qcases[] = {
	/* would be int/float/bool/null/time in YAML 1.1 or 1.2 */
	{ "0777", "\"0777\"" },
	{ "on", "\"on\"" },
	{ "On", "\"On\"" },
	{ "OFF", "\"OFF\"" },
	{ "yes", "\"yes\"" },
	{ "no", "\"no\"" },
	{ "y", "\"y\"" },
	{ "N", "\"N\"" },
	{ "true", "\"true\"" },
	{ "False", "\"False\"" },
	{ "null", "\"null\"" },
	{ "NULL", "\"NULL\"" },
	{ "~", "\"~\"" },
	{ "<<", "\"<<\"" },
	{ "=", "\"=\"" },
	{ "23:00", "\"23:00\"" },
	{ "190:20:30", "\"190:20:30\"" },
	{ "1.10", "\"1.10\"" },
	{ "0x1F", "\"0x1F\"" },
	{ "0o17", "\"0o17\"" },
	{ "0b101", "\"0b101\"" },
	{ "1_000", "\"1_000\"" },
	{ "2283", "\"2283\"" },
	{ "-12", "\"-12\"" },
	{ "+12", "\"+12\"" },
	{ "1e3", "\"1e3\"" },
	{ "6.02e+23", "\"6.02e+23\"" },
	{ ".5", "\".5\"" },
	{ ".inf", "\".inf\"" },
	{ "-.Inf", "\"-.Inf\"" },
	{ ".NaN", "\".NaN\"" },
	{ "2026-11-24", "\"2026-11-24\"" },
	{ "192.168.50.115", "\"192.168.50.115\"" },
	{ "0 0 23 * * *", "\"0 0 23 * * *\"" },
	/* Flux substitutes ${VAR} in the raw text: keep the result a string */
	{ "${VAR}", "\"${VAR}\"" },
	{ "./clusters/${CLUSTER_NAME}/apps", "\"./clusters/${CLUSTER_NAME}/apps\"" },
	{ "s3://keiretsu/${LOCATION}/immich/postgres/", "\"s3://keiretsu/${LOCATION}/immich/postgres/\"" },
	/* not plain-safe syntax */
	{ "", "\"\"" },
	{ " lead", "\" lead\"" },
	{ "trail ", "\"trail \"" },
	{ "a: b", "\"a: b\"" },
	{ "a #b", "\"a #b\"" },
	{ "key:", "\"key:\"" },
	{ "- x", "\"- x\"" },
	{ "-x", "\"-x\"" },
	{ "*alias", "\"*alias\"" },
	{ "&anchor", "\"&anchor\"" },
	{ "!tag", "\"!tag\"" },
	{ "#c", "\"#c\"" },
	{ "[a]", "\"[a]\"" },
	{ "{a}", "\"{a}\"" },
	{ "@x", "\"@x\"" },
	{ "'q'", "\"'q'\"" },
	{ "|", "\"|\"" },
	{ ">", "\">\"" },
	{ "%x", "\"%x\"" },
	{ "---", "\"---\"" },
	{ "...", "\"...\"" },
	{ "tab\there", "\"tab\\there\"" },
	{ "line1\nline2", "\"line1\\nline2\"" },
	{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
	/* plain is safe and reads back as the same string */
	{ "8Gi", "8Gi" },
	{ "2Ti", "2Ti" },
	{ "1000M", "1000M" },
	{ "25m", "25m" },
	{ "30d", "30d" },
	{ "v1.135.3", "v1.135.3" },
	{ "immich", "immich" },
	{ "yesterday", "yesterday" },
	{ "nothing", "nothing" },
	{ "https://nyc3.digitaloceanspaces.com", "https://nyc3.digitaloceanspaces.com" },
	{ "//192.168.50.115/k8s/pics", "//192.168.50.115/k8s/pics" },
	{ "ghcr.io/tensorchord/cloudnative-vectorchord:15-0.3.0",
	  "ghcr.io/tensorchord/cloudnative-vectorchord:15-0.3.0" },
	{ "a'b\"c", "a'b\"c" },
	{ "a b", "a b" },
	{ "/", "/" },
	{ "$HOME", "$HOME" },
};

static void test_quoting(void **state)
{
	for (size_t i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		const struct qcase *q = &qcases[i];
		struct yval *m = y_set(y_map(), "k", y_str(q->in));
		char *out = emit1(m), *want = xasprintf("k: %s\n", q->out);
		struct yval *docs[1];
		struct scalar_seen seen = { 0 };

		if (strcmp(out, want) != 0)
			fail_msg("y_str(\"%s\"): got [%s], want [%s]", q->in, out, want);
		/* libyaml reads back exactly the input */
		assert_int_equal(parse_stream(out, docs, 1, &seen), 1);
		assert_string_equal(seen.value, q->in);
		assert_reemit_identical(out);
		y_free(docs[0]);
		free(seen.value);
		free(out);
		free(want);
	}
}

static void test_keys_quoted_too(void **state)
{
	struct yval *m = y_map();
	char *out;

	y_set(m, "on", y_str("x"));
	y_set(m, "0777", y_int(1));
	y_set(m, "plain", y_bool(false));
	out = emit1(m);
	assert_string_equal(out, "\"on\": x\n\"0777\": 1\nplain: false\n");
	free(out);
}

static void test_layout_and_order(void **state)
{
	static const char *const items[] = { "b", "a", "on" };
	struct yval *m = y_map(), *seq = y_seq(), *d2 = y_map();
	struct yval *docs[2];
	struct buf b = { 0 };
	struct app_err e = { 0 };

	y_set(m, "zeta", y_str("first"));
	y_set(m, "alpha", y_int(-3));
	y_set(y_at(m, "spec.chart.spec"), "chart", y_str("immich"));
	y_set(y_at(m, "spec.chart.spec"), "version", y_str("0.9.0"));
	y_set(y_at(m, "spec"), "interval", y_str("30m"));
	y_set(m, "list", y_strs(items, 3));
	y_push(seq, y_set(y_set(y_map(), "name", y_str("x")), "port", y_int(2283)));
	y_push(seq, y_set(y_map(), "ratio", y_plain("0.5")));
	y_set(m, "maps", seq);
	y_set(m, "empty", y_map());
	y_set(m, "none", y_seq());
	y_set(m, "script", y_block("echo hi\nexit 0\n"));
	/* NULL values (absent optional fields) are skipped */
	y_set(m, "absent", y_str(NULL));
	y_push(seq, y_plain(NULL));
	y_set(d2, "second", y_bool(true));
	docs[0] = m;
	docs[1] = d2;
	assert_int_equal(y_emit(docs, 2, &b, &e), 0);
	assert_string_equal(b.data, "zeta: first\n"
				    "alpha: -3\n"
				    "spec:\n"
				    "  chart:\n"
				    "    spec:\n"
				    "      chart: immich\n"
				    "      version: \"0.9.0\"\n"
				    "  interval: 30m\n"
				    "list:\n"
				    "- b\n"
				    "- a\n"
				    "- \"on\"\n"
				    "maps:\n"
				    "- name: x\n"
				    "  port: 2283\n"
				    "- ratio: 0.5\n"
				    "empty: {}\n"
				    "none: []\n"
				    "script: |\n"
				    "  echo hi\n"
				    "  exit 0\n"
				    "---\n"
				    "second: true\n");
	assert_reemit_identical(b.data);
	y_free(m);
	y_free(d2);
	buf_free(&b);
}

static void test_block_chomping(void **state)
{
	struct yval *m = y_map();
	char *out;

	y_set(m, "a", y_block("no newline"));
	y_set(m, "b", y_block("two\n\n"));
	out = emit1(m);
	assert_string_equal(out, "a: |-\n  no newline\nb: |+\n  two\n\n...\n");
	{
		struct yval *docs[1];
		struct scalar_seen seen = { 0 };
		parse_stream(out, docs, 1, &seen);
		assert_string_equal(seen.value, "two\n\n");
		y_free(docs[0]);
		free(seen.value);
	}
	free(out);
}

static void test_long_lines_not_folded(void **state)
{
	char longs[600];
	struct yval *m = y_map();
	char *out, *want;

	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	for (size_t i = 50; i < sizeof(longs) - 1; i += 50)
		longs[i] = ' ';
	y_set(m, "k", y_str(longs));
	out = emit1(m);
	want = xasprintf("k: %s\n", longs);
	assert_string_equal(out, want);
	free(out);
	free(want);
}

static void test_deterministic(void **state)
{
	char *a[2];

	for (int r = 0; r < 2; r++) {
		struct yval *m = y_map();
		for (int i = 0; i < 200; i++) {
			char k[32], v[32];
			snprintf(k, sizeof(k), "key%03d", (i * 37) % 200);
			snprintf(v, sizeof(v), "%d.%d", i, i % 7);
			y_set(m, k, y_str(v));
		}
		a[r] = emit1(m);
	}
	assert_string_equal(a[0], a[1]);
	free(a[0]);
	free(a[1]);
}

/* Property: any string from a hostile alphabet survives emit -> parse, and
 * the emitted text re-emits byte-identically. Fixed seed: reproducible. */
static void test_random_roundtrip(void **state)
{
	static const char alphabet[] =
	    "0123456789.:-+_ eExXoObB#'\"${}[],&*!|>%@`~?=<\n\tyYnNtrufalsOoNnulL/\\";
	unsigned seed = 4;
	/* YEMIT_DUMP=PREFIX: also write every string as PREFIX.yaml (a sequence
	 * emitted by yemit) and PREFIX.json, for YAML 1.1/1.2 reader checks
	 * (tests/integration/render.sh) */
	const char *dump = getenv("YEMIT_DUMP");
	struct yval *all = y_seq();
	struct buf json = { 0 };

	buf_puts(&json, "[");
	for (int i = 0; i < 3000; i++) {
		char s[12];
		size_t len = (size_t)(rand_r(&seed) % (sizeof(s) - 1));
		struct yval *m = y_map();
		struct yval *docs[1];
		struct scalar_seen seen = { 0 };
		char *out;

		for (size_t j = 0; j < len; j++)
			s[j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		s[len] = '\0';
		y_set(m, "k", y_str(s));
		y_push(all, y_str(s));
		if (i)
			buf_puts(&json, ",");
		json_buf_str(&json, s);
		out = emit1(m);
		assert_int_equal(parse_stream(out, docs, 1, &seen), 1);
		if (strcmp(seen.value, s) != 0)
			fail_msg("[%s] emitted as [%s] reads back as [%s]", s, out, seen.value);
		if (seen.style == YAML_PLAIN_SCALAR_STYLE && plain_is_typed(s))
			fail_msg("[%s] emitted plain but reads as a number/bool", s);
		assert_reemit_identical(out);
		y_free(docs[0]);
		free(seen.value);
		free(out);
	}
	buf_puts(&json, "]\n");
	if (dump) {
		struct app_err e = { 0 };
		char *py = xasprintf("%s.yaml", dump), *pj = xasprintf("%s.json", dump);
		struct buf b = { 0 };

		assert_int_equal(y_emit(&all, 1, &b, &e), 0);
		assert_int_equal(write_file_atomic(py, b.data, b.len, 0644, &e), 0);
		assert_int_equal(write_file_atomic(pj, json.data, json.len, 0644, &e), 0);
		buf_free(&b);
		free(py);
		free(pj);
	}
	y_free(all);
	buf_free(&json);
}

/* A free map of the profile (chart values) re-emitted: plain scalars keep
 * their type, quoted ones stay strings, null stays null, order kept. */
static void test_from_ynode(void **state)
{
	static const char in[] = "b: true\nport: 7445\nq: \"7445\"\non: 'yes'\nn: ~\n"
				 "list: [CHOWN, \"a b\", 1.10]\nm: {x: \"${V}\"}\n";
	static const char want[] = "b: true\nport: 7445\nq: \"7445\"\n\"on\": \"yes\"\n\"n\": null\nlist:\n"
				   "- CHOWN\n- a b\n- 1.10\nm:\n  x: \"${V}\"\n";
	struct ytree *t = NULL;
	struct app_err e = { 0 };
	char *out;

	(void)state;
	assert_int_equal(ytree_parse("v.yaml", in, sizeof(in) - 1, &t, &e), 0);
	assert_null(y_from_ynode(NULL));
	out = emit1(y_from_ynode(t->root));
	assert_string_equal(out, want);
	free(out);
	ytree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_keys_quoted_too),
		cmocka_unit_test(test_layout_and_order),
		cmocka_unit_test(test_block_chomping),
		cmocka_unit_test(test_long_lines_not_folded),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_random_roundtrip),
		cmocka_unit_test(test_from_ynode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
