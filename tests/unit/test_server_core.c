/* Unit tests for the server-lite core's pure logic: path parsing, query merge, body decoding,
 * the envelope, base64/JWT/secret hashing, the status state machine, the task view, get_all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/files.h"
#include "server/front.h"
#include "server/getall.h"
#include "server/tasks.h"
#include "util.h"

static void
test_parse_path(void **state)
{
	(void)state;
	char name[64], ver[16];
	int maj, min;
	assert_int_equal(front_parse_path("/v2.5/tasks.get_by_id", name, sizeof(name), ver,
	                                  sizeof(ver), &maj, &min), 0);
	assert_string_equal(name, "tasks.get_by_id");
	assert_string_equal(ver, "2.5");
	assert_int_equal(maj, 2);
	assert_int_equal(min, 5);
	assert_int_equal(front_parse_path("tasks.get_all/", name, sizeof(name), ver, sizeof(ver),
	                                  &maj, &min), 0);
	assert_string_equal(ver, "2.31");
	assert_int_equal(min, 31);
	assert_int_equal(front_parse_path("/v999.0/debug.ping", name, sizeof(name), ver, sizeof(ver),
	                                  &maj, &min), 0);
	assert_int_equal(maj, 999);
	assert_int_equal(front_parse_path("/v2/debug.ping", name, sizeof(name), ver, sizeof(ver),
	                                  &maj, &min), -1);
	assert_int_equal(front_parse_path("/", name, sizeof(name), ver, sizeof(ver), &maj, &min), -1);
	assert_int_equal(front_parse_path("/a.b", name, sizeof(name), ver, sizeof(ver), &maj, &min),
	                 -1); /* each part needs two word characters */
	assert_int_equal(front_parse_path("/9x.ping", name, sizeof(name), ver, sizeof(ver), &maj, &min),
	                 -1);
	assert_int_equal(front_parse_path("/debug.ping/x", name, sizeof(name), ver, sizeof(ver), &maj,
	                                  &min), -1);
	assert_int_equal(front_parse_path("/v2.x/debug.ping", name, sizeof(name), ver, sizeof(ver),
	                                  &maj, &min), -1);
}

static void
test_merge_query(void **state)
{
	(void)state;
	json_t *b = json_object();
	front_merge_query(b, "a", "12");
	front_merge_query(b, "f", "1.5");
	front_merge_query(b, "t", "True");
	front_merge_query(b, "s", "1.2.3");
	front_merge_query(b, "n", "-1");
	front_merge_query(b, "x.y.z", "v");
	front_merge_query(b, "l", "1");
	front_merge_query(b, "l", "2");
	front_merge_query(b, "k[]", "only");
	assert_int_equal(front_merge_query(b, "x.y.z.w", "bad"), -1);
	assert_int_equal(front_merge_query(b, "", "bad"), -1);
	char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"a\":12,\"f\":1.5,\"k\":[\"only\"],\"l\":[1,2],\"n\":\"-1\","
	                       "\"s\":\"1.2.3\",\"t\":true,\"x\":{\"y\":{\"z\":\"v\"}}}");
	free(s);
	json_decref(b);
}

static void
test_decode_body(void **state)
{
	(void)state;
	json_t *body, *batch;
	struct reply r = {0};
	assert_int_equal(front_decode_body("tasks.get_all", NULL, "", 0, &body, &batch, &r), 0);
	assert_true(json_is_object(body) && json_object_size(body) == 0 && !batch);
	json_decref(body);
	assert_int_equal(front_decode_body("x.y", "application/json", "[1]", 3, &body, &batch, &r), -1);
	assert_int_equal(r.code, 400);
	reply_clear(&r);
	const char *lines = "{\"a\":1}\r\n\n{\"b\":2}\n";
	assert_int_equal(front_decode_body("events.add_batch", "application/json-lines; charset=utf-8",
	                                   lines, strlen(lines), &body, &batch, &r), 0);
	assert_int_equal(json_array_size(batch), 2);
	json_decref(body);
	json_decref(batch);
	const char *bad = "{\"a\":1}\n{\"b\":\n";
	assert_int_equal(front_decode_body("x.y", "application/json-lines", bad, strlen(bad), &body,
	                                   &batch, &r), -1);
	assert_non_null(strstr(r.msg, "batch item #1"));
	reply_clear(&r);
	size_t n = SRV_MAX_STRING + 16;
	char *big = xmalloc(n + 16);
	memcpy(big, "{\"s\":\"", 6);
	memset(big + 6, 'a', n);
	memcpy(big + 6 + n, "\"}", 3);
	assert_int_equal(front_decode_body("tasks.create", NULL, big, strlen(big), &body, &batch, &r), -1);
	assert_int_equal(r.subcode, 12);
	reply_clear(&r);
	assert_int_equal(front_decode_body("events.add", NULL, big, strlen(big), &body, &batch, &r), 0);
	json_decref(body);
	free(big);
}

static void
test_envelope(void **state)
{
	(void)state;
	struct reply r = {0};
	r.actual_version = "1.0";
	reply_data(&r, json_pack("{s:s}", "k", "\xc3\xa9"));
	size_t len;
	char *t = front_envelope("debug.ping", "2.5", 2, 5, "trx1", &r, &len);
	json_t *e = json_loads(t, 0, NULL);
	assert_non_null(strcasestr(t, "\\u00e9")); /* ASCII-escaped */
	assert_null(strchr(t, 0xc3));
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "meta"), "trx")), "trx1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "meta"), "result_code")), 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "data"), "k")), "\xc3\xa9");
	json_decref(e);
	free(t);
	reply_err(&r, 400, 101, "Invalid task id: id=%s", "x");
	t = front_envelope("tasks.get_by_id", "1.5", 1, 5, NULL, &r, &len);
	e = json_loads(t, 0, NULL);
	json_t *m = json_object_get(e, "meta");
	assert_true(json_is_null(json_object_get(m, "error_stack")));
	assert_true(json_is_real(json_object_get(json_object_get(m, "endpoint"), "requested_version")));
	assert_int_equal(json_object_size(json_object_get(e, "data")), 0);
	json_decref(e);
	free(t);
	reply_clear(&r);
}

static void
test_b64_and_jwt(void **state)
{
	(void)state;
	size_t n;
	unsigned char *d = b64_decode("aGVsbG8=", 8, 1, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(d, "hello", 5);
	free(d);
	assert_null(b64_decode("a$b=", 4, 1, &n));
	assert_null(b64_decode("a", 1, 1, &n));
	char *e = b64url_encode((const unsigned char *)"\xfb\xff", 2);
	assert_string_equal(e, "-_8");
	free(e);
	unsigned char key[32] = {1, 2, 3};
	json_t *claims = json_pack("{s:{s:s,s:s},s:I}", "identity", "user", "u1", "company", "c1",
	                           "exp", (json_int_t)2000000000);
	char *tok = jwt_sign(key, sizeof(key), claims);
	json_t *got = NULL;
	assert_int_equal(jwt_verify(key, sizeof(key), tok, 1000, &got), 0);
	struct identity who;
	assert_int_equal(identity_from_claims(got, &who), 0);
	assert_string_equal(who.user, "u1");
	json_decref(got);
	assert_int_equal(jwt_verify(key, sizeof(key), tok, 2000000001, &got), -1); /* expired */
	unsigned char other[32] = {9};
	assert_int_equal(jwt_verify(other, sizeof(other), tok, 1000, &got), -1);  /* forged */
	tok[strlen(tok) - 2] ^= 1;
	assert_int_equal(jwt_verify(key, sizeof(key), tok, 1000, &got), -1);
	free(tok);
	json_decref(claims);
}

static void
test_secret_hash(void **state)
{
	(void)state;
	char *h = secret_hash("s3cret");
	assert_true(str_starts_with(h, "pbkdf2_sha256$"));
	assert_null(strstr(h, "s3cret"));
	assert_int_equal(secret_verify("s3cret", h), 1);
	assert_int_equal(secret_verify("s3creT", h), 0);
	assert_int_equal(secret_verify("s3cret", "plain"), 0);
	char *h2 = secret_hash("s3cret");
	assert_string_not_equal(h, h2); /* salted */
	free(h);
	free(h2);
	char k[AUTH_ACCESS_KEY_LEN + 1], s[80];
	gen_access_key(k);
	gen_secret_key(s);
	assert_int_equal(strlen(k), 30);
	assert_int_equal(strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), 30);
	assert_int_equal(strlen(s), 67);
}

static void
test_state_machine(void **state)
{
	(void)state;
	assert_true(task_status_allowed("created", "queued"));
	assert_true(task_status_allowed("created", "created"));
	assert_false(task_status_allowed("created", "stopped"));
	assert_true(task_status_allowed("stopped", "publishing"));
	assert_false(task_status_allowed("published", "created"));
	assert_true(task_status_allowed("completed", "in_progress"));
	assert_false(task_status_allowed("failed", "completed"));
	assert_false(task_status_allowed("bogus", "created"));
	assert_true(task_type_valid("qc"));
	assert_false(task_type_valid("report"));
	assert_true(task_status_valid("unknown"));
}

static void
test_task_view(void **state)
{
	(void)state;
	json_t *t = json_pack("{s:s,s:[s,s],s:{s:s,s:s},s:{},s:{s:{s:{s:s,s:s,s:s}}}}", "id", "x",
	                      "tags", "b", "a", "container", "image", "img", "arguments", "-e A=1",
	                      "execution", "hyperparams", "Args", "lr", "name", "lr", "value", "0.1",
	                      "type", "legacy");
	json_t *v = task_view(t, 2, 5);
	json_t *exec = json_object_get(v, "execution");
	assert_string_equal(json_string_value(json_object_get(exec, "docker_cmd")), "img -e A=1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(exec, "parameters"), "lr")),
	                    "0.1");
	assert_string_equal(json_string_value(json_array_get(json_object_get(v, "tags"), 0)), "a");
	json_decref(v);
	v = task_view(t, 2, 23);
	assert_null(json_object_get(json_object_get(v, "execution"), "docker_cmd"));
	json_decref(v);
	json_decref(t);
	json_t *c = task_container_from_docker_cmd("  ubuntu:22.04   -v /a:/b --rm ");
	assert_string_equal(json_string_value(json_object_get(c, "image")), "ubuntu:22.04");
	assert_string_equal(json_string_value(json_object_get(c, "arguments")), "-v /a:/b --rm ");
	json_decref(c);
}

static const char *const pat[] = {"name", NULL};
static const char *const lst[] = {"id", "tags", "status", "hyperparams.*", NULL};
static const char *const hid[] = {"secret", NULL};
static const struct getall_spec spec = {
	.pattern_fields = pat, .list_fields = lst, .hidden_by_default = hid, .hidden_tag = 1,
	.hidden_system_tag = "hidden",
};

static json_t *
run(const json_t *docs, const char *body_json, struct reply *r)
{
	json_t *body = json_loads(body_json, 0, NULL);
	json_t *out = NULL;
	int rc = getall_query(docs, body, &spec, r, &out, NULL);
	json_decref(body);
	return rc == 0 ? out : NULL;
}

static char *
ids_of(json_t *arr)
{
	struct buf b;
	buf_init(&b, 4096);
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		buf_puts(&b, json_string_value(json_object_get(e, "id")));
		buf_puts(&b, ",");
	}
	json_decref(arr);
	char *s = buf_steal(&b);
	return s ? s : xstrdup("");
}

static void
test_getall(void **state)
{
	(void)state;
	json_t *docs = json_loads(
		"[{\"id\":\"1\",\"name\":\"alpha one\",\"tags\":[\"x\",\"y\"],\"status\":\"created\",\"secret\":1,"
		"  \"hyperparams\":{\"Args\":{\"lr\":{\"value\":\"0.1\"}}}},"
		" {\"id\":\"2\",\"name\":\"alpha two\",\"tags\":[\"y\"],\"status\":\"queued\"},"
		" {\"id\":\"3\",\"name\":\"beta\",\"tags\":[],\"status\":\"queued\",\"system_tags\":[\"hidden\"]},"
		" {\"id\":\"4\",\"name\":\"gamma\",\"status\":\"failed\"}]", 0, NULL);
	struct reply r = {0};
	char *s;
#define CHECK(body, want) do { s = ids_of(run(docs, body, &r)); assert_string_equal(s, want); free(s); } while (0)
	CHECK("{}", "1,2,4,");
	CHECK("{\"search_hidden\":true}", "1,2,3,4,");
	CHECK("{\"id\":[\"3\"]}", "3,");
	CHECK("{\"name\":\"^alpha\"}", "1,2,");
	CHECK("{\"name\":\"^alpha\\\\ one$\"}", "1,");
	CHECK("{\"name\":\"(?i)GAMMA\"}", "4,");
	CHECK("{\"name\":\"\\\\w+ t\\\\w+\"}", "2,");
	CHECK("{\"tags\":[\"-x\"]}", "2,4,");
	CHECK("{\"tags\":[\"__$all\",\"x\",\"y\"]}", "1,");
	CHECK("{\"tags\":[null]}", "4,");
	CHECK("{\"status\":\"queued\"}", "2,");
	CHECK("{\"status\":[\"queued\",\"failed\"],\"order_by\":[\"-name\"]}", "4,2,");
	CHECK("{\"hyperparams.Args.lr\":[\"0.1\"]}", "1,");
	CHECK("{\"order_by\":[\"-name\"],\"page\":1,\"page_size\":2}", "1,");
	CHECK("{\"order_by\":\"name\",\"page_size\":2}", "1,2,");
#undef CHECK
	assert_null(run(docs, "{\"name\":\"(bad\"}", &r));
	assert_int_equal(r.code, 400);
	reply_clear(&r);
	assert_null(run(docs, "{\"page_size\":501}", &r));
	assert_int_equal(r.subcode, 12);
	reply_clear(&r);
	/* projection: hidden-by-default field dropped unless named; id always kept */
	json_t *out = run(docs, "{\"id\":[\"1\"]}", &r);
	assert_null(json_object_get(json_array_get(out, 0), "secret"));
	json_decref(out);
	out = run(docs, "{\"id\":[\"1\"],\"only_fields\":[\"secret\",\"hyperparams.Args.lr.value\"]}", &r);
	s = json_dumps(json_array_get(out, 0), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"hyperparams\":{\"Args\":{\"lr\":{\"value\":\"0.1\"}}},\"id\":\"1\",\"secret\":1}");
	free(s);
	json_decref(out);
	json_decref(docs);
	assert_int_equal(getall_regex_match("[a-", "x"), -1);
	assert_int_equal(getall_regex_match("a.*?b", "axxb"), 1);
	assert_int_equal(getall_regex_match("^\\d+$", "123"), 1);
	assert_int_equal(getall_regex_match("(?=x)", "x"), -1);
	/* patterns that would make glibc's compiler blow up are refused, not run */
	assert_int_equal(getall_regex_match("x+++++++++++++++++++++++++++++++", "x"), -1);
	assert_int_equal(getall_regex_match("((a{100}){100}){100}", "a"), -1);
	assert_int_equal(getall_regex_match("a{1000}", "a"), -1);
	assert_int_equal(getall_regex_match("((((((((a+)+)+)+)+)+)+)+)+", "a"), -1);
	assert_int_equal(getall_regex_match("a{2,3}b+?c*+", "aabc"), 1);
	assert_int_equal(getall_regex_match("^ab{2}$", "abb"), 1);
}

/* The files server's path rule: no way out of the root, nothing ambiguous. */
static void
test_files_path_check(void **state)
{
	(void)state;
	static const char *const ok[] = {"a.txt", "p/t.1/artifacts/x/y.npz", "/lead/slash.bin",
	                                  "My Project/exp/metrics/img 1.png", "..a/b..", "a/.hidden"};
	static const char *const bad[] = {"", "/", "..", "../x", "a/../b", "a/./b", "a//b", "a/b/",
	                                  "a\\b", "a/\x01b", "./a"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(files_path_check(ok[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(files_path_check(bad[i]), -1);
	char deep[600] = "";
	for (int i = 0; i < 70; i++)
		strncat(deep, "d/", sizeof(deep) - strlen(deep) - 1);
	strncat(deep, "f", sizeof(deep) - strlen(deep) - 1);
	assert_int_equal(files_path_check(deep), -1); /* deeper than 64 levels */
	char seg[300];
	memset(seg, 'x', 256);
	seg[256] = '\0';
	assert_int_equal(files_path_check(seg), -1); /* a segment above 255 bytes */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),   cmocka_unit_test(test_merge_query),
		cmocka_unit_test(test_decode_body),  cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_b64_and_jwt),  cmocka_unit_test(test_secret_hash),
		cmocka_unit_test(test_state_machine), cmocka_unit_test(test_task_view),
		cmocka_unit_test(test_getall),       cmocka_unit_test(test_files_path_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
