/* Unit tests for clearml-task's pure part (src/task/task_create.c): option checks, the Task.init
 * insertion into a literal script, and the tasks.create / hyperparams request bodies for the
 * flag combinations (spec/clearml-api.md §7.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "task/task_create.h"
#include "util.h"

static char **
list(size_t *n, const char *const *items)
{
	size_t k = 0;
	while (items[k])
		k++;
	char **v = xcalloc(k + 1, sizeof *v);
	for (size_t i = 0; i < k; i++)
		v[i] = xstrdup(items[i]);
	*n = k;
	return v;
}

#define LIST(n, ...) list((n), (const char *const[]){__VA_ARGS__, NULL})

static char *
tmp_file(const char *text)
{
	char *path = xstrdup("/tmp/test_task_create_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char *
jstr(const json_t *root, const char *k1, const char *k2)
{
	const json_t *v = json_object_get(root, k1);
	if (k2)
		v = json_object_get(v, k2);
	return json_string_value(v);
}

static void
test_check_combinations(void **state)
{
	(void)state;
	char err[256];
	struct task_opts o;
	memset(&o, 0, sizeof o);
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "Task name must be provided"));

	o.name = xstrdup("n");
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "Project name must be provided"));

	o.project = xstrdup("p");
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "Entry point script not provided"));

	o.script = xstrdup("train.py");
	assert_int_equal(task_opts_check(&o, err, sizeof err), 0);

	o.module = xstrdup("pkg.train");
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "mutually exclusive"));
	free(o.script);
	o.script = NULL;
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "--module requires --repo or --folder"));
	o.repo = xstrdup("https://example.com/r.git");
	assert_int_equal(task_opts_check(&o, err, sizeof err), 0);
	o.folder = xstrdup(".");
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "--repo and --folder are mutually exclusive"));
	free(o.folder);
	o.folder = NULL;

	o.task_type = xstrdup("nonsense");
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "Invalid task type 'nonsense'"));
	free(o.task_type);
	o.task_type = xstrdup("data_processing");
	assert_int_equal(task_opts_check(&o, err, sizeof err), 0);

	o.args = LIST(&o.n_args, "lr=0.1", "noequals");
	assert_int_equal(task_opts_check(&o, err, sizeof err), -1);
	assert_non_null(strstr(err, "Invalid argument 'noequals'"));
	task_opts_free(&o);

	/* a base task needs neither project nor entry point */
	memset(&o, 0, sizeof o);
	o.name = xstrdup("n");
	o.base_task_id = xstrdup("0123456789abcdef0123456789abcdef");
	assert_int_equal(task_opts_check(&o, err, sizeof err), 0);
	task_opts_free(&o);
}

static void
test_init_call_insertion(void **state)
{
	(void)state;
	char *s = task_add_init_call("print('hi')\n");
	assert_true(str_starts_with(s, "try:\n    from clearml import Task\n"));
	assert_true(str_ends_with(s, "    pass\nprint('hi')\n"));
	free(s);

	/* shebang, encoding line and __future__ imports stay first */
	s = task_add_init_call("#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n"
	                       "from __future__ import print_function\nprint(1)\n");
	assert_true(str_starts_with(s, "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n"
	                               "from __future__ import print_function\ntry:\n"));
	assert_true(str_ends_with(s, "print(1)\n"));
	free(s);

	/* a script that already calls Task.init is left alone */
	const char *has = "from clearml import Task\ntask = Task.init(project_name='p')\n";
	s = task_add_init_call(has);
	assert_string_equal(s, has);
	free(s);

	s = task_add_init_call("");
	assert_true(str_starts_with(s, "try:\n"));
	free(s);
}

/* Where the guarded Task.init() lands: after the shebang, a PEP 263 coding line (any spelling),
 * the module docstring and every `from __future__` import, including multi-line ones; never inside
 * a string. */
static void
test_init_call_prelude(void **state)
{
	(void)state;
	const char *src = "#!/usr/bin/env python3\n"
	                  "# vim: set fileencoding=latin-1 :\n"
	                  "'''Doc string.\n\nfrom __future__ import x  (inside the docstring)\n'''\n"
	                  "# a comment\n"
	                  "from __future__ import (annotations,\n"
	                  "    division)\n"
	                  "from __future__ import \\\n"
	                  "    print_function\n"
	                  "import os\n"
	                  "s = '''\nfrom __future__ import y\n'''\n";
	char *out = task_add_init_call(src);
	const char *init = strstr(out, "try:\n    from clearml import Task");
	assert_non_null(init);
	assert_true(str_starts_with(out, "#!/usr/bin/env python3\n# vim: set fileencoding=latin-1 :\n'''Doc"));
	assert_true(strstr(out, "    division)\n") < init);
	assert_true(strstr(out, "    print_function\n") < init);
	assert_true(init < strstr(out, "import os\n"));
	assert_int_equal(strstr(init + 1, "try:\n    from clearml") == NULL, 1); /* exactly once */
	free(out);

	/* a script that is only a docstring without a trailing newline */
	out = task_add_init_call("\"\"\"doc\"\"\"");
	assert_true(str_starts_with(out, "\"\"\"doc\"\"\"\ntry:\n"));
	free(out);
	/* an unterminated docstring: inserted at the top, the file is broken anyway */
	out = task_add_init_call("'''never closed\nimport os\n");
	assert_true(str_starts_with(out, "try:\n"));
	free(out);
}

static void
test_create_body_literal_script(void **state)
{
	(void)state;
	struct task_opts o;
	memset(&o, 0, sizeof o);
	o.name = xstrdup("my task");
	o.project = xstrdup("proj");
	struct local_code c;
	memset(&c, 0, sizeof c);
	c.diff = xstrdup("print('literal')\n");
	c.entry_point = xstrdup("train.py");
	c.working_dir = xstrdup(".");
	json_t *b = task_build_create(&o, &c, "pid123");
	assert_string_equal(jstr(b, "name", NULL), "my task");
	assert_string_equal(jstr(b, "type", NULL), "training"); /* the default type */
	assert_string_equal(jstr(b, "project", NULL), "pid123");
	assert_null(json_object_get(b, "output_dest"));
	assert_null(json_object_get(b, "tags"));
	assert_null(json_object_get(b, "container")); /* no docker flag: no container section */
	assert_null(json_object_get(b, "hyperparams"));
	const json_t *script = json_object_get(b, "script");
	assert_null(json_object_get(script, "repository"));
	assert_string_equal(jstr(script, "diff", NULL), "print('literal')\n");
	assert_string_equal(jstr(script, "entry_point", NULL), "train.py");
	assert_string_equal(jstr(script, "working_dir", NULL), ".");
	assert_string_equal(jstr(script, "binary", NULL), "python3");
	assert_null(json_object_get(script, "requirements"));
	json_decref(b);

	/* no project id (base task): no "project" key at all */
	b = task_build_create(&o, &c, NULL);
	assert_null(json_object_get(b, "project"));
	json_decref(b);
	local_code_free(&c);
	task_opts_free(&o);
}

static void
test_create_body_repo_docker_requirements(void **state)
{
	(void)state;
	char *req = tmp_file("numpy==1.26.4\nrequests");
	char *setup = tmp_file("#!/bin/bash\napt-get install -y git\n");
	struct task_opts o;
	memset(&o, 0, sizeof o);
	o.name = xstrdup("t");
	o.project = xstrdup("p");
	o.task_type = xstrdup("inference");
	o.output_uri = xstrdup("s3://bucket/out");
	o.tags = LIST(&o.n_tags, "a", "b");
	o.requirements = xstrdup(req);
	o.packages = LIST(&o.n_packages, "torch>=2", "tqdm");
	o.docker = xstrdup("python:3.11");
	o.docker_args = xstrdup("--ipc=host -e A=1");
	o.docker_bash_setup_script = xstrdup(setup);
	o.binary = xstrdup("python3.11");
	o.args = LIST(&o.n_args, "lr=0.1", "name=a=b");
	struct local_code c;
	memset(&c, 0, sizeof c);
	c.repository = xstrdup("https://github.com/o/r.git");
	c.branch = xstrdup("main");
	c.commit = xstrdup("0123abcd");
	c.entry_point = xstrdup("src/train.py");
	c.working_dir = xstrdup(".");
	json_t *b = task_build_create(&o, &c, "pid");
	assert_string_equal(jstr(b, "type", NULL), "inference");
	assert_string_equal(jstr(b, "output_dest", NULL), "s3://bucket/out");
	const json_t *tags = json_object_get(b, "tags");
	assert_int_equal(json_array_size(tags), 2);
	assert_string_equal(json_string_value(json_array_get(tags, 1)), "b");
	const json_t *script = json_object_get(b, "script");
	assert_string_equal(jstr(script, "repository", NULL), "https://github.com/o/r.git");
	assert_string_equal(jstr(script, "branch", NULL), "main");
	assert_string_equal(jstr(script, "version_num", NULL), "0123abcd");
	assert_string_equal(jstr(script, "binary", NULL), "python3.11");
	assert_null(json_object_get(script, "diff"));
	/* the file (newline added) then the --packages, one a line */
	assert_string_equal(jstr(json_object_get(script, "requirements"), "pip", NULL),
	                    "numpy==1.26.4\nrequests\ntorch>=2\ntqdm\n");
	const json_t *ct = json_object_get(b, "container");
	assert_string_equal(jstr(ct, "image", NULL), "python:3.11");
	assert_string_equal(jstr(ct, "arguments", NULL), "--ipc=host -e A=1");
	/* a setup script file: its text without the shebang */
	assert_string_equal(jstr(ct, "setup_shell_script", NULL), "apt-get install -y git\n");
	/* --args become Args/<name> string parameters; the value keeps later '=' */
	const json_t *args = json_object_get(json_object_get(b, "hyperparams"), "Args");
	assert_int_equal(json_object_size(args), 2);
	const json_t *lr = json_object_get(args, "lr");
	assert_string_equal(jstr(lr, "section", NULL), "Args");
	assert_string_equal(jstr(lr, "name", NULL), "lr");
	assert_string_equal(jstr(lr, "value", NULL), "0.1");
	assert_string_equal(jstr(lr, "type", NULL), "str");
	assert_string_equal(jstr(json_object_get(args, "name"), "value", NULL), "a=b");
	json_decref(b);
	local_code_free(&c);
	task_opts_free(&o);
	unlink(req);
	unlink(setup);
	free(req);
	free(setup);
}

static void
test_container_from_partial_flags(void **state)
{
	(void)state;
	struct task_opts o;
	memset(&o, 0, sizeof o);
	o.name = xstrdup("t");
	o.project = xstrdup("p");
	o.docker_bash_setup_script = xstrdup("echo inline setup"); /* not a file: the text itself */
	struct local_code c;
	memset(&c, 0, sizeof c);
	json_t *b = task_build_create(&o, &c, "pid");
	const json_t *ct = json_object_get(b, "container");
	assert_non_null(ct);
	assert_string_equal(jstr(ct, "image", NULL), "");
	assert_string_equal(jstr(ct, "arguments", NULL), "");
	assert_string_equal(jstr(ct, "setup_shell_script", NULL), "echo inline setup");
	json_decref(b);

	/* only --packages: requirements without a file */
	o.packages = LIST(&o.n_packages, "six");
	b = task_build_create(&o, &c, "pid");
	assert_string_equal(jstr(json_object_get(json_object_get(b, "script"), "requirements"), "pip", NULL),
	                    "six\n");
	json_decref(b);
	local_code_free(&c);
	task_opts_free(&o);
}

static void
test_hyperparams_alone(void **state)
{
	(void)state;
	struct task_opts o;
	memset(&o, 0, sizeof o);
	int bad = -1;
	assert_null(task_build_hyperparams(&o, NULL, 0, &bad));
	assert_int_equal(bad, 0);
	o.args = LIST(&o.n_args, "epochs=3", "broken");
	json_t *hp = task_build_hyperparams(&o, NULL, 0, &bad);
	assert_int_equal(bad, 1);
	const json_t *args = json_object_get(hp, "Args");
	assert_int_equal(json_object_size(args), 1);
	assert_string_equal(jstr(json_object_get(args, "epochs"), "value", NULL), "3");
	json_decref(hp);
	task_opts_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_combinations),
		cmocka_unit_test(test_init_call_insertion),
		cmocka_unit_test(test_init_call_prelude),
		cmocka_unit_test(test_create_body_literal_script),
		cmocka_unit_test(test_create_body_repo_docker_requirements),
		cmocka_unit_test(test_container_from_partial_flags),
		cmocka_unit_test(test_hyperparams_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
