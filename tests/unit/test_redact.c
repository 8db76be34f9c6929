/* Unit tests for redact.c (streaming secret masking) and secrets.c (which values are secret). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "supervisor/redact.h"
#include "supervisor/secrets.h"
#include "util.h"

/* Feed `text` in chunks of `step` bytes like the slot does (window grows at the end, the safe
 * part is consumed), return what was shipped. */
static char *
stream(const struct redactor *r, const char *text, size_t step)
{
	size_t n = strlen(text);
	char *win = xmalloc(n + 1);
	char *out = xcalloc(n + 1, 1);
	size_t wl = 0, ol = 0, fed = 0, from = 0;
	while (fed < n || wl) {
		size_t add = fed + step <= n ? step : n - fed;
		memcpy(win + wl, text + fed, add);
		wl += add;
		fed += add;
		size_t safe = redact_apply(r, win, wl, from, fed == n);
		memcpy(out + ol, win, safe);
		ol += safe;
		memmove(win, win + safe, wl - safe);
		wl -= safe;
		from = 0;
		if (fed == n)
			assert_int_equal(wl, 0);
	}
	free(win);
	return out;
}

static void
masks_whole_and_split_secrets(void **state)
{
	(void)state;
	struct redactor r;
	redact_init(&r);
	assert_int_equal(redact_add(&r, "hunter22", 4), 1);
	assert_int_equal(redact_add(&r, "hunter22", 4), 0); /* duplicate */
	assert_int_equal(redact_add(&r, "abc", 4), 0);      /* too short */
	assert_int_equal(redact_add(&r, "****", 1), 0);
	assert_int_equal(redact_add(&r, "a\nb", 1), 0);
	const char *text = "pw=hunter22 and again hunter22!\nhunte";
	for (size_t step = 1; step <= strlen(text); step++) {
		char *o = stream(&r, text, step);
		assert_string_equal(o, "pw=******** and again ********!\nhunte");
		free(o);
	}
	/* a prefix is held back until its rest arrives */
	char buf[] = "log hunt";
	assert_int_equal(redact_apply(&r, buf, strlen(buf), 0, 0), 4);
	assert_string_equal(buf, "log hunt");
	redact_free(&r);
}

static void
overlapping_secrets_masked_as_union(void **state)
{
	(void)state;
	struct redactor r;
	redact_init(&r);
	redact_add(&r, "abcdef", 1);
	redact_add(&r, "defghi", 1);
	redact_add(&r, "ab", 1);
	redact_add(&r, "abcdxyz", 1);
	const char *text = "..abcdefghi..abcdxyz..ab";
	for (size_t step = 1; step <= strlen(text); step++) {
		char *o = stream(&r, text, step);
		assert_string_equal(o, "..*********..*******..**");
		free(o);
	}
	redact_free(&r);
}

static void
url_password_and_names(void **state)
{
	(void)state;
	size_t n;
	const char *p = redact_url_password("https://user:pa:ss@host/simple", &n);
	assert_non_null(p);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "pa:ss", 5);
	assert_null(redact_url_password("https://host/x@y", &n));
	assert_null(redact_url_password("https://user@host/", &n));
	const char *globs[] = {"*_TOKEN", "*_SECRET"};
	assert_true(redact_name_matches("HF_TOKEN", globs, 2));
	assert_false(redact_name_matches("TOKENIZER", globs, 2));
}

static void
secrets_from_config_env_and_task(void **state)
{
	(void)state;
	setenv("E2E_UNIT_TOKEN", "tok-123456", 1);
	setenv("CLEARML_AGENT_GIT_PASS", "gitpass1", 1);
	setenv("MY_FLAG_TOKEN", "true", 1); /* too short to be masked by name */
	json_t *cfg = json_pack("{s:{s:{s:s}},s:{s:s,s:{s:[s]},s:[s]}}", "api", "credentials",
	                        "secret_key", "SK-abcdef", "agent", "git_pass", "cfgpass",
	                        "package_manager", "extra_index_url",
	                        "https://u:idxpass@pkgs/simple", "redact_task_output_patterns",
	                        "*_CUSTOM");
	json_t *task = json_pack("{s:{s:s},s:{s:s,s:s}}", "script", "repository",
	                         "https://me:repopass@git/x.git", "_environment", "X_CUSTOM",
	                         "custom-value", "PLAIN", "not-a-secret");
	struct redactor r;
	redact_init(&r);
	secrets_collect(&r, cfg, task);
	char text[] = "SK-abcdef gitpass1 cfgpass idxpass repopass tok-123456 custom-value "
	              "not-a-secret true";
	redact_text(&r, text);
	assert_string_equal(text, "********* ******** ******* ******* ******** ********** "
	                          "************ not-a-secret true");
	redact_free(&r);
	/* off */
	json_object_set_new(json_object_get(cfg, "agent"), "redact_task_output", json_false());
	redact_init(&r);
	secrets_collect(&r, cfg, task);
	assert_int_equal(r.n, 0);
	redact_free(&r);
	json_decref(cfg);
	json_decref(task);
	unsetenv("E2E_UNIT_TOKEN");
	unsetenv("CLEARML_AGENT_GIT_PASS");
	unsetenv("MY_FLAG_TOKEN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(masks_whole_and_split_secrets),
		cmocka_unit_test(overlapping_secrets_masked_as_union),
		cmocka_unit_test(url_password_and_names),
		cmocka_unit_test(secrets_from_config_env_and_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
