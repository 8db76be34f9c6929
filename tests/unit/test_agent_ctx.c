/* Unit tests for agent_ctx.c's pure helpers: regex escaping and id detection for queue/task
 * lookup, the polling-interval clamp, kill-signal parsing and the `environment {}` section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/agent_ctx.h"
#include "util.h"

static void
test_re_escape(void **state)
{
	(void)state;
	char *s = re_escape("my.queue (1)+x_y");
	assert_string_equal(s, "my\\.queue\\ \\(1\\)\\+x_y");
	free(s);
	s = re_escape("a-b$^|&~#");
	assert_string_equal(s, "a\\-b\\$\\^\\|\\&\\~\\#");
	free(s);
	s = re_escape("");
	assert_string_equal(s, "");
	free(s);
}

static void
test_looks_like_id(void **state)
{
	(void)state;
	assert_true(agent_looks_like_id("0123456789abcdef0123456789abcdef"));
	assert_true(agent_looks_like_id("01234567-89ab-cdef-0123-456789abcdef"));
	assert_false(agent_looks_like_id("0123456789abcdef0123456789abc"));  /* 29 chars */
	assert_false(agent_looks_like_id("0123456789ABCDEF0123456789ABCDEF")); /* upper case */
	assert_false(agent_looks_like_id("default"));
	assert_false(agent_looks_like_id("0123456789abcdef0123456789abcdeg"));
}

static void
test_polling_clamp(void **state)
{
	(void)state;
	json_t *root = json_object();
	assert_true(agent_polling_interval(root, 1.0) == 5.0);
	assert_true(agent_polling_interval(root, 7.5) == 7.5);
	json_object_set_new(root, "agent", json_pack("{s:f}", "polling_interval_min_sec", 0.2));
	assert_true(agent_polling_interval(root, 0.2) == 0.2);
	assert_true(agent_polling_interval(root, 0.1) == 0.2);
	assert_true(agent_polling_interval(root, 5.0) == 5.0);
	json_object_set_new(root, "agent", json_pack("{s:f}", "polling_interval_min_sec", 0.0));
	assert_true(agent_polling_interval(root, 0.0) == 0.05); /* never a busy loop */
	json_decref(root);
}

static void
test_parse_signal(void **state)
{
	(void)state;
	json_t *v = json_string("SIGINT");
	assert_int_equal(agent_parse_signal(v, SIGTERM), SIGINT);
	json_decref(v);
	v = json_string("kill");
	assert_int_equal(agent_parse_signal(v, SIGTERM), SIGKILL);
	json_decref(v);
	v = json_string("2");
	assert_int_equal(agent_parse_signal(v, SIGTERM), 2);
	json_decref(v);
	v = json_integer(9);
	assert_int_equal(agent_parse_signal(v, SIGTERM), 9);
	json_decref(v);
	v = json_string("SIGNOPE");
	assert_int_equal(agent_parse_signal(v, SIGTERM), SIGTERM);
	json_decref(v);
	v = json_integer(1000);
	assert_int_equal(agent_parse_signal(v, SIGTERM), SIGTERM);
	json_decref(v);
	assert_int_equal(agent_parse_signal(NULL, SIGTERM), SIGTERM);
}

static void
test_environment_section(void **state)
{
	(void)state;
	unsetenv("CML_UT_A");
	json_t *root = json_pack("{s:{s:s,s:i,s:b,s:n,s:[i]}}", "environment", "CML_UT_A", "alpha",
	                         "CML_UT_B", 42, "CML_UT_C", 1, "CML_UT_D", "CML_UT_E", 1);
	assert_int_equal(agent_apply_environment_section(root), 4); /* the list is skipped */
	assert_string_equal(getenv("CML_UT_A"), "alpha");
	assert_string_equal(getenv("CML_UT_B"), "42");
	assert_string_equal(getenv("CML_UT_C"), "true");
	assert_string_equal(getenv("CML_UT_D"), "");
	assert_null(getenv("CML_UT_E"));
	json_decref(root);
	/* list of pairs */
	root = json_pack("{s:[{s:s,s:s},[s,s],{s:s}]}", "environment", "key", "CML_UT_F", "value",
	                 "f", "CML_UT_G", "g", "value", "no-key");
	assert_int_equal(agent_apply_environment_section(root), 2);
	assert_string_equal(getenv("CML_UT_F"), "f");
	assert_string_equal(getenv("CML_UT_G"), "g");
	json_decref(root);
	root = json_object();
	assert_int_equal(agent_apply_environment_section(root), 0);
	json_decref(root);
	/* agent.apply_environment: false turns the section off */
	unsetenv("CML_UT_H");
	root = json_pack("{s:{s:s},s:{s:b}}", "environment", "CML_UT_H", "h", "agent",
	                 "apply_environment", 0);
	assert_int_equal(agent_apply_environment_section(root), 0);
	assert_null(getenv("CML_UT_H"));
	json_decref(root);
}

int
main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_re_escape),
		cmocka_unit_test(test_looks_like_id),
		cmocka_unit_test(test_polling_clamp),
		cmocka_unit_test(test_parse_signal),
		cmocka_unit_test(test_environment_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
