/* Unit tests for event_samples.c, the pure navigation rules of the plots / debug images views:
 * request metrics parsing, page assembly (dedup per variant, recycled image names, variants
 * outside the state, the page range), next-image candidates and the iteration-ordered pick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "server/event_samples.h"
#include "util.h"

static void
test_task_metrics(void **state)
{
	(void)state;
	const char *why = NULL;
	json_t *req = json_loads("[{\"task\":\"t1\",\"metric\":\"m\",\"variants\":[\"a\"]},"
	                         "{\"task\":\"t2\",\"metric\":\"x\"},{\"task\":\"t2\"},"
	                         "{\"task\":\"t1\",\"metric\":\"n\",\"variants\":[]}]", 0, NULL);
	json_t *tm = samples_task_metrics(req, &why);
	assert_non_null(tm);
	assert_int_equal(json_array_size(tm), 2);
	const json_t *m1 = json_object_get(json_array_get(tm, 0), "metrics");
	assert_true(samples_wanted(m1, "m", "a"));
	assert_false(samples_wanted(m1, "m", "b"));
	assert_true(samples_wanted(m1, "n", "anything"));
	assert_false(samples_wanted(m1, "other", "a"));
	/* t2 has an entry without a metric: every metric */
	assert_true(json_is_null(json_object_get(json_array_get(tm, 1), "metrics")));
	assert_true(samples_wanted(json_null(), "z", "z"));
	json_decref(tm);
	json_decref(req);

	json_t *bad = json_loads("[{\"metric\":\"m\"}]", 0, NULL);
	assert_null(samples_task_metrics(bad, &why));
	json_decref(bad);
	bad = json_array();
	assert_null(samples_task_metrics(bad, &why));
	json_decref(bad);
}

static json_t *
ev(int it, const char *v)
{
	return json_pack("{s:i,s:s}", "iter", it, "variant", v);
}

static void
offer(struct samples_page *pg, int it, const char *m, const char *v)
{
	if (samples_page_row(pg, it, m, v) == 1)
		samples_page_take(pg, ev(it, v));
}

static void
test_page(void **state)
{
	(void)state;
	json_t *ts = json_loads("{\"task\":\"t\",\"metrics\":[{\"metric\":\"m\",\"variants\":["
	                        "{\"variant\":\"a\",\"last_invalid_iteration\":5},"
	                        "{\"variant\":\"b\"}]}]}", 0, NULL);
	int earlier = 0;
	const char *op = NULL;
	int64_t bound = 0;
	assert_int_equal(samples_page_range(ts, &earlier, &op, &bound), 0);
	assert_int_equal(earlier, 1);   /* a first page is always the newest */

	struct samples_page pg;
	samples_page_begin(&pg, ts, 100);
	offer(&pg, 7, "m", "a");
	offer(&pg, 7, "m", "a");        /* a second event of the variant: dropped */
	offer(&pg, 7, "m", "b");
	offer(&pg, 7, "m", "new");      /* not in the state */
	offer(&pg, 5, "m", "a");        /* recycled name: invalid */
	offer(&pg, 4, "m", "a");        /* an iteration with nothing valid disappears */
	json_t *its = samples_page_end(&pg, ts);
	assert_int_equal(json_array_size(its), 1);
	json_t *it0 = json_array_get(its, 0);
	assert_int_equal(json_integer_value(json_object_get(it0, "iter")), 7);
	assert_int_equal(json_array_size(json_object_get(it0, "events")), 2);
	json_decref(its);
	assert_int_equal(json_integer_value(json_object_get(ts, "last_max_iter")), 7);

	/* later pages arrive oldest first and come back newest first */
	earlier = 0;
	assert_int_equal(samples_page_range(ts, &earlier, &op, &bound), 1);
	assert_string_equal(op, ">");
	assert_int_equal(bound, 7);
	samples_page_begin(&pg, ts, 1);
	offer(&pg, 8, "m", "b");
	assert_int_equal(samples_page_row(&pg, 9, "m", "b"), -1);   /* page full */
	its = samples_page_end(&pg, ts);
	assert_int_equal(json_array_size(its), 1);
	json_decref(its);
	assert_int_equal(json_integer_value(json_object_get(ts, "last_min_iter")), 8);
	json_decref(ts);
}

static void
test_image_candidates_and_pick(void **state)
{
	(void)state;
	json_t *st = json_loads("{\"task\":\"t\",\"metric\":\"m\",\"variant\":\"b\","
	                        "\"iteration\":3,\"navigate_current_metric\":true,"
	                        "\"variant_states\":["
	                        "{\"metric\":\"m\",\"name\":\"a\",\"min_iteration\":3},"
	                        "{\"metric\":\"m\",\"name\":\"b\",\"min_iteration\":0},"
	                        "{\"metric\":\"m\",\"name\":\"c\",\"min_iteration\":4},"
	                        "{\"metric\":\"z\",\"name\":\"z\",\"min_iteration\":0}]}", 0, NULL);
	json_t *c = samples_image_candidates(st, 1, 1);   /* before b at 3: a */
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(json_string_value(json_array_get(json_array_get(c, 0), 1)), "a");
	json_decref(c);
	c = samples_image_candidates(st, 0, 1);           /* after b at 3: c starts at 4 */
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
	c = samples_image_candidates(st, 1, 0);           /* earlier iterations: b only */
	assert_int_equal(json_array_size(c), 1);
	json_decref(c);
	json_object_set_new(st, "navigate_current_metric", json_false());
	c = samples_image_candidates(st, 0, 0);           /* later, every metric */
	assert_int_equal(json_array_size(c), 4);

	struct samples_pick p;
	samples_pick_begin(&p, c, 0);
	assert_int_equal(samples_pick_row(&p, 4, "m", "c", "u1", "{\"x\":1}"), 0);
	assert_int_equal(samples_pick_row(&p, 4, "m", "a", "u2", "{\"x\":2}"), 0);
	assert_int_equal(samples_pick_row(&p, 4, "m", "a", "u3", "{\"x\":3}"), 0);
	assert_int_equal(samples_pick_row(&p, 5, "m", "a", "u4", "{\"x\":4}"), 1);
	char *doc = samples_pick_end(&p);
	assert_string_equal(doc, "{\"x\":3}");   /* first variant, greatest url */
	free(doc);

	samples_pick_begin(&p, c, 1);
	assert_int_equal(samples_pick_row(&p, 2, "m", "a", "u", "{}"), 0);   /* a starts at 3 */
	assert_int_equal(samples_pick_row(&p, 2, "q", "q", "u", "{}"), 0);   /* no candidate */
	assert_null(p.doc);
	assert_int_equal(samples_pick_row(&p, 2, "m", "b", "u", "{\"b\":1}"), 0);
	assert_int_equal(samples_pick_row(&p, 2, "z", "z", "u", "{\"z\":1}"), 0);
	doc = samples_pick_end(&p);
	assert_string_equal(doc, "{\"z\":1}");   /* earlier: the last variant of the iteration */
	free(doc);
	json_decref(c);
	json_decref(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_metrics),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_image_candidates_and_pick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
