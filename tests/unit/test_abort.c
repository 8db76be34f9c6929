/* Unit tests for abort.c: the §4.5 table of observed states → stop decisions, and the
 * abort-callback wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/abort.h"

static void
test_table(void **state)
{
	(void)state;
	static const struct {
		int found;
		const char *status, *msg;
		enum stop_reason want;
	} rows[] = {
		{1, "in_progress", "", STOP_NONE},
		{1, "in_progress", NULL, STOP_NONE},
		{1, "in_progress", "stopping", STOP_STOPPED},
		{1, "in_progress", "user stopping it", STOP_STOPPED},
		{1, "in_progress", "Stopping", STOP_NONE}, /* case-sensitive, like upstream */
		{1, "stopped", "Stopped by admin", STOP_STATUS_CHANGED},
		{1, "closed", "", STOP_STATUS_CHANGED},
		{1, "published", "", STOP_STATUS_CHANGED},
		{1, "queued", "", STOP_STATUS_CHANGED},
		{1, "failed", "", STOP_EXCEPTION},
		{1, "completed", "", STOP_NONE}, /* the SDK may mark completed early: keep running */
		{1, "publishing", "", STOP_NONE},
		{1, NULL, NULL, STOP_NONE},
		{0, NULL, NULL, STOP_NOT_FOUND},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct abort_tracker t = {0};
		struct abort_obs o = {rows[i].found, rows[i].status, rows[i].msg};
		char line[256];
		enum stop_reason r = abort_classify(&t, "T", &o, line, sizeof line);
		if (r != rows[i].want)
			fail_msg("row %zu (%s/%s): got %s want %s", i, rows[i].status ? rows[i].status : "-",
			         rows[i].msg ? rows[i].msg : "-", stop_reason_name(r),
			         stop_reason_name(rows[i].want));
		assert_string_equal(line, "");
	}
}

static void
test_reset_after_four_created_polls(void **state)
{
	(void)state;
	struct abort_tracker t = {0};
	struct abort_obs created = {1, "created", "reset"};
	struct abort_obs running = {1, "in_progress", ""};
	char line[256];
	assert_int_equal(abort_classify(&t, "abc", &created, line, sizeof line), STOP_NONE);
	assert_string_equal(line,
	                    "Warning: Task abc was reset! if state is consistent we shall terminate (1/4).\n");
	assert_int_equal(abort_classify(&t, "abc", &created, line, sizeof line), STOP_NONE);
	assert_non_null(strstr(line, "(2/4)"));
	/* anything else in between starts the count again */
	assert_int_equal(abort_classify(&t, "abc", &running, line, sizeof line), STOP_NONE);
	assert_string_equal(line, "");
	for (int k = 1; k <= 3; k++) {
		assert_int_equal(abort_classify(&t, "abc", &created, line, sizeof line), STOP_NONE);
		char want[16];
		snprintf(want, sizeof want, "(%d/4)", k);
		assert_non_null(strstr(line, want));
	}
	assert_int_equal(abort_classify(&t, "abc", &created, line, sizeof line), STOP_RESET);
}

static void
test_callback_none_registered(void **state)
{
	(void)state;
	struct abort_tracker t = {0};
	struct abort_runtime rt = {0};
	char line[256];
	assert_int_equal(abort_callback_gate(&t, &rt, 100, 1800, line, sizeof line), 1);
	assert_string_equal(line, "");
}

static void
test_callback_completes(void **state)
{
	(void)state;
	struct abort_tracker t = {0};
	struct abort_runtime rt = {.timeout = 30, .poll_freq = 10};
	char line[256];
	assert_int_equal(abort_callback_gate(&t, &rt, 100, 1800, line, sizeof line), 0);
	assert_string_equal(line, "### Task abort callback timeout set, waiting for max 40 sec ###\n");
	assert_int_equal(abort_callback_gate(&t, &rt, 110, 1800, line, sizeof line), 0);
	assert_string_equal(line, "");
	rt.completed = 1;
	assert_int_equal(abort_callback_gate(&t, &rt, 112.5, 1800, line, sizeof line), 1);
	assert_string_equal(line, "### Task abort callback completed in 12.50 seconds ###\n");
	assert_int_equal(t.cb_completed, 1);
}

static void
test_callback_times_out_and_is_capped(void **state)
{
	(void)state;
	struct abort_tracker t = {0};
	struct abort_runtime rt = {.timeout = 5000, .poll_freq = 10};
	char line[256];
	assert_int_equal(abort_callback_gate(&t, &rt, 0, 1800, line, sizeof line), 0);
	assert_non_null(strstr(line, "waiting for max 1800 sec"));
	assert_int_equal(abort_callback_gate(&t, &rt, 1800, 1800, line, sizeof line), 0);
	assert_int_equal(abort_callback_gate(&t, &rt, 1801, 1800, line, sizeof line), 1);
	assert_string_equal(line, "### Task abort callback timed out [1800 sec] ###\n");
	assert_int_equal(t.cb_completed, 0);
}

static void
test_runtime_values(void **state)
{
	(void)state;
	assert_true(abort_runtime_number("30") == 30);
	assert_true(abort_runtime_number("2.5") == 2.5);
	assert_true(abort_runtime_number("abc") == 0);
	assert_true(abort_runtime_number(NULL) == 0);
	assert_int_equal(abort_runtime_truthy("1"), 1);
	assert_int_equal(abort_runtime_truthy("true"), 1);
	assert_int_equal(abort_runtime_truthy("0"), 0);
	assert_int_equal(abort_runtime_truthy(""), 0);
	assert_int_equal(abort_runtime_truthy(NULL), 0);
	assert_string_equal(stop_reason_name(STOP_STATUS_CHANGED), "status_changed");
	assert_int_equal(stop_reason_code(STOP_STOPPED), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_reset_after_four_created_polls),
		cmocka_unit_test(test_callback_none_registered),
		cmocka_unit_test(test_callback_completes),
		cmocka_unit_test(test_callback_times_out_and_is_capped),
		cmocka_unit_test(test_runtime_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
