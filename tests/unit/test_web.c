/* Unit tests for the pure parts of the web app's server side: which paths under /ui/ may be
 * served, their content types, the session cookie's attributes, and the statistics buckets
 * (histogram keys as Elasticsearch's extended bounds make them, resolution choice). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "server/web.h"
#include "server/worker_stats.h"
#include "util.h"

static void
test_safe_path(void **state)
{
	(void)state;
	assert_int_equal(web_safe_path("index.html"), 0);
	assert_int_equal(web_safe_path("js/main.js"), 0);
	assert_int_equal(web_safe_path("vendor/dygraph.min.js"), 0);
	const char *bad[] = {"", "/etc/passwd", "../x.js", "js/../../x.js", "js/./a.js", "js//a.js",
	                     ".hidden.js", "js/.git/config", "a b.js", "a%2e.js", "js\\a.js",
	                     "x.js/", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(web_safe_path(bad[i]), -1);
	char longp[260];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(web_safe_path(longp), -1);
}

static void
test_mime_and_app_paths(void **state)
{
	(void)state;
	assert_string_equal(web_mime_type("js/main.js"), "text/javascript; charset=utf-8");
	assert_string_equal(web_mime_type("app.css"), "text/css; charset=utf-8");
	assert_string_equal(web_mime_type("index.html"), "text/html; charset=utf-8");
	assert_null(web_mime_type("x.exe"));
	assert_null(web_mime_type("projects/abc"));
	assert_null(web_mime_type("v1.2/abc"));
	assert_int_equal(web_is_app_path("/ui", NULL), 1);
	assert_int_equal(web_is_app_path("/ui/", NULL), 1);
	assert_int_equal(web_is_app_path("/ui/tasks/x", NULL), 1);
	assert_int_equal(web_is_app_path("/uix", NULL), 0);
	assert_int_equal(web_is_app_path("/tasks.get_all", "text/html"), 0);
	assert_int_equal(web_is_app_path("/", "*/*"), 0);
	assert_int_equal(web_is_app_path("/", "text/html,application/xhtml+xml"), 1);
}

static void
test_cookie(void **state)
{
	(void)state;
	char *c = session_cookie_header("tok", 60, 1);
	assert_string_equal(c, SESSION_COOKIE "=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure");
	free(c);
	c = session_cookie_header(NULL, 60, 0);
	assert_string_equal(c, SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
	free(c);
}

static void
test_buckets(void **state)
{
	(void)state;
	int64_t k[32];
	/* 400 s at 40 s from a multiple of 40: keys start..start+400 (11, the last cut later) */
	size_t n = worker_stats_buckets(1000, 1400, 40, k, 32);
	assert_int_equal(n, 11);
	assert_int_equal(k[0], 1000000);
	assert_int_equal(k[10], 1400000);
	n = worker_stats_buckets(1010, 1410, 40, k, 32);
	assert_int_equal(n, 11);
	assert_int_equal(k[0], 1000000);
	assert_int_equal(worker_stats_buckets(5, 5, 40, k, 32), 0);
	assert_int_equal(worker_stats_buckets(0, 1e6, 1, k, 32), 32); /* bounded */
	assert_int_equal(worker_stats_tier_for(1), 0);
	assert_int_equal(worker_stats_tier_for(40), 0);
	assert_int_equal(worker_stats_tier_for(299), 0);
	assert_int_equal(worker_stats_tier_for(600), 1);
	assert_int_equal(worker_stats_tier_for(3600), 2);
	assert_int_equal(worker_stats_tier_for(86400), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safe_path),
		cmocka_unit_test(test_mime_and_app_paths),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_buckets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
