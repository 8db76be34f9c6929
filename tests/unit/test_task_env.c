/* Unit tests for task_env.c: execution info, path containment, shlex, the task command line
 * (python -u/-O, -m module, bash file / -c) and the task environment (§5.10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "runner/task_env.h"
#include "proc.h"
#include "util.h"

static void
test_path_contained(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } ok[] = {
		{"a/b.py", "a/b.py"}, {"./a/./b.py", "a/b.py"}, {"a/../b.py", "b.py"},
		{"", "."}, {".", "."}, {"a//b/", "a/b"}, {"x/y/../../z", "z"},
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		char *c = path_contained(ok[i].in);
		assert_non_null(c);
		assert_string_equal(c, ok[i].out);
		free(c);
	}
	static const char *const bad[] = {"../x.py", "a/../../x.py", "/etc/passwd", "..", "a/b/../../../c"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_null(path_contained(bad[i]));
}

static void
test_basename_dirname(void **state)
{
	(void)state;
	char *b = path_basename("a/b/c.py");
	assert_string_equal(b, "c.py");
	free(b);
	b = path_basename("c.py/");
	assert_string_equal(b, "c.py");
	free(b);
	char *d = path_dirname("a/b/c.py");
	assert_string_equal(d, "a/b");
	free(d);
	d = path_dirname("c.py");
	assert_string_equal(d, ".");
	free(d);
	d = path_dirname("/c.py");
	assert_string_equal(d, "/");
	free(d);
}

static void
test_shlex(void **state)
{
	(void)state;
	struct argvec v = {0};
	char err[64];
	assert_int_equal(shlex_split("-m pkg.mod 'a b' \"c \\\"d\\\"\" e\\ f ;$(x)", &v, err, sizeof err), 0);
	assert_int_equal(v.n, 6);
	assert_string_equal(v.v[0], "-m");
	assert_string_equal(v.v[1], "pkg.mod");
	assert_string_equal(v.v[2], "a b");
	assert_string_equal(v.v[3], "c \"d\"");
	assert_string_equal(v.v[4], "e f");
	assert_string_equal(v.v[5], ";$(x)");
	assert_null(v.v[6]);
	argvec_free(&v);
	assert_int_equal(shlex_split("'unclosed", &v, err, sizeof err), -1);
	argvec_free(&v);

	char *q = shlex_quote("plain-1.py");
	assert_string_equal(q, "plain-1.py");
	free(q);
	q = shlex_quote("it's; rm");
	assert_string_equal(q, "'it'\"'\"'s; rm'");
	free(q);
	q = shlex_quote("");
	assert_string_equal(q, "''");
	free(q);
}

static void
test_expand_env_vars(void **state)
{
	(void)state;
	setenv("TE_X", "val", 1);
	unsetenv("TE_NOPE");
	char *s = expand_env_vars("$TE_X/${TE_X}/$TE_NOPE/$(cmd)/~");
	assert_string_equal(s, "val/val/$TE_NOPE/$(cmd)/~");
	free(s);
}

static void
test_exec_info(void **state)
{
	(void)state;
	json_t *t = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "id", "T", "script", "repository",
	                      "  https://h/r.git ", "entry_point", "train.py:sub/dir", "working_dir", "",
	                      "diff", "  keep\n");
	struct exec_info ei;
	char err[128];
	assert_int_equal(exec_info_from_task(t, &ei, err, sizeof err), 0);
	assert_string_equal(ei.repository, "https://h/r.git");
	assert_string_equal(ei.entry_point, "train.py");
	assert_string_equal(ei.working_dir, "sub/dir");
	assert_string_equal(ei.diff, "  keep\n");
	assert_string_equal(ei.branch, "");
	exec_info_force_script(&ei, "other:run.py");
	assert_string_equal(ei.working_dir, "other");
	assert_string_equal(ei.entry_point, "run.py");
	exec_info_free(&ei);
	json_decref(t);

	json_t *bad = json_string("x");
	assert_int_equal(exec_info_from_task(bad, &ei, err, sizeof err), -1);
	json_decref(bad);
}

static void
test_binary_kind(void **state)
{
	(void)state;
	int unk;
	assert_int_equal(task_binary_kind("python3.8", &unk), TASK_BIN_PYTHON);
	assert_int_equal(unk, 0);
	assert_int_equal(task_binary_kind("/bin/bash", &unk), TASK_BIN_SHELL);
	assert_int_equal(task_binary_kind("zsh", &unk), TASK_BIN_SHELL);
	assert_int_equal(task_binary_kind("sh", &unk), TASK_BIN_SHELL);
	assert_int_equal(task_binary_kind("", &unk), TASK_BIN_PYTHON);
	assert_int_equal(unk, 0);
	assert_int_equal(task_binary_kind("ruby", &unk), TASK_BIN_PYTHON);
	assert_int_equal(unk, 1);
	assert_true(entry_is_flag("-m pkg"));
	assert_true(entry_is_flag("-c print(1)"));
	assert_false(entry_is_flag("-mx.py"));
	assert_false(entry_is_flag("main.py"));
}

static void
assert_argv(const struct argvec *v, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	assert_int_equal(v->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v->v[i], want[i]);
	assert_null(v->v[n]);
}

static void
test_build_argv(void **state)
{
	(void)state;
	struct argvec v;
	char err[64];
	struct argv_spec s = {.kind = TASK_BIN_PYTHON, .python = "/venv/bin/python", .entry_point = "train.py"};
	assert_int_equal(task_build_argv(&s, &v, err, sizeof err), 0);
	assert_argv(&v, (const char *const[]){"/venv/bin/python", "-u", "train.py", NULL});
	argvec_free(&v);

	s.optimization = 2;
	setenv("TE_ARG", "xyz", 1);
	s.entry_point = "-m pkg.mod --n 'a b' $TE_ARG ;rm";
	assert_int_equal(task_build_argv(&s, &v, err, sizeof err), 0);
	assert_argv(&v, (const char *const[]){"/venv/bin/python", "-u", "-OO", "-m", "pkg.mod", "--n", "a b",
	                                       "xyz", ";rm", NULL});
	argvec_free(&v);

	char *prefix[] = {(char *)(uintptr_t) "uv", (char *)(uintptr_t) "run"};
	s.run_prefix = prefix;
	s.n_run_prefix = 2;
	s.optimization = 0;
	s.entry_point = "a.py";
	assert_int_equal(task_build_argv(&s, &v, err, sizeof err), 0);
	assert_argv(&v, (const char *const[]){"uv", "run", "/venv/bin/python", "-u", "a.py", NULL});
	argvec_free(&v);

	s.entry_point = "-m 'unclosed";
	assert_int_equal(task_build_argv(&s, &v, err, sizeof err), -1);

	struct argv_spec b = {.kind = TASK_BIN_SHELL, .shell = "/bin/bash", .entry_point = "run.sh"};
	assert_int_equal(task_build_argv(&b, &v, err, sizeof err), 0);
	assert_argv(&v, (const char *const[]){"/bin/bash", "run.sh", NULL});
	argvec_free(&v);
	b.entry_point = "-c echo $HOME; ls";
	assert_int_equal(task_build_argv(&b, &v, err, sizeof err), 0);
	assert_argv(&v, (const char *const[]){"/bin/bash", "-c", "echo $HOME; ls", NULL});
	argvec_free(&v);

	char *shown = argv_display((char *const[]){(char *)(uintptr_t) "python", (char *)(uintptr_t) "a b", NULL});
	assert_string_equal(shown, "python 'a b'");
	free(shown);
}

static void
test_task_env(void **state)
{
	(void)state;
	struct envv e = {0};
	envv_from_environ(&e);
	envv_set(&e, "PYTHONPATH", "/old");
	envv_set(&e, "CLEARML_WORKER_ID", "host:0");
	envv_unset(&e, "TRAINS_WORKER_ID");
	envv_unset(&e, "PYTHONIOENCODING");
	json_t *tenv = json_pack("{s:s, s:i, s:s, s:s}", "MY_VAR", "v1", "MY_NUM", 3, "BAD=NAME", "x", "", "y");
	struct task_env_params p = {.task_id = "T1", .log_level = "DEBUG", .config_file = "/c.json",
	                            .pythonpath_extra_first = "/code", .entry_dir = "/code/sub",
	                            .sys_path = "/lib/py", .extra_python_path = "/extra",
	                            .task_environment = tenv, .set_ioencoding = 1};
	task_env_apply(&e, &p);
	assert_string_equal(envv_get(&e, "CLEARML_TASK_ID"), "T1");
	assert_string_equal(envv_get(&e, "TRAINS_TASK_ID"), "T1");
	assert_string_equal(envv_get(&e, "CLEARML_LOG_LEVEL"), "DEBUG");
	assert_string_equal(envv_get(&e, "TRAINS_LOG_TASK_TO_BACKEND"), "0");
	assert_string_equal(envv_get(&e, "CLEARML_LOG_TASK_TO_BACKEND"), "0");
	assert_string_equal(envv_get(&e, "CLEARML_CONFIG_FILE"), "/c.json");
	assert_string_equal(envv_get(&e, "TRAINS_CONFIG_FILE"), "/c.json");
	assert_string_equal(envv_get(&e, "TRAINS_WORKER_ID"), "host:0");
	assert_string_equal(envv_get(&e, "CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
	assert_string_equal(envv_get(&e, "PYTHONPATH"), "/old:/code:/code/sub:/lib/py:/extra");
	assert_string_equal(envv_get(&e, "PYTHONIOENCODING"), "utf-8");
	assert_string_equal(envv_get(&e, "MY_VAR"), "v1");
	assert_string_equal(envv_get(&e, "MY_NUM"), "3");
	assert_null(envv_get(&e, "BAD"));
	json_decref(tenv);
	envv_free(&e);

	assert_true(env_name_ok("A_1"));
	assert_false(env_name_ok("1A"));
	assert_false(env_name_ok("A=B"));
	assert_false(env_name_ok(""));
}

static void
test_task_init_patch(void **state)
{
	(void)state;
	/* SDK lines first, __future__ below: moved below the future imports */
	char *p = script_patch_task_init("from clearml import Task\ntask = Task.init()\n"
	                                 "from __future__ import print_function\nprint(1)\n", 0);
	assert_non_null(p);
	assert_string_equal(p, "from __future__ import print_function\nfrom clearml import Task\n"
	                       "task = Task.init()\nprint(1)\n");
	free(p);
	/* already in the right place: nothing to do */
	assert_null(script_patch_task_init("from clearml import Task\nTask.init()\nprint(1)\n", 0));
	assert_null(script_patch_task_init("print(1)\n", 0));
	/* forced: added after __future__ (multi-line) */
	p = script_patch_task_init("\"\"\"doc\"\"\"\nfrom __future__ import (a,\n  b)\nprint(1)", 1);
	assert_string_equal(p, "\"\"\"doc\"\"\"\nfrom __future__ import (a,\n  b)\nfrom clearml import Task\n"
	                       "(__name__ != \"__main__\") or Task.init()\nprint(1)");
	free(p);
	/* forced, no __future__: after a shebang/coding line */
	p = script_patch_task_init("#!/usr/bin/env python\nprint(1)\n", 1);
	assert_string_equal(p, "#!/usr/bin/env python\nfrom clearml import Task\n"
	                       "(__name__ != \"__main__\") or Task.init()\nprint(1)\n");
	free(p);
	/* forced but already patched */
	assert_null(script_patch_task_init("import x\nfrom clearml import Task\nTask.init(project_name='p')\n", 1));
	p = script_patch_task_init("", 1);
	assert_string_equal(p, "from clearml import Task\n(__name__ != \"__main__\") or Task.init()\n");
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_contained),
		cmocka_unit_test(test_basename_dirname),
		cmocka_unit_test(test_shlex),
		cmocka_unit_test(test_expand_env_vars),
		cmocka_unit_test(test_exec_info),
		cmocka_unit_test(test_binary_kind),
		cmocka_unit_test(test_build_argv),
		cmocka_unit_test(test_task_env),
		cmocka_unit_test(test_task_init_patch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
