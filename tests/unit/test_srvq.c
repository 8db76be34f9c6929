/* Unit tests for the pure parts of the queue/worker/event stores: move arithmetic, the tag and
 * projection parts of get_all, event normalization (spec clearml-api §4, §6.1), and the queue
 * store against an in-memory SQLite database (ordering, pop, moves). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "server/event_store.h"
#include "server/queue_store.h"
#include "server/store_sql.h"
#include "util.h"

static void
test_move_index(void **state)
{
	(void)state;
	assert_int_equal(queue_move_index(3, 5, QMOVE_FORWARD, 1), 2);
	assert_int_equal(queue_move_index(3, 5, QMOVE_FORWARD, 10), 0);
	assert_int_equal(queue_move_index(1, 5, QMOVE_BACKWARD, 2), 3);
	assert_int_equal(queue_move_index(1, 5, QMOVE_BACKWARD, 99), 4);
	assert_int_equal(queue_move_index(4, 5, QMOVE_FRONT, 0), 0);
	assert_int_equal(queue_move_index(0, 5, QMOVE_BACK, 0), 4);
	assert_int_equal(queue_move_index(0, 1, QMOVE_BACK, 0), 0);
}

static void
test_tags_match(void **state)
{
	(void)state;
	json_t *have = json_pack("[s,s]", "a", "b");
	const char *inc[] = {"x", "b"}, *exc[] = {"-a"}, *mix[] = {"c", "-z"};
	assert_true(sq_tags_match(inc, 2, have));
	assert_false(sq_tags_match(exc, 1, have));
	assert_false(sq_tags_match(mix, 2, have));
	assert_true(sq_tags_match(NULL, 0, have));
	json_decref(have);
	json_t *bad = json_pack("[s]", "__$all");
	assert_int_equal(sq_tags_valid(bad), -1);
	json_decref(bad);
}

static void
test_projection(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:s,s:s,s:{s:i,s:i}}", "id", "q01", "name", "n", "a", "b", 1, "c", 2);
	json_t *only = json_pack("[s]", "a.b");
	json_t *p = sq_project(o, only);
	assert_string_equal(json_string_value(json_object_get(p, "id")), "q01");
	assert_null(json_object_get(p, "name"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "a"), "b")), 1);
	assert_null(json_object_get(json_object_get(p, "a"), "c"));
	json_decref(p);
	json_decref(only);
	only = json_pack("[s]", "-name");
	p = sq_project(o, only);
	assert_null(json_object_get(p, "name"));
	assert_non_null(json_object_get(p, "a"));
	json_decref(p);
	json_decref(only);
	json_decref(o);
}

static void
test_event_normalize(void **state)
{
	(void)state;
	char *key = NULL;
	const char *why = NULL;
	json_t *ev = json_pack("{s:s,s:s,s:s,s:I}", "type", "log", "task", "t1", "msg", "hi", "ts",
	                       (json_int_t)1234);
	assert_int_equal(event_normalize(ev, "host1", 999, &key, &why), 0);
	assert_null(key);
	assert_int_equal(json_integer_value(json_object_get(ev, "timestamp")), 1234);
	assert_null(json_object_get(ev, "ts"));
	assert_string_equal(json_string_value(json_object_get(ev, "worker")), "host1");
	assert_string_equal(json_string_value(json_object_get(ev, "metric")), "");
	assert_true(json_is_false(json_object_get(ev, "model_event")));
	json_decref(ev);

	ev = json_pack("{s:s,s:s,s:s,s:s,s:f,s:f}", "type", "training stats scalar", "task", "t1",
	               "metric", "loss", "variant", "train", "iter", 7.0, "value", 0.5);
	assert_int_equal(event_normalize(ev, NULL, 999, &key, &why), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "type")), "training_stats_scalar");
	assert_int_equal(json_integer_value(json_object_get(ev, "timestamp")), 999);
	assert_true(json_is_integer(json_object_get(ev, "iter")));
	assert_string_equal(key, "t1-7-loss-train");
	assert_null(json_object_get(ev, "worker"));
	free(key);
	json_decref(ev);

	ev = json_pack("{s:s,s:s,s:n}", "type", "log", "task", "t1", "worker");
	assert_int_equal(event_normalize(ev, "hdr", 1, &key, &why), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "worker")), "hdr");
	json_decref(ev);

	ev = json_pack("{s:s}", "task", "t1");
	assert_int_equal(event_normalize(ev, NULL, 1, &key, &why), -1);
	assert_non_null(strstr(why, "type"));
	json_decref(ev);
	ev = json_pack("{s:s,s:s}", "type", "bogus", "task", "t1");
	assert_int_equal(event_normalize(ev, NULL, 1, &key, &why), -1);
	json_decref(ev);
	ev = json_pack("{s:s}", "type", "log");
	assert_int_equal(event_normalize(ev, NULL, 1, &key, &why), -1);
	assert_non_null(strstr(why, "task"));
	json_decref(ev);
	ev = json_pack("{s:s,s:s,s:f}", "type", "plot", "task", "t", "iter", 1e30);
	assert_int_equal(event_normalize(ev, NULL, 1, &key, &why), -1);
	json_decref(ev);
}

static sqlite3 *
mem_db(void)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, svc_queues_schema, NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void
test_queue_order_and_moves(void **state)
{
	(void)state;
	sqlite3 *db = mem_db();
	struct identity who = {.user = "u", .company = "c"};
	struct reply r = {0};
	char qid[33];
	if (queue_create(db, &who, "q01", NULL, NULL, NULL, NULL, qid, &r) != 0)
		fail_msg("%s", r.msg);
	assert_int_equal(queue_create(db, &who, "q01", NULL, NULL, NULL, NULL, qid + 0, &r), -1);
	assert_int_equal(r.subcode, 801);
	free(r.msg);
	memset(&r, 0, sizeof r);
	assert_int_equal(queue_create(db, &who, "ab", NULL, NULL, NULL, NULL, qid, &r), -1);
	assert_int_equal(r.subcode, 800);
	free(r.msg);
	memset(&r, 0, sizeof r);
	assert_int_equal(queue_find_by_name(db, "c", "q01", qid), 1);

	const char *tasks[] = {"t0", "t1", "t2", "t3"};
	for (int i = 0; i < 4; i++)
		if (queue_add_task(db, qid, tasks[i], &r) != 0)
			fail_msg("%s", r.msg);
	assert_int_equal(queue_add_task(db, qid, "t2", &r), -1);
	assert_int_equal(r.subcode, 706);
	free(r.msg);
	memset(&r, 0, sizeof r);
	assert_int_equal(queue_count(db, qid), 4);
	/* t3 to front, t0 backward by 1: t3 t1 t0 t2 → pos of t0 is 2 */
	assert_int_equal(queue_move_task(db, qid, "t3", QMOVE_FRONT, 0, &r), 0);
	assert_int_equal(queue_move_task(db, qid, "t0", QMOVE_BACKWARD, 1, &r), 2);
	assert_int_equal(queue_move_task(db, qid, "nope", QMOVE_BACK, 0, &r), -1);
	assert_int_equal(r.subcode, 703);
	free(r.msg);
	memset(&r, 0, sizeof r);
	json_t *ids = queue_task_ids(db, qid);
	const char *want[] = {"t3", "t1", "t0", "t2"};
	for (int i = 0; i < 4; i++)
		assert_string_equal(json_string_value(json_array_get(ids, (size_t)i)), want[i]);
	json_decref(ids);
	char *t = NULL;
	int64_t added;
	assert_int_equal(queue_pop_head(db, qid, "t1", &t, &added), 0); /* not the head */
	assert_int_equal(queue_pop_head(db, qid, NULL, &t, &added), 1);
	assert_string_equal(t, "t3");
	free(t);
	assert_int_equal(queue_remove_task(db, NULL, "t0"), 1);
	char *head = queue_peek(db, qid);
	assert_string_equal(head, "t1");
	free(head);
	sqlite3_close(db);
}

static void
test_workers_expire_and_live_task(void **state)
{
	(void)state;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, svc_workers_schema, NULL, NULL, NULL), SQLITE_OK);
	/* now = 1000 s; "old" reported at 100 s with a 600 s timeout (dead since 700 s),
	 * "fresh" at 900 s with 600 s (alive until 1500 s). Times in microseconds. */
	assert_int_equal(sqlite3_exec(db,
		"INSERT INTO workers(company, user, id, register_time, timeout, last_activity_time, task)"
		" VALUES ('c','u','old',100000000,600,100000000,'t1'),"
		"        ('c','u','fresh',900000000,600,900000000,'t2');", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(workers_task_has_live_worker(db, "t1", 1000000), 0);
	assert_int_equal(workers_task_has_live_worker(db, "t2", 1000000), 1);
	assert_int_equal(workers_task_has_live_worker(db, "t2", 1600000), 0);
	workers_expire(db, 1000000);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT group_concat(id) FROM workers", -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "fresh");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_move_index),
		cmocka_unit_test(test_tags_match),
		cmocka_unit_test(test_projection),
		cmocka_unit_test(test_event_normalize),
		cmocka_unit_test(test_queue_order_and_moves),
		cmocka_unit_test(test_workers_expire_and_live_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
