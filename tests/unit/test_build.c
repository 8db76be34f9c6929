/* Unit tests for `build`'s pure parts: the -e/--env/--env-file switches taken out of the docker
 * arguments of a build container (docker_cmd.c: they must never reach a committed image's config),
 * and the image names --target accepts (build_docker.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/build.h"
#include "supervisor/docker_cmd.h"

static char *
joined(const struct dargs *a)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < a->n; i++)
		buf_printf(&b, "%s%s", i ? "|" : "", a->v[i]);
	buf_append(&b, "", 1);
	char *s = strdup(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

static void
check_take(const char *args, size_t want_removed, const char *want_left, const char *want_env,
           const char *want_files)
{
	struct dargs a = {0}, env = {0}, files = {0};
	assert_int_equal(docker_split_args(args, &a), 0);
	assert_int_equal(docker_take_env_args(&a, &env, &files), want_removed);
	char *l = joined(&a), *e = joined(&env), *f = joined(&files);
	assert_string_equal(l, want_left);
	assert_string_equal(e, want_env);
	assert_string_equal(f, want_files);
	free(l);
	free(e);
	free(f);
	dargs_free(&a);
	dargs_free(&env);
	dargs_free(&files);
}

static void
test_take_env_args(void **state)
{
	(void)state;
	check_take("--network host -e A=1 --pull=never", 1, "--network|host|--pull=never", "A=1", "");
	/* every spelling docker accepts */
	check_take("-e A=1 -eB=2 -e=C=3 --env D=4 --env=E=5 -e NAME", 6, "", "A=1|B=2|C=3|D=4|E=5|NAME", "");
	check_take("--env-file /x/f.env --env-file=/y.env -v /a:/b", 2, "-v|/a:/b", "", "/x/f.env|/y.env");
	/* other switches keep their values */
	check_take("--name builder -e X=1 --hostname=h -e Y", 2, "--name|builder|--hostname=h", "X=1|Y", "");
	/* other switches starting with e or env stay */
	check_take("--entrypoint sh --envs x --ipc host", 0, "--entrypoint|sh|--envs|x|--ipc|host", "", "");
	/* a trailing -e without value is dropped */
	check_take("--init -e", 1, "--init", "", "");
	check_take("", 0, "", "", "");
}

static void
test_image_names(void **state)
{
	(void)state;
	assert_true(build_image_name_ok("task_id_0123abcd"));
	assert_true(build_image_name_ok("registry.example.com:5000/team/img:v1.2"));
	assert_true(build_image_name_ok("localhost/x@sha256:abc"));
	assert_false(build_image_name_ok(""));
	assert_false(build_image_name_ok("Bad Name"));
	assert_false(build_image_name_ok("UPPER"));
	assert_false(build_image_name_ok("--privileged"));
	assert_false(build_image_name_ok("a;rm -rf /"));
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_false(build_image_name_ok(longname));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_env_args),
		cmocka_unit_test(test_image_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
