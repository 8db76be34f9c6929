/*
 * Pure parts of the API client: URL building, envelope parsing, JWT claims (defaults, every
 * claim, malformed tokens, base64url padding), base64, batch splitting and settings from config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jwt.h"
#include "util.h"

static void
test_build_url(void **state)
{
	(void)state;
	char *u = api_build_url("http://h:8008", "2.5", "tasks.get_by_id");
	assert_string_equal(u, "http://h:8008/v2.5/tasks.get_by_id");
	free(u);
	u = api_build_url("http://h:8008//", NULL, "auth.login");
	assert_string_equal(u, "http://h:8008/auth.login");
	free(u);
	u = api_build_url("https://api.example.com/prefix/", "", "/workers.get_all");
	assert_string_equal(u, "https://api.example.com/prefix/workers.get_all");
	free(u);
	u = api_build_url("http://h", "v2.14", "queues.get_next_task");
	assert_string_equal(u, "http://h/v2.14/queues.get_next_task");
	free(u);
}

static void
test_envelope_success(void **state)
{
	(void)state;
	const char *body = "{\"meta\":{\"id\":\"x\",\"result_code\":200,\"result_subcode\":0,"
	                   "\"result_msg\":\"OK\"},\"data\":{\"workers\":[{\"id\":\"w\"}]}}";
	json_t *data = NULL;
	struct api_error err;
	assert_int_equal(api_parse_envelope(body, strlen(body), 200, &data, &err), 0);
	assert_non_null(data);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(data, "workers"), 0), "id")),
	                    "w");
	json_decref(data);

	/* data missing or null: an empty object, never NULL */
	const char *nodata = "{\"meta\":{\"result_code\":200},\"data\":null}";
	assert_int_equal(api_parse_envelope(nodata, strlen(nodata), 200, &data, &err), 0);
	assert_true(json_is_object(data));
	assert_int_equal(json_object_size(data), 0);
	json_decref(data);
	/* data_out may be NULL */
	assert_int_equal(api_parse_envelope(body, strlen(body), 200, NULL, &err), 0);
}

static void
test_envelope_error(void **state)
{
	(void)state;
	const char *body = "{\"meta\":{\"result_code\":400,\"result_subcode\":101,"
	                   "\"result_msg\":\"Invalid task id: id=abc\"},\"data\":{}}";
	json_t *data = (json_t *)1;
	struct api_error err;
	assert_int_equal(api_parse_envelope(body, strlen(body), 400, &data, &err), -1);
	assert_null(data);
	assert_int_equal(err.http_status, 400);
	assert_int_equal(err.code, 400);
	assert_int_equal(err.subcode, 101);
	assert_non_null(strstr(err.msg, "Invalid task id: id=abc"));
	assert_non_null(strstr(err.msg, "400/101"));

	/* the envelope's result_code decides, even under HTTP 200 */
	const char *odd = "{\"meta\":{\"result_code\":500,\"result_subcode\":0,"
	                  "\"result_msg\":\"boom\"}}";
	assert_int_equal(api_parse_envelope(odd, strlen(odd), 200, NULL, &err), -1);
	assert_int_equal(err.code, 500);
}

static void
test_envelope_not_json(void **state)
{
	(void)state;
	const char *html = "<html><body>502 Bad Gateway\r\n</body></html>";
	struct api_error err;
	json_t *data = NULL;
	assert_int_equal(api_parse_envelope(html, strlen(html), 502, &data, &err), -1);
	assert_null(data);
	assert_int_equal(err.http_status, 502);
	assert_int_equal(err.code, 502);
	assert_non_null(strstr(err.msg, "HTTP 502"));
	assert_non_null(strstr(err.msg, "<html><body>502 Bad Gateway  </body>"));

	/* only the start of a long text is kept */
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(api_parse_envelope(big, strlen(big), 500, NULL, &err), -1);
	assert_true(strlen(err.msg) < 300);

	assert_int_equal(api_parse_envelope("", 0, 204, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "empty body"));
	assert_int_equal(api_parse_envelope("[1]", 3, 200, NULL, &err), -1);
	assert_int_equal(api_parse_envelope("{\"data\":{}", 10, 200, NULL, &err), -1);
}

static void
test_envelope_missing_meta(void **state)
{
	(void)state;
	struct api_error err;
	const char *nometa = "{\"data\":{\"x\":1}}";
	assert_int_equal(api_parse_envelope(nometa, strlen(nometa), 200, NULL, &err), -1);
	assert_int_equal(err.code, 200);
	assert_non_null(strstr(err.msg, "meta.result_code"));
	const char *badcode = "{\"meta\":{\"result_code\":\"200\"},\"data\":{}}";
	assert_int_equal(api_parse_envelope(badcode, strlen(badcode), 200, NULL, &err), -1);
	/* a float code (some JSON encoders) is still a code */
	const char *realcode = "{\"meta\":{\"result_code\":200.0,\"result_subcode\":0.0}}";
	assert_int_equal(api_parse_envelope(realcode, strlen(realcode), 200, NULL, &err), 0);
	const char *hugecode = "{\"meta\":{\"result_code\":1e300}}";
	assert_int_equal(api_parse_envelope(hugecode, strlen(hugecode), 200, NULL, &err), -1);
}

static char *
b64url(const char *s)
{
	char *b = api_b64_encode(s, strlen(s));
	size_t o = 0;
	for (size_t i = 0; b[i]; i++) {
		if (b[i] == '=')
			continue;
		b[o++] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
	}
	b[o] = '\0';
	return b;
}

static char *
make_jwt(const char *claims)
{
	char *h = b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	char *c = b64url(claims);
	char *t = xasprintf("%s.%s.sig", h, c);
	free(h);
	free(c);
	return t;
}

static void
test_jwt_all_claims(void **state)
{
	(void)state;
	char *t = make_jwt("{\"identity\":{\"user\":\"u1\",\"company\":\"c1\",\"role\":\"admin\","
	                   "\"service_account_type\":2},\"exp\":1900000000,\"env\":\"test\","
	                   "\"api_version\":\"2.31\",\"server_version\":\"2.0.0\","
	                   "\"feature_set\":\"advanced\",\"tenant\":\"t9\"}");
	struct api_claims c;
	assert_int_equal(api_parse_jwt_claims(t, &c), 0);
	assert_string_equal(c.api_version, "2.31");
	assert_string_equal(c.server_version, "2.0.0");
	assert_string_equal(c.feature_set, "advanced");
	assert_string_equal(c.user, "u1");
	assert_string_equal(c.company, "c1");
	assert_string_equal(c.role, "admin");
	assert_string_equal(c.env, "test");
	assert_string_equal(c.tenant, "t9");
	assert_int_equal(c.service_account_type, 2);
	assert_true(c.exp == 1900000000);
	free(t);
}

static void
test_jwt_defaults(void **state)
{
	(void)state;
	char *t = make_jwt("{\"identity\":{\"user\":\"u1\"}}");
	struct api_claims c;
	assert_int_equal(api_parse_jwt_claims(t, &c), 0);
	assert_string_equal(c.api_version, "2.1");
	assert_string_equal(c.server_version, "1.0.0");
	assert_string_equal(c.feature_set, "basic");
	assert_string_equal(c.role, "");
	assert_true(c.exp == 0);
	free(t);

	/* env == prod → api 2.2 unless the token says otherwise */
	t = make_jwt("{\"env\":\"prod\"}");
	assert_int_equal(api_parse_jwt_claims(t, &c), 0);
	assert_string_equal(c.api_version, "2.2");
	free(t);
	t = make_jwt("{\"env\":\"prod\",\"api_version\":\"2.20\"}");
	assert_int_equal(api_parse_jwt_claims(t, &c), 0);
	assert_string_equal(c.api_version, "2.20");
	free(t);

	/* a numeric version claim is read too */
	t = make_jwt("{\"api_version\":2.31,\"exp\":1.9e9}");
	assert_int_equal(api_parse_jwt_claims(t, &c), 0);
	assert_string_equal(c.api_version, "2.31");
	assert_true(c.exp == 1900000000);
	free(t);
}

static void
test_jwt_malformed(void **state)
{
	(void)state;
	struct api_claims c;
	assert_int_equal(api_parse_jwt_claims(NULL, &c), -1);
	assert_string_equal(c.api_version, "2.1"); /* defaults even on failure */
	assert_int_equal(api_parse_jwt_claims("", &c), -1);
	assert_int_equal(api_parse_jwt_claims("no-dots-at-all", &c), -1);
	assert_int_equal(api_parse_jwt_claims("a.b.c.d", &c), -1);
	assert_int_equal(api_parse_jwt_claims("!!!.???.sig", &c), -1);
	char *h = b64url("{\"alg\":\"none\"}");
	char *notjson = b64url("not json");
	char *arr = b64url("[1,2]");
	char *t = xasprintf("%s.%s.x", h, notjson);
	assert_int_equal(api_parse_jwt_claims(t, &c), -1);
	free(t);
	t = xasprintf("%s.%s.x", h, arr);
	assert_int_equal(api_parse_jwt_claims(t, &c), -1);
	free(t);
	/* two segments (no signature) are accepted: the signature is never checked */
	char *ok = b64url("{\"api_version\":\"2.9\"}");
	t = xasprintf("%s.%s", h, ok);
	assert_int_equal(api_parse_jwt_claims(t, &c), 0);
	assert_string_equal(c.api_version, "2.9");
	free(t);
	free(h);
	free(notjson);
	free(arr);
	free(ok);
}

static void
test_jwt_padding(void **state)
{
	(void)state;
	/* payload lengths 1, 2 and 0 mod 3 → base64url with 2, 1 and no padding chars dropped;
	 * padded forms are accepted too */
	const char *claims[] = { "{\"api_version\":\"2.5\"}", "{\"api_version\":\"2.13\"}",
		                 "{\"api_version\":\"2.130\"}" };
	const char *want[] = { "2.5", "2.13", "2.130" };
	for (int i = 0; i < 3; i++) {
		char *h = b64url("{}");
		char *p = b64url(claims[i]);
		char *padded = api_b64_encode(claims[i], strlen(claims[i]));
		for (char *q = padded; *q; q++)
			*q = *q == '+' ? '-' : *q == '/' ? '_' : *q;
		struct api_claims c;
		char *t = xasprintf("%s.%s.s", h, p);
		assert_int_equal(api_parse_jwt_claims(t, &c), 0);
		assert_string_equal(c.api_version, want[i]);
		free(t);
		t = xasprintf("%s.%s.s", h, padded);
		assert_int_equal(api_parse_jwt_claims(t, &c), 0);
		assert_string_equal(c.api_version, want[i]);
		free(t);
		free(h);
		free(p);
		free(padded);
	}
}

static void
test_base64(void **state)
{
	(void)state;
	char *e = api_b64_encode("AKEY:SSECRET", 12);
	assert_string_equal(e, "QUtFWTpTU0VDUkVU");
	free(e);
	e = api_b64_encode("ab", 2);
	assert_string_equal(e, "YWI=");
	free(e);
	e = api_b64_encode("a", 1);
	assert_string_equal(e, "YQ==");
	free(e);
	e = api_b64_encode("", 0);
	assert_string_equal(e, "");
	free(e);
	size_t n;
	unsigned char *d = api_b64_decode("YWI", 3, &n);
	assert_non_null(d);
	assert_int_equal(n, 2);
	assert_memory_equal(d, "ab", 2);
	free(d);
	d = api_b64_decode("-_8", 3, &n); /* url alphabet: 0xfb 0xff */
	assert_non_null(d);
	assert_int_equal(n, 2);
	assert_int_equal(d[0], 0xfb);
	assert_int_equal(d[1], 0xff);
	free(d);
	assert_null(api_b64_decode("Y", 1, &n));       /* impossible length */
	assert_null(api_b64_decode("YW=I", 4, &n));    /* padding in the middle */
	assert_null(api_b64_decode("YWJ=", 4, &n));    /* "ab" with non-zero spare bits */
	assert_null(api_b64_decode("YR==", 4, &n));    /* non-zero trailing bits */
	assert_null(api_b64_decode("YQ===", 5, &n));   /* too much padding */
}

static void
test_batch_chunk(void **state)
{
	(void)state;
	const char *b = "aaaa\nbbbb\ncccc";
	size_t len = strlen(b);
	assert_int_equal(api_batch_chunk(b, len, 0, 100), len);
	assert_int_equal(api_batch_chunk(b, len, 0, 9), 9);   /* "aaaa\nbbbb" */
	assert_int_equal(api_batch_chunk(b, len, 0, 8), 4);   /* "aaaa" */
	assert_int_equal(api_batch_chunk(b, len, 10, 8), 4);  /* "cccc" */
	assert_int_equal(api_batch_chunk(b, len, 0, 2), 4);   /* a longer line goes alone */
}

static void
test_settings_from_config(void **state)
{
	(void)state;
	json_t *root = json_pack(
	    "{s:{s:s,s:{s:s,s:s},s:b,s:{s:s,s:b,s:i,s:{s:f,s:f,s:i}},s:{s:i,s:i}}}", "api",
	    "api_server", "http://srv:8008/", "credentials", "access_key", "AK", "secret_key", "SK",
	    "verify_certificate", 0, "http", "default_method", "post", "wait_on_maintenance_forever",
	    0, "max_req_size", 1000, "retries", "backoff_factor", 0.5, "backoff_max", 10.0,
	    "connect", 7, "auth", "token_expiration_threshold_sec", 100,
	    "request_token_expiration_sec", 3600);
	unsetenv("CLEARML_API_HOST");
	unsetenv("TRAINS_API_HOST");
	unsetenv("CLEARML_API_ACCESS_KEY");
	unsetenv("CLEARML_API_SECRET_KEY");
	unsetenv("CLEARML_AUTH_TOKEN");
	unsetenv("CLEARML_API_DEFAULT_REQ_METHOD");
	unsetenv("CLEARML_API_HOST_VERIFY_CERT");
	unsetenv("CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE");
	unsetenv("REQUESTS_CA_BUNDLE");
	unsetenv("CURL_CA_BUNDLE");
	struct api_settings s;
	api_settings_from_config(&s, root);
	assert_string_equal(s.host, "http://srv:8008");
	assert_string_equal(s.access_key, "AK");
	assert_string_equal(s.secret_key, "SK");
	assert_null(s.auth_token);
	assert_string_equal(s.default_method, "POST");
	assert_int_equal(s.verify_cert, 0);
	assert_int_equal(s.wait_on_maintenance_forever, 0);
	assert_int_equal(s.max_req_size, 1000);
	assert_true(s.backoff_factor == 0.5);
	assert_true(s.backoff_max == 10.0);
	assert_int_equal(s.token_threshold_sec, 100);
	assert_int_equal(s.request_token_expiration_sec, 3600);
	assert_int_equal(s.initial_connect_retries, 4);
	assert_non_null(s.worker_header);
	assert_true(strlen(s.worker_header) > 0);
	api_settings_free(&s);

	/* the environment wins */
	setenv("CLEARML_API_HOST", "https://other/", 1);
	setenv("CLEARML_AUTH_TOKEN", "tok", 1);
	setenv("CLEARML_API_DEFAULT_REQ_METHOD", "PUT", 1);
	setenv("CLEARML_API_HOST_VERIFY_CERT", "yes", 1);
	setenv("CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE", "9", 1);
	api_settings_from_config(&s, root);
	assert_string_equal(s.host, "https://other");
	assert_string_equal(s.auth_token, "tok");
	assert_string_equal(s.default_method, "PUT");
	assert_int_equal(s.verify_cert, 1);
	assert_int_equal(s.initial_connect_retries, 9);
	api_settings_free(&s);
	setenv("CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE", "false", 1);
	api_settings_from_config(&s, root);
	assert_int_equal(s.initial_connect_retries, 7); /* api.http.retries.connect */
	api_settings_free(&s);
	unsetenv("CLEARML_API_HOST");
	unsetenv("CLEARML_AUTH_TOKEN");
	unsetenv("CLEARML_API_DEFAULT_REQ_METHOD");
	unsetenv("CLEARML_API_HOST_VERIFY_CERT");
	unsetenv("CLEARML_AGENT_INITIAL_CONNECT_RETRY_OVERRIDE");

	/* a CA bundle path in verify_certificate keeps verification on and uses that file */
	json_t *ca = json_pack("{s:{s:s}}", "api", "verify_certificate", "/etc/private-ca.pem");
	api_settings_from_config(&s, ca);
	assert_int_equal(s.verify_cert, 1);
	assert_string_equal(s.ca_bundle, "/etc/private-ca.pem");
	api_settings_free(&s);
	json_decref(ca);

	/* defaults from an empty tree */
	json_t *empty = json_object();
	api_settings_from_config(&s, empty);
	assert_null(s.host);
	assert_string_equal(s.default_method, "GET");
	assert_int_equal(s.verify_cert, 1);
	assert_int_equal(s.wait_on_maintenance_forever, 1);
	assert_int_equal(s.max_req_size, 15728640);
	assert_int_equal(s.token_threshold_sec, 43200);
	assert_true(s.backoff_factor == 1.0);
	assert_true(s.backoff_max == 120.0);
	assert_null(s.ca_bundle);
	api_settings_free(&s);
	json_decref(empty);
	json_decref(root);
}

static void
test_reply_bounds(void **state)
{
	(void)state;
	assert_int_equal(api_reply_bound("auth.login"), 1u << 20);
	assert_int_equal(api_reply_bound("tasks.get_by_id"), 64u << 20);
	assert_int_equal(api_reply_bound("events.get_task_log"), 64u << 20);
	assert_int_equal(api_reply_bound("events.add_batch"), 4u << 20);
	assert_int_equal(api_reply_bound("tasks.ping"), 4u << 20);
	assert_int_equal(api_reply_bound("nodot"), 4u << 20);
}

int
main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_url),
		cmocka_unit_test(test_envelope_success),
		cmocka_unit_test(test_envelope_error),
		cmocka_unit_test(test_envelope_not_json),
		cmocka_unit_test(test_envelope_missing_meta),
		cmocka_unit_test(test_jwt_all_claims),
		cmocka_unit_test(test_jwt_defaults),
		cmocka_unit_test(test_jwt_malformed),
		cmocka_unit_test(test_jwt_padding),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_batch_chunk),
		cmocka_unit_test(test_settings_from_config),
		cmocka_unit_test(test_reply_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
