/* Unit tests for getall_value.c: lenient datetime parsing, value ordering across kinds, and the
 * `filters` list filter (any/all/op, null as "empty", validation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "server/getall.h"
#include "util.h"

static void
test_datetime_parse(void **state)
{
	(void)state;
	int64_t a, b;
	assert_int_equal(getall_datetime_parse("2024-01-02", &a), 0);
	assert_int_equal(getall_datetime_parse("2024-01-02T00:00:00.000000+00:00", &b), 0);
	assert_true(a == b);
	assert_int_equal(getall_datetime_parse("2024-01-02T10:11", &a), 0);
	assert_int_equal(getall_datetime_parse("2024-01-02T12:11:00+02:00", &b), 0);
	assert_true(a == b);
	assert_int_equal(getall_datetime_parse("2024-01-02T10:11:12.5Z", &a), 0);
	assert_int_equal(getall_datetime_parse("2024-01-02 10:11:12.500000", &b), 0);
	assert_true(a == b);
	assert_int_equal(getall_datetime_parse("2024-01-02T10:11:12.5", &b), 0);
	assert_true(b % 1000000 == 500000);
	assert_int_equal(getall_datetime_parse("2024-13-02", &a), -1);
	assert_int_equal(getall_datetime_parse("2024-01-02T", &a), -1);
	assert_int_equal(getall_datetime_parse("2024-01-02x", &a), -1);
	assert_int_equal(getall_datetime_parse("yesterday", &a), -1);
	assert_int_equal(getall_datetime_parse("", &a), -1);
	assert_int_equal(getall_datetime_parse(NULL, &a), -1);
}

static int
cmp_of(const char *doc, const char *query, int *cmp)
{
	json_t *d = json_loads(doc, JSON_DECODE_ANY, NULL), *q = json_loads(query, JSON_DECODE_ANY, NULL);
	int rc = getall_value_cmp(d, q, cmp);
	json_decref(d);
	json_decref(q);
	return rc;
}

static void
test_value_cmp(void **state)
{
	(void)state;
	int c;
	assert_int_equal(cmp_of("3", "10", &c), 0);
	assert_true(c < 0);
	assert_int_equal(cmp_of("3.5", "\"3.5\"", &c), 0); /* metric given as text */
	assert_int_equal(c, 0);
	/* datetimes by time, not by text: "…+00:00" vs a naive one with more digits */
	assert_int_equal(cmp_of("\"2024-01-02T10:00:00.100000+00:00\"", "\"2024-01-02T10:00:00.09\"",
	                        &c), 0);
	assert_true(c > 0);
	assert_int_equal(cmp_of("\"2024-01-02T10:00:00+00:00\"", "\"2024-01-02T12:00:00+02:00\"",
	                        &c), 0);
	assert_int_equal(c, 0);
	assert_int_equal(cmp_of("\"abc\"", "\"abd\"", &c), 0);
	assert_true(c < 0);
	assert_int_equal(cmp_of("null", "1", &c), -1);
	assert_int_equal(cmp_of("\"x\"", "1", &c), -1);
	assert_int_equal(cmp_of("[1]", "1", &c), -1);
	json_t *one = json_integer(1);
	assert_int_equal(getall_value_cmp(NULL, one, &c), -1);
	json_decref(one);
}

static int
passes(const char *filter, const char *docv)
{
	struct reply r = {0};
	json_t *f = json_loads(filter, 0, NULL), *v = json_loads(docv, JSON_DECODE_ANY, NULL);
	struct getall_list_filter *lf = getall_list_filter_new("tags", f, &r);
	assert_non_null(lf);
	int ok = getall_list_filter_pass(lf, v);
	getall_list_filter_free(lf);
	json_decref(f);
	json_decref(v);
	return ok;
}

static void
test_list_filter(void **state)
{
	(void)state;
	assert_true(passes("{\"any\": {\"include\": [\"a\", \"b\"]}}", "[\"b\"]"));
	assert_false(passes("{\"any\": {\"include\": [\"a\", \"b\"]}}", "[\"c\"]"));
	assert_true(passes("{\"any\": {\"exclude\": [\"a\", \"b\"]}}", "[\"a\"]"));
	assert_false(passes("{\"any\": {\"exclude\": [\"a\", \"b\"]}}", "[\"a\", \"b\"]"));
	assert_true(passes("{\"all\": {\"include\": [\"a\", \"b\"]}}", "[\"a\", \"b\", \"c\"]"));
	assert_false(passes("{\"all\": {\"exclude\": [\"a\", \"b\"]}}", "[\"b\"]"));
	/* any is or'ed inside: include a or exclude c */
	assert_true(passes("{\"any\": {\"include\": [\"a\"], \"exclude\": [\"c\"]}}", "[]"));
	/* parts and'ed, or with op */
	assert_false(passes("{\"any\": {\"include\": [\"a\"]}, \"all\": {\"include\": [\"b\"]}}",
	                    "[\"a\"]"));
	assert_true(passes("{\"any\": {\"include\": [\"a\"]}, \"all\": {\"include\": [\"b\"]}, "
	                   "\"op\": \"or\"}", "[\"a\"]"));
	/* null: empty / not empty; a missing list is empty, a scalar a one-element list */
	assert_true(passes("{\"any\": {\"include\": [null]}}", "null"));
	assert_false(passes("{\"all\": {\"exclude\": [null]}}", "[]"));
	assert_true(passes("{\"all\": {\"exclude\": [null]}}", "\"x\""));
	assert_false(passes("{\"all\": {\"include\": [\"x\", null]}}", "[\"x\"]"));
	assert_true(passes("{}", "[]"));

	static const char *const bad[] = {
		"[]", "{\"test\": [\"1\"]}", "{\"any\": [\"a\"]}", "{\"op\": \"xor\"}",
		"{\"any\": {\"includes\": [\"a\"]}}", "{\"any\": {\"include\": \"a\"}}",
		"{\"all\": {\"include\": [{\"a\": 1}]}}",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct reply r = {0};
		json_t *f = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_null(getall_list_filter_new("tags", f, &r));
		assert_int_equal(r.code, 400);
		assert_int_equal(r.subcode, 12);
		free(r.msg);
		json_decref(f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_datetime_parse),
		cmocka_unit_test(test_value_cmp),
		cmocka_unit_test(test_list_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
