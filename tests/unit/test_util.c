/* Unit tests for util.c and proc.c: bounded buffers, time, booleans, paths, process runs. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

static void
test_buf_bound(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345"), 0);
	assert_int_equal(buf_puts(&b, "6789"), -1); /* would pass the bound: unchanged */
	assert_string_equal(b.data, "12345");
	assert_int_equal(buf_puts(&b, "678"), 0);
	assert_int_equal(b.len, 8);
	buf_consume(&b, 3);
	assert_string_equal(b.data, "45678");
	buf_free(&b);
}

static void
test_shell_word(void **state)
{
	(void)state;
	static const struct {
		const char *in, *extra, *out;
	} cases[] = {
		{"plain-word_1.2:3@x%y+z=,/", NULL, "plain-word_1.2:3@x%y+z=,/"},
		{"", NULL, "''"},
		{"two words", NULL, "'two words'"},
		{"it's", NULL, "'it'\"'\"'s'"},
		{"$HOME;rm -rf /", NULL, "'$HOME;rm -rf /'"},
		{"********", NULL, "'********'"},
		{"PASS=********", "*", "PASS=********"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 256);
		assert_int_equal(buf_put_shell_word(&b, cases[i].in, cases[i].extra), 0);
		assert_string_equal(b.data, cases[i].out);
		buf_free(&b);
	}
	struct buf small;
	buf_init(&small, 4);
	assert_int_equal(buf_put_shell_word(&small, "a b c d", NULL), -1); /* bounded */
	buf_free(&small);
}

static void
test_parse_bool(void **state)
{
	(void)state;
	assert_int_equal(parse_bool("Yes"), 1);
	assert_int_equal(parse_bool("on"), 1);
	assert_int_equal(parse_bool("0"), 0);
	assert_int_equal(parse_bool("OFF"), 0);
	assert_int_equal(parse_bool("maybe"), -1);
	assert_int_equal(parse_bool(""), -1);
}

static void
test_iso_time_roundtrip(void **state)
{
	(void)state;
	char s[64];
	iso_time(INT64_C(1582556735426770), s, sizeof s);
	assert_string_equal(s, "2020-02-24T15:05:35.426770+00:00");
	assert_true(iso_time_parse(s) == INT64_C(1582556735426770));
	assert_true(iso_time_parse("2020-02-24T17:05:35+02:00") == INT64_C(1582556735000000));
	assert_true(iso_time_parse("garbage") == -1);
}

static void
test_path_expand(void **state)
{
	(void)state;
	setenv("HOME", "/home/u", 1);
	setenv("CML_TEST_X", "xx", 1);
	char *p = path_expand("~/a/$CML_TEST_X/${CML_TEST_X}b/$NOPE_NOT_SET");
	assert_string_equal(p, "/home/u/a/xx/xxb/$NOPE_NOT_SET");
	free(p);
	/* malformed references stay as written; a trailing $ too; ~ only at the start */
	p = path_expand("${CML_TEST_X/$/${}/a~/$CML_TEST_X$");
	assert_string_equal(p, "${CML_TEST_X/$/${}/a~/xx$");
	free(p);
	struct buf b;
	buf_init(&b, 64);
	buf_puts(&b, "pre:");
	buf_put_expandvars(&b, "~/${CML_TEST_X}");
	assert_string_equal(b.data, "pre:~/xx");
	buf_free(&b);
}

static void
test_proc_capture_and_stdin(void **state)
{
	(void)state;
	char *argv[] = {"sh", "-c", "cat; echo err >&2; exit 3", NULL};
	struct proc_opts o = {.out_fd = -1, .stdin_data = "hello\n", .stdin_len = 6};
	struct proc_result r;
	assert_int_equal(proc_run(argv, &o, &r), 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 3);
	assert_string_equal(r.output, "hello\nerr\n");
	proc_result_free(&r);
}

/* A child that exits without reading its stdin must not kill the caller with SIGPIPE, whatever
 * the caller's disposition (the runner keeps the default one for the task it becomes). */
static void
test_proc_stdin_reader_quits_early(void **state)
{
	(void)state;
	struct sigaction dfl, old;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, &old);
	size_t len = (size_t)4 << 20; /* well past a pipe's buffer */
	char *data = xmalloc(len);
	memset(data, 'x', len);
	char *argv[] = {"true", NULL};
	struct proc_opts o = {.out_fd = -1, .stdin_data = data, .stdin_len = len};
	struct proc_result r;
	assert_int_equal(proc_run(argv, &o, &r), 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_code, 0);
	proc_result_free(&r);
	sigset_t pending;
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	free(data);
	sigaction(SIGPIPE, &old, NULL);
}

static void
test_proc_timeout_kills_group(void **state)
{
	(void)state;
	char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
	struct proc_opts o = {.out_fd = -1, .timeout_ms = 200};
	struct proc_result r;
	int64_t t0 = mono_ms();
	assert_int_equal(proc_run(argv, &o, &r), 0);
	assert_true(r.timed_out);
	assert_true(mono_ms() - t0 < 5000);
	proc_result_free(&r);
}

static void
test_proc_missing_program(void **state)
{
	(void)state;
	char *argv[] = {"/nonexistent/prog", NULL};
	struct proc_result r;
	assert_int_equal(proc_run(argv, NULL, &r), 0);
	assert_int_equal(r.exit_code, 127);
	assert_non_null(strstr(r.output, "cannot run /nonexistent/prog"));
	proc_result_free(&r);
}

static void
test_envv(void **state)
{
	(void)state;
	struct envv e;
	envv_from_environ(&e);
	envv_set(&e, "CML_A", "1");
	envv_set(&e, "CML_A", "2");
	assert_string_equal(envv_get(&e, "CML_A"), "2");
	envv_unset(&e, "CML_A");
	assert_null(envv_get(&e, "CML_A"));
	envv_free(&e);
}

static void
test_write_read_atomic(void **state)
{
	(void)state;
	char dir[] = "/tmp/cml-util-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/a/b/f.txt", dir);
	char *sub = xasprintf("%s/a/b", dir);
	assert_int_equal(mkdir_p(sub, 0700), 0);
	assert_int_equal(write_file_atomic(path, "data", 4, 0600), 0);
	size_t n = 0;
	char *s = read_file(path, 100, &n);
	assert_string_equal(s, "data");
	free(s);
	assert_null(read_file(path, 2, &n)); /* bigger than the bound */
	/* the unsynced variant replaces the file whole; a st_mode with type bits gives the mode */
	assert_int_equal(write_file_replace(path, "other", 5, S_IFREG | 0750), 0);
	s = read_file(path, 100, &n);
	assert_string_equal(s, "other");
	free(s);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(write_file_replace("/nonexistent-dir/x", "d", 1, 0600), -1);
	char *argv[] = {"rm", "-rf", dir, NULL};
	struct proc_result r;
	proc_run(argv, NULL, &r);
	proc_result_free(&r);
	free(path);
	free(sub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_bound),
		cmocka_unit_test(test_shell_word),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_iso_time_roundtrip),
		cmocka_unit_test(test_path_expand),
		cmocka_unit_test(test_proc_capture_and_stdin),
		cmocka_unit_test(test_proc_stdin_reader_quits_early),
		cmocka_unit_test(test_proc_timeout_kills_group),
		cmocka_unit_test(test_proc_missing_program),
		cmocka_unit_test(test_envv),
		cmocka_unit_test(test_write_read_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
